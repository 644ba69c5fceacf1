"""The portal's Celery app with one fast periodic entry, for the beat tests (``celery -A tests.trustspace.beat_app``).

BEAT_TEST_NAME goes into the task's arguments, so each sent message says which beat sent it; the task itself is
never registered nor run (only the broker's messages are counted).
"""
import os

import django
from django.conf import settings

django.setup()

from trustspace.celery import app  # noqa: E402, F401  (the app `celery -A` loads)

# Celery reads its configuration from Django's settings (celery 5.6 ignores assignments to app.conf).
settings.CELERY_BEAT_SCHEDULE = {
    "beat-test-tick": {"task": "tests.beat_test_tick", "schedule": float(os.environ.get("BEAT_TEST_INTERVAL", "0.3")),
                       "args": [os.environ["BEAT_TEST_NAME"]],
                       "options": {"queue": "beat-test"}},  # a queue no worker of the tests consumes
}

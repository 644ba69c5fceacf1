"""Celery application.

With ``REDIS_URL`` set, Redis is the broker (production, CI). Without it the
embedded mode uses kombu's filesystem transport under ``var/celery``, so that the
demo's worker (with its embedded beat) runs periodic jobs with no extra service.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")

app = Celery("trustspace")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The worker logs through Django's LOGGING (JSON lines with task_id/task_name), not Celery's own handlers.
from .log_format import install_celery_logging  # noqa: E402

install_celery_logging()
# Each worker writes its own heartbeat (readiness' « worker » part), independently of the beat.
from .workers import install_worker_heartbeat  # noqa: E402

install_worker_heartbeat()
app.autodiscover_tasks()

"""The portal's Celery app (its settings: tasks acknowledged late, JSON) with one task that leaves marks in
OUTAGE_DIR, for the broker-outage test (``celery -A tests.trustspace.outage_app worker``)."""
import os
import time
from pathlib import Path

import django

django.setup()

from trustspace.celery import app  # noqa: E402


@app.task(name="tests.outage_mark")
def outage_mark(name, pause=0.0):
    marks = Path(os.environ["OUTAGE_DIR"])
    (marks / f"started-{name}").touch()
    time.sleep(pause)
    (marks / f"done-{name}").touch()

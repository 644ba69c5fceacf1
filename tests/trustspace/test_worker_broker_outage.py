"""A worker survives Redis going away while it holds tasks acknowledged late, and loses none of them.

kombu 5.7.0 fails this: restoring the unacknowledged messages on the lost connection raises « Unrecoverable
error: AttributeError … 'hostname' » and the worker exits, so nothing runs until someone restarts it (seen in the
production check: approvals stuck in the outbox, DNS and GitHub not retried). requirements.in keeps kombu below 5.7.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.support.processes import _die_with_parent
from tests.support.redis_server import private_redis

ROOT = Path(__file__).resolve().parents[2]
POLLS = 600  # checks 0.1 s apart: a generous wait for the worker, never an assertion about speed
QUEUE = "outage-test"


def wait_for(condition, what, log):
    for _poll in range(POLLS):
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"{what}: not seen after {POLLS} checks\n{log.read_text()[-4000:]}")


def start_worker(broker_url, marks, log):
    """The production worker's command line (deploy/systemd/drimm-worker.service, the production check)."""
    env = {**os.environ, "REDIS_URL": broker_url, "DATABASE_URL": "", "OUTAGE_DIR": str(marks),
           "DJANGO_SETTINGS_MODULE": "trustspace.settings"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.trustspace.outage_app", "worker", "-Q", QUEUE,
         "--concurrency", "2", "--loglevel", "INFO", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent)  # noqa: PLW1509


def test_the_worker_keeps_consuming_after_redis_restarts_with_tasks_in_flight(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    log = tmp_path / "worker.log"
    with private_redis(tmp_path) as redis:
        # Not the current app: shared tasks (the outbox's) would follow it to this Redis in the worker's next tests.
        sender = Celery(broker=redis.url, set_as_current=False)

        def send(name, pause=0.0):
            sender.send_task("tests.outage_mark", args=[name, pause], queue=QUEUE, retry=True)

        worker = start_worker(redis.url, marks, log)
        try:
            send("before")
            wait_for(lambda: (marks / "done-before").exists(), "the worker to run a task", log)
            # Two slow tasks running (concurrency 2) and two more prefetched: four unacknowledged messages.
            for n in range(4):
                send(f"in-flight-{n}", pause=3.0)
            running = ["in-flight-0", "in-flight-1"]
            wait_for(lambda: all((marks / f"started-{name}").exists() for name in running), "slow tasks", log)

            redis.stop()
            time.sleep(2)  # the worker sees the connection lost and retries
            assert worker.poll() is None, "the worker exited when Redis went away:\n" + log.read_text()[-4000:]
            redis.start()

            send("after")
            wait_for(lambda: (marks / "done-after").exists(), "the worker to consume after Redis came back", log)
            # The tasks running during the outage ran to their end. (The prefetched ones lived in that Redis'
            # memory, gone with it here; the outbox sends again what a broker loses: test_outbox.py.)
            wait_for(lambda: all((marks / f"done-{name}").exists() for name in running), "the running tasks", log)
            assert worker.poll() is None
            assert "Unrecoverable error" not in log.read_text()
        finally:
            worker.kill()
            worker.wait()

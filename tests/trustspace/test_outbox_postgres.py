"""The outbox under real concurrency and real outages (PostgreSQL): two workers never deliver one message twice,
a stopped broker never fails a committed approval, a worker killed mid-delivery loses nothing."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis as redis_client
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection

from operators import services as operator_services
from operators.models import RequestStatus
from tests.conftest import require_or_skip
from tests.support import lifecycle
from tests.support.api import api
from tests.support.concurrency import in_parallel
from tests.support.redis_server import private_redis, redis_server_available
from tests.support.smtp_sink import running_smtp_sink
from tests.support.webhook_receiver import running_webhook_receiver
from trustspace import outbox
from trustspace.celery import app
from trustspace.models import OutboxKind, OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]


def _poll(condition, attempts=200, pause=0.1):
    """Wait (bounded) for a condition another process or thread makes true."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(pause)
    return condition()


@pytest.mark.postgresql
def test_two_competing_workers_deliver_each_of_200_messages_exactly_once(settings):
    with running_smtp_sink() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        # Committed, not yet delivered (as after a broker outage): both workers find all 200 due.
        OutboxMessage.objects.bulk_create([OutboxMessage(
            kind=OutboxKind.EMAIL, label=f"E-mail {i}",
            payload={"to": [f"p{i}@example.fr"], "subject": f"Message {i}", "body": "Corps"}) for i in range(200)])
        results, errors = in_parallel(2, lambda: outbox.deliver_due(limit=500))
    assert errors == []
    assert sum(sent for sent, _failed in results) == 200
    assert sum(failed for _sent, failed in results) == 0
    ids = sink.message_ids()
    assert len(ids) == 200 and len(set(ids)) == 200
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT, attempts=1).count() == 200


@pytest.mark.postgresql
def test_a_stopped_broker_never_fails_a_committed_approval_and_nothing_is_lost(world, settings, tmp_path):
    require_or_skip(redis_server_available(), "redis-server is not installed")
    with private_redis(tmp_path) as broker:
        settings.CELERY_BROKER_URL = broker.url
        settings.CELERY_TASK_ALWAYS_EAGER = False
        try:
            in_review = lifecycle.submitted_declaration(world.operator, world.legal)
            in_review = operator_services.assign_request(in_review, acting_user=world.ans)
            OutboxMessage.objects.all().delete()  # the fixtures' messages: not this test's business
            mail.outbox.clear()
            broker.stop()

            response = api(world.ans).post(f"/api/v1/requests/{in_review.pk}/approve/", {"comment": "Conforme."},
                                           format="json")
            assert response.status_code == 200, response.content[:500]
            in_review.refresh_from_db()
            assert in_review.status == RequestStatus.APPROVED
            pending = list(OutboxMessage.objects.filter(kind=OutboxKind.EMAIL))
            assert pending and {m.status for m in pending} == {OutboxStatus.PENDING}
            assert {m.attempts for m in pending} == {0}
            assert mail.outbox == []

            broker.start()  # same port: the broker is back
            outbox.kick()  # what the next commit (or the beat sweep) does
            assert redis_client.Redis(port=broker.port).llen("celery") == 1
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
                assert _poll(lambda: not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists())
        finally:
            settings.CELERY_TASK_ALWAYS_EAGER = True
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == len(pending)
    assert len(mail.outbox) == len(pending)  # each e-mail exactly once
    assert any("approuvée" in m.subject.lower() for m in mail.outbox)
    assert outbox.deliver_due() == (0, 0)
    assert len(mail.outbox) == len(pending)


def test_a_kick_with_the_broker_down_returns_quickly_without_raising(settings, broker_retry_sleeps):
    settings.OUTBOX_KICK_TIMEOUT_SECONDS = 1
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # a closed port
    settings.CELERY_TASK_ALWAYS_EAGER = False
    outbox.kick([1, 2])  # logs, never raises
    assert broker_retry_sleeps == []  # one attempt, no pause before a retry


WORKER = """
import django, os, sys
django.setup()
from trustspace.outbox import deliver_due
print(deliver_due(), flush=True)
"""


@pytest.mark.postgresql
def test_a_worker_killed_mid_delivery_loses_nothing_and_the_retry_carries_the_same_delivery_id(settings, tmp_path):
    with running_webhook_receiver() as (receiver, url):
        receiver.hold = threading.Event()
        message = OutboxMessage.objects.create(kind=OutboxKind.WEBHOOK, label="Webhook : t", payload={
            "url": url, "event": {"type": "alert.opened"}, "event_type": "alert.opened",
            "secret": outbox.encrypt_secret("secret")})
        db = connection.settings_dict
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "trustspace.settings", "VAR_DIR": str(tmp_path),
               "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               "SECRET_KEY": django_settings.SECRET_KEY, "OUTBOX_ENCRYPTION_KEY": settings.OUTBOX_ENCRYPTION_KEY}
        worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            assert receiver.received.wait(60), worker.communicate(timeout=5)[0]
            # Mid-delivery the row is locked: a second worker skips it.
            assert outbox.deliver_due() == (0, 0)
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)  # rolled back with the worker
        hold, receiver.hold = receiver.hold, None
        hold.set()  # the killed worker's request may finish
        assert _poll(lambda: outbox.deliver_due() == (1, 0))  # once PostgreSQL has dropped the dead session
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert receiver.deliveries() == [str(message.pk), str(message.pk)]

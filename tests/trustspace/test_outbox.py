"""The transactional outbox (trustspace.outbox): rollback sends nothing, commit sends once, failures are retried
with backoff through a real SMTP server and a real webhook receiver on 127.0.0.1, then given up and relaunched."""
import hashlib
import hmac
import json
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from tests.support.smtp_sink import running_smtp_sink
from tests.support.webhook_receiver import running_webhook_receiver
from trustspace import outbox
from trustspace.backoff import backoff
from trustspace.errors import Conflict
from trustspace.models import AuditEntry, OutboxKind, OutboxMessage, OutboxStatus
from trustspace.technical_detail import split_detail

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


@pytest.fixture
def smtp(settings):
    with running_smtp_sink() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.OUTBOX_RETRY_BASE_SECONDS, settings.OUTBOX_RETRY_MAX_SECONDS = 30, 3600
        settings.OUTBOX_MAX_ATTEMPTS = 5
        yield sink


def test_the_backoff_doubles_from_its_base_up_to_its_cap():
    delays = [backoff(n, base_seconds=30, max_seconds=200).total_seconds() for n in range(0, 6)]
    assert delays == [30, 30, 60, 120, 200, 200]


def test_a_rollback_leaves_no_message_and_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            outbox.enqueue_email("a@example.fr", "Sujet", "Corps")
            outbox.enqueue_task("trustspace.tasks.send_email", (["b@example.fr"], "s", "b"))
            raise Boom
    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_a_commit_delivers_each_message_once_with_one_kick(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox.enqueue_email(["a@example.fr", "b@example.fr"], "Demande approuvée", "Corps")
        second = outbox.enqueue_email("c@example.fr", "Autre", "Corps 2")
        assert mail.outbox == []  # nothing leaves before the commit
    assert [m.subject for m in mail.outbox] == ["Demande approuvée", "Autre"]
    assert mail.outbox[0].to == ["a@example.fr", "b@example.fr"]
    assert first.label == "E-mail : Demande approuvée → 2 destinataires"
    for message in (first, second):
        message.refresh_from_db()
        assert (message.status, message.attempts, message.sent_at is not None) == (OutboxStatus.SENT, 1, True)
    # The callbacks of one transaction share one batch: with a broker, one task is published for both.
    kicks = [entry[1] for entry in transaction.get_connection().run_on_commit if isinstance(entry[1], outbox._Kick)]
    assert len({id(kick.batch) for kick in kicks}) == 1 and kicks[0].batch.ids == [first.pk, second.pk]
    assert outbox.deliver_due() == (0, 0)  # a sweep afterwards sends nothing again
    assert len(mail.outbox) == 2


def test_a_dedup_key_is_used_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.enqueue_email("a@example.fr", "S", "B", dedup_key="notice:1") is not None
        assert outbox.enqueue_email("a@example.fr", "S", "B", dedup_key="notice:1") is None
        assert outbox.enqueue_email([], "S", "B") is None
    assert len(mail.outbox) == 1
    assert OutboxMessage.objects.count() == 1


def test_an_email_refused_for_now_is_retried_with_backoff_then_delivered(smtp, django_capture_on_commit_callbacks):
    smtp.refuse_with = "451 4.3.0 essayez plus tard"
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue_email("a@example.fr", "[DRIM-M] Demande approuvée", "Bonjour")
    message.refresh_from_db()
    assert (message.status, message.attempts, smtp.messages) == (OutboxStatus.PENDING, 1, [])
    # For the ANS in French, the server's words kept as the technical detail.
    assert split_detail(message.last_error)[0] == "Le serveur de courriel refuse le ou les destinataires (code 451)."
    assert "4.3.0 essayez plus tard" in split_detail(message.last_error)[1]
    first_retry = message.next_attempt_at
    assert timezone.now() < first_retry <= timezone.now() + timedelta(seconds=30)
    assert outbox.deliver_due() == (0, 0)  # not due yet: nothing is tried
    assert smtp.refused == 1

    assert outbox.deliver_due(now=first_retry) == (0, 1)
    message.refresh_from_db()
    assert message.attempts == 2 and smtp.refused == 2
    assert timedelta(seconds=30) < message.next_attempt_at - timezone.now() <= timedelta(seconds=60)  # doubled

    smtp.refuse_with = None
    assert outbox.deliver_due(now=message.next_attempt_at) == (1, 0)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 3, "")
    [(recipients, delivered)] = smtp.messages
    assert recipients == ["a@example.fr"]
    assert str(make_header(decode_header(delivered["Subject"]))) == "[DRIM-M] Demande approuvée"
    assert delivered["Message-ID"] == outbox.message_id(message)  # stable: a repeat is recognisable
    assert outbox.deliver_due(now=timezone.now() + timedelta(days=1)) == (0, 0)
    assert len(smtp.messages) == 1


def test_a_transient_failure_gives_up_after_the_maximum_attempts(smtp, settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    smtp.refuse_with = "451 4.3.0 essayez plus tard"
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue_email("a@example.fr", "S", "B")
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    outbox.deliver_due(now=message.next_attempt_at)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 2)
    assert outbox.deliver_due(now=timezone.now() + timedelta(days=10)) == (0, 0)  # waits for « Relancer »


def test_a_refused_recipient_fails_at_once_then_ans_relaunches_it(smtp, make_user,
                                                                   django_capture_on_commit_callbacks):
    ans = make_user("ans", is_ans_admin=True)
    smtp.refuse_with = "550 5.1.1 destinataire inconnu"
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue_email("inconnu@example.fr", "S", "B")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 1)
    assert split_detail(message.last_error)[0] == "Le serveur de courriel refuse le ou les destinataires (code 550)."
    assert "550" in split_detail(message.last_error)[1]

    smtp.refuse_with = None  # the address was fixed on the mail server side
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.retry_message(message, acting_user=ans) is True
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert len(smtp.messages) == 1
    entry = AuditEntry.objects.get(action="outbox.retried")
    assert (entry.actor, entry.object_id, entry.before["status"], entry.before["attempts"]) == (
        ans, str(message.pk), "failed", 1)
    assert outbox.retry_message(message, acting_user=ans) is False  # sent: nothing to relaunch
    assert AuditEntry.objects.filter(action="outbox.retried").count() == 1


def _signature(secret, headers, body):
    expected = hmac.new(secret.encode(), headers["X-DRIMM-Timestamp"].encode() + b"." + body, hashlib.sha256)
    return "sha256=" + expected.hexdigest()


def test_a_webhook_is_signed_retried_on_5xx_and_its_secret_is_not_stored_in_clear(
        settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_MAX_ATTEMPTS = 5
    secret = "s3cr3t-du-webhook"
    with running_webhook_receiver() as (receiver, url):
        receiver.statuses = [503]
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue_webhook(url, {"type": "alert.opened", "key": "beat"}, secret=secret)
        assert secret not in json.dumps(message.payload)
        assert message.label.startswith("Webhook : alert.opened → 127.0.0.1")
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
        assert "503" in message.last_error
        assert outbox.deliver_due(now=message.next_attempt_at) == (1, 0)
        message.refresh_from_db()
        assert message.status == OutboxStatus.SENT
    assert receiver.deliveries() == [str(message.pk)] * 2  # the same delivery id on the retry
    for headers, body in receiver.requests:
        assert json.loads(body) == {"type": "alert.opened", "key": "beat"}
        assert headers["X-DRIMM-Event"] == "alert.opened"
        assert headers["X-DRIMM-Signature"] == _signature(secret, headers, body)
        assert headers["X-DRIMM-Signature"] != _signature("autre", headers, body)


@pytest.mark.parametrize("status, final", [(404, OutboxStatus.FAILED), (429, OutboxStatus.PENDING),
                                           (408, OutboxStatus.PENDING), (500, OutboxStatus.PENDING)])
def test_a_webhook_4xx_is_permanent_except_408_and_429(status, final, django_capture_on_commit_callbacks):
    with running_webhook_receiver() as (receiver, url):
        receiver.default_status = status
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue_webhook(url, {"type": "t"}, secret="x")
    message.refresh_from_db()
    assert (message.status, message.attempts) == (final, 1)
    assert split_detail(message.last_error)[0] == f"Le récepteur du webhook a répondu HTTP {status}."


def test_a_webhook_secret_unreadable_with_another_key_fails_for_good(settings, django_capture_on_commit_callbacks):
    with running_webhook_receiver() as (receiver, url):
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue_webhook(url, {"type": "t"}, secret="x")
            settings.OUTBOX_ENCRYPTION_KEY = "une-autre-clé"  # rotated before the delivery
        message.refresh_from_db()
        assert receiver.requests == []
    assert message.status == OutboxStatus.FAILED and "illisible" in message.last_error


def test_a_task_is_published_after_commit_and_an_unknown_one_fails(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        task = outbox.enqueue_task("trustspace.tasks.send_email", (["a@example.fr"], "Par tâche", "Corps"))
        unknown = outbox.enqueue_task("trustspace.tasks.does_not_exist")
    assert task.kind == OutboxKind.TASK and task.label == "Tâche : send_email"
    assert [m.subject for m in mail.outbox] == ["Par tâche"]  # the legacy task still works (eager here)
    task.refresh_from_db()
    unknown.refresh_from_db()
    assert task.status == OutboxStatus.SENT
    assert unknown.status == OutboxStatus.FAILED and "Tâche inconnue" in unknown.last_error


def test_a_failing_eager_task_undoes_its_own_writes_and_is_retried(django_capture_on_commit_callbacks, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue_task("trustspace.tasks.send_email", (["a@example.fr"],))  # missing arguments
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert split_detail(message.last_error) == ("La tâche n'a pas pu être confiée à un worker.",
                                                split_detail(message.last_error)[1])
    assert split_detail(message.last_error)[1].startswith("TypeError")


def test_sent_messages_are_pruned_after_the_retention(settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_KEEP_SENT_DAYS = 30
    with django_capture_on_commit_callbacks(execute=True):
        old = outbox.enqueue_email("a@example.fr", "S", "B")
        recent = outbox.enqueue_email("a@example.fr", "S", "B")
    OutboxMessage.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=31))
    assert outbox.prune_sent() == 1
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [recent.pk]


def test_with_a_broker_one_transaction_registers_one_kick_and_a_broker_error_is_swallowed(
        settings, django_capture_on_commit_callbacks, broker_retry_sleeps):
    settings.OUTBOX_KICK_TIMEOUT_SECONDS = 1
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens there: the broker is down
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        messages = [outbox.enqueue_email(f"p{i}@example.fr", "S", "B") for i in range(3)]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert len(callbacks) == 1 and callbacks[0].batch.ids == [m.pk for m in messages]
    assert callbacks[0].batch.kicked
    assert broker_retry_sleeps == []  # the commit's request is not held up by kombu's retry loop
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {(OutboxStatus.PENDING, 0)}
    assert mail.outbox == []
    assert outbox.deliver_due() == (3, 0)  # the sweep


def test_a_message_moves_only_along_its_state_machine():
    """pending → sent | failed, failed → pending (ANS « Relancer »); a sent message is final."""
    message = OutboxMessage(kind=OutboxKind.EMAIL, label="Avis de test")
    message.transition_to(OutboxStatus.FAILED)
    message.transition_to(OutboxStatus.PENDING)
    message.transition_to(OutboxStatus.SENT)
    with pytest.raises(Conflict) as refused:
        message.transition_to(OutboxStatus.PENDING)
    assert refused.value.message == "L'envoi « Avis de test » est « envoyé » : il ne peut pas passer à « en attente »."
    assert refused.value.code == "invalid_transition"
    assert message.status == OutboxStatus.SENT


@pytest.fixture
def silent_server():
    """A loopback TCP server that accepts connections (the kernel completes the handshake) and never answers: an
    SMTP relay or a Redis that hangs."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_the_default_email_timeout_is_short():
    from django.conf import settings as django_settings

    assert 0 < django_settings.EMAIL_TIMEOUT <= 60  # far below the delivery task's soft time limit


def test_a_hanging_smtp_server_is_a_failed_attempt_retried_later(smtp, settings, silent_server):
    settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = silent_server, 0.5
    message = outbox.enqueue_email("a@example.fr", "Bloqué", "Corps")
    assert outbox.deliver_one(message.pk) == "failed"  # the timeout, not the task's time limit, ended the attempt
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    message_fr, detail = split_detail(message.last_error)
    assert message_fr == "Serveur de courriel injoignable." and "timed out" in detail.lower(), message.last_error
    assert message.next_attempt_at > timezone.now()  # backoff: the next try is later, the row lock was released

"""Transactional outbox: every side effect (e-mail, webhook, Celery task) is a row written in the caller's
transaction, then delivered by ``deliver_due`` (Celery task ``trustspace.tasks.deliver_outbox``).

- The row exists if and only if the change committed: a rollback sends nothing.
- A committed change never fails because of the broker: the on-commit « kick » that asks a worker to deliver now
  swallows broker errors; the periodic sweep (``OUTBOX_SWEEP_SECONDS``) delivers whatever is still due.
- Each message is delivered under a row lock (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL): two workers
  never deliver the same message. A worker killed mid-delivery leaves it pending (its transaction rolls back);
  e-mails carry a stable ``Message-ID`` and webhooks a stable ``X-DRIMM-Delivery`` so a receiver recognises a
  repeated delivery.
- Failures are retried with ``trustspace.backoff``; after ``OUTBOX_MAX_ATTEMPTS`` or a permanent error the
  message is « en échec » until an ANS administrator clicks « Relancer » (``retry_message``, audited).

Webhook secrets are never stored in clear: ``payload["secret"]`` is a Fernet token made with a key derived from
``OUTBOX_ENCRYPTION_KEY`` (environment; required with DEBUG=0 by ``check --deploy``, trustspace.E104; in development
derived from ``SECRET_KEY``).
"""
import base64
import hashlib
import hmac
import json
import logging
import re
import smtplib
import time
from datetime import timedelta
from urllib.parse import urlsplit

from celery.exceptions import SoftTimeLimitExceeded
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .backoff import backoff
from .models import OutboxKind, OutboxMessage, OutboxStatus
from .technical_detail import with_detail

logger = logging.getLogger(__name__)

TASK_NAME = "trustspace.tasks.deliver_outbox"
WEBHOOK_TIMEOUT_SECONDS = 10


class PermanentError(Exception):
    """Retrying cannot help (recipient refused, webhook 4xx…): the message goes straight to « en échec »."""


# --- enqueueing (inside the caller's transaction) ------------------------------------------------


def enqueue_email(to, subject, body, *, dedup_key="", label=""):
    """An e-mail (``subject`` already complete) to one address or a list. None when nothing is to be sent
    (no recipient, or ``dedup_key`` already used)."""
    recipients = [to] if isinstance(to, str) else [address for address in to if address]
    if not recipients:
        return None
    count = len(recipients)
    label = label or f"E-mail : {subject} → {count} destinataire{'s' if count > 1 else ''}"
    return _enqueue(OutboxKind.EMAIL, {"to": recipients, "subject": subject, "body": body}, dedup_key, label)


def enqueue_webhook(url, event: dict, *, secret: str, dedup_key="", label=""):
    """A signed JSON POST of ``event`` (its ``"type"``, if any, goes in ``X-DRIMM-Event``)."""
    event_type = str(event.get("type") or event.get("event") or "event")
    payload = {"url": url, "event": event, "event_type": event_type, "secret": encrypt_secret(secret)}
    label = label or f"Webhook : {event_type} → {urlsplit(url).hostname or url}"
    return _enqueue(OutboxKind.WEBHOOK, payload, dedup_key, label)


def enqueue_task(task_name, args=(), kwargs=None, *, dedup_key="", label=""):
    """A Celery task (its registered name, or the task itself) published once the change committed."""
    name = getattr(task_name, "name", task_name)
    payload = {"task": name, "args": list(args), "kwargs": dict(kwargs or {})}
    return _enqueue(OutboxKind.TASK, payload, dedup_key, label or f"Tâche : {name.rsplit('.', 1)[-1]}")


def _enqueue(kind, payload, dedup_key, label):
    # Round-trip through JSON now: a payload the database cannot store must fail in the caller, not later.
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    if dedup_key and OutboxMessage.objects.filter(dedup_key=dedup_key).exists():
        return None
    try:
        with transaction.atomic():  # savepoint: a concurrent duplicate must not break the caller's transaction
            message = OutboxMessage.objects.create(kind=kind, payload=payload, dedup_key=dedup_key,
                                                   label=label[:255], next_attempt_at=timezone.now())
    except IntegrityError:
        if dedup_key:
            return None
        raise
    _kick_on_commit(message.pk)
    return message


KICK_MAX_IDS = 500  # more in one transaction: the sweep delivers the rest


class _Batch:
    """The messages enqueued by one transaction, and whether a worker was already asked to deliver them."""

    def __init__(self):
        self.ids = []
        self.kicked = False


class _Kick:
    """On-commit callback. With a broker there is one per transaction: it publishes a single task for the whole
    batch. In eager mode (development, tests: no broker) there is one per message, delivering it inline, so that a
    callback captured and never run (a test's fixtures) sends nothing, as before the outbox."""

    def __init__(self, batch, message_id):
        self.batch = batch
        self.message_id = message_id

    def __call__(self):
        if _eager():
            kick([self.message_id])
        elif not self.batch.kicked:
            self.batch.kicked = True
            kick(self.batch.ids[:KICK_MAX_IDS])


def _eager():
    from .tasks import deliver_outbox

    return bool(deliver_outbox.app.conf.task_always_eager)


def _kick_on_commit(message_id):
    # Django drops the pending callbacks at commit or rollback: a batch not yet kicked is this transaction's.
    pending = [entry[1].batch for entry in transaction.get_connection().run_on_commit
               if isinstance(entry[1], _Kick) and not entry[1].batch.kicked]
    batch = pending[-1] if pending else _Batch()
    batch.ids.append(message_id)
    if pending and not _eager():
        return  # the transaction's kick is registered and will carry this message too
    transaction.on_commit(_Kick(batch, message_id))


def kick(ids=None):
    """Ask a worker to deliver these messages (None: every due one) now. Never raises: the sweep delivers them
    anyway."""
    from .tasks import deliver_outbox

    try:
        if _eager():
            deliver_outbox.apply_async(kwargs={"ids": ids}, retry=False, ignore_result=True)
            return
        with deliver_outbox.app.connection_for_write() as broker:
            # Fail fast when the broker is down: one attempt (kombu sleeps 2 s before any retry, which would hold
            # up every request that commits a message).
            broker.ensure_connection(max_retries=0, timeout=settings.OUTBOX_KICK_TIMEOUT_SECONDS)
            deliver_outbox.apply_async(kwargs={"ids": ids}, connection=broker, retry=False, ignore_result=True)
    except Exception as exc:  # noqa: BLE001 — the change is committed; the periodic sweep will deliver
        logger.warning("outbox: could not ask a worker to deliver now (%s); the sweep will", exc)


# --- delivering ----------------------------------------------------------------------------------


def _skip_locked():
    return {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}


def due_ids(now, limit):
    return list(OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])


def deliver_due(*, now=None, limit=200, ids=None):
    """Deliver every due pending message (at most ``limit``; only those of ``ids`` when given).
    Returns (sent, failed attempts)."""
    now = now or timezone.now()
    sent = failed = 0
    for pk in (ids[:limit] if ids is not None else due_ids(now, limit)):
        outcome = deliver_one(pk, now=now)
        sent += outcome == "sent"
        failed += outcome == "failed"
    return sent, failed


def deliver_one(pk, *, now=None):
    """Deliver one message under its row lock. Returns "sent", "failed" or None (taken or no longer due)."""
    now = now or timezone.now()
    with transaction.atomic():
        message = (OutboxMessage.objects.select_for_update(**_skip_locked())
                   .filter(pk=pk, status=OutboxStatus.PENDING, next_attempt_at__lte=now).first())
        if message is None:
            return None
        try:
            with transaction.atomic():  # an eager task's own writes are undone if it fails
                DELIVERERS[message.kind](message)
        except SoftTimeLimitExceeded:
            raise  # the worker is being stopped: leave the message pending, untouched
        except Exception as exc:  # noqa: BLE001 — any failure is recorded on the row and retried
            _record_failure(message, exc)
            return "failed"
        message.transition_to(OutboxStatus.SENT)
        message.sent_at = timezone.now()
        message.attempts += 1
        message.last_error = ""
        message.save(update_fields=["status", "sent_at", "attempts", "last_error"])
        return "sent"


def _record_failure(message, exc):
    message.attempts += 1
    message.last_error = failure_text(message.kind, exc)
    permanent = isinstance(exc, PermanentError) or _is_permanent_smtp(exc)
    if permanent or message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        message.transition_to(OutboxStatus.FAILED)
        logger.error("outbox: message %s (%s) failed for good: %s", message.pk, message.label, message.last_error)
    else:
        message.next_attempt_at = timezone.now() + retry_delay(message.attempts)
        logger.warning("outbox: message %s attempt %s failed: %s", message.pk, message.attempts, message.last_error)
    message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])


_HTTP_STATUS = re.compile(r"^HTTP (\d{3})\b")


def failure_text(kind, exc):
    """What the ANS reads about a failed delivery: a French sentence, the exception as it came (an SMTP server's,
    a receiver's or Python's words, in English) kept as the technical detail."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, PermanentError) and not _HTTP_STATUS.match(str(exc)):
        text = str(exc)  # the portal's own words (French)
        return with_detail(text[:1].upper() + text[1:] + ("" if text.endswith(".") else "."), None)
    if kind == OutboxKind.EMAIL:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = ", ".join(sorted({str(code) for code, _text in exc.recipients.values()}))
            message = f"Le serveur de courriel refuse le ou les destinataires (code {codes})."
        elif isinstance(exc, smtplib.SMTPResponseException):
            message = f"Le serveur de courriel refuse l'envoi (code {exc.smtp_code})."
        elif isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
            message = "Serveur de courriel injoignable."
        else:
            message = "Envoi du courriel en échec."
    elif kind == OutboxKind.WEBHOOK:
        status = _HTTP_STATUS.match(str(exc))
        if status:
            message = f"Le récepteur du webhook a répondu HTTP {status[1]}."
        elif "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower():
            message = "Le récepteur du webhook n'a pas répondu à temps."
        elif isinstance(exc, OSError):  # requests' ConnectionError and the like
            message = "Récepteur du webhook injoignable."
        else:
            message = "Envoi du webhook en échec."
    else:
        message = "La tâche n'a pas pu être confiée à un worker."
    return with_detail(message, detail)


def retry_delay(attempts):
    return backoff(attempts, base_seconds=settings.OUTBOX_RETRY_BASE_SECONDS,
                   max_seconds=settings.OUTBOX_RETRY_MAX_SECONDS)


def _is_permanent_smtp(exc):
    """Every recipient refused with a 5xx code: the address is wrong, retrying cannot help (4xx: try again)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    return False


def message_id(message):
    """Stable per row, so a repeated delivery (after a crash) is recognisable as the same message."""
    domain = (settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") if "@" in settings.DEFAULT_FROM_EMAIL
              else urlsplit(settings.SITE_URL).hostname or "localhost")
    return f"<outbox-{message.pk}-{message.created_at:%Y%m%d%H%M%S}@{domain}>"


def _deliver_email(message):
    payload = message.payload
    email = EmailMessage(payload["subject"], payload["body"], settings.DEFAULT_FROM_EMAIL, payload["to"],
                         headers={"Message-ID": message_id(message)})
    email.send(fail_silently=False)


def webhook_signature(secret, timestamp, body: bytes):
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _deliver_webhook(message):
    import requests

    payload = message.payload
    secret = decrypt_secret(payload["secret"])
    body = json.dumps(payload["event"], separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DRIM-M-Espace-de-Confiance",
        "X-DRIMM-Event": payload.get("event_type", "event"),
        "X-DRIMM-Delivery": str(message.pk),
        "X-DRIMM-Timestamp": timestamp,
        "X-DRIMM-Signature": webhook_signature(secret, timestamp, body),
    }
    response = requests.post(payload["url"], data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS,
                             allow_redirects=False)
    if 200 <= response.status_code < 300:
        return
    error = f"HTTP {response.status_code} {response.text[:200]}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentError(error)
    raise RuntimeError(error)


def _deliver_task(message):
    from celery import current_app

    payload = message.payload
    task = current_app.tasks.get(payload["task"])
    if task is None:
        current_app.loader.import_default_modules()
        task = current_app.tasks.get(payload["task"])
    if task is None:
        raise PermanentError(f"tâche inconnue : {payload['task']}")
    # Fire and forget, as the .delay() it replaces: no result subscription (a down result store must not hang).
    task.apply_async(payload.get("args") or (), payload.get("kwargs") or {}, retry=False, ignore_result=True)


DELIVERERS = {OutboxKind.EMAIL: _deliver_email, OutboxKind.WEBHOOK: _deliver_webhook, OutboxKind.TASK: _deliver_task}


# --- ANS « Relancer » and upkeep -----------------------------------------------------------------


def retry_message(message, *, acting_user):
    """Put a failed message back in the queue now, with a fresh set of attempts (ANS, audited).
    Returns False when the message is not « en échec » (already retried, or sent)."""
    from . import audit

    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().filter(pk=message.pk).first()
        if locked is None or locked.status != OutboxStatus.FAILED:
            return False
        before = {"status": locked.status, "attempts": locked.attempts, "last_error": locked.last_error}
        locked.transition_to(OutboxStatus.PENDING)
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit.record(actor=acting_user, action="outbox.retried", obj=locked, before=before,
                     after={"status": locked.status, "attempts": 0})
        _kick_on_commit(locked.pk)
    message.refresh_from_db()
    return True


def prune_sent(*, now=None):
    """Forget sent messages older than ``OUTBOX_KEEP_SENT_DAYS`` (0 keeps them all). Returns how many."""
    days = settings.OUTBOX_KEEP_SENT_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = OutboxMessage.objects.filter(status=OutboxStatus.SENT, sent_at__lt=cutoff).delete()
    return deleted


# --- webhook secrets -----------------------------------------------------------------------------


def _fernet():
    key_material = settings.OUTBOX_ENCRYPTION_KEY or f"outbox:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key_material.encode()).digest()))


def encrypt_secret(secret):
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise PermanentError("secret du webhook illisible (clé OUTBOX_ENCRYPTION_KEY changée ?)") from exc

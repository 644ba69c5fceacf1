import logging
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from .audit import AnchorError, anchor_line, make_anchor, read_anchors, store_anchor, verify_chain
from .backoff import backoff

logger = logging.getLogger(__name__)

SEND_EMAIL_MAX_RETRIES = 8


@shared_task(bind=True, max_retries=SEND_EMAIL_MAX_RETRIES)
def send_email(self, recipients, subject, body):
    """Kept for the messages already queued in a broker before the outbox existed; nothing new uses it. An SMTP
    failure is retried with the project's backoff (trustspace.backoff), like the outbox's own retries."""
    try:
        send_mail(subject, body, None, recipients)
    except OSError as exc:  # smtplib's errors and socket timeouts
        delay = backoff(self.request.retries + 1, base_seconds=settings.OUTBOX_RETRY_BASE_SECONDS,
                        max_seconds=settings.OUTBOX_RETRY_MAX_SECONDS)
        raise self.retry(exc=exc, countdown=delay.total_seconds()) from exc


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=300)
def deliver_outbox(ids=None, limit=200):
    """Deliver the due outbox messages: ``ids`` right after their transaction committed (the « kick »), all of
    them every OUTBOX_SWEEP_SECONDS (beat)."""
    from .outbox import deliver_due, prune_sent

    sent, failed = deliver_due(limit=limit, ids=ids)
    pruned = prune_sent() if ids is None else 0
    return {"sent": sent, "failed": failed, "pruned": pruned}


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def check_alerts():
    """Every ALERT_CHECK_SECONDS: the ANS alert conditions (trustspace.alerts, settings.ALERT_CHECKS)."""
    from .alerts import check_alerts as run_checks

    return run_checks()


@shared_task
def verify_audit_chain():
    """Nightly check of the audit chain, against the anchors written so far; the administrators are told
    when it is broken."""
    anchor_file = Path(settings.AUDIT_ANCHOR_FILE)
    try:
        anchors = read_anchors(anchor_file) if anchor_file.exists() else []
    except AnchorError as exc:
        report = None
        reason = f"ancres de {anchor_file} : {exc}"
    else:
        report = verify_chain(anchors=anchors)
        reason = report.reason
    ok = report is not None and report.ok
    if not ok:
        logger.error("audit chain broken: %s", reason)
    from .alerts import audit_chain_result

    audit_chain_result(ok, reason)  # an ANS alert (e-mail + webhook), resolved by the next good verification
    return {"ok": ok, "count": report.count if report else 0, "reason": reason}


def send_anchor(anchor, stored_in, problem=""):
    """The anchor, mailed to the administrators through the outbox (one e-mail per chain head: anchoring the same
    head twice mails it once): a copy of the chain head that no database access can change."""
    from .alerts import admin_emails
    from .outbox import enqueue_email

    recipients = admin_emails()
    if not recipients:
        logger.warning("ADMIN_EMAILS is empty: the audit anchor of row #%s is not mailed", anchor["seq"])
        return None
    line = anchor_line(anchor)
    body = (
        f"Tête de la chaîne d'audit au {anchor['anchored_at']} : ligne #{anchor['seq']}.\n\n"
        f"Ancre (à conserver, vérifiable avec `manage.py audit_verify --anchor FICHIER`) :\n{line}\n\n"
        + (f"Ancre ajoutée à : {stored_in}\n" if stored_in else f"L'ancre n'a pas pu être enregistrée : {problem}\n")
    )
    subject = f"[Espace de Confiance DRIM-M] Journal d'audit : ancre de la ligne #{anchor['seq']}"
    with transaction.atomic():
        return enqueue_email(recipients, subject, body, dedup_key=f"audit-anchor:{anchor['seq']}",
                             label=f"Ancre d'audit : ligne #{anchor['seq']}")


@shared_task
def anchor_audit_chain():
    """Daily: the chain head, written outside the database (anchor file) and mailed to the administrators."""
    anchor = make_anchor()
    try:
        stored_in = store_anchor(anchor)
    except OSError as exc:
        logger.error("audit anchor not written to %s: %s", settings.AUDIT_ANCHOR_FILE, exc)
        send_anchor(anchor, None, str(exc))
        raise
    send_anchor(anchor, stored_in)
    return {"seq": anchor["seq"], "hash": anchor["hash"], "file": str(stored_in)}

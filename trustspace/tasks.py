import logging

from celery import shared_task
from django.core.mail import mail_admins, send_mail

from .audit import verify_chain

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=3600, max_retries=8)
def send_email(recipients, subject, body):
    send_mail(subject, body, None, recipients)


@shared_task
def verify_audit_chain():
    """Nightly check of the audit chain; the administrators are told when it is broken."""
    report = verify_chain()
    if not report.ok:
        logger.error("audit chain broken: %s", report.reason)
        mail_admins("Journal d'audit : chaîne rompue", report.reason)
    return {"ok": report.ok, "count": report.count, "reason": report.reason}

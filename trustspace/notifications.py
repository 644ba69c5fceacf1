"""Outgoing e-mail, always sent after the transaction commits, through a Celery task."""
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string


def send_email_on_commit(*, to, subject, template, context):
    """Render now (inside the transaction, with its data) and send once it has committed."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        return
    body = render_to_string(template, {**context, "SITE_URL": settings.SITE_URL})
    full_subject = f"[Espace de Confiance DRIM-M] {subject}"

    def enqueue():
        from .tasks import send_email

        send_email.delay(recipients, full_subject, body)

    transaction.on_commit(enqueue)

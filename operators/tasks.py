from celery import shared_task

from . import services


@shared_task
def expire_invitations():
    return services.expire_invitations()


@shared_task
def apply_dns_changes():
    """Send due DNS changes; also run every minute by beat, which retries what the server refused."""
    applied, failed = services.apply_dns_changes()
    return {"applied": applied, "failed": failed}


@shared_task
def send_va_reminders():
    """The VA deadline's reminders, then the reservations deadline's (VA signed « avec réserves »)."""
    return services.send_va_reminders() + services.send_va_reservations_reminders()

from celery import shared_task

from trustspace.outbox import enqueue_task

from . import services


@shared_task
def refresh_crls():
    refreshed = services.refresh_crls()
    revoked = services.recheck_db_certificates()
    confirmed = services.process_revocations()
    return {"refreshed": refreshed, "revoked": revoked, "confirmed": confirmed}


@shared_task
def send_expiry_notices():
    return services.send_expiry_notices()


@shared_task
def process_vi_orders():
    issued, failed = services.process_vi_orders()
    return {"issued": issued, "failed": failed}


@shared_task
def renew_vi_certificates():
    queued = services.renew_vi_certificates()
    if queued:
        enqueue_task(process_vi_orders)  # through the outbox: a broker hiccup must not lose it
    return queued


@shared_task
def send_quarterly_export_notices():
    return services.send_quarterly_export_notices()


@shared_task
def process_revocations():
    opened = services.process_pending_revocations()
    return {"opened": opened, "done": services.process_revocations()}

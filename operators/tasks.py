from celery import shared_task

from . import services


@shared_task
def expire_invitations():
    return services.expire_invitations()

"""Celery: a real worker consumes tasks through Redis when REDIS_URL is set; periodic jobs are scheduled."""
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone

from operators.models import Invitation, InvitationStatus
from tests.conftest import require_or_skip
from trustspace.celery import app
from trustspace.tasks import send_email, verify_audit_chain


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_tasks_through_redis(world, settings):
    require_or_skip(django_settings.REDIS_URL, "REDIS_URL is not set (Redis broker test)")
    assert app.conf.broker_url.startswith("redis://")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert not app.conf.task_always_eager  # the tasks below go through Redis to the worker
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = verify_audit_chain.delay()
        assert result.get(timeout=30) == {"ok": True, "count": result.get()["count"], "reason": ""}
        assert result.get()["count"] > 0
        send_email.delay(["someone@example.fr"], "Sujet", "Corps").get(timeout=30)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert [m.subject for m in mail.outbox][-1] == "Sujet"


def test_periodic_jobs_are_scheduled():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["expire-invitations"]["task"] == "operators.tasks.expire_invitations"
    assert schedule["verify-audit-chain"]["task"] == "trustspace.tasks.verify_audit_chain"
    assert {"operators.tasks.expire_invitations", "trustspace.tasks.verify_audit_chain"} <= set(app.tasks)


def test_expire_invitations_task_marks_and_audits(world):
    Invitation.objects.filter(pk=world.pending_invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    from operators.tasks import expire_invitations

    assert expire_invitations.delay().get() == 1
    world.pending_invitation.refresh_from_db()
    assert world.pending_invitation.status == InvitationStatus.EXPIRED
    from trustspace.models import AuditEntry

    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry.action == "invitation.expired" and entry.actor_label == "tâche expire_invitations"


def test_invitation_email_is_sent_after_commit_with_a_one_time_link(world, django_capture_on_commit_callbacks):
    from operators import services
    from operators.models import Role

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = services.invite_person(world.operator, acting_user=world.legal, email="ta3@example.fr",
                                                    role=Role.TECHNICAL_ADMIN)
        assert mail.outbox == []  # nothing leaves before the transaction commits
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ta3@example.fr"]
    assert f"/invitation/{token}/" in mail.outbox[0].body

"""A request's timeline, audit and notifications: what every step of a request writes and sends (DESIGN §5).

Each status change, comment, attachment and assignment is a :class:`RequestEvent` row that both sides see.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from operators import onboarding
from operators.models import DrimboxRequest, RequestEvent, RequestEventKind, Role
from operators.notify import notify_operator
from operators.recipients import ans_emails, member_emails
from trustspace import audit
from trustspace.notifications import send_email_on_commit

if TYPE_CHECKING:
    from trustspace.models import User


def add_event(req: DrimboxRequest, *, kind: str, actor: User | str | None, text: str = "", from_status: str = "",
              to_status: str = "") -> RequestEvent:
    return RequestEvent.objects.create(
        request=req, kind=kind, actor=actor if not isinstance(actor, str) else None, text=text,
        from_status=from_status, to_status=to_status, by_ans=bool(getattr(actor, "is_ans_admin", False)),
    )


def change_status(req: DrimboxRequest, new_status: str, *, actor: User | str | None, text: str = "") -> str:
    """Move ``req`` (the caller saves it) and add the timeline line; returns the former status."""
    old = req.status
    req.transition_to(new_status)
    req.updated_at = timezone.now()
    add_event(req, kind=RequestEventKind.STATUS, actor=actor, text=text, from_status=old, to_status=new_status)
    return old


def audit_request(req: DrimboxRequest, actor: User | str | None, action: str, *, before: dict[str, Any] | None = None,
                  after: dict[str, Any] | None = None, reason: str = "") -> None:
    audit.record(actor=actor, action=action, obj=req, operator_id=req.operator_id, before=before, after=after,
                 reason=reason)


def operator_recipients(req: DrimboxRequest) -> list[str]:
    """The operator's managers, and the request's author while still a member of the operator."""
    if req.is_onboarding:
        return onboarding.addressees(req)
    return member_emails(req.operator_id, [Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE], include_user=req.created_by)


def notify_operator_side(req: DrimboxRequest, subject: str, text: str = "") -> None:
    """To the operator's managers and the author (``operator_recipients``), and to its own channels."""
    if req.is_onboarding:  # an application: its addressees only, the operator's channels are not set yet
        return notify(req, operator_recipients(req), subject, text)
    notify_operator(req.operator_id, to=operator_recipients(req), subject=f"[{req.reference}] {subject}",
                    template="operators/email/request_event.txt", event_type="request.event", drimbox=req.drimbox,
                    context={"req": req, "subject": subject, "text": text,
                             "url": settings.SITE_URL + reverse("request_detail", args=[req.pk])})


def ans_recipients(req: DrimboxRequest) -> list[str]:
    """The assigned reviewer, or every active ANS administrator while nobody is assigned."""
    if req.assigned_to_id:
        return [req.assigned_to.email] if req.assigned_to.email else []
    return ans_emails()


def notify(req: DrimboxRequest, recipients: Iterable[str], subject: str, text: str = "") -> None:
    if not recipients:
        return
    send_email_on_commit(
        to=recipients, subject=f"[{req.reference}] {subject}", template="operators/email/request_event.txt",
        context={"req": req, "subject": subject, "text": text,
                 "url": settings.SITE_URL + reverse("request_detail", args=[req.pk])},
    )

"""ANS's side of a request (DESIGN §5): assign a reviewer, request changes, reject, approve and apply.

Approval applies the request (``drimboxes`` for a DRIMbox, ``admission`` for an application) in the same
transaction; e-mails, webhooks and DNS updates run after commit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from operators.models import DECLARATION_KINDS, DrimboxRequest, RequestEventKind, RequestStatus
from operators.request_data import clean_data, eligibility_problems
from operators.services import admission, drimboxes
from operators.services.admission import hand_over
from operators.services.common import CHANGES_REQUIRED, refusal_reason, require_ans_admin
from operators.services.drimboxes import release_drimbox
from operators.services.requests import lock_request
from operators.services.timeline import (
    add_event,
    audit_request,
    change_status,
    notify,
    notify_operator_side,
)
from trustspace import audit
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.text import validate_display_text

if TYPE_CHECKING:
    from trustspace.models import User

# What approving each kind of request does, inside the approving transaction.
APPLY = {**drimboxes.APPLY, **admission.APPLY}


def assign_request(req: DrimboxRequest, *, acting_user: User, reviewer: User | None = None) -> DrimboxRequest:
    """Assign to a reviewer (the acting administrator by default); a submitted request enters review."""
    require_ans_admin(acting_user)
    reviewer = reviewer or acting_user
    if not reviewer.is_ans_admin or not reviewer.is_active:
        raise InvalidData("Le relecteur doit être un administrateur ANS actif.",
                          field_errors={"reviewer": ["Le relecteur doit être un administrateur ANS actif."]})
    with transaction.atomic():
        req = lock_request(req)
        if req.status not in {RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW, RequestStatus.CHANGES_REQUESTED}:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle ne peut "
                           "pas être affectée.", code="invalid_transition")
        before = {"assigned_to": req.assigned_to_id, "status": req.status}
        req.assigned_to = reviewer
        add_event(req, kind=RequestEventKind.ASSIGNMENT, actor=acting_user, text=f"Affectée à {reviewer.display_name}")
        if req.status == RequestStatus.SUBMITTED:
            change_status(req, RequestStatus.IN_REVIEW, actor=acting_user)
        req.updated_at = timezone.now()
        req.save(update_fields=["assigned_to", "status", "updated_at"])
        audit_request(req, acting_user, "request.assigned", before=before,
                      after={"assigned_to": reviewer.pk, "status": req.status})
        if reviewer != acting_user and reviewer.email:
            notify(req, [reviewer.email], "Demande qui vous est affectée")
    return req


def _in_review(req: DrimboxRequest) -> None:
    if req.status == RequestStatus.SUBMITTED:
        raise Conflict(f"Prenez d'abord en charge la demande {req.reference} (elle n'est pas encore en instruction).",
                       code="invalid_transition")


def request_changes(req: DrimboxRequest, *, acting_user: User, comment: str) -> DrimboxRequest:
    require_ans_admin(acting_user)
    comment = (comment or "").strip()
    if not comment:
        raise InvalidData(CHANGES_REQUIRED, field_errors={"comment": [CHANGES_REQUIRED]})
    validate_display_text({"comment": comment}, multiline={"comment"}, labels={"comment": "commentaire"})
    with transaction.atomic():
        req = lock_request(req)
        _in_review(req)
        old = change_status(req, RequestStatus.CHANGES_REQUESTED, actor=acting_user, text=comment)
        req.save(update_fields=["status", "updated_at"])
        audit_request(req, acting_user, "request.changes_requested", before={"status": old},
                      after={"status": req.status}, reason=comment)
        notify_operator_side(req, "Modifications demandées par l'ANS", comment)
    return req


def reject_request(req: DrimboxRequest, *, acting_user: User, reason: str) -> DrimboxRequest:
    require_ans_admin(acting_user)
    reason = refusal_reason(reason)
    with transaction.atomic():
        req = lock_request(req)
        _in_review(req)
        old = change_status(req, RequestStatus.REJECTED, actor=acting_user, text=reason)
        req.decided_by, req.decided_at, req.decision_reason = acting_user, timezone.now(), reason
        req.save(update_fields=["status", "updated_at", "decided_by", "decided_at", "decision_reason"])
        release_drimbox(req, actor=acting_user)
        hand_over(req, acting_user)
        audit_request(req, acting_user, "request.rejected", before={"status": old}, after={"status": req.status},
                      reason=reason)
        notify_operator_side(req, "Demande refusée", reason)
    return req


def approve_request(req: DrimboxRequest, *, acting_user: User, override_reason: str = "", comment: str = "",
                    expected_kind: str | None = None) -> DrimboxRequest:
    """Approve and apply. An unfunded declaration needs ``override_reason`` (DESIGN §5).

    ``expected_kind``: the kind the reviewer read (default: ``req``'s). An application can turn from adhesion
    into rattachement while a reviewer reads it; approving what was not read is refused.
    """
    require_ans_admin(acting_user)
    expected_kind = expected_kind or req.kind
    override_reason = (override_reason or "").strip()
    validate_display_text({"override_reason": override_reason, "comment": comment or ""},
                          multiline={"override_reason", "comment"},
                          labels={"override_reason": "motif de dérogation", "comment": "commentaire"})
    with transaction.atomic():
        req = lock_request(req)
        if req.is_onboarding and req.created_by_id == acting_user.pk:
            # Approval makes the applicant a legal representative: never on its own word.
            raise NotAllowed("Vous ne pouvez pas approuver votre propre demande : un autre administrateur ANS "
                             "l'instruit.")
        if req.kind != expected_kind:
            raise Conflict(f"La demande {req.reference} est devenue « {req.get_kind_display().lower()} » pendant "
                           "que vous la lisiez : relisez-la avant de décider.", code="kind_changed")
        if req.status != RequestStatus.IN_REVIEW:
            if req.status == RequestStatus.SUBMITTED:
                _in_review(req)
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle ne peut "
                           "pas être approuvée.", code="invalid_transition")
        data = clean_data(req.kind, req.data, operator=req.operator, for_submit=True, drimbox=req.drimbox)
        if req.kind in DECLARATION_KINDS:
            problems = eligibility_problems(data)
            if problems and not override_reason:
                message = (" ".join(problems) + " Une DRIMbox non financée n'entre dans l'Espace de Confiance que "
                           "sur dérogation motivée d'un administrateur ANS.")
                raise Conflict(message, code="not_funded", field_errors={"override_reason": [message]})
            if problems:
                req.eligibility_override_reason = override_reason
        old = change_status(req, RequestStatus.APPROVED, actor=acting_user, text=comment)
        req.decided_by, req.decided_at = acting_user, timezone.now()
        APPLY[req.kind](req, data, acting_user)
        req.save(update_fields=["status", "updated_at", "decided_by", "decided_at", "drimbox", "operator",
                                "eligibility_override_reason"])
        audit_request(req, acting_user, "request.approved", before={"status": old},
                      after={"status": req.status, "drimbox": req.drimbox_id,
                             "eligibility_override_reason": req.eligibility_override_reason},
                      reason=req.eligibility_override_reason)
        if req.eligibility_override_reason:
            audit.record(actor=acting_user, action="drimbox.eligibility_overridden", obj=req.drimbox,
                         operator_id=req.operator_id, after={"request": req.reference},
                         reason=req.eligibility_override_reason)
        notify_operator_side(req, f"Demande approuvée : {req.get_kind_display()}", comment)
    return req

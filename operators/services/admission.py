"""What deciding an operator's application does (DESIGN §5), called in the deciding transaction.

Approving an adhesion creates the operator, its contract acceptance and the applicant's legal-representative role;
approving a rattachement adds the role to the existing operator. The other open applications for the same SIREN
are rewritten so that none waits for an operator that exists already, or will never exist.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from operators.models import (
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    AttachmentKind,
    ContractAcceptance,
    ContractVersion,
    DrimboxRequest,
    Membership,
    Operator,
    RequestEvent,
    RequestEventKind,
    RequestKind,
    Role,
)
from operators.onboarding import addressees, pending_adhesions
from operators.request_data import ENTITY_FIELDS
from operators.services.timeline import ans_recipients, notify
from trustspace import audit
from trustspace.errors import Conflict, InvalidData

if TYPE_CHECKING:
    from trustspace.models import User


def _legal_representative(req: DrimboxRequest, operator: Operator, actor: User) -> Membership:
    """The applicant becomes a legal representative, with the card or the proof the application carried."""
    if Membership.objects.filter(operator=operator, user_id=req.created_by_id, role=Role.LEGAL_REPRESENTATIVE,
                                 ended_at__isnull=True).exists():
        raise Conflict(f"{req.created_by.display_name} est déjà représentant légal de {operator.name}.")
    membership = Membership(operator=operator, user_id=req.created_by_id, role=Role.LEGAL_REPRESENTATIVE,
                            card_reference=req.data.get("legal_rep_card", ""), created_by=actor)
    proof = req.attachments.filter(kind=AttachmentKind.POWER).order_by("-uploaded_at", "-pk").first()
    if proof is not None:
        membership.mandate_document.name = proof.file.name
    membership.save()
    audit.record(actor=actor, action="membership.created", obj=membership, operator_id=operator.pk,
                 after=audit.snapshot(membership, Membership.AUDITED_FIELDS), reason=req.reference)
    return membership


def _contract_acceptance(req: DrimboxRequest, operator: Operator, actor: User) -> None:
    version = ContractVersion.objects.filter(version=req.data.get("contract_version")).first()
    if version is None or ContractAcceptance.objects.filter(operator=operator, contract_version=version).exists():
        return
    acceptance = ContractAcceptance.objects.create(operator=operator, contract_version=version,
                                                   accepted_by_id=req.created_by_id,
                                                   accepted_at=req.submitted_at or timezone.now())
    audit.record(actor=actor, action="contract.accepted", obj=operator, operator_id=operator.pk,
                 after={"contract_version": version.version, "accepted_at": acceptance.accepted_at,
                        "accepted_by": req.created_by_id}, reason=req.reference)


def apply_adhesion(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    operator = Operator(**{field: data[field] for field in ENTITY_FIELDS})
    try:
        operator.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise InvalidData(" ".join(exc.messages)) from exc
    try:
        with transaction.atomic():
            operator.save()
    except IntegrityError as exc:
        raise Conflict("Un opérateur avec ce SIREN ou cet idNat_Struct vient d'être enregistré.") from exc
    req.operator = operator
    audit.record(actor=actor, action="operator.registered", obj=operator, operator_id=operator.pk,
                 after=audit.snapshot(operator, Operator.AUDITED_FIELDS), reason=req.reference)
    _contract_acceptance(req, operator, actor)
    _legal_representative(req, operator, actor)
    _address_waiting_applications(req, operator, actor)


def _requalify(application: DrimboxRequest, *, kind: str, operator: Operator | None, actor: User, text: str,
               reason: str) -> None:
    before = {"kind": application.kind, "operator": application.operator_id}
    application.kind, application.operator = kind, operator
    application.save(update_fields=["kind", "operator"])
    # Another applicant's timeline: it reads « système » rather than the name of whoever cancelled their own
    # application (the audit trail keeps the actor).
    by_ans = bool(getattr(actor, "is_ans_admin", False))
    RequestEvent.objects.create(request=application, kind=RequestEventKind.EDIT, actor=actor if by_ans else None,
                                by_ans=by_ans, text=text)
    action = "request.requalified" if before["kind"] != kind else "request.addressed"
    audit.record(actor=actor, action=action, obj=application, operator_id=application.operator_id,
                 before=before, after={"kind": kind, "operator": application.operator_id}, reason=reason)


def _address_waiting_applications(req: DrimboxRequest, operator: Operator, actor: User) -> None:
    """The other open applications for this SIREN now concern the operator just approved: each becomes a
    rattachement to it (never a second operator), and its legal representative hears about it."""
    waiting = DrimboxRequest.objects.select_for_update(of=("self",)).select_related("created_by").filter(
        kind__in=ONBOARDING_KINDS, status__in=OPEN_STATUSES, data__siren=operator.siren).exclude(pk=req.pk)
    for application in waiting.order_by("pk"):
        was_adhesion = application.kind == RequestKind.ADHESION
        text = f"L'opérateur {operator.name} est enregistré ({req.reference}) : la demande lui est adressée"
        text += " et devient une demande de rattachement." if was_adhesion else "."
        _requalify(application, kind=RequestKind.ATTACHMENT, operator=operator, actor=actor, text=text,
                   reason=req.reference)
        applicant = application.created_by
        notify(application, [email for email in addressees(application) if email != applicant.email],
               f"{applicant.display_name} demande à devenir représentant légal de {operator.name}")
        notify(application, [applicant.email],
               f"Votre demande concerne désormais l'opérateur {operator.name}",
               text + " Si l'ANS l'approuve, vous deviendrez représentant légal de cet opérateur"
               " (demande de rattachement).")


def hand_over(req: DrimboxRequest, actor: User) -> DrimboxRequest | None:
    """An adhesion refused or cancelled: the oldest rattachement waiting for it becomes the adhesion of the
    company (its applicant filed the same form), so that no application waits for an operator that will
    never exist. Called in the deciding transaction, after ``onboarding.lock_applications_of_siren``."""
    siren = (req.data or {}).get("siren")
    if req.kind != RequestKind.ADHESION or not siren or Operator.objects.filter(siren=siren).exists():
        return None
    if pending_adhesions(siren).exclude(pk=req.pk).exists():
        return None
    successor = (DrimboxRequest.objects.select_for_update(of=("self",)).select_related("created_by")
                 .filter(kind=RequestKind.ATTACHMENT, operator__isnull=True, status__in=OPEN_STATUSES,
                         data__siren=siren).order_by("submitted_at", "pk").first())
    if successor is None:
        return None
    text = (f"La demande d'adhésion {req.reference} pour le SIREN {siren} est "
            f"« {req.get_status_display().lower()} » : cette demande devient la demande d'adhésion de l'entreprise.")
    _requalify(successor, kind=RequestKind.ADHESION, operator=None, actor=actor, text=text, reason=req.reference)
    notify(successor, [successor.created_by.email], "Votre demande devient une demande d'adhésion",
           text + " Si l'ANS l'approuve, l'opérateur sera enregistré et vous en deviendrez le représentant légal.")
    notify(successor, ans_recipients(successor), f"Demande devenue adhésion : {successor.party_name}", text)
    return successor


def apply_attachment(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    # No row lock on the operator: the applications of its SIREN are locked (``lock_applications_of_siren``),
    # which serialises decisions, and taking the operator after them here but before them when applying would
    # let an application and a decision wait for each other.
    operator = Operator.objects.filter(siren=data["siren"]).first()
    if operator is None:
        raise Conflict("Aucun opérateur n'est encore enregistré pour ce SIREN : instruisez d'abord sa demande "
                       "d'adhésion.", code="operator_missing")
    req.operator = operator
    _contract_acceptance(req, operator, actor)
    _legal_representative(req, operator, actor)


APPLY = {RequestKind.ADHESION: apply_adhesion, RequestKind.ATTACHMENT: apply_attachment}

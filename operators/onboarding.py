"""Onboarding rules (DESIGN §5): what an application must carry, who hears about it, what approval does, and
which roles need a card.

An application is a :class:`DrimboxRequest` of kind « adhésion » or « rattachement »: it shares the requests'
state machine, timeline, attachments, review queue and ANS actions (``services_requests``). This module holds
only what differs: the applicant acts on it instead of an operator's members, and approval creates the
operator or the legal-representative role.
"""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from trustspace import audit
from trustspace.errors import Conflict, InvalidData, NotAllowed

from .models import (
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
from .recipients import member_emails
from .request_data import ENTITY_FIELDS
from .validators import normalize_card_reference, validate_card_number, validate_card_or_habilitation

CARD_OR_PROOF_MESSAGE = ("Indiquez le numéro de votre carte de représentant légal ou joignez un justificatif de votre "
                         "pouvoir de représenter l'entreprise (K-bis, délégation ; PDF).")
CPA_MESSAGE = ("Indiquez le numéro de votre carte CPA ou la référence de l'habilitation IGC-Santé avec laquelle "
               "vous commandez les certificats.")


def require_applicant(user, req):
    """Only the person who filed an application acts on it as the applicant (ANS acts as the reviewer)."""
    if req.created_by_id != getattr(user, "pk", None):
        raise NotAllowed("Seule la personne qui a déposé cette demande peut la modifier, la soumettre ou l'annuler.")


def is_party(user, req):
    """The applicant, or a legal representative of the operator the application is addressed to.

    An application carries the applicant's card and proof of power: the operator's technical administrators and
    mandataires have no say on who represents the company, so they neither read nor comment it.
    """
    from . import permissions

    return req.created_by_id == getattr(user, "pk", None) or bool(
        req.operator_id and Role.LEGAL_REPRESENTATIVE in permissions.roles_of(user, req.operator))


def visible_applications(user):
    """The ``Q`` of the applications a (non-ANS) user may see: its own, and those addressed to an operator it is
    a legal representative of. An API token limited to one operator reaches only that operator's."""
    from django.db.models import Q

    from . import permissions

    led = permissions.operators_of(user).filter(pk__in=Membership.objects.filter(
        user=user, role=Role.LEGAL_REPRESENTATIVE, ended_at__isnull=True).values("operator_id"))
    own = Q(created_by=user)
    limited_to = permissions.token_operator_id(user)
    if limited_to is not None:
        own &= Q(operator_id=limited_to)
    return Q(kind__in=ONBOARDING_KINDS) & (own | Q(operator__in=led))


def addressees(req):
    """Who, besides ANS, hears about an application: the applicant, and for a rattachement the legal
    representatives of the operator it is addressed to (once that operator is approved: see ``apply_adhesion``)."""
    emails = {req.created_by.email}
    if req.kind == RequestKind.ATTACHMENT and req.operator_id:
        emails.update(member_emails(req.operator_id, [Role.LEGAL_REPRESENTATIVE]))
    return sorted(emails - {"", None})


def pending_adhesions(siren):
    return DrimboxRequest.objects.filter(kind=RequestKind.ADHESION, status__in=OPEN_STATUSES, data__siren=siren)


def check_submittable(req):
    """What a complete application holds beyond its data: the signed contract, and the card or the proof."""
    errors = {}
    kinds = set(req.attachments.values_list("kind", flat=True))
    if AttachmentKind.CONTRACT not in kinds:
        errors["contract_document"] = ["Joignez le contrat d'adhésion signé (PDF)."]
    if settings.ONBOARDING_REQUIRE_CARDS and not req.data.get("legal_rep_card") and AttachmentKind.POWER not in kinds:
        errors["legal_rep_card"] = [CARD_OR_PROOF_MESSAGE]
    if req.kind == RequestKind.ADHESION:
        existing = Operator.objects.filter(siren=req.data.get("siren")).first()
        if existing is not None:
            raise Conflict(f"L'opérateur {existing.name} est désormais enregistré pour ce SIREN : annulez cette "
                           "demande et déposez une demande de rattachement.", code="operator_exists")
        if Operator.objects.filter(id_nat_struct=req.data.get("id_nat_struct")).exists():
            errors["id_nat_struct"] = ["Cet idNat_Struct est déjà celui d'un autre opérateur."]
    if errors:
        raise InvalidData(" ".join(m for ms in errors.values() for m in ms), field_errors=errors)


def card_for_role(role, card_reference, *, has_proof=False):
    """The normalised card reference a role needs (DESIGN §5); '' when none is needed or the setting relaxes it."""
    card_reference = normalize_card_reference(card_reference)
    try:
        if card_reference and role == Role.TECHNICAL_ADMIN:
            validate_card_or_habilitation(card_reference)
        elif card_reference and role == Role.LEGAL_REPRESENTATIVE:
            validate_card_number(card_reference)
    except ValidationError as exc:
        raise InvalidData(" ".join(exc.messages), field_errors={"card_reference": exc.messages}) from exc
    if not card_reference and settings.ONBOARDING_REQUIRE_CARDS:
        if role == Role.TECHNICAL_ADMIN:
            raise InvalidData(CPA_MESSAGE, code="card_required", field_errors={"card_reference": [CPA_MESSAGE]})
        if role == Role.LEGAL_REPRESENTATIVE and not has_proof:
            message = ("Indiquez le numéro de votre carte de représentant légal : l'invitation ne comporte pas de "
                       "justificatif du pouvoir de représenter.")
            raise InvalidData(message, code="card_required", field_errors={"card_reference": [message]})
    return card_reference


# --- What approval does (called by ``services_requests.approve_request`` in its transaction) ---------------


def _legal_representative(req, operator, actor):
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


def _contract_acceptance(req, operator, actor):
    version = ContractVersion.objects.filter(version=req.data.get("contract_version")).first()
    if version is None or ContractAcceptance.objects.filter(operator=operator, contract_version=version).exists():
        return
    acceptance = ContractAcceptance.objects.create(operator=operator, contract_version=version,
                                                   accepted_by_id=req.created_by_id,
                                                   accepted_at=req.submitted_at or timezone.now())
    audit.record(actor=actor, action="contract.accepted", obj=operator, operator_id=operator.pk,
                 after={"contract_version": version.version, "accepted_at": acceptance.accepted_at,
                        "accepted_by": req.created_by_id}, reason=req.reference)


def apply_adhesion(req, data, actor):
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


def lock_applications_of_siren(req_or_siren):
    """Lock every open application for ``req``'s SIREN, in primary-key order, before ``req`` itself.

    Deciding one application rewrites the others (``_address_waiting_applications``, ``hand_over``): two
    reviewers deciding two of them at once must queue in the same order, or each would hold the row the other
    waits for (a deadlock, i.e. a 500) — and the second one must see what the first one decided.
    """
    siren = req_or_siren if isinstance(req_or_siren, str) else (req_or_siren.data or {}).get("siren")
    if siren:
        list(DrimboxRequest.objects.select_for_update().filter(
            kind__in=ONBOARDING_KINDS, status__in=OPEN_STATUSES, data__siren=siren).order_by("pk")
            .values_list("pk", flat=True))


def _requalify(application, *, kind, operator, actor, text, reason):
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


def _address_waiting_applications(req, operator, actor):
    """The other open applications for this SIREN now concern the operator just approved: each becomes a
    rattachement to it (never a second operator), and its legal representative hears about it."""
    from operators.services import requests as sr

    waiting = DrimboxRequest.objects.select_for_update(of=("self",)).select_related("created_by").filter(
        kind__in=ONBOARDING_KINDS, status__in=OPEN_STATUSES, data__siren=operator.siren).exclude(pk=req.pk)
    for application in waiting.order_by("pk"):
        was_adhesion = application.kind == RequestKind.ADHESION
        text = f"L'opérateur {operator.name} est enregistré ({req.reference}) : la demande lui est adressée"
        text += " et devient une demande de rattachement." if was_adhesion else "."
        _requalify(application, kind=RequestKind.ATTACHMENT, operator=operator, actor=actor, text=text,
                   reason=req.reference)
        applicant = application.created_by
        sr._notify(application, [email for email in addressees(application) if email != applicant.email],
                   f"{applicant.display_name} demande à devenir représentant légal de {operator.name}")
        sr._notify(application, [applicant.email],
                   f"Votre demande concerne désormais l'opérateur {operator.name}",
                   text + " Si l'ANS l'approuve, vous deviendrez représentant légal de cet opérateur"
                   " (demande de rattachement).")


def hand_over(req, actor):
    """An adhesion refused or cancelled: the oldest rattachement waiting for it becomes the adhesion of the
    company (its applicant filed the same form), so that no application waits for an operator that will
    never exist. Called in the deciding transaction, after ``lock_applications_of_siren``."""
    from operators.services import requests as sr

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
    sr._notify(successor, [successor.created_by.email], "Votre demande devient une demande d'adhésion",
               text + " Si l'ANS l'approuve, l'opérateur sera enregistré et vous en deviendrez le représentant légal.")
    sr._notify(successor, sr._ans_recipients(successor), f"Demande devenue adhésion : {successor.party_name}", text)
    return successor


def apply_attachment(req, data, actor):
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

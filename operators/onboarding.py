"""Onboarding rules (DESIGN §5): what an application must carry, who hears about it, what approval does, and
which roles need a card.

An application is a :class:`DrimboxRequest` of kind « adhésion » or « rattachement »: it shares the requests'
state machine, timeline, attachments, review queue and ANS actions (``operators.services``). This module holds
the rules that differ: the applicant acts on it instead of an operator's members. What approval writes (the
operator, the legal-representative role) is in ``operators.services.admission``.
"""
from django.conf import settings
from django.core.exceptions import ValidationError

from trustspace.errors import Conflict, InvalidData, NotAllowed

from .models import (
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    AttachmentKind,
    DrimboxRequest,
    Membership,
    Operator,
    RequestKind,
    Role,
)
from .recipients import member_emails
from .validators import (
    all_field_errors,
    normalize_card_reference,
    validate_card_number,
    validate_card_or_habilitation,
)

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
    """What a complete application holds beyond its data and its signed contract (``request_data.REQUIRED_PIECES``):
    the card or the proof of power, and an idNat_Struct no other operator has."""
    errors = {}
    kinds = set(req.attachments.values_list("kind", flat=True))
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
        raise all_field_errors(errors)


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


def lock_applications_of_siren(req_or_siren):
    """Lock every open application for ``req``'s SIREN, in primary-key order, before ``req`` itself.

    Deciding one application rewrites the others (``operators.services.admission``): two
    reviewers deciding two of them at once must queue in the same order, or each would hold the row the other
    waits for (a deadlock, i.e. a 500) — and the second one must see what the first one decided.
    """
    siren = req_or_siren if isinstance(req_or_siren, str) else (req_or_siren.data or {}).get("siren")
    if siren:
        list(DrimboxRequest.objects.select_for_update().filter(
            kind__in=ONBOARDING_KINDS, status__in=OPEN_STATUSES, data__siren=siren).order_by("pk")
            .values_list("pk", flat=True))


def attachment_notice(req):
    """What the applicant reads when the SIREN already had an operator or an adhesion under review."""
    if req.kind != RequestKind.ATTACHMENT:
        return ""
    if req.operator_id:
        return (f"L'opérateur {req.operator.name} est déjà enregistré pour le SIREN {req.data['siren']} : aucun second "
                "opérateur n'est créé. Votre demande devient une demande de rattachement, adressée à l'ANS et aux "
                "représentants légaux de l'opérateur ; si l'ANS l'approuve, vous en deviendrez représentant légal.")
    return (f"Une demande d'adhésion est déjà en cours pour le SIREN {req.data['siren']} : aucun second opérateur "
            "n'est créé. Votre demande devient une demande de rattachement, adressée à l'ANS (puis au représentant "
            "légal de l'opérateur dès son enregistrement) ; si l'ANS l'approuve, vous deviendrez représentant légal "
            "de l'opérateur.")

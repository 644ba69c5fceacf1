"""The one write path for operators, people, contracts, structures and DRIMboxes (DESIGN §3).

Each function checks permission, validates, saves in one transaction, writes the audit
record in that transaction and schedules side effects (e-mails) with ``on_commit``.
Views, the API, commands and tasks all call these functions.
"""
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from operators import onboarding, permissions
from operators.models import (
    ContractAcceptance,
    ContractVersion,
    Invitation,
    InvitationStatus,
    Membership,
    Operator,
    Role,
)
from trustspace import audit
from trustspace.errors import Conflict, ContractNotAccepted, InvalidData, NotAllowed
from trustspace.notifications import send_email_on_commit
from trustspace.text import validate_display_text, validate_model_text
from trustspace.uploads import validate_pdf

OPERATOR_EDITABLE_FIELDS = ["name", "siret", "address_line", "postal_code", "city", "contact_email", "contact_phone"]
# Registering an operator is an application reviewed by ANS: ``services_onboarding.apply_for_operator``.


def _validation_to_domain(exc: ValidationError):
    field_errors = {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            field_errors[field] = [message for error in errors for message in error.messages]
    messages = [m for msgs in field_errors.values() for m in msgs] or exc.messages
    return InvalidData(" ".join(messages), field_errors=field_errors)


def _full_clean(instance, exclude=None):
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise _validation_to_domain(exc) from exc
    validate_model_text(instance, exclude=exclude)  # names, contacts, contract text: no bidi or control characters


def _save_or_conflict(instance, message):
    """Save; a unique constraint lost to a concurrent writer becomes a clear error, not a 500."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise InvalidData(message) from exc


def _require_ans_admin(user):
    if user is not None and not getattr(user, "is_ans_admin", False):
        raise NotAllowed("Réservé aux administrateurs ANS.")


# --- Operators -------------------------------------------------------------------------------


def update_operator(operator, *, acting_user, data):
    """Update the operator's legal-entity data (not its SIREN nor idNat_Struct, which certificates carry)."""
    permissions.require(acting_user, "operator.update", operator)
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        ensure_contract_accepted(operator)
        before = audit.snapshot(operator, Operator.AUDITED_FIELDS)
        for field in OPERATOR_EDITABLE_FIELDS:
            if field in data:
                value = (data[field] or "").strip()
                setattr(operator, field, "".join(value.split()) if field == "siret" else value)
        _full_clean(operator)
        after = audit.snapshot(operator, Operator.AUDITED_FIELDS)
        if after == before:
            return operator
        operator.save()
        audit.record(
            actor=acting_user, action="operator.updated", obj=operator, operator_id=operator.pk,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return operator


def update_support_contact(operator, *, acting_user, support_contact):
    permissions.require(acting_user, "support_contact.update", operator)
    value = (support_contact or "").strip()
    if not value:
        raise InvalidData("Le contact support est obligatoire.", field_errors={"support_contact": ["Ce champ est obligatoire."]})
    if len(value) > 255:
        raise InvalidData("Le contact support ne doit pas dépasser 255 caractères.",
                          field_errors={"support_contact": ["255 caractères au maximum."]})
    validate_display_text({"support_contact": value}, labels={"support_contact": "contact support"})
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        ensure_contract_accepted(operator)
        before = operator.support_contact
        if before == value:
            return operator
        operator.support_contact = value
        operator.save(update_fields=["support_contact", "updated_at"])
        audit.record(
            actor=acting_user, action="operator.support_contact_updated", obj=operator, operator_id=operator.pk,
            before={"support_contact": before}, after={"support_contact": value},
        )
    return operator


# --- Contract of adhesion --------------------------------------------------------------------


def publish_contract_version(*, acting_user, version, title, body):
    """ANS publishes a new version; every operator must accept it before submitting anything."""
    _require_ans_admin(acting_user)
    contract = ContractVersion(version=(version or "").strip(), title=(title or "").strip(), body=(body or "").strip(),
                               published_by=acting_user, published_at=timezone.now())
    _full_clean(contract, exclude=["published_by"])
    with transaction.atomic():
        _save_or_conflict(contract, f"La version « {contract.version} » du contrat existe déjà.")
        audit.record(actor=acting_user, action="contract.published", obj=contract,
                     after={"version": contract.version, "title": contract.title,
                            "body_sha256": hashlib.sha256(contract.body.encode()).hexdigest()})
    return contract


def contract_status(operator):
    """(version in force, the operator's acceptance of it or None)."""
    current = ContractVersion.current()
    if current is None or operator is None:
        return current, None
    acceptance = ContractAcceptance.objects.filter(operator=operator, contract_version=current).select_related(
        "accepted_by").first()
    return current, acceptance


def ensure_contract_accepted(operator):
    current, acceptance = contract_status(operator)
    if current is None:
        raise ContractNotAccepted("Aucun contrat d'adhésion n'est encore publié par l'ANS : aucune démarche n'est possible.")
    if acceptance is None:
        raise ContractNotAccepted(
            f"Votre opérateur doit accepter la version {current.version} du contrat d'adhésion avant toute autre démarche."
        )


def accept_contract(operator, *, acting_user, contract_version):
    permissions.require(acting_user, "contract.accept", operator)
    current = ContractVersion.current()
    if current is None or contract_version is None or contract_version.pk != current.pk:
        raise Conflict("Seule la version en vigueur du contrat d'adhésion peut être acceptée.")
    with transaction.atomic():
        Operator.objects.select_for_update().get(pk=operator.pk)
        if ContractAcceptance.objects.filter(operator=operator, contract_version=current).exists():
            raise Conflict(f"La version {current.version} du contrat est déjà acceptée.")
        acceptance = ContractAcceptance.objects.create(operator=operator, contract_version=current, accepted_by=acting_user)
        audit.record(actor=acting_user, action="contract.accepted", obj=operator, operator_id=operator.pk,
                     after={"contract_version": current.version, "accepted_at": acceptance.accepted_at})
    return acceptance


# --- People and roles ------------------------------------------------------------------------


def _hash_token(raw_token):
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def invite_person(operator, *, acting_user, email, role, mandate_document=None):
    """Invite someone by e-mail to take a role. Returns (invitation, raw token of the link)."""
    if role not in Role.values:
        raise InvalidData("Rôle inconnu.", field_errors={"role": ["Choisissez un rôle de la liste."]})
    permissions.require(acting_user, f"people.invite.{role}", operator)
    email = (email or "").strip().lower()
    if role == Role.MANDATAIRE:
        validate_pdf(mandate_document, field="mandate_document", label="Le mandat")
    elif role == Role.LEGAL_REPRESENTATIVE and mandate_document:
        # The proof of the power to represent (K-bis, delegation); without it the invitee gives a card at acceptance.
        validate_pdf(mandate_document, field="mandate_document", label="Le justificatif du pouvoir de représenter")
    elif mandate_document:
        raise InvalidData("Un mandat ne se joint qu'à l'invitation d'un mandataire ou d'un représentant légal.",
                          field_errors={"mandate_document": ["Réservé aux mandataires et représentants légaux."]})
    raw_token = secrets.token_urlsafe(32)
    invitation = Invitation(
        operator=operator, email=email, role=role, token_hash=_hash_token(raw_token), invited_by=acting_user,
        expires_at=timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    _full_clean(invitation, exclude=["mandate_document", "token_hash", "invited_by"])
    with transaction.atomic():
        Operator.objects.select_for_update().get(pk=operator.pk)
        ensure_contract_accepted(operator)
        if Invitation.objects.filter(operator=operator, email=email, role=role, status=InvitationStatus.PENDING,
                                     expires_at__gt=timezone.now()).exists():
            raise Conflict("Une invitation est déjà en attente pour cette adresse et ce rôle.",
                           field_errors={"email": ["Une invitation est déjà en attente pour cette adresse."]})
        if mandate_document is not None:
            invitation.mandate_document = mandate_document
        invitation.save()
        audit.record(actor=acting_user, action="invitation.created", obj=invitation, operator_id=operator.pk,
                     after=audit.snapshot(invitation, Invitation.AUDITED_FIELDS))
        send_email_on_commit(
            to=email, subject=f"Invitation : {invitation.get_role_display().lower()} de {operator.name}",
            template="operators/email/invitation.txt",
            context={"invitation": invitation, "operator": operator, "inviter": acting_user,
                     "link": settings.SITE_URL + reverse("invitation_accept", args=[raw_token])},
        )
    return invitation, raw_token


def find_invitation(raw_token):
    invitation = Invitation.objects.select_related("operator").filter(token_hash=_hash_token(raw_token or "")).first()
    if invitation is None:
        raise InvalidData("Ce lien d'invitation n'est pas valide.", code="invitation_invalid")
    return invitation


def check_invitation_usable(invitation):
    if invitation.status == InvitationStatus.ACCEPTED:
        raise Conflict("Ce lien d'invitation a déjà été utilisé.", code="invitation_used")
    if invitation.status == InvitationStatus.REVOKED:
        raise Conflict("Cette invitation a été annulée par l'opérateur.", code="invitation_revoked")
    if invitation.is_expired:
        raise Conflict("Ce lien d'invitation a expiré : demandez une nouvelle invitation.", code="invitation_expired")


def needs_card(invitation):
    """Whether accepting ``invitation`` asks for a card reference (DESIGN §5; ``ONBOARDING_REQUIRE_CARDS``)."""
    return invitation.role == Role.TECHNICAL_ADMIN or (
        invitation.role == Role.LEGAL_REPRESENTATIVE and not invitation.mandate_document)


def accept_invitation(raw_token, *, acting_user, card_reference=""):
    """The logged-in iSC user takes the invited role; the link then stops working.

    A technical administrator gives the reference of their CPA card (or IGC-Santé habilitation), a legal
    representative that of their card unless the invitation carries the proof of their power to represent.
    """
    if acting_user is None or not acting_user.is_authenticated:
        raise NotAllowed("Connectez-vous avec iSC pour accepter l'invitation.")
    invitation = find_invitation(raw_token)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        check_invitation_usable(invitation)
        card_reference = onboarding.card_for_role(invitation.role, card_reference,
                                                  has_proof=bool(invitation.mandate_document))
        if Membership.objects.filter(operator=invitation.operator, user=acting_user, role=invitation.role,
                                     ended_at__isnull=True).exists():
            raise Conflict(f"Vous êtes déjà {invitation.get_role_display().lower()} de {invitation.operator.name}.")
        membership = Membership(operator=invitation.operator, user=acting_user, role=invitation.role,
                                card_reference=card_reference, created_by=invitation.invited_by)
        if invitation.mandate_document:
            membership.mandate_document.name = invitation.mandate_document.name
        membership.save()
        invitation.transition_to(InvitationStatus.ACCEPTED)
        invitation.accepted_by = acting_user
        invitation.accepted_at = timezone.now()
        invitation.membership = membership
        invitation.save(update_fields=["status", "accepted_by", "accepted_at", "membership"])
        audit.record(actor=acting_user, action="invitation.accepted", obj=invitation, operator_id=invitation.operator_id,
                     after={"status": invitation.status, "accepted_by": acting_user.pk})
        audit.record(actor=acting_user, action="membership.created", obj=membership, operator_id=invitation.operator_id,
                     after=audit.snapshot(membership, Membership.AUDITED_FIELDS))
        send_email_on_commit(
            to=invitation.invited_by.email, subject=f"{acting_user.display_name} a accepté votre invitation",
            template="operators/email/invitation_accepted.txt",
            context={"invitation": invitation, "person": acting_user},
        )
    permissions.forget_roles(acting_user)
    return membership


def revoke_invitation(invitation, *, acting_user):
    permissions.require(acting_user, f"people.invite.{invitation.role}", invitation.operator)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        invitation.transition_to(InvitationStatus.REVOKED)
        invitation.save(update_fields=["status"])
        audit.record(actor=acting_user, action="invitation.revoked", obj=invitation, operator_id=invitation.operator_id,
                     before={"status": InvitationStatus.PENDING}, after={"status": invitation.status})
    return invitation


def remove_membership(membership, *, acting_user, reason=""):
    """End a person's role at once. The last legal representative cannot be removed."""
    permissions.require(acting_user, f"people.remove.{membership.role}", membership.operator)
    validate_display_text({"reason": reason or ""}, multiline={"reason"}, labels={"reason": "motif"})
    with transaction.atomic():
        # Locking the operator serialises removals, so two concurrent ones cannot remove the last two legal representatives.
        Operator.objects.select_for_update().get(pk=membership.operator_id)
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if not membership.is_active:
            raise Conflict("Cette personne n'a déjà plus ce rôle.")
        if membership.role == Role.LEGAL_REPRESENTATIVE and not Membership.objects.filter(
            operator_id=membership.operator_id, role=Role.LEGAL_REPRESENTATIVE, ended_at__isnull=True
        ).exclude(pk=membership.pk).exists():
            raise Conflict("Impossible de retirer le dernier représentant légal : désignez-en d'abord un autre.",
                           code="last_legal_representative")
        before = audit.snapshot(membership, Membership.AUDITED_FIELDS)
        membership.ended_at = timezone.now()
        membership.ended_by = acting_user
        membership.end_reason = (reason or "")[:255]
        membership.save(update_fields=["ended_at", "ended_by", "end_reason"])
        audit.record(actor=acting_user, action="membership.ended", obj=membership, operator_id=membership.operator_id,
                     before={"ended_at": before["ended_at"]},
                     after={"ended_at": membership.ended_at, "end_reason": membership.end_reason}, reason=reason or "")
        send_email_on_commit(
            to=membership.user.email, subject=f"Fin de votre rôle chez {membership.operator.name}",
            template="operators/email/membership_ended.txt", context={"membership": membership},
        )
    permissions.forget_roles(membership.user)
    return membership


def expire_invitations(now=None):
    """Mark pending invitations past their deadline as expired (periodic task)."""
    now = now or timezone.now()
    expired = 0
    for pk in Invitation.objects.filter(status=InvitationStatus.PENDING, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            invitation = Invitation.objects.select_for_update().get(pk=pk)
            if invitation.status != InvitationStatus.PENDING:
                continue
            invitation.transition_to(InvitationStatus.EXPIRED)
            invitation.save(update_fields=["status"])
            audit.record(actor="tâche expire_invitations", action="invitation.expired", obj=invitation,
                         operator_id=invitation.operator_id, before={"status": InvitationStatus.PENDING},
                         after={"status": invitation.status})
            expired += 1
    return expired

"""People and roles: invitations by e-mail, their acceptance, and the end of a role (DESIGN §5)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operators import onboarding, permissions
from operators.models import Invitation, InvitationStatus, Membership, Operator, Role
from operators.services.common import full_clean
from operators.services.contracts import ensure_contract_accepted
from trustspace import audit
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.notifications import send_email_on_commit
from trustspace.text import validate_display_text
from trustspace.uploads import validate_pdf

if TYPE_CHECKING:
    from trustspace.models import User


def _hash_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def invite_person(operator: Operator, *, acting_user: User, email: str, role: str,
                  mandate_document: UploadedFile | None = None) -> tuple[Invitation, str]:
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
    full_clean(invitation, exclude=["mandate_document", "token_hash", "invited_by"])
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


def find_invitation(raw_token: str) -> Invitation:
    invitation = Invitation.objects.select_related("operator").filter(token_hash=_hash_token(raw_token or "")).first()
    if invitation is None:
        raise InvalidData("Ce lien d'invitation n'est pas valide.", code="invitation_invalid")
    return invitation


def check_invitation_usable(invitation: Invitation) -> None:
    if invitation.status == InvitationStatus.ACCEPTED:
        raise Conflict("Ce lien d'invitation a déjà été utilisé.", code="invitation_used")
    if invitation.status == InvitationStatus.REVOKED:
        raise Conflict("Cette invitation a été annulée par l'opérateur.", code="invitation_revoked")
    if invitation.is_expired:
        raise Conflict("Ce lien d'invitation a expiré : demandez une nouvelle invitation.", code="invitation_expired")


def needs_card(invitation: Invitation) -> bool:
    """Whether accepting ``invitation`` asks for a card reference (DESIGN §5; ``ONBOARDING_REQUIRE_CARDS``)."""
    return invitation.role == Role.TECHNICAL_ADMIN or (
        invitation.role == Role.LEGAL_REPRESENTATIVE and not invitation.mandate_document)


def accept_invitation(raw_token: str, *, acting_user: User | None, card_reference: str = "") -> Membership:
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
        audit.record(actor=acting_user, action="invitation.accepted", obj=invitation,
                     operator_id=invitation.operator_id,
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


def revoke_invitation(invitation: Invitation, *, acting_user: User) -> Invitation:
    permissions.require(acting_user, f"people.invite.{invitation.role}", invitation.operator)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        invitation.transition_to(InvitationStatus.REVOKED)
        invitation.save(update_fields=["status"])
        audit.record(actor=acting_user, action="invitation.revoked", obj=invitation, operator_id=invitation.operator_id,
                     before={"status": InvitationStatus.PENDING}, after={"status": invitation.status})
    return invitation


def remove_membership(membership: Membership, *, acting_user: User, reason: str = "") -> Membership:
    """End a person's role at once. The last legal representative cannot be removed."""
    permissions.require(acting_user, f"people.remove.{membership.role}", membership.operator)
    validate_display_text({"reason": reason or ""}, multiline={"reason"}, labels={"reason": "motif"})
    with transaction.atomic():
        # Locking the operator serialises removals, so two concurrent ones cannot remove the last two legal
        # representatives.
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


def expire_invitations(now: datetime | None = None) -> int:
    """Mark pending invitations past their deadline as expired (periodic task)."""
    now = now or timezone.now()
    expired = 0
    overdue = Invitation.objects.filter(status=InvitationStatus.PENDING, expires_at__lte=now)
    for pk in overdue.values_list("pk", flat=True):
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

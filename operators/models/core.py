"""Operators, their people and roles, the contract of adhesion, health structures and DRIMboxes.

Only ``operators.services`` writes these models (DESIGN §3).
"""
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trustspace.statemachine import StateMachineMixin

from ..validators import ENTITY_FORMATS, validate_id_nat_struct, validate_siren, validate_siret


class Operator(models.Model):
    """A legal entity that deploys and runs DRIMboxes for health structures."""

    name = models.CharField("raison sociale", max_length=200)
    siren = models.CharField("SIREN", max_length=9, unique=True, validators=[validate_siren])
    siret = models.CharField("SIRET du siège", max_length=14, blank=True, validators=[validate_siret])
    id_nat_struct = models.CharField(
        "idNat_Struct",
        max_length=32,
        unique=True,
        validators=[validate_id_nat_struct],
        help_text="Identifiant national de structure porté dans l'OU des certificats IGC-Santé (ex. 3 + SIRET).",
    )
    address_line = models.CharField("adresse", max_length=255)
    postal_code = models.CharField("code postal", max_length=5)
    city = models.CharField("commune", max_length=100)
    contact_email = models.EmailField("courriel de contact")
    contact_phone = models.CharField("téléphone de contact", max_length=30, blank=True)
    support_contact = models.CharField(
        "contact support",
        max_length=255,
        blank=True,
        help_text="Publié dans la liste blanche (SupportContact) : courriel et téléphone du support.",
    )
    # Notification channels (operators/channels.py), set by the legal representative: every operator notification
    # also goes to this mailbox and, signed with the secret (Fernet-encrypted here), to this webhook.
    technical_mailbox = models.EmailField("boîte générique technique", blank=True)
    webhook_url = models.URLField("webhook", max_length=500, blank=True)
    webhook_secret_encrypted = models.TextField("secret du webhook (chiffré)", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    AUDITED_FIELDS = [
        "name", "siren", "siret", "id_nat_struct", "address_line", "postal_code", "city",
        "contact_email", "contact_phone", "support_contact",
    ]

    class Meta:
        ordering = ["name"]
        verbose_name = "opérateur"
        constraints = [
            models.CheckConstraint(
                condition=Q(siret="") | Q(siret__startswith=models.F("siren")), name="siret_matches_siren",
                violation_error_message="Le SIRET du siège doit commencer par le SIREN de l'opérateur.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        """The postal code and the phone in their French formats (checked here rather than as field validators:
        no migration, and every path that saves an operator calls ``full_clean``)."""
        errors = {}
        for field, check in ENTITY_FORMATS.items():
            if getattr(self, field):
                try:
                    check(getattr(self, field))
                except ValidationError as exc:
                    errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)


class ContractVersion(models.Model):
    """A version of the contract of adhesion. The latest published one is in force."""

    version = models.CharField("version", max_length=20, unique=True)
    title = models.CharField("titre", max_length=200)
    body = models.TextField("texte")
    published_at = models.DateTimeField("publiée le", default=timezone.now)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-published_at", "-id"]
        get_latest_by = ["published_at", "id"]
        verbose_name = "version du contrat d'adhésion"
        verbose_name_plural = "versions du contrat d'adhésion"

    def __str__(self):
        return f"{self.title} — version {self.version}"

    @classmethod
    def current(cls):
        return cls.objects.filter(published_at__lte=timezone.now()).order_by("-published_at", "-id").first()


class ContractAcceptance(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="contract_acceptances")
    contract_version = models.ForeignKey(ContractVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "contract_version"], name="one_acceptance_per_version"),
        ]
        verbose_name = "acceptation du contrat"
        verbose_name_plural = "acceptations du contrat"

    def __str__(self):
        return f"{self.operator} a accepté la version {self.contract_version.version}"


class Role(models.TextChoices):
    LEGAL_REPRESENTATIVE = "representant_legal", "Représentant légal"
    MANDATAIRE = "mandataire", "Mandataire"
    TECHNICAL_ADMIN = "administrateur_technique", "Administrateur technique"


def mandate_upload_to(instance, filename):
    return f"mandats/{instance.operator_id}/{uuid.uuid4().hex}.pdf"


class Membership(models.Model):
    """A person's role in an operator. Ending it (``ended_at``) takes effect at once."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField("rôle", max_length=32, choices=Role.choices)
    mandate_document = models.FileField("mandat", upload_to=mandate_upload_to, blank=True)
    card_reference = models.CharField(
        "référence de carte", max_length=40, blank=True,
        help_text="Carte de représentant légal (représentant légal), carte CPA ou habilitation IGC-Santé "
                  "(administrateur technique).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    end_reason = models.CharField(max_length=255, blank=True)

    AUDITED_FIELDS = ["operator", "user", "role", "mandate_document", "card_reference", "ended_at", "end_reason"]

    class Meta:
        ordering = ["role", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "user", "role"], condition=Q(ended_at__isnull=True),
                name="one_active_role_per_person",
            ),
            models.CheckConstraint(
                condition=~Q(role=Role.MANDATAIRE) | ~Q(mandate_document=""), name="mandataire_has_mandate"
            ),
        ]
        indexes = [models.Index(fields=["user", "ended_at"])]
        verbose_name = "rôle d'une personne"
        verbose_name_plural = "rôles des personnes"

    def __str__(self):
        return f"{self.user.display_name} — {self.get_role_display()} de {self.operator}"

    @property
    def is_active(self):
        return self.ended_at is None


class InvitationStatus(models.TextChoices):
    PENDING = "en_attente", "En attente"
    ACCEPTED = "acceptee", "Acceptée"
    REVOKED = "annulee", "Annulée"
    EXPIRED = "expiree", "Expirée"


class Invitation(StateMachineMixin, models.Model):
    """A one-time, expiring link sent by e-mail; accepting it binds the role to the iSC user who opens it."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField("courriel")
    role = models.CharField("rôle", max_length=32, choices=Role.choices)
    mandate_document = models.FileField("mandat", upload_to=mandate_upload_to, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    membership = models.OneToOneField(Membership, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="invitation")

    AUDITED_FIELDS = ["operator", "email", "role", "status", "expires_at", "accepted_by", "accepted_at"]
    TRANSITIONS = {
        InvitationStatus.PENDING: {InvitationStatus.ACCEPTED, InvitationStatus.REVOKED, InvitationStatus.EXPIRED},
    }
    TRANSITION_ERROR_CODE = "conflict"

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role=Role.MANDATAIRE) | ~Q(mandate_document=""), name="mandataire_invitation_has_mandate"
            ),
            models.CheckConstraint(
                condition=~Q(status=InvitationStatus.ACCEPTED) | Q(accepted_by__isnull=False, membership__isnull=False),
                name="accepted_invitation_is_bound",
            ),
        ]

    def __str__(self):
        return f"Invitation de {self.email} ({self.get_role_display()}) chez {self.operator}"

    def transition_refused_message(self, new_status):
        return (f"Cette invitation est « {self.status_label().lower()} » : elle ne peut plus être "
                f"{self.status_label(new_status).lower()}.")

    @property
    def is_expired(self):
        return self.status == InvitationStatus.EXPIRED or (
            self.status == InvitationStatus.PENDING and self.expires_at <= timezone.now()
        )

"""Operators' requests to ANS and their review (DESIGN §5).

Every request has the same state machine; each status change, comment, attachment and assignment
is a row of :class:`RequestEvent`, the timeline both sides see.
"""
import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trustspace.paris_time import paris_datetime
from trustspace.statemachine import StateMachineMixin

from .core import Operator
from .lifecycle import Drimbox, DrimboxStatus


class RequestKind(models.TextChoices):
    DECLARATION = "declaration", "Déclaration"
    INTEGRATION = "integration", "Intégration"
    UPDATE = "mise_a_jour", "Mise à jour des données d'installation"
    WITHDRAWAL = "retrait", "Retrait"
    REINTEGRATION = "reintegration", "Réintégration"
    SWITCH = "bascule", "Changement d'opérateur (bascule)"
    # Onboarding (DESIGN §5): reviewed like the DRIMbox requests, but filed by an iSC user who has no
    # operator role yet; approval creates the operator (adhésion) or adds a legal representative to an
    # existing one (rattachement).
    ADHESION = "adhesion", "Adhésion d'un opérateur"
    ATTACHMENT = "rattachement", "Rattachement à un opérateur existant"


class RequestStatus(models.TextChoices):
    DRAFT = "brouillon", "Brouillon"
    SUBMITTED = "soumise", "Soumise"
    IN_REVIEW = "en_instruction", "En instruction"
    CHANGES_REQUESTED = "a_completer", "Modifications demandées"
    APPROVED = "approuvee", "Approuvée"
    REJECTED = "refusee", "Refusée"
    CANCELLED = "annulee", "Annulée"


OPEN_STATUSES = frozenset({
    RequestStatus.DRAFT, RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW, RequestStatus.CHANGES_REQUESTED,
})
EDITABLE_STATUSES = frozenset({RequestStatus.DRAFT, RequestStatus.CHANGES_REQUESTED})
# Kinds whose approval needs the declaration data (structure, PACS, order, addresses, contacts).
DECLARATION_KINDS = frozenset({RequestKind.DECLARATION, RequestKind.SWITCH})
# Kinds filed by an applicant rather than by an operator's members: no DRIMbox, and no operator until approval
# (an adhesion) or an existing one (a rattachement, when its operator is already approved).
ONBOARDING_KINDS = frozenset({RequestKind.ADHESION, RequestKind.ATTACHMENT})
# Which DRIMbox statuses each kind of request about an existing DRIMbox may start from.
STARTING_STATUSES = {
    RequestKind.INTEGRATION: {DrimboxStatus.DECLARED},
    RequestKind.UPDATE: {DrimboxStatus.DECLARED, DrimboxStatus.INTEGRATING, DrimboxStatus.ACTIVE},
    RequestKind.WITHDRAWAL: {DrimboxStatus.DECLARED, DrimboxStatus.INTEGRATING, DrimboxStatus.ACTIVE},
    RequestKind.REINTEGRATION: {DrimboxStatus.WITHDRAWN},
    RequestKind.SWITCH: set(DrimboxStatus),
}


def request_reference():
    return "DEM-" + uuid.uuid4().hex[:10].upper()


class DrimboxRequest(StateMachineMixin, models.Model):
    """An operator's request to ANS (or an applicant's application), reviewed by ANS."""

    TRANSITIONS = {
        RequestStatus.DRAFT: {RequestStatus.SUBMITTED, RequestStatus.CANCELLED},
        RequestStatus.SUBMITTED: {RequestStatus.IN_REVIEW, RequestStatus.CANCELLED},
        RequestStatus.IN_REVIEW: {
            RequestStatus.CHANGES_REQUESTED, RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED,
        },
        RequestStatus.CHANGES_REQUESTED: {RequestStatus.SUBMITTED, RequestStatus.CANCELLED},
    }

    reference = models.CharField("référence", max_length=20, unique=True, default=request_reference)
    kind = models.CharField("type", max_length=20, choices=RequestKind.choices)
    status = models.CharField("statut", max_length=20, choices=RequestStatus.choices, default=RequestStatus.DRAFT)
    operator = models.ForeignKey(Operator, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    drimbox = models.ForeignKey(Drimbox, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    data = models.JSONField("données", default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField("soumise le", null=True, blank=True, db_index=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="assigned_requests")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    eligibility_override_reason = models.TextField(blank=True)

    AUDITED_FIELDS = ["reference", "kind", "status", "operator", "drimbox", "data", "assigned_to",
                      "eligibility_override_reason", "decision_reason"]

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "demande"
        indexes = [
            models.Index(fields=["status", "submitted_at"]),
            models.Index(fields=["operator", "status"]),
            models.Index(fields=["kind", "status"]),
            # The review queue's default view (oldest first among requests waiting for ANS) reads only
            # this small index instead of walking the whole request history.
            models.Index(fields=["submitted_at", "id"], name="request_review_queue",
                         condition=Q(status__in=["soumise", "en_instruction"])),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[RequestKind.DECLARATION, RequestKind.ADHESION, RequestKind.ATTACHMENT])
                | Q(drimbox__isnull=False),
                name="request_names_its_drimbox",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[RequestKind.ADHESION, RequestKind.ATTACHMENT]) | Q(operator__isnull=False),
                name="request_names_its_operator",
            ),
            # One open request at a time per DRIMbox and operator: two concurrent withdrawals or
            # updates of the same installation would contradict each other.
            models.UniqueConstraint(
                fields=["drimbox", "operator"],
                condition=Q(status__in=["brouillon", "soumise", "en_instruction", "a_completer"],
                            drimbox__isnull=False),
                name="one_open_request_per_drimbox",
                violation_error_message="Une demande est déjà en cours pour cette DRIMbox.",
            ),
        ]

    def __str__(self):
        return f"{self.reference} — {self.get_kind_display()}"

    @property
    def is_onboarding(self):
        return self.kind in ONBOARDING_KINDS

    @property
    def party_name(self):
        """Who the request is about: the operator, or for an application not yet approved the declared company."""
        if self.operator_id:
            return self.operator.name
        return (self.data or {}).get("name", "") or "Opérateur en cours d'adhésion"

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def is_editable(self):
        return self.status in EDITABLE_STATUSES

    def transition_subject(self):
        return f"La demande {self.reference}"


class RequestEventKind(models.TextChoices):
    CREATED = "creation", "Création"
    STATUS = "statut", "Changement de statut"
    COMMENT = "commentaire", "Commentaire"
    ATTACHMENT = "piece", "Pièce jointe"
    ASSIGNMENT = "affectation", "Affectation"
    EDIT = "modification", "Modification"


class RequestEvent(models.Model):
    """One line of a request's timeline (visible to the operator and to ANS)."""

    request = models.ForeignKey(DrimboxRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=RequestEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    from_status = models.CharField(max_length=20, choices=RequestStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=RequestStatus.choices, blank=True)
    text = models.TextField(blank=True)
    by_ans = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "événement d'une demande"
        verbose_name_plural = "événements des demandes"

    def __str__(self):
        return f"{self.get_kind_display()} de la demande {self.request_id} le {paris_datetime(self.at)}"


class AttachmentKind(models.TextChoices):
    CGI = "cgi", "Conditions Générales d'Intégration signées"
    CONTRACT = "contrat", "Contrat d'adhésion signé"
    POWER = "pouvoir", "Justificatif du pouvoir de représenter (K-bis, délégation)"
    OTHER = "autre", "Autre pièce"


def attachment_upload_to(instance, filename):
    return f"demandes/{instance.request.reference}/{uuid.uuid4().hex}.pdf"


class RequestAttachment(models.Model):
    request = models.ForeignKey(DrimboxRequest, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField("nature", max_length=16, choices=AttachmentKind.choices)
    file = models.FileField(upload_to=attachment_upload_to)
    original_name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = "pièce jointe d'une demande"
        verbose_name_plural = "pièces jointes des demandes"

    def __str__(self):
        return f"{self.get_kind_display()} — {self.original_name}"


def file_sha256(django_file):
    digest = hashlib.sha256()
    django_file.seek(0)
    for chunk in django_file.chunks():
        digest.update(chunk)
    django_file.seek(0)
    return digest.hexdigest()

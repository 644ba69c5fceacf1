"""Documents of a DRIMbox's life: the attestation de délégation and the VA document (DESIGN §5)."""
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trustspace.statemachine import StateMachineMixin

from .core import Operator
from .lifecycle import Drimbox
from .requests import DrimboxRequest

# No 0/O/1/I/L: the code is read aloud and typed from paper.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def attestation_code():
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"ATT-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def attestation_upload_to(instance, filename):
    return f"attestations/{instance.code}.pdf"


class Attestation(models.Model):
    """An attestation de délégation, issued when a declaration (or an operator switch) is approved.

    Its data is a snapshot at issue time; the public check page reads it by code.
    """

    code = models.CharField("code de vérification", max_length=20, unique=True, default=attestation_code)
    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="attestations")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="attestations")
    request = models.OneToOneField(DrimboxRequest, on_delete=models.PROTECT, related_name="attestation")
    issued_at = models.DateTimeField(default=timezone.now)
    operator_name = models.CharField(max_length=200)
    operator_siren = models.CharField(max_length=9)
    structure_name = models.CharField(max_length=200)
    structure_siren = models.CharField(max_length=9)
    structure_finess = models.CharField(max_length=9, blank=True)
    identifiant = models.PositiveIntegerField()
    db_fqdn = models.CharField(max_length=253)
    vi_fqdn = models.CharField(max_length=253)
    pdf = models.FileField(upload_to=attestation_upload_to)
    sha256 = models.CharField(max_length=64)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-pk"]

    def __str__(self):
        return self.code

    @property
    def drimbox_withdrawn(self):
        from .lifecycle import DrimboxStatus

        return self.drimbox.status == DrimboxStatus.WITHDRAWN

    @property
    def is_current(self):
        return self.superseded_at is None and not self.drimbox_withdrawn


class VaStatus(models.TextChoices):
    DUE = "attendu", "Attendu"
    SUBMITTED = "depose", "Déposé, à valider"
    VALIDATED = "valide", "Validé"
    REFUSED = "refuse", "Refusé, à redéposer"
    # The VA signed with reservations (client's RIS not yet in Vague 2, ASP model): validated, but the
    # reservations must be lifted within two months of the client signalling the RIS update.
    VALIDATED_RESERVATIONS = "valide_reserves", "Validé avec réserves"
    LIFTING_SUBMITTED = "levee_deposee", "Levée des réserves déposée, à valider"
    CLOSED = "sans_objet", "Sans objet (DRIMbox retirée ou reprise)"


OPEN_VA_STATUSES = frozenset({VaStatus.DUE, VaStatus.REFUSED, VaStatus.SUBMITTED, VaStatus.VALIDATED_RESERVATIONS,
                              VaStatus.LIFTING_SUBMITTED})
# Reservations still to lift (the two-month deadline runs once the RIS update is signalled).
RESERVATION_STATUSES = frozenset({VaStatus.VALIDATED_RESERVATIONS, VaStatus.LIFTING_SUBMITTED})
# The overdue marker in ``reservations_reminders_sent`` (the others are days before the deadline).
RESERVATIONS_OVERDUE_REMINDER = 0


def va_upload_to(instance, filename):
    return f"va/{instance.drimbox.identifiant}/{uuid.uuid4().hex}.pdf"


def va_lifting_upload_to(instance, filename):
    return f"va/{instance.drimbox.identifiant}/levee-{uuid.uuid4().hex}.pdf"


class VaDocument(StateMachineMixin, models.Model):
    """The VA document due after an integration or a reintegration, within the CGI deadline."""

    # No new upload while ANS reviews a file: ANS decides on the file it read.
    TRANSITIONS = {
        VaStatus.DUE: {VaStatus.SUBMITTED, VaStatus.CLOSED},
        VaStatus.REFUSED: {VaStatus.SUBMITTED, VaStatus.CLOSED},
        VaStatus.SUBMITTED: {VaStatus.VALIDATED, VaStatus.VALIDATED_RESERVATIONS, VaStatus.REFUSED, VaStatus.CLOSED},
        # Lifting the reservations: a document deposited, which ANS validates or refuses (then a new one).
        VaStatus.VALIDATED_RESERVATIONS: {VaStatus.LIFTING_SUBMITTED, VaStatus.CLOSED},
        VaStatus.LIFTING_SUBMITTED: {VaStatus.VALIDATED, VaStatus.VALIDATED_RESERVATIONS, VaStatus.CLOSED},
    }

    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="va_documents")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="va_documents")
    request = models.ForeignKey(DrimboxRequest, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=VaStatus.choices, default=VaStatus.DUE)
    due_at = models.DateTimeField("échéance", db_index=True)
    file = models.FileField(upload_to=va_upload_to, blank=True)
    original_name = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    uploaded_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True)
    reminders_sent = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # VA signed « avec réserves »: the client's RIS is not yet in Vague 2.
    with_reservations = models.BooleanField("signé avec réserves", default=False)
    ris_signalled_on = models.DateField("mise à jour du RIS signalée le", null=True, blank=True)
    ris_signalled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    reservations_due_at = models.DateTimeField("échéance de levée des réserves", null=True, blank=True,
                                               db_index=True)
    reservations_reminders_sent = models.JSONField(default=list, blank=True)
    lifting_file = models.FileField(upload_to=va_lifting_upload_to, blank=True)
    lifting_original_name = models.CharField(max_length=200, blank=True)
    lifting_sha256 = models.CharField(max_length=64, blank=True)
    lifting_uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.PROTECT, related_name="+")
    lifting_uploaded_at = models.DateTimeField(null=True, blank=True)
    lifting_refusal_reason = models.TextField(blank=True)

    AUDITED_FIELDS = ["status", "due_at", "original_name", "sha256", "refusal_reason", "with_reservations",
                      "ris_signalled_on", "reservations_due_at", "lifting_original_name", "lifting_sha256",
                      "lifting_refusal_reason"]

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["attendu", "sans_objet"]) | ~Q(file=""),
                                   name="va_document_has_file"),
            models.CheckConstraint(condition=~Q(status="levee_deposee") | ~Q(lifting_file=""),
                                   name="va_lifting_has_file"),
        ]
        verbose_name = "document VA"
        verbose_name_plural = "documents VA"

    def __str__(self):
        return f"VA de la DRIMbox {self.drimbox.identifiant} ({self.get_status_display()})"

    def transition_refused_message(self, new_status):
        return (f"Le document VA est « {self.status_label().lower()} » : il ne peut pas passer à "
                f"« {self.status_label(new_status).lower()} ».")

    @property
    def is_overdue(self):
        return self.status in {VaStatus.DUE, VaStatus.REFUSED} and self.due_at < timezone.now()

    @property
    def reservations_open(self):
        return self.status in RESERVATION_STATUSES

    @property
    def shows_reservations(self):
        """Validated with reservations: still open, or lifted (then validated)."""
        return self.with_reservations and self.status in RESERVATION_STATUSES | {VaStatus.VALIDATED}

    @property
    def reservations_overdue(self):
        """The reservations are not lifted (no lifting document under review) two months after the RIS signal."""
        return (self.status == VaStatus.VALIDATED_RESERVATIONS and self.reservations_due_at is not None
                and self.reservations_due_at < timezone.now())

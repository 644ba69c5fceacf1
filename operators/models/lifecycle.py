"""Health structures, DRIMboxes and the FQDN registry (DESIGN §4, §5)."""
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trustspace.statemachine import StateMachineMixin

from ..validators import validate_finess, validate_siren
from .core import Operator
from .financing import FinancingOrder


class HealthStructure(models.Model):
    """An operator's client (never published in the whitelist nor the weather)."""

    name = models.CharField("raison sociale", max_length=200)
    siren = models.CharField("SIREN", max_length=9, validators=[validate_siren])
    finess_juridique = models.CharField("FINESS juridique", max_length=9, blank=True, validators=[validate_finess])
    finess_geographique = models.CharField("FINESS géographique", max_length=9, blank=True,
                                           validators=[validate_finess])

    AUDITED_FIELDS = ["name", "siren", "finess_juridique", "finess_geographique"]

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["siren", "finess_geographique"], name="unique_structure_site")]
        verbose_name = "structure de santé"
        verbose_name_plural = "structures de santé"

    def __str__(self):
        return self.name


class DrimboxStatus(models.TextChoices):
    DECLARED = "declaree", "Déclarée"
    INTEGRATING = "en_integration", "En intégration"
    ACTIVE = "active", "Active"
    WITHDRAWN = "retiree", "Retirée"


class Drimbox(StateMachineMixin, models.Model):
    """A DRIMbox of the trust space, identified forever by its ``identifiant`` N (DESIGN §4).

    The row is created when its declaration is approved; its FQDNs are stored, never recomputed,
    so that a later change of the site label setting cannot rename a DRIMbox.
    """

    identifiant = models.PositiveIntegerField("identifiant", unique=True)
    site_label = models.CharField("code site", max_length=32)
    db_fqdn = models.CharField("FQDN db", max_length=253, unique=True)
    # A DRIMbox without viewer has no vi name (NULL: unique among the DRIMboxes that have one), DESIGN §5.
    has_viewer = models.BooleanField("La DRIMbox a une visionneuse (nom vi)", default=True)
    vi_fqdn = models.CharField("FQDN vi", max_length=253, unique=True, null=True, blank=True)
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="drimboxes")
    health_structure = models.ForeignKey(HealthStructure, on_delete=models.PROTECT, related_name="drimboxes")
    financing_order = models.ForeignKey(FinancingOrder, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="drimboxes")
    eligibility_override_reason = models.TextField("dérogation de financement", blank=True)
    pacs = models.CharField("PACS", max_length=200)
    db_records = models.JSONField("adresses db", default=list)
    vi_records = models.JSONField("adresses vi", default=list)
    responsable_contact = models.CharField("contact responsable", max_length=255, blank=True)
    support_contact = models.CharField("contact support", max_length=255)
    status = models.CharField("statut", max_length=20, choices=DrimboxStatus.choices, default=DrimboxStatus.DECLARED,
                              db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    integrated_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    AUDITED_FIELDS = [
        "identifiant", "db_fqdn", "has_viewer", "vi_fqdn", "operator", "health_structure", "financing_order", "pacs",
        "db_records", "vi_records", "responsable_contact", "support_contact", "status",
    ]
    TRANSITIONS = {
        DrimboxStatus.DECLARED: {DrimboxStatus.INTEGRATING, DrimboxStatus.WITHDRAWN},
        DrimboxStatus.INTEGRATING: {DrimboxStatus.ACTIVE, DrimboxStatus.DECLARED, DrimboxStatus.WITHDRAWN},
        DrimboxStatus.ACTIVE: {DrimboxStatus.WITHDRAWN, DrimboxStatus.DECLARED},
        DrimboxStatus.WITHDRAWN: {DrimboxStatus.ACTIVE, DrimboxStatus.DECLARED},
    }

    class Meta:
        ordering = ["identifiant"]
        constraints = [
            models.CheckConstraint(condition=Q(identifiant__gt=0), name="identifiant_positive"),
            # A vi name exactly when there is a viewer.
            models.CheckConstraint(
                condition=Q(db_fqdn__startswith="db") & (Q(has_viewer=True, vi_fqdn__isnull=False,
                                                           vi_fqdn__startswith="vi")
                                                         | Q(has_viewer=False, vi_fqdn__isnull=True)),
                name="fqdn_prefixes", violation_error_message="Le nom vi doit exister si et seulement si la "
                                                              "DRIMbox a une visionneuse."),
        ]
        indexes = [models.Index(fields=["operator", "status"])]
        verbose_name = "DRIMbox"
        verbose_name_plural = "DRIMbox"

    def __str__(self):
        return f"DRIMbox {self.identifiant} ({self.db_fqdn})"

    def transition_subject(self):
        return f"La DRIMbox {self.identifiant}"


class IdentifiantCounter(models.Model):
    """Where the database has no sequences (SQLite), the last Identifiant handed out.

    PostgreSQL uses a real sequence (migration 0005): ``nextval`` never hands a value out twice,
    even to transactions that roll back.
    """

    last_value = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"Dernier Identifiant attribué : {self.last_value}"


class DnsChangeStatus(models.TextChoices):
    PENDING = "en_attente", "DNS en attente"
    APPLIED = "appliquee", "Appliquée"
    SUPERSEDED = "remplacee", "Remplacée"


class DnsChange(StateMachineMixin, models.Model):
    """A change of one name of the zone, queued in the transaction that decides it (DESIGN §4).

    Applied after commit and retried with backoff while the DNS server is unreachable, so an
    approval never waits for DNS and no change is lost. ``records`` empty means: delete the name.
    """

    drimbox = models.ForeignKey(Drimbox, null=True, blank=True, on_delete=models.PROTECT, related_name="dns_changes")
    name = models.CharField(max_length=253, db_index=True)
    records = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=DnsChangeStatus.choices, default=DnsChangeStatus.PENDING)
    reason = models.CharField(max_length=100)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    # A pending change is applied, or superseded by a newer change of the same name before it was.
    TRANSITIONS = {DnsChangeStatus.PENDING: {DnsChangeStatus.APPLIED, DnsChangeStatus.SUPERSEDED}}

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        verbose_name = "changement DNS"
        verbose_name_plural = "changements DNS"

    def __str__(self):
        return f"{self.name} → {self.records or 'suppression'} ({self.get_status_display()})"


class PendingRevocationKind(models.TextChoices):
    SWITCH = "bascule", "Bascule d'opérateur"
    WITHDRAWAL = "retrait", "Retrait"


class PendingRevocationStatus(models.TextChoices):
    OPEN = "a_traiter", "À traiter"
    DONE = "terminee", "Terminée"


class PendingRevocation(StateMachineMixin, models.Model):
    """Certificates of a DRIMbox that its former operator must see revoked (operator switch, DESIGN §5).

    Recorded here at the switch or the withdrawal; the certificates app opens the revocations and completes it
    (``operators.services.complete_pending_revocation``) once none is left to do.
    """

    TRANSITIONS = {PendingRevocationStatus.OPEN: {PendingRevocationStatus.DONE}}

    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="pending_revocations")
    previous_operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=PendingRevocationKind.choices)
    status = models.CharField(max_length=10, choices=PendingRevocationStatus.choices,
                              default=PendingRevocationStatus.OPEN)
    reason = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"])]
        verbose_name = "révocations dues"
        verbose_name_plural = "révocations dues"

    def __str__(self):
        return f"Révocations dues ({self.get_kind_display()}) de la DRIMbox {self.drimbox_id}"

    def transition_subject(self):
        return "La révocation due"

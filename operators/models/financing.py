"""Financing orders as the AF IMG DB Va2 defines them (bons de commande SONS-IMG-DB-va2, DESIGN §5).

An order has one or more clients (each a legal entity, SIREN), one or more PACS and funds one or more
DRIMboxes. A SIREN, a PACS, an AM number (a physician's assurance-maladie number) and a FINESS
géographique each appear in at most one *active* order: partial unique constraints keep it so, on a
copy of the order's ``active`` flag kept on every identifier row (a constraint cannot read the parent).
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trustspace.statemachine import StateMachineMixin

from ..validators import validate_am_number, validate_finess, validate_siren
from .core import Operator


class FinancingOrderStatus(models.TextChoices):
    ACTIVE = "actif", "Actif"
    CLOSED = "clos", "Clos"


class RisWave(models.TextChoices):
    NONE = "", "Aucune commande de RIS Vague 2"
    WAVE_2 = "vague_2", "RIS Vague 2"
    WAVE_1_2 = "vague_1_2", "RIS Vague 1 + 2"


def order_document_upload_to(instance, filename):
    return f"bons-de-commande/{uuid.uuid4().hex}.pdf"


class FinancingOrder(StateMachineMixin, models.Model):
    """A financing order; its clients, PACS and identifiers are rows of their own."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="financing_orders")
    reference = models.CharField("référence du bon de commande", max_length=64, unique=True, error_messages={
        "unique": "Un bon de commande porte déjà cette référence."})
    status = models.CharField("statut", max_length=10, choices=FinancingOrderStatus.choices,
                              default=FinancingOrderStatus.ACTIVE, db_index=True)
    closed_reason = models.TextField("motif de clôture", blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The order signed by the client (for a shared order, each client also signs a page: FinancingOrderClient).
    signed_file = models.FileField("bon de commande signé", upload_to=order_document_upload_to, blank=True)
    signed_original_name = models.CharField(max_length=200, blank=True)
    signed_sha256 = models.CharField(max_length=64, blank=True)
    signed_uploaded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    AUDITED_FIELDS = ["operator", "reference", "status", "closed_reason", "signed_sha256"]
    TRANSITIONS = {
        FinancingOrderStatus.ACTIVE: {FinancingOrderStatus.CLOSED},
        FinancingOrderStatus.CLOSED: set(),
    }

    class Meta:
        ordering = ["reference"]
        verbose_name = "bon de commande"
        verbose_name_plural = "bons de commande"

    def __str__(self):
        return self.reference

    def transition_subject(self):
        return f"Le bon de commande {self.reference}"

    def transition_refused_message(self, new_status):
        return f"{self.transition_subject()} est « {self.status_label().lower()} » : il ne peut plus changer."

    @property
    def is_active(self):
        return self.status == FinancingOrderStatus.ACTIVE

    @property
    def is_shared(self):
        return len(self.clients.all()) > 1

    @property
    def finess_list(self):
        return [site.finess_geographique for site in self.sites.all()]

    @property
    def am_list(self):
        return [physician.am_number for physician in self.physicians.all()]

    @property
    def pacs_list(self):
        return [pacs.identifier for pacs in self.pacs.all()]


class FinancingOrderClient(models.Model):
    """A client of an order: a legal entity with radiology or nuclear-medicine activity in 2023, or the
    taker-over of one that had it; funded only with a RIS Vague 2 (or Vague 1 + 2) order."""

    order = models.ForeignKey(FinancingOrder, on_delete=models.CASCADE, related_name="clients")
    active = models.BooleanField(default=True)
    siren = models.CharField("SIREN du client", max_length=9, validators=[validate_siren])
    name = models.CharField("raison sociale du client", max_length=200, blank=True)
    # None: not stated (orders recorded before these rules); the order must be completed to be eligible.
    activity_2023 = models.BooleanField("activité de radiologie ou de médecine nucléaire non nulle en 2023",
                                        null=True, blank=True)
    ris_wave = models.CharField("commande de RIS", max_length=10, choices=RisWave.choices, blank=True)
    ris_order_reference = models.CharField("référence de la commande de RIS", max_length=64, blank=True)
    # Take-over of a structure that had 2023 activity (its AM and FINESS are rows flagged from_takeover).
    takeover_siren = models.CharField("SIREN de la structure reprise", max_length=9, blank=True,
                                      validators=[validate_siren])
    takeover_name = models.CharField("raison sociale de la structure reprise", max_length=200, blank=True)
    takeover_proof_file = models.FileField("preuve de la reprise", upload_to=order_document_upload_to, blank=True)
    takeover_proof_sha256 = models.CharField(max_length=64, blank=True)
    # Each client of a shared order signs the same order: its signature page.
    signature_file = models.FileField("page de signature du client", upload_to=order_document_upload_to,
                                      blank=True)
    signature_sha256 = models.CharField(max_length=64, blank=True)
    added_at = models.DateTimeField(default=timezone.now)

    AUDITED_FIELDS = ["siren", "name", "activity_2023", "ris_wave", "ris_order_reference", "takeover_siren",
                      "takeover_name", "takeover_proof_sha256", "signature_sha256"]

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["siren"], condition=Q(active=True), name="one_active_order_per_siren",
                                    violation_error_message="Ce client (SIREN) figure déjà dans un bon de commande "
                                                            "actif."),
            models.UniqueConstraint(fields=["order", "siren"], name="client_once_per_order"),
            # A RIS order is named by its reference.
            models.CheckConstraint(condition=Q(ris_wave="") | ~Q(ris_order_reference=""), name="ris_order_named"),
        ]
        verbose_name = "client d'un bon de commande"
        verbose_name_plural = "clients des bons de commande"

    def __str__(self):
        return f"{self.name or 'Client'} (SIREN {self.siren})"

    @property
    def label(self):
        return f"{self.name} (SIREN {self.siren})" if self.name else f"SIREN {self.siren}"

    @property
    def has_takeover(self):
        return bool(self.takeover_siren)


class FinancingOrderSite(models.Model):
    """A FINESS géographique of a client of an order; in one active order only."""

    order = models.ForeignKey(FinancingOrder, on_delete=models.CASCADE, related_name="sites")
    client = models.ForeignKey(FinancingOrderClient, on_delete=models.CASCADE, related_name="sites")
    active = models.BooleanField(default=True)
    finess_geographique = models.CharField("FINESS géographique", max_length=9, validators=[validate_finess])
    from_takeover = models.BooleanField("de la structure reprise", default=False)

    class Meta:
        ordering = ["finess_geographique"]
        constraints = [models.UniqueConstraint(
            fields=["finess_geographique"], condition=Q(active=True), name="one_active_order_per_finess",
            violation_error_message="Ce FINESS géographique figure déjà dans un bon de commande actif.")]
        verbose_name = "FINESS géographique d'un bon de commande"
        verbose_name_plural = "FINESS géographiques des bons de commande"

    def __str__(self):
        return f"FINESS géographique {self.finess_geographique}"


class FinancingOrderPhysician(models.Model):
    """An AM number (a physician's assurance-maladie number) of a client of an order; in one active order only."""

    order = models.ForeignKey(FinancingOrder, on_delete=models.CASCADE, related_name="physicians")
    client = models.ForeignKey(FinancingOrderClient, on_delete=models.CASCADE, related_name="physicians")
    active = models.BooleanField(default=True)
    am_number = models.CharField("numéro AM", max_length=9, validators=[validate_am_number])
    from_takeover = models.BooleanField("de la structure reprise", default=False)

    class Meta:
        ordering = ["am_number"]
        constraints = [models.UniqueConstraint(
            fields=["am_number"], condition=Q(active=True), name="one_active_order_per_am",
            violation_error_message="Ce numéro AM figure déjà dans un bon de commande actif.")]
        verbose_name = "numéro AM d'un bon de commande"
        verbose_name_plural = "numéros AM des bons de commande"

    def __str__(self):
        return f"AM {self.am_number}"


class FinancingOrderPacs(models.Model):
    """A PACS of an order (one DRIMbox order per PACS): in one active order only."""

    order = models.ForeignKey(FinancingOrder, on_delete=models.CASCADE, related_name="pacs")
    active = models.BooleanField(default=True)
    identifier = models.CharField("identifiant du PACS", max_length=100)

    class Meta:
        ordering = ["identifier"]
        constraints = [models.UniqueConstraint(
            fields=["identifier"], condition=Q(active=True), name="one_active_order_per_pacs",
            violation_error_message="Ce PACS fait déjà l'objet d'un bon de commande actif.")]
        verbose_name = "PACS d'un bon de commande"
        verbose_name_plural = "PACS des bons de commande"

    def __str__(self):
        return f"PACS {self.identifier}"

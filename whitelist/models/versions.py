"""Whitelist (liste blanche) state (DESIGN §7).

``PublishedEntry`` remembers, per DRIMbox identifiant, the published fields' hash and the ``DateMAJ``
of the last published version, so that ``DateMAJ`` changes only when a published field changes.
Only ``whitelist.services.versions.record_published`` writes it.
"""
from django.conf import settings
from django.db import models
from django.utils import timezone

from trustspace.statemachine import StateMachineMixin


class PublishedEntry(models.Model):
    """The last published state of one ``Domaine`` of the whitelist."""

    identifiant = models.PositiveIntegerField("identifiant", unique=True)
    fields_sha256 = models.CharField("SHA-256 des champs publiés", max_length=64)
    date_maj = models.DateTimeField("DateMAJ publiée")
    published_at = models.DateTimeField("publiée le", default=timezone.now)

    class Meta:
        ordering = ("identifiant",)
        verbose_name = "entrée publiée de la liste blanche"
        verbose_name_plural = "entrées publiées de la liste blanche"

    def __str__(self):
        return f"Domaine {self.identifiant} (DateMAJ {self.date_maj:%Y-%m-%dT%H:%M:%SZ})"


class WhitelistVersionStatus(models.TextChoices):
    PREPARED = "preparee", "préparée"
    # Never set (approve + sign + publish is one transaction); kept because migration 0002 declares it.
    APPROVED = "approuvee", "approuvée"
    PUBLISHED = "publiee", "publiée"
    REFUSED = "refusee", "refusée"
    ABANDONED = "abandonnee", "abandonnée"


class WhitelistVersion(StateMachineMixin, models.Model):
    """One version of the whitelist: prepared, then approved (four eyes), signed and published — or abandoned.

    Only ``whitelist.services`` writes it. Once signed, its signed bytes never change: ``save()``
    refuses to alter ``signed_xml`` of a row that already has one, and no status move leaves a signed version.
    """

    # Approval, signature and publication are one transaction: « approuvée » and « refusée » are never set.
    TRANSITIONS = {
        WhitelistVersionStatus.PREPARED: {WhitelistVersionStatus.PUBLISHED, WhitelistVersionStatus.ABANDONED},
    }
    TRANSITION_ERROR_CODE = "conflict"

    number = models.PositiveIntegerField("numéro", unique=True)
    status = models.CharField("statut", max_length=12, choices=WhitelistVersionStatus.choices,
                              default=WhitelistVersionStatus.PREPARED, db_index=True)
    generated_at = models.DateTimeField("DateDeGeneration")
    # The precise instant the current state was read (DateDeGeneration is cut to the second): what was approved
    # before it is in the version. Empty for versions prepared before it was recorded.
    prepared_at = models.DateTimeField("état lu le", null=True, blank=True)
    unsigned_xml = models.BinaryField("liste non signée")
    signed_xml = models.BinaryField("liste signée", null=True, blank=True)
    sha256 = models.CharField("SHA-256 de la liste signée", max_length=64, blank=True)
    signer_subject = models.CharField("signataire", max_length=500, blank=True)
    entry_count = models.PositiveIntegerField("nombre d'entrées", default=0)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name="préparée par")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
                                    blank=True, verbose_name="approuvée par")
    published_at = models.DateTimeField("publiée le", null=True, blank=True, db_index=True)
    comment = models.TextField("commentaire", blank=True)
    diff = models.JSONField("différences avec la version publiée précédente", default=dict, blank=True)

    class Meta:
        ordering = ("-number",)
        verbose_name = "version de la liste blanche"
        verbose_name_plural = "versions de la liste blanche"
        # Covering index of the public endpoint's query (current number and SHA-256 without reading the row,
        # whose 12 MB of XML SQLite would otherwise walk through).
        indexes = (models.Index(fields=["status", "-number", "sha256"], name="whitelist_version_current"),)

    def __str__(self):
        return f"Liste blanche v{self.number} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = WhitelistVersion.objects.filter(pk=self.pk).values_list("signed_xml", flat=True).first()
            if stored is not None and bytes(stored) != bytes(self.signed_xml or b""):
                raise ValueError("La liste signée d'une version est immuable.")
        super().save(*args, **kwargs)

    def can_transition_to(self, new_status):
        return self.signed_xml is None and super().can_transition_to(new_status)

    def transition_refused_message(self, new_status):
        if new_status == WhitelistVersionStatus.ABANDONED:
            return f"La version {self.number} est {self.get_status_display()} : elle ne peut pas être abandonnée."
        return (f"La version {self.number} est {self.get_status_display()} : elle ne peut plus être approuvée ni "
                "signée (une version signée est immuable).")

    @property
    def is_published(self):
        return self.status == WhitelistVersionStatus.PUBLISHED

    @property
    def diff_summary(self):
        d = self.diff or {}
        parts = [f"{len(d.get(key, []))} {label}" for key, label in
                 (("added", "ajoutée(s)"), ("removed", "retirée(s)"), ("changed", "modifiée(s)"))]
        if not any(d.get(key) for key in ("added", "removed", "changed")):
            return "aucun changement"
        return ", ".join(parts)

"""Whitelist (liste blanche) state (DESIGN §7).

``PublishedEntry`` remembers, per DRIMbox identifiant, the published fields' hash and the ``DateMAJ``
of the last published version, so that ``DateMAJ`` changes only when a published field changes.
Only ``whitelist.builder.record_published`` writes it.
"""
from django.db import models
from django.utils import timezone


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

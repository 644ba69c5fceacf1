"""Warnings about the whitelist signing certificate, sent once per certificate and kind (DESIGN §7)."""
from django.db import models
from django.utils import timezone


class SignerNoticeKind(models.TextChoices):
    EXPIRES_60 = "j60", "expire dans 60 jours"
    EXPIRES_15 = "j15", "expire dans 15 jours"
    EXPIRED = "expire", "expiré"
    REVOKED = "revoque", "révoqué"


class SignerNotice(models.Model):
    """A warning about the whitelist signing certificate, sent once per certificate and kind."""

    fingerprint = models.CharField("empreinte SHA-256 du certificat", max_length=64)
    subject = models.CharField("DN du signataire", max_length=500)
    kind = models.CharField("avertissement", max_length=8, choices=SignerNoticeKind.choices)
    sent_at = models.DateTimeField("envoyé le", default=timezone.now)

    class Meta:
        ordering = ("-sent_at",)
        constraints = (models.UniqueConstraint(fields=("fingerprint", "kind"), name="whitelist_signer_notice_once"),)
        verbose_name = "avertissement sur le signataire"
        verbose_name_plural = "avertissements sur le signataire"

    def __str__(self):
        return f"{self.get_kind_display()} — {self.subject}"

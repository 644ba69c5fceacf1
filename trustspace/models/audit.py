"""The append-only, HMAC-chained audit trail (written by trustspace.audit only)."""
from django.conf import settings
from django.db import models
from django.db.models import Q


class AuditEntry(models.Model):
    """One append-only, HMAC-chained row per change of state (DESIGN §3).

    ``seq`` is contiguous and unique, so two writers can never fork the chain;
    the database refuses UPDATE, DELETE and TRUNCATE (triggers created by the migrations).
    ``hash`` is sealed with the key named by ``key_id`` (kept outside the database, see trustspace.audit);
    an empty ``key_id`` marks a legacy row sealed with a plain SHA-256 before keys existed.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_label = models.CharField(max_length=255)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255, blank=True)
    operator_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id", "seq"])]
        verbose_name = "entrée d'audit"
        verbose_name_plural = "journal d'audit"

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The last sequence number, hash and key id of the chain, so that deleting the newest rows is detected.

    The database lets it only move forward, one row at a time (triggers created by the migrations).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_head_singleton")]
        verbose_name = "tête de la chaîne d'audit"
        verbose_name_plural = "tête de la chaîne d'audit"

    def __str__(self):
        return f"Tête de la chaîne d'audit (n° {self.seq})"

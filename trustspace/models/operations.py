"""Operations: the single beat's heartbeat (trustspace.beat), each Celery worker's heartbeat (trustspace.workers)
and ANS alerts (trustspace.alerts), one row per occurrence of a condition, open until the condition clears."""
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..paris_time import paris_datetime_seconds


class AlertSeverity(models.TextChoices):
    WARNING = "warning", "avertissement"
    CRITICAL = "critical", "critique"


class Alert(models.Model):
    """An occurrence of an alert condition. At most one open row per ``key`` (the database enforces it): an open
    condition is not notified again at every check; ``resolved_at`` is set when it clears (« résolu » notice)."""

    key = models.CharField("clé", max_length=200, db_index=True)
    severity = models.CharField("gravité", max_length=10, choices=AlertSeverity.choices,
                                default=AlertSeverity.WARNING)
    subject = models.CharField("objet", max_length=255)
    body = models.TextField("détail", blank=True)
    opened_at = models.DateTimeField("ouverte le", default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField("constatée pour la dernière fois le", default=timezone.now)
    resolved_at = models.DateTimeField("résolue le", null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(resolved_at__isnull=True),
                                               name="alert_one_open_per_key")]
        verbose_name = "alerte"

    def __str__(self):
        return f"{self.key} ({'ouverte' if self.is_open else 'résolue'})"

    @property
    def is_open(self):
        return self.resolved_at is None


class BeatHeartbeat(models.Model):
    """The single Celery beat's last tick (trustspace.beat): one row, read by readiness and the alerts."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    beat_at = models.DateTimeField("dernier battement")
    holder = models.CharField("beat (hôte:pid)", max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "battement du beat"
        verbose_name_plural = "battement du beat"

    def __str__(self):
        return f"Dernier battement du beat : {paris_datetime_seconds(self.beat_at)} ({self.holder or 'inconnu'})"


class WorkerHeartbeat(models.Model):
    """A Celery worker's last sign of life, written by the worker itself (trustspace.workers) every
    WORKER_HEARTBEAT_SECONDS, whatever the beat does; read by readiness (the « worker » part)."""

    name = models.CharField("worker (nom@hôte)", max_length=255, unique=True)
    queues = models.CharField("files consommées", max_length=500, blank=True, default="")
    started_at = models.DateTimeField("démarré le")
    beat_at = models.DateTimeField("dernier battement")

    class Meta:
        ordering = ["name"]
        verbose_name = "battement d'un worker"
        verbose_name_plural = "battements des workers"

    def __str__(self):
        return f"{self.name} : dernier battement {paris_datetime_seconds(self.beat_at)}"

    @property
    def queue_names(self):
        return [name for name in self.queues.split(",") if name]

"""The transactional outbox (trustspace.outbox): side effects written with the change that causes them."""
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..statemachine import StateMachineMixin


class OutboxKind(models.TextChoices):
    EMAIL = "email", "e-mail"
    WEBHOOK = "webhook", "webhook"
    TASK = "task", "tâche"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "en attente"
    SENT = "sent", "envoyé"
    FAILED = "failed", "en échec"  # gave up: waits for an ANS « Relancer »


class OutboxMessage(StateMachineMixin, models.Model):
    """One side effect (e-mail, webhook, Celery task) written in the same transaction as the change that causes it,
    then delivered by ``trustspace.outbox.deliver_due``: it exists if and only if the change committed, and it
    survives a broker or SMTP outage (retried with backoff; see trustspace/outbox.py)."""

    # Delivered, or given up after its attempts (or at once on a permanent error); ANS « Relancer » requeues a
    # failed one. A failed attempt that will be retried leaves it pending; a sent one is final.
    TRANSITIONS = {
        OutboxStatus.PENDING: {OutboxStatus.SENT, OutboxStatus.FAILED},
        OutboxStatus.FAILED: {OutboxStatus.PENDING},
    }

    kind = models.CharField("nature", max_length=16, choices=OutboxKind.choices)
    status = models.CharField("état", max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    payload = models.JSONField("contenu", default=dict)
    dedup_key = models.CharField("clé d'unicité", max_length=255, blank=True, default="")
    label = models.CharField("description", max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField("tentatives", default=0)
    next_attempt_at = models.DateTimeField("prochaine tentative", default=timezone.now)
    last_error = models.TextField("dernière erreur", blank=True, default="")
    created_at = models.DateTimeField("créé le", default=timezone.now)
    sent_at = models.DateTimeField("envoyé le", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "envoi"
        verbose_name_plural = "envois"
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], condition=~Q(dedup_key=""), name="outbox_dedup_key_unique"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
                   models.Index(fields=["status", "-sent_at"], name="outbox_sent_idx")]  # « envoyé », latest first

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} {self.get_status_display()} — {self.label}"

    def transition_refused_message(self, new_status: str) -> str:
        return (f"L'envoi « {self.label} » est « {self.status_label().lower()} » : il ne peut pas passer à "
                f"« {self.status_label(new_status).lower()} ».")

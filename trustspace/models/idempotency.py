"""Submitted forms and API idempotency keys (trustspace.idempotency, trustspace.api.idempotency)."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from ..paris_time import paris_datetime


class FormSubmission(models.Model):
    """A form that created something, by its submission token (trustspace.idempotency): recorded in the same
    transaction as the rows it created, so a second POST of the same rendered form creates nothing and is sent
    to what the first one created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64)
    redirect_url = models.CharField(max_length=500, blank=True)
    created_what = models.CharField(max_length=200, blank=True)  # « la demande créée », for the message
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "token"], name="form_submission_once")]
        verbose_name = "envoi de formulaire"
        verbose_name_plural = "envois de formulaire"

    def __str__(self):
        return f"Envoi de formulaire de l'utilisateur {self.user_id} ({paris_datetime(self.created_at)})"


class IdempotencyKey(models.Model):
    """An API POST sent with ``Idempotency-Key`` (trustspace.api.idempotency): claimed before the view runs,
    then its answer kept until ``expires_at`` and replayed for a repeat of the same request."""

    principal = models.CharField(max_length=40)  # "token:<id>" or "user:<id>": whose key it is
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    completed = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_key_once")]
        verbose_name = "clé d'idempotence"
        verbose_name_plural = "clés d'idempotence"

    def __str__(self):
        return f"{self.method} {self.path} ({self.principal})"

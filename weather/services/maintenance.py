"""The operator declares and cancels maintenance windows of its DRIMboxes (DESIGN §3, §8).

Only the people of the DRIMbox's operator (``weather.permissions``). Every change is atomic, audited (on the
operator's history too) and explained in French on refusal.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from operators.models import Drimbox, DrimboxStatus
from trustspace import audit
from trustspace.errors import Conflict, InvalidData
from trustspace.models import User
from trustspace.paris_time import paris_datetime
from trustspace.text import validate_display_text
from weather.models import Incident, MaintenanceWindow
from weather.permissions import require_weather_member

REASON_MAX = 300


def maintenance_max_length() -> timedelta:
    return timedelta(hours=getattr(settings, "WEATHER_MAINTENANCE_MAX_HOURS", 72))


def maintenance_past_tolerance() -> timedelta:
    return timedelta(minutes=getattr(settings, "WEATHER_MAINTENANCE_PAST_TOLERANCE_MINUTES", 2))


def maintenance_max_advance() -> timedelta:
    return timedelta(days=getattr(settings, "WEATHER_MAINTENANCE_MAX_ADVANCE_DAYS", 365))


def _window_state(window: MaintenanceWindow) -> dict[str, Any]:
    return {"drimbox": window.drimbox_id, "starts_at": window.starts_at, "ends_at": window.ends_at,
            "reason": window.reason, "cancelled_at": window.cancelled_at}


def _parse_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData("Indiquez le motif de la maintenance.",
                          field_errors={"reason": ["Ce champ est obligatoire."]})
    if len(reason) > REASON_MAX:
        raise InvalidData(f"Le motif ne doit pas dépasser {REASON_MAX} caractères.",
                          field_errors={"reason": [f"{REASON_MAX} caractères au plus."]})
    validate_display_text({"reason": reason}, multiline={"reason"}, labels={"reason": "motif"})  # shown publicly
    return reason


def _check_period(starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> None:
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is None or timezone.is_naive(value):
            raise InvalidData("Indiquez une date et une heure valides.",
                              field_errors={name: ["Date et heure valides attendues."]})
    if ends_at <= starts_at:
        raise InvalidData("La fin de la maintenance doit être postérieure à son début.",
                          field_errors={"ends_at": ["La fin doit être postérieure au début."]})
    if starts_at < now - maintenance_past_tolerance():
        raise InvalidData("Une maintenance ne peut pas commencer dans le passé.",
                          field_errors={"starts_at": ["Le début est dans le passé."]})
    if starts_at > now + maintenance_max_advance():
        days = maintenance_max_advance().days
        raise InvalidData(f"Une maintenance se déclare au plus {days} jours à l'avance.",
                          field_errors={"starts_at": [f"Au plus {days} jours à l'avance."]})
    if ends_at - starts_at > maintenance_max_length():
        hours = int(maintenance_max_length().total_seconds() // 3600)
        raise InvalidData(f"Une fenêtre de maintenance dure au plus {hours} heures.",
                          field_errors={"ends_at": [f"Durée maximale : {hours} heures."]})


def declare_maintenance(drimbox: Drimbox, *, acting_user: User, starts_at: datetime, ends_at: datetime,
                        reason: str) -> MaintenanceWindow:
    """A new maintenance window for one DRIMbox of the acting user's operator."""
    drimbox = Drimbox.objects.select_related("operator").get(pk=drimbox.pk)
    require_weather_member(acting_user, drimbox.operator, "déclarer une maintenance")
    if drimbox.status == DrimboxStatus.WITHDRAWN:
        raise Conflict("Cette DRIMbox est retirée de l'espace de confiance.", code="drimbox_withdrawn")
    reason = _parse_reason(reason)
    now = timezone.now()
    _check_period(starts_at, ends_at, now)
    with transaction.atomic():
        # Lock the DRIMbox so two concurrent declarations cannot both pass the overlap check.
        Drimbox.objects.select_for_update().filter(pk=drimbox.pk).first()
        overlapping = (MaintenanceWindow.objects.filter(drimbox=drimbox, cancelled_at__isnull=True,
                                                        starts_at__lt=ends_at, ends_at__gt=starts_at)
                       .order_by("starts_at").first())
        outage = (Incident.objects.filter(drimbox=drimbox, restored_at__isnull=True, opened_at__gt=starts_at)
                  .order_by("opened_at").first())
        if outage is not None:
            # A window reaching back before an outage already under way would present it as planned.
            raise Conflict(
                "Une maintenance ne peut pas commencer avant le début de l'incident en cours de cette DRIMbox "
                f"({paris_datetime(outage.opened_at)}) : déclarez-la à partir de cet instant.",
                code="maintenance_before_open_incident",
                field_errors={"starts_at": ["Antérieur au début de l'incident en cours."]})
        if overlapping is not None:
            raise Conflict(
                "Cette période chevauche la maintenance déjà déclarée du "
                f"{paris_datetime(overlapping.starts_at)} au {paris_datetime(overlapping.ends_at)}.",
                code="maintenance_overlap", field_errors={"starts_at": ["Chevauche une maintenance déclarée."]})
        window = MaintenanceWindow.objects.create(drimbox=drimbox, starts_at=starts_at, ends_at=ends_at,
                                                  reason=reason, declared_by=acting_user, created_at=now)
        audit.record(actor=acting_user, action="weather.maintenance_declared", obj=window,
                     after=_window_state(window), reason=reason, operator_id=drimbox.operator_id)
    return window


def cancel_maintenance(window: MaintenanceWindow, *, acting_user: User) -> MaintenanceWindow:
    """Cancel a window not started yet; a window in progress ends now (its past part stays on record)."""
    drimbox = Drimbox.objects.select_related("operator").get(pk=window.drimbox_id)
    require_weather_member(acting_user, drimbox.operator, "annuler une maintenance")
    with transaction.atomic():
        locked = MaintenanceWindow.objects.select_for_update().get(pk=window.pk)
        now = timezone.now()
        if locked.cancelled_at is not None:
            raise Conflict("Cette maintenance est déjà annulée.", code="maintenance_cancelled")
        if locked.ends_at <= now:
            raise Conflict("Cette maintenance est terminée : elle reste dans l'historique.", code="maintenance_over")
        before = _window_state(locked)
        if locked.starts_at < now:
            locked.ends_at = now
            locked.save(update_fields=["ends_at"])
            action = "weather.maintenance_ended_early"
        else:
            locked.cancelled_at = now
            locked.save(update_fields=["cancelled_at"])
            action = "weather.maintenance_cancelled"
        audit.record(actor=acting_user, action=action, obj=locked, before=before, after=_window_state(locked),
                     operator_id=drimbox.operator_id)
    return locked

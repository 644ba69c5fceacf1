"""Probe locations (DESIGN §8): a new one is created inactive and votes once ANS activates it (audited)."""
from __future__ import annotations

import logging

from django.db import transaction

from trustspace import audit
from trustspace.errors import NotFound
from trustspace.models import User
from weather.models import ProbeLocation

logger = logging.getLogger(__name__)


def location_named(name: str, *, label: str | None = None) -> ProbeLocation:
    """The ``ProbeLocation`` of that name; an unknown name is created INACTIVE (its reports are kept but do not
    vote) until ANS activates it (``python manage.py weather_locations --activate NAME``, audited)."""
    location, created = ProbeLocation.objects.get_or_create(
        name=name, defaults={"label": label or name, "active": False})
    if created:
        logger.warning("weather: new probe location %s created inactive; activate it with "
                       "`manage.py weather_locations --activate %s`", name, name)
    return location


def first_location(name: str) -> ProbeLocation:
    """The location of a single-site deployment: created ACTIVE, but only when no location exists at all."""
    with transaction.atomic():
        if ProbeLocation.objects.exists():
            return location_named(name)
        location, _ = ProbeLocation.objects.get_or_create(name=name, defaults={"label": name, "active": True})
    return location


def activate_location(name: str, *, actor: User | str, active: bool = True, reason: str = "") -> ProbeLocation:
    """ANS (or the operator of the platform) lets a probe location vote, or stops it; audited."""
    with transaction.atomic():
        location = ProbeLocation.objects.select_for_update().filter(name=name).first()
        if location is None:
            raise NotFound(f"Point de sonde inconnu : « {name} ».", code="weather_location_unknown")
        if location.active == active:
            return location
        before = {"active": location.active}
        location.active = active
        location.save(update_fields=["active"])
        audit.record(actor=actor, action="weather.location_activated" if active else "weather.location_deactivated",
                     obj=location, before=before, after={"active": active}, reason=reason)
    return location

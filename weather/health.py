"""Readiness part of the weather (listed in HEALTH_CHECKS): every active probe location reported recently.

Its details list every active location with the age of its last report (``last_round_age_seconds``, None: never)
and the number of reports received (``rounds``), failing or not."""
import dataclasses
import typing
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from trustspace.health import PortalCheck, describe_age, seconds

from .models import ProbeLocation


@dataclasses.dataclass
class ProbeLocationsCheck(PortalCheck):
    """An active location with no report for HEALTH_WEATHER_MAX_AGE_SECONDS fails, named."""

    name: typing.ClassVar[str] = "weather"
    label: typing.ClassVar[str] = "Sondes de la météo"

    def problem(self):
        now = timezone.now()
        limit = timedelta(seconds=settings.HEALTH_WEATHER_MAX_AGE_SECONDS)
        locations = list(ProbeLocation.objects.filter(active=True).order_by("name")
                         .values_list("name", "last_report_at", "rounds_reported"))
        ages = {name: (max(now - at, timedelta(0)) if at else None) for name, at, _rounds in locations}
        self.details = {"locations": [
            {"name": name, "last_round_age_seconds": seconds(ages[name]), "rounds": rounds}
            for name, _at, rounds in locations], "max_age_seconds": int(limit.total_seconds())}
        silent = [(name, age) for name, age in ages.items() if age is None or age > limit]
        if not silent:
            return None
        described = ", ".join(f"« {name} » (jamais)" if age is None else f"« {name} » (depuis {describe_age(age)})"
                              for name, age in silent)
        return f"Point(s) de sonde de la météo sans compte rendu : {described}."

"""The versioned Df/PERF measurement policy (DESIGN §8): which version measures a period.

:func:`policy_for` picks, for a period, the latest version whose ``effective_from`` is at or before the
period's start (the first version when the period precedes them all). Versions are created by
``weather.services.policy.create_policy_version`` and never edited.
"""
from __future__ import annotations

from datetime import datetime

from trustspace.errors import Conflict

from .clock import PARIS
from .models import MeasurementPolicy


def policy_for(period_start: datetime) -> MeasurementPolicy:
    """The version that measures a period starting at ``period_start`` (one query)."""
    policy = (MeasurementPolicy.objects.filter(effective_from__lte=period_start)
              .order_by("-effective_from", "-version").first())
    if policy is None:
        policy = MeasurementPolicy.objects.order_by("effective_from", "version").first()
    if policy is None:  # the migration creates v1; only reachable after a raw flush
        raise Conflict("Aucune politique de mesure n'est définie.", code="no_measurement_policy")
    return policy


def month_start(instant: datetime) -> datetime:
    local = instant.astimezone(PARIS)
    return datetime(local.year, local.month, 1, tzinfo=PARIS)




def first_of_month(value: str) -> datetime:
    """The first instant (Paris) of the month « AAAA-MM »; ValueError for a month or year that does not exist."""
    year, month = (int(part) for part in value.split("-"))
    return datetime(year, month, 1, tzinfo=PARIS)

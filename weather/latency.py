"""Read side of the probes' response times (``LatencyHour`` rows, written by ``weather.services.latency``): a
DRIMbox's latency per Europe/Paris day — mean, minimum and maximum of its db check — for its history chart."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from .clock import PARIS
from .models import LatencyHour


@dataclass
class LatencyDay:
    day: date
    samples: int = 0
    total_ms: int = 0
    min_ms: int | None = None
    max_ms: int | None = None

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.samples if self.samples else None

    def add(self, row: LatencyHour) -> None:
        self.samples += row.samples
        self.total_ms += row.total_ms
        self.min_ms = row.min_ms if self.min_ms is None else min(self.min_ms, row.min_ms)
        self.max_ms = row.max_ms if self.max_ms is None else max(self.max_ms, row.max_ms)


def daily_latency(drimbox_id: int, *, days: int = 30, now: datetime | None = None) -> list[LatencyDay]:
    """The last ``days`` Paris days up to today, oldest first, each with its samples (none: not probed). One query."""
    today = (now or timezone.now()).astimezone(PARIS).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=PARIS)
    by_day = {first + timedelta(days=n): LatencyDay(first + timedelta(days=n)) for n in range(days)}
    for row in LatencyHour.objects.filter(drimbox_id=drimbox_id, hour__gte=start).order_by("hour"):
        day = by_day.get(row.hour.astimezone(PARIS).date())
        if day is not None:
            day.add(row)
    return list(by_day.values())

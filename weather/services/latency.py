"""The probes' response times kept for the history charts (issue 16, item 5): one ``LatencyHour`` row per DRIMbox
and hour, every location together (count, sum, minimum, maximum of the db check's latency).

Called by ``record_observations`` inside its transaction, after it locked the DRIMboxes' weather heads: two
locations reporting on the same DRIMbox add to its hour one after the other, so reading the hour and writing it
back loses no sample. Rows older than ``WEATHER_LATENCY_DAYS`` (default 90) are deleted when a DRIMbox starts a new
hour: the table holds at most that many days × 24 rows per DRIMbox.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from weather.models import LatencyHour


def latency_days() -> int:
    return max(1, int(getattr(settings, "WEATHER_LATENCY_DAYS", 90)))


def hour_of(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def add_latency_samples(samples: Iterable[tuple[int, datetime, int | None]]) -> int:
    """Add ``(drimbox_id, checked_at, latency_ms)`` samples (None: the probe measured nothing, skipped) to their
    hours. Returns the number of samples kept. Three queries at most."""
    totals: dict[tuple[int, datetime], list[int]] = {}
    for drimbox_id, checked_at, latency_ms in samples:
        if latency_ms is None or latency_ms < 0:
            continue
        key = (drimbox_id, hour_of(checked_at))
        count, total, low, high = totals.get(key, [0, 0, latency_ms, latency_ms])
        totals[key] = [count + 1, total + latency_ms, min(low, latency_ms), max(high, latency_ms)]
    if not totals:
        return 0
    with transaction.atomic(savepoint=False):  # inside ``record_observations``, or alone (the demo's history)
        return _add(totals)


def _add(totals: dict[tuple[int, datetime], list[int]]) -> int:
    stored = {(row.drimbox_id, row.hour): row for row in LatencyHour.objects.filter(
        drimbox_id__in={box for box, _hour in totals}, hour__in={hour for _box, hour in totals})}
    rows, new_hours = [], set()
    for (drimbox_id, hour), (count, total, low, high) in totals.items():
        row = stored.get((drimbox_id, hour))
        if row is None:
            new_hours.add(drimbox_id)
            row = LatencyHour(drimbox_id=drimbox_id, hour=hour, samples=0, total_ms=0, min_ms=low, max_ms=high)
        row.samples += count
        row.total_ms += total
        row.min_ms, row.max_ms = min(row.min_ms, low), max(row.max_ms, high)
        rows.append(row)
    LatencyHour.objects.bulk_create(rows, update_conflicts=True, unique_fields=("drimbox", "hour"),
                                    update_fields=("samples", "total_ms", "min_ms", "max_ms"))
    if new_hours:
        oldest = min(hour for _box, hour in totals) - timedelta(days=latency_days())
        LatencyHour.objects.filter(drimbox_id__in=new_hours, hour__lt=oldest).delete()
    return sum(count for count, _total, _low, _high in totals.values())

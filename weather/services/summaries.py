"""The stored days of the public weather (``DaySummary``): the one write path for them.

* ``record_day_summaries`` (beat, ``weather.tasks.close_weather_days``; ``manage.py weather_day_summaries``)
  stores every closed day of the history window that a DRIMbox of the trust space lacks, computed as the pages
  compute it (``history.closed_days``), and drops the days that left the window. Missing days only: running it
  twice stores nothing the second time. ``rebuild=True`` recomputes every stored day (the command's
  ``--rebuild``): the table then holds what the pages would compute, whatever it held before.
* the strips of the list pages (``DayStrip``: the closed days' bars of a DRIMbox, drawn once) are drawn by
  ``record_day_summaries`` from the stored days, and dropped with them.
* ``forget_closed_days`` is called by ``services.observations`` in the transaction that writes a transition
  effective before today (the confirmation of an outage that began before midnight, « pas de données » after a
  silence of the probes): the stored days of that DRIMbox from that day on are dropped, then computed by the
  pages until the next ``record_day_summaries`` (an outbox task asks for it at once).

A day computed while a late transition is being written must not be stored without it: both take the same
lock (a PostgreSQL advisory lock for the transaction; SQLite serialises writing transactions by itself), the
computation reads under it, and the late transition drops what it finds under it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from trustspace import outbox
from weather import badges, history
from weather.clock import PARIS
from weather.models import DayStrip, DaySummary

# Key of the PostgreSQL advisory lock between computing stored days and dropping them (any constant bigint).
DAY_SUMMARIES_LOCK = 0x57EA7DA4
BATCH = 500  # DRIMboxes computed and stored per transaction
TASK = "weather.tasks.close_weather_days"


def _lock() -> None:
    """Called inside a transaction; held until it ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DAY_SUMMARIES_LOCK])


def window(now: datetime | None = None) -> tuple[date, date]:
    """(first day of the history window, today) as Paris dates: the closed days are first ≤ day < today."""
    return history.window_days(now or timezone.now(), history.history_days())


def _missing_from(drimbox_ids: list[int], scope, first: date, today: date) -> dict[int, date]:
    """{drimbox_id: first closed day it lacks} for the DRIMboxes missing any closed day of the window; ``scope``
    selects the same DRIMboxes in SQL (a subquery: ten thousand parameters would exceed SQLite's limit)."""
    expected = (today - first).days
    counts = dict(DaySummary.objects.filter(drimbox_id__in=scope, day__gte=first, day__lt=today)
                  .values("drimbox_id").annotate(stored=Count("pk")).values_list("drimbox_id", "stored"))
    partial = [pk for pk, stored in counts.items() if stored < expected]
    stored_days: dict[int, set[date]] = defaultdict(set)
    for start in range(0, len(partial), BATCH):
        for drimbox_id, day in DaySummary.objects.filter(drimbox_id__in=partial[start:start + BATCH], day__gte=first,
                                                         day__lt=today).values_list("drimbox_id", "day"):
            stored_days[drimbox_id].add(day)
    days = [first + timedelta(days=i) for i in range(expected)]
    return {pk: next(day for day in days if day not in stored_days[pk]) for pk in drimbox_ids
            if counts.get(pk, 0) < expected}


def _store(drimbox_ids: list[int], first: date, today: date, *, replace: bool) -> int:
    """Compute the days first ≤ day < today of these DRIMboxes and store those missing (all of them when
    ``replace``); one transaction, under the lock."""
    with transaction.atomic():
        _lock()
        existing: set[tuple[int, date]] = set()
        if replace:
            DaySummary.objects.filter(drimbox_id__in=drimbox_ids, day__gte=first, day__lt=today).delete()
            DayStrip.objects.filter(drimbox_id__in=drimbox_ids).delete()
        else:
            existing = set(DaySummary.objects.filter(drimbox_id__in=drimbox_ids, day__gte=first, day__lt=today)
                           .values_list("drimbox_id", "day"))
        now = timezone.now()
        rows = [DaySummary(drimbox_id=drimbox_id, day=cell.day, shown_status=cell.status,
                           down_minutes=cell.down_minutes, degraded_minutes=cell.degraded_minutes,
                           maintenance_minutes=cell.maintenance_minutes, no_data_minutes=cell.no_data_minutes,
                           seconds=history.stored_seconds(cell), computed_at=now)
                for drimbox_id, cells in history.closed_days(drimbox_ids, first, today).items()
                for cell in cells if (drimbox_id, cell.day) not in existing]
        DaySummary.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _draw_strips(ids: list[int], first: date, today: date) -> int:
    """Draw the strip (``DayStrip``) of each of these DRIMboxes whose closed days of the window are all stored and
    whose strip is not the current one; strips of another window or drawing version are dropped."""
    last = today - timedelta(days=1)
    DayStrip.objects.exclude(first_day=first, last_day=last, version=badges.STRIP_VERSION).delete()
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    drawn = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            _lock()
            batch = ids[start:start + BATCH]
            current = set(DayStrip.objects.filter(drimbox_id__in=batch).values_list("drimbox_id", flat=True))
            stored = history.stored_days([pk for pk in batch if pk not in current], first, today)
            now = timezone.now()
            rows = [DayStrip(drimbox_id=pk, first_day=first, last_day=last, version=badges.STRIP_VERSION,
                             bars=badges.strip_bars([cells[day] for day in days]), computed_at=now)
                    for pk, cells in stored.items() if len(cells) == len(days)]
            DayStrip.objects.bulk_create(rows)
            drawn += len(rows)
    return drawn


def record_day_summaries(*, now: datetime | None = None, rebuild: bool = False,
                         drimbox_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Store the closed days of the history window that the DRIMboxes of the trust space (or ``drimbox_ids``)
    lack, or recompute them all with ``rebuild``; drop the days older than the window; draw the strips of the
    list pages from the stored days. Returns counts."""
    first, today = window(now)
    scope = history.trust_space_drimboxes().values("pk") if drimbox_ids is None else list(drimbox_ids)
    ids = sorted(scope.values_list("pk", flat=True) if drimbox_ids is None else scope)
    pruned, _ = DaySummary.objects.filter(day__lt=first).delete()
    stored = 0
    if rebuild:
        for start in range(0, len(ids), BATCH):
            stored += _store(ids[start:start + BATCH], first, today, replace=True)
    else:
        # Grouped by the first day they lack (yesterday, in the steady state), so that each batch computes from
        # there.
        by_first_missing: dict[date, list[int]] = defaultdict(list)
        for drimbox_id, day in _missing_from(ids, scope, first, today).items():
            by_first_missing[day].append(drimbox_id)
        for day, group in sorted(by_first_missing.items()):
            for start in range(0, len(group), BATCH):
                stored += _store(group[start:start + BATCH], day, today, replace=False)
    drawn = _draw_strips(ids, first, today)
    return {"drimboxes": len(ids), "stored": stored, "pruned": pruned, "drawn": drawn}


def forget_closed_days(effective: Iterable[tuple[int, datetime]], *, at: datetime) -> int:
    """Inside the transaction writing transitions, with their (drimbox_id, effective instant): the stored days
    of a DRIMbox from the Paris day of such an instant on are dropped when that day is before today."""
    today = at.astimezone(PARIS).date()
    reach: dict[int, date] = {}
    for drimbox_id, instant in effective:
        day = instant.astimezone(PARIS).date()
        if day < today:
            reach[drimbox_id] = min(day, reach.get(drimbox_id, day))
    if not reach:
        return 0
    _lock()
    DayStrip.objects.filter(drimbox_id__in=list(reach)).delete()  # they draw the days dropped below
    earliest = min(reach.values())
    stale = [pk for pk, drimbox_id, day in DaySummary.objects.filter(drimbox_id__in=list(reach), day__gte=earliest)
             .values_list("pk", "drimbox_id", "day") if day >= reach[drimbox_id]]
    dropped = 0
    if stale:
        dropped, _ = DaySummary.objects.filter(pk__in=stale).delete()
        # Stored again soon; until then the pages compute those days (the same cells).
        outbox.enqueue_task(TASK, dedup_key=f"{TASK}:{today.isoformat()}:{at.astimezone(PARIS):%H}",
                            label="Météo : journées à recalculer")
    return dropped


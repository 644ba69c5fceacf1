"""Down time per DRIMbox over a window: the interval work behind Df (``weather.perf``, DESIGN §8).

A DRIMbox's DOWN stretches come from its DOWN-related ``Transition`` rows (into or out of DOWN) taken in the
order they happened and were recorded in (``effective_at, id``): a row into DOWN opens a stretch unless one is
open, any other row closes the open one. A DRIMbox DOWN at the window start has a stretch open from the start;
a stretch still open at the end closes there. Declared maintenance windows are subtracted when asked (a
cancelled window ends at its cancellation; a window counts only from its declaration, ``max(starts_at,
created_at)``, so that a late declaration cannot hide an outage), and what remains is measured through a
clock F: the time itself, or the support time elapsed since the window start (``clock.SupportTimeline``) under
a support-hours policy. A stretch [a, b) weighs F(b) − F(a) and its overlap with a merged maintenance window
F(min of the ends) − F(max of the starts); F never decreases, so subtracting those overlaps is exact.

``down_totals`` gives {drimbox_id: (down time, times it went DOWN)} in one of two ways, equal to the
microsecond (``tests/weather/test_downtime.py`` holds them to that on PostgreSQL):

* ``_totals_in_sql`` (PostgreSQL): window functions over each DRIMbox's rows (LAG, LEAD), the maintenance
  windows merged into islands and intersected, the support clock looked up by ``width_bucket``; one query,
  one row back per DRIMbox instead of one per transition.
* ``_totals_in_python`` (SQLite): one pass over the rows in the time order the index gives; SQLite's window
  functions (a sort of every row, then a slow interpreter) cost several times the pass.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.expressions import RawSQL

from .clock import SupportTimeline
from .intervals import normalize, subtract
from .models import MaintenanceWindow, Transition, WeatherStatus

DOWN = WeatherStatus.DOWN.value
ZERO = timedelta(0)

Totals = dict[int, tuple[timedelta, int]]


def down_totals(start: datetime, end: datetime, *, initially_down: Iterable[int], subtract_maintenance: bool,
                timeline: SupportTimeline | None, drimboxes: list[int] | None = None,
                in_sql: bool | None = None) -> Totals:
    """{drimbox_id: (down time, times it went DOWN)} over [start, end) for the DRIMboxes with any DOWN time or
    DOWN transition (the others are absent).

    ``initially_down``: the DRIMboxes DOWN at ``start``. ``timeline``: measure support time only (over the
    same window). ``drimboxes``: the pks of the DRIMboxes to read (all when None). ``in_sql``: force one
    way (the tests compare them); by default SQL on PostgreSQL, the Python pass elsewhere.
    """
    if end <= start:
        return {}
    if in_sql is None:
        in_sql = connection.vendor == "postgresql"
    compute = _totals_in_sql if in_sql else _totals_in_python
    totals = compute(start, end, list(initially_down), subtract_maintenance, timeline, drimboxes)
    return {box: total for box, total in totals.items() if total != (ZERO, 0)}


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL: the whole computation in one query.
# ---------------------------------------------------------------------------------------------------------
_SQL = """
WITH recorded AS (
    SELECT t.drimbox_id AS box, t.effective_at AS at, t.id AS seq, t.new_status = %(down)s AS into_down
    FROM {transition} AS t
    WHERE t.effective_at >= %(start)s AND t.effective_at < %(end)s
      AND (t.old_status = %(down)s OR t.new_status = %(down)s){only_transitions}
    UNION ALL
    -- DOWN at the window start: a stretch open from the start, before any row of that instant.
    SELECT box, %(start)s, 0, TRUE FROM unnest(%(initially_down)s::bigint[]) AS box
),
stepped AS (
    SELECT box, at, seq, into_down, LAG(into_down) OVER w AS was_down, LEAD(at) OVER w AS next_at{clock_steps}
    FROM recorded
    WINDOW w AS (PARTITION BY box ORDER BY at, seq)
),
-- Each row into DOWN holds until the next row (a stretch opened twice is two adjoining parts); f_lo and f_hi
-- are the clock at its ends.
stretches AS (
    SELECT box, at AS lo, COALESCE(next_at, %(end)s) AS hi, {clock_lo} AS f_lo, {clock_hi} AS f_hi,
           (seq > 0 AND NOT COALESCE(was_down, FALSE))::int AS went_down
    FROM stepped
    WHERE into_down
){maintenance}
SELECT s.box, (EXTRACT(EPOCH FROM SUM({weight})) * 1000000)::bigint, SUM({went_down})
FROM stretches AS s{excused}
GROUP BY s.box"""

_SQL_MAINTENANCE = """,
declared AS (
    SELECT drimbox_id AS box, GREATEST(starts_at, created_at) AS lo, LEAST(ends_at, cancelled_at) AS hi
    FROM {maintenance}
    WHERE starts_at < %(end)s AND ends_at > %(start)s{only_windows}
),
reach AS (  -- how far the earlier windows of the DRIMbox reach
    SELECT box, lo, hi,
           MAX(hi) OVER (PARTITION BY box ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM declared
    WHERE hi > lo
),
islands AS (  -- overlapping or touching windows form one island
    SELECT box, lo, hi,
           COUNT(*) FILTER (WHERE reach IS NULL OR lo > reach) OVER (PARTITION BY box ORDER BY lo, hi
                                                                       ROWS UNBOUNDED PRECEDING) AS island
    FROM reach
),
merged AS (  -- disjoint, with the end of the one before
    SELECT box, lo, hi, LAG(hi) OVER (PARTITION BY box ORDER BY lo) AS hi_before
    FROM (SELECT box, MIN(lo) AS lo, MAX(hi) AS hi FROM islands GROUP BY box, island) AS spans
)"""

# A stretch meets the merged windows it overlaps, one joined row each: its own weight and its DOWN count go
# with the first of them (the one whose predecessor ends before the stretch), each overlap is taken off.
_SQL_EXCUSED = """
    LEFT JOIN merged AS m ON m.box = s.box AND m.lo < s.hi AND m.hi > s.lo"""
_SQL_FIRST_MEETING = "(m.hi_before IS NULL OR m.hi_before <= s.lo)"
_SQL_EXCUSED_WEIGHT = ("CASE WHEN {first} THEN s.f_hi - s.f_lo ELSE interval '0' END"
                       " - CASE WHEN m.box IS NULL THEN interval '0' ELSE {clock_to} - {clock_from} END")

# The support clock (support time elapsed at an instant) from the window's openings (``starts``), closings
# (``ends``) and support time before each opening (``before``), the opening at or before the instant found by
# bisection (``width_bucket``). The window start heads the lists, a zero-length opening, so that every instant
# of the window has one.
_SQL_OPENING = "width_bucket({x}, %(starts)s::timestamptz[])"
_SQL_SUPPORT_CLOCK = ("((%(before)s::interval[])[{i}]"
                      " + (LEAST({x}, (%(ends)s::timestamptz[])[{i}]) - (%(starts)s::timestamptz[])[{i}]))")


def _support_clock(x: str, opening: str | None = None) -> str:
    """SQL of the support clock at ``x``; ``opening``: a column already holding ``x``'s opening."""
    return _SQL_SUPPORT_CLOCK.format(x=x, i=opening or _SQL_OPENING.format(x=x))


def _totals_in_sql(start, end, initially_down, subtract_maintenance, timeline, drimboxes) -> Totals:
    quote = connection.ops.quote_name
    params: dict[str, Any] = {"down": DOWN, "start": start, "end": end, "initially_down": initially_down}
    parts = {"transition": quote(Transition._meta.db_table), "only_transitions": "", "clock_steps": "",
             "clock_lo": "at", "clock_hi": "COALESCE(next_at, %(end)s)", "maintenance": "", "excused": "",
             "weight": "s.f_hi - s.f_lo", "went_down": "s.went_down"}
    clock = str
    if drimboxes is not None:
        params["boxes"] = drimboxes
        parts["only_transitions"] = " AND t.drimbox_id = ANY(%(boxes)s::bigint[])"
    if timeline is not None:
        params.update(starts=[start] + [lo for lo, _ in timeline.intervals],
                      ends=[start] + [hi for _, hi in timeline.intervals],
                      before=[ZERO] + timeline.cumulative, clock_end=timeline.total)
        opening = _SQL_OPENING.format(x="at")
        parts.update(clock_steps=f", {opening} AS opening, LEAD({opening}) OVER w AS next_opening",
                     clock_lo=_support_clock("at", "opening"),
                     clock_hi=("CASE WHEN next_at IS NULL THEN %(clock_end)s::interval "
                               f"ELSE {_support_clock('next_at', 'next_opening')} END"))
        clock = _support_clock
    if subtract_maintenance:
        only_windows = " AND drimbox_id = ANY(%(boxes)s::bigint[])" if drimboxes is not None else ""
        first = _SQL_FIRST_MEETING
        parts.update(maintenance=_SQL_MAINTENANCE.format(maintenance=quote(MaintenanceWindow._meta.db_table),
                                                         only_windows=only_windows),
                     excused=_SQL_EXCUSED,
                     weight=_SQL_EXCUSED_WEIGHT.format(first=first, clock_to=clock("LEAST(s.hi, m.hi)"),
                                                       clock_from=clock("GREATEST(s.lo, m.lo)")),
                     went_down=f"CASE WHEN {first} THEN s.went_down ELSE 0 END")
    with connection.cursor() as cursor:
        cursor.execute(_SQL.format(**parts), params)
        return {box: (timedelta(microseconds=us), downs) for box, us, downs in cursor.fetchall()}


# ---------------------------------------------------------------------------------------------------------
# Elsewhere (SQLite): one pass in Python over the rows in time order.
# ---------------------------------------------------------------------------------------------------------
def _naive_utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _pks_in(pks: list[int]) -> RawSQL:
    """A subquery of the given pks, one parameter whatever their number (SQLite caps the parameters)."""
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(pks),))
    return RawSQL("SELECT unnest(%s::bigint[])", (pks,))


def read_down_rows(start: datetime, end: datetime, drimboxes: list[int] | None = None):
    """(rows, parse): the DOWN-related transitions in [start, end) as (drimbox_id, instant, into DOWN) in the
    order they happened, the instant as the database gives it; ``parse`` turns it into a naive UTC datetime.

    The compiled query runs on a plain cursor: Django's per-row converters would cost more than the query. On
    SQLite the instant is read as its stored text (UTC, « YYYY-MM-DD HH:MM:SS[.ffffff] »), which
    ``datetime.fromisoformat`` reads exactly.
    """
    rows = Transition.objects.filter(effective_at__gte=start, effective_at__lt=end)
    # Only transitions into or out of DOWN move Df: the others need not be read.
    rows = rows.filter(Q(old_status=DOWN) | Q(new_status=DOWN))
    if drimboxes is not None:
        rows = rows.filter(drimbox_id__in=_pks_in(drimboxes))
    sqlite = connection.vendor == "sqlite"
    into_down = ExpressionWrapper(Q(new_status=DOWN), output_field=BooleanField())
    # The order they happened and were recorded in; on SQLite the effective_at index already yields it (the
    # rowid is its last key).
    rows = rows.order_by("effective_at", "id").annotate(into_down=into_down)
    if sqlite:
        # A bare column would go through the driver's converter (``parse_datetime``): ten times slower.
        column = f"{connection.ops.quote_name(Transition._meta.db_table)}.{connection.ops.quote_name('effective_at')}"
        instant = RawSQL(f"CAST({column} AS TEXT)", ())  # noqa: S611 - our own quoted identifiers, no input
        rows = rows.annotate(instant=instant).values_list("drimbox_id", "instant", "into_down")
        parse: Callable[[Any], datetime] = datetime.fromisoformat
    else:
        rows = rows.values_list("drimbox_id", "effective_at", "into_down")
        parse = _naive_utc
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall(), parse


def _declared_windows(start, end, drimboxes) -> dict[int, list[tuple[datetime, datetime]]]:
    """{drimbox_id: its maintenance windows over [start, end), merged}, as naive UTC datetimes."""
    declared = MaintenanceWindow.objects.filter(starts_at__lt=end, ends_at__gt=start).order_by()
    if drimboxes is not None:
        declared = declared.filter(drimbox_id__in=_pks_in(drimboxes))
    windows: dict[int, list[tuple[datetime, datetime]]] = {}
    for drimbox_id, lo, hi, cancelled_at, created_at in declared.values_list(
            "drimbox_id", "starts_at", "ends_at", "cancelled_at", "created_at"):
        if cancelled_at is not None:
            hi = min(hi, cancelled_at)
        lo = max(lo, created_at)  # a window counts only from its declaration: no retroactive excuse
        if hi > lo:
            windows.setdefault(drimbox_id, []).append((_naive_utc(lo), _naive_utc(hi)))
    return {drimbox_id: normalize(parts) for drimbox_id, parts in windows.items()}


def _totals_in_python(start, end, initially_down, subtract_maintenance, timeline, drimboxes) -> Totals:
    rows, parse = read_down_rows(start, end, drimboxes)
    windows = _declared_windows(start, end, drimboxes) if subtract_maintenance else {}
    clock = timeline.utc_clock() if timeline is not None else None
    start, end = _naive_utc(start), _naive_utc(end)
    open_since = dict.fromkeys(initially_down, start)
    weights: dict[int, timedelta] = {}
    went_down: list[int] = []  # a DRIMbox each time it went DOWN
    excusable: dict[int, list[tuple[datetime, datetime]]] = {}  # the stretches of DRIMboxes with maintenance
    weight_of, pop, opened = weights.get, open_since.pop, went_down.append

    # The hot loop: a month of 10,000 DRIMboxes is 200,000 rows. Instants are parsed only when they matter.
    for box, raw, into_down in rows:
        if into_down:
            if box not in open_since:
                open_since[box] = parse(raw)
                opened(box)
        elif box in open_since:
            since = pop(box)
            at = parse(raw)
            if at > since:
                if box in windows:
                    excusable.setdefault(box, []).append((since, at))
                elif clock is None:
                    weights[box] = weight_of(box, ZERO) + (at - since)
                else:
                    weights[box] = weight_of(box, ZERO) + (clock(at) - clock(since))
    for box, since in open_since.items():
        if end > since:
            excusable.setdefault(box, []).append((since, end))
    for box, stretches in excusable.items():
        if box in windows:
            stretches = subtract(stretches, windows[box])
        for lo, hi in stretches:
            weights[box] = weight_of(box, ZERO) + ((hi - lo) if clock is None else (clock(hi) - clock(lo)))
    downs = Counter(went_down)
    return {box: (weights.get(box, ZERO), downs.get(box, 0)) for box in weights.keys() | downs.keys()}

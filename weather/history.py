"""Read side of the weather: which DRIMboxes it shows, their displayed status, and 90 daily cells each.

- ``trust_space_drimboxes()``: the DRIMboxes of the trust space, those of the published whitelist; a DRIMbox
  approved or integrated but not yet published is not in it (it is not probed, and has no public page).
- ``with_publication(queryset)``: annotates ``published`` (its identifiant is in the published whitelist).
- ``with_weather(queryset, now)``: annotates the probed status (``DrimboxWeather``; « pas de données »
  without a row), whether a declared maintenance window covers ``now``, and the status displayed
  (« maintenance » inside such a window, else the probed one) with the instant it holds since.
- ``daily_history(ids, now=…, days=90)``: per DRIMbox, one cell per Europe/Paris day with the worst
  displayed status of the day and its minutes down / degraded / in maintenance / without data. Closed days are
  read from ``DaySummary`` (``closed_days`` computes what it stores); today is built from ``Transition`` rows
  (``weather.intervals.status_intervals``) and maintenance windows: four queries whatever the number of
  DRIMboxes and days.
Inside a declared maintenance window the day shows « maintenance » whatever the probes saw; whether
that downtime counts in Df is the measurement policy's business (weather.perf), not the display's. A
window counts only from its declaration (``max(starts_at, created_at)``): a window declared afterwards
must not hide an outage already seen.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from operators.models import Drimbox
from trustspace.paris_time import paris_date, paris_datetime
from whitelist.models import PublishedEntry

from . import intervals
from .clock import GTI, GTR, PARIS
from .models import DaySummary, MaintenanceWindow, Transition, WeatherStatus

# Worst first: the colour of a day is that of its worst moment.
SEVERITY = {
    WeatherStatus.OPERATIONAL: 0,
    WeatherStatus.NO_DATA: 1,
    WeatherStatus.MAINTENANCE: 2,
    WeatherStatus.DEGRADED: 3,
    WeatherStatus.DOWN: 4,
}
STATUS_LABELS = dict(WeatherStatus.choices)
LOWER_LABELS = {status: label.lower() for status, label in STATUS_LABELS.items()}
# Plain strings for the per-day loops (an enum member's attribute lookup costs more than the loop's work).
_DOWN, _DEGRADED = WeatherStatus.DOWN.value, WeatherStatus.DEGRADED.value
_MAINTENANCE, _NO_DATA = WeatherStatus.MAINTENANCE.value, WeatherStatus.NO_DATA.value


def history_days():
    return getattr(settings, "WEATHER_HISTORY_DAYS", 90)


def trust_space_drimboxes():
    """Every DRIMbox the public weather shows: those of the published whitelist (DESIGN §8: the prober probes
    them, and only them). An active DRIMbox appears with the version that first contains it."""
    return Drimbox.objects.filter(identifiant__in=Subquery(PublishedEntry.objects.values("identifiant")))


def with_publication(queryset, identifiant="identifiant"):
    """Annotate ``published``: whether the row's DRIMbox (``identifiant`` names the field) has a public page."""
    return queryset.annotate(published=Exists(PublishedEntry.objects.filter(identifiant=OuterRef(identifiant))))


def active_windows(now):
    return MaintenanceWindow.objects.filter(cancelled_at__isnull=True, starts_at__lte=now, ends_at__gt=now)


def with_weather(queryset, now=None):
    """Annotate ``probed_status``, ``in_maintenance``, ``display_status`` and ``display_since``."""
    now = now or timezone.now()
    covering = active_windows(now).filter(drimbox=OuterRef("pk"))
    return queryset.annotate(
        in_maintenance=Exists(covering),
        probed_status=Coalesce(F("weather__status"), Value(WeatherStatus.NO_DATA.value), output_field=CharField()),
        weather_reason=F("weather__reason"),
    ).annotate(
        display_status=Case(When(in_maintenance=True, then=Value(WeatherStatus.MAINTENANCE.value)),
                            default=F("probed_status"), output_field=CharField()),
        display_since=Case(When(in_maintenance=True,
                                then=Subquery(covering.order_by("starts_at").values("starts_at")[:1])),
                           default=F("weather__since")),
    )


def iso_utc(value):
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (None stays None)."""
    if value is None:
        return None
    if value.utcoffset():  # rows come back in UTC already: convert only what does not
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")[:19] + "Z"


def _since_column(queryset):
    """``weather__since`` as a value cheap to turn into ISO text: on SQLite, the stored UTC text itself
    (Django's per-row datetime parsing costs more than the query at 10,000 rows); elsewhere the
    driver's datetime."""
    if connection.vendor == "sqlite":
        return queryset.annotate(since_text=Cast("weather__since", CharField())), "since_text"
    return queryset, "weather__since"


def _iso_text(value):
    # "YYYY-MM-DD HH:MM:SS[.ffffff]" stored in UTC by Django's SQLite backend.
    return f"{value[:10]}T{value[11:19]}Z" if value else None


def board_rows(queryset, now=None, *, status=""):
    """``(identifiant, db, vi, operator name, displayed status, since as ISO UTC text)`` by Identifiant.

    The fast path of the 10,000-row JSON list: one plain joined query, and the few windows covering now
    in a second one, merged in Python (the same rule as ``with_weather``, without a subquery per row).
    ``status`` keeps only that displayed status (filtered in SQL).
    """
    now = now or timezone.now()
    covering = {}
    for drimbox_id, starts_at in active_windows(now).values_list("drimbox_id", "starts_at"):
        covering[drimbox_id] = min(starts_at, covering.get(drimbox_id, starts_at))
    if status == WeatherStatus.MAINTENANCE:
        queryset = queryset.filter(pk__in=list(covering))
    elif status:
        probed = Q(weather__status=status)
        if status == WeatherStatus.NO_DATA:
            probed |= Q(weather__isnull=True)
        queryset = queryset.filter(probed).exclude(pk__in=list(covering))
    queryset, since_column = _since_column(queryset)
    as_text = _iso_text if since_column == "since_text" else iso_utc
    no_data, maintenance = WeatherStatus.NO_DATA.value, WeatherStatus.MAINTENANCE.value
    for pk, identifiant, db, vi, operator, probed_status, since in (
            queryset.order_by("identifiant").values_list("pk", "identifiant", "db_fqdn", "vi_fqdn", "operator__name",
                                                          "weather__status", since_column)):
        if pk in covering:
            yield identifiant, db, vi or "", operator, maintenance, iso_utc(covering[pk])
        else:
            yield identifiant, db, vi or "", operator, probed_status or no_data, as_text(since)


@dataclass(slots=True)
class DayCell:
    """One Europe/Paris day of a DRIMbox's history (minutes are whole minutes, rounded down)."""

    day: date
    status: str = WeatherStatus.NO_DATA
    down_minutes: int = 0
    degraded_minutes: int = 0
    maintenance_minutes: int = 0
    no_data_minutes: int = 0
    seconds: dict = field(default_factory=dict, repr=False)  # status -> seconds of the day in that status
    day_label: str = ""  # « JJ/MM/AAAA », formatted once per page (``daily_history``) for all DRIMboxes

    @property
    def label(self):
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def summary(self):
        """A French sentence for the bar's title and screen readers."""
        parts = [f"{self.day_label} : {LOWER_LABELS.get(self.status) or self.label.lower()}"]
        if self.down_minutes:
            parts.append(f"indisponible {format_minutes(self.down_minutes)}")
        if self.degraded_minutes:
            parts.append(f"dégradé {format_minutes(self.degraded_minutes)}")
        if self.maintenance_minutes:
            parts.append(f"maintenance {format_minutes(self.maintenance_minutes)}")
        if self.no_data_minutes and self.status != WeatherStatus.NO_DATA:
            parts.append(f"sans données {format_minutes(self.no_data_minutes)}")
        return ", ".join(parts)

    def as_dict(self):
        return {"date": self.day.isoformat(), "status": str(self.status), "down_minutes": self.down_minutes,
                "degraded_minutes": self.degraded_minutes, "maintenance_minutes": self.maintenance_minutes,
                "no_data_minutes": self.no_data_minutes}


def format_minutes(minutes):
    hours, rest = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {rest:02d} min" if rest else f"{hours} h"
    return f"{rest} min"


def window_days(now, days):
    """(first day, today) of a window of ``days`` Paris days ending today."""
    today = now.astimezone(PARIS).date()
    return today - timedelta(days=days - 1), today


def day_bounds(now, days):
    """The UTC instants of the Paris midnights of the last ``days`` days (today included), plus ``now``."""
    today = now.astimezone(PARIS).date()
    first = today - timedelta(days=days - 1)
    bounds = [datetime.combine(first + timedelta(days=i), time(0), tzinfo=PARIS).astimezone(UTC)
              for i in range(days)]
    return [first + timedelta(days=i) for i in range(days)], bounds + [now]


def displayed_timeline(timeline, windows):
    """The probed timeline with declared maintenance laid over it, sorted by start."""
    if not windows:
        return list(timeline)
    result = []
    for lo, hi, status in timeline:
        for part in intervals.subtract([(lo, hi)], windows):
            result.append((part[0], part[1], status))
    result.extend((lo, hi, WeatherStatus.MAINTENANCE.value) for lo, hi in windows)
    result.sort()
    return result


def _cells(days, labels, bounds, segments):
    cells = [DayCell(day=day, day_label=label) for day, label in zip(days, labels, strict=True)]
    count = len(cells)
    index = 0
    for lo, hi, status in segments:
        while index < count and bounds[index + 1] <= lo:
            index += 1
        i = index
        while i < count and bounds[i] < hi:
            part = (min(hi, bounds[i + 1]) - max(lo, bounds[i])).total_seconds()
            if part > 0:
                seconds = cells[i].seconds
                seconds[status] = seconds.get(status, 0.0) + part
            i += 1
    no_data = _NO_DATA
    for cell in cells:
        seconds = cell.seconds
        seen = [status for status, value in seconds.items() if value > 0]
        if len(seen) == 1:
            cell.status = seen[0]
        else:
            cell.status = max(seen, key=lambda s: SEVERITY.get(s, 0)) if seen else no_data
        _count_minutes(cell)
    return cells


def _count_minutes(cell):
    seconds = cell.seconds
    cell.down_minutes = int(seconds.get(_DOWN, 0) // 60)
    cell.degraded_minutes = int(seconds.get(_DEGRADED, 0) // 60)
    cell.maintenance_minutes = int(seconds.get(_MAINTENANCE, 0) // 60)
    cell.no_data_minutes = int(seconds.get(_NO_DATA, 0) // 60)


def _computed_history(drimbox_ids, day_list, labels, bounds):
    """``{drimbox_id: [DayCell]}`` for the days of ``day_list`` from the ``Transition`` rows and the maintenance
    windows: ``bounds`` are the UTC instants of their Paris midnights, then the end (now, or the midnight after
    the last day). Three queries for any number of DRIMboxes."""
    start, end = bounds[0], bounds[-1]
    before = Transition.objects.filter(drimbox=OuterRef("pk"), effective_at__lt=start).order_by("-effective_at", "-id")
    initial = dict(Drimbox.objects.filter(pk__in=drimbox_ids)
                   .annotate(initial=Subquery(before.values("new_status")[:1])).values_list("pk", "initial"))
    changes = defaultdict(list)
    rows = (Transition.objects.filter(drimbox_id__in=drimbox_ids, effective_at__gte=start, effective_at__lt=end)
            .order_by("drimbox_id", "effective_at", "id").values_list("drimbox_id", "effective_at", "new_status"))
    for drimbox_id, at, status in rows:
        changes[drimbox_id].append((at, status))
    windows = defaultdict(list)
    for drimbox_id, lo, hi, created_at in (MaintenanceWindow.objects
                                           .filter(drimbox_id__in=drimbox_ids, cancelled_at__isnull=True,
                                                   starts_at__lt=end, ends_at__gt=start)
                                           .values_list("drimbox_id", "starts_at", "ends_at", "created_at")):
        lo = max(lo, created_at, start)  # retroactive declarations do not reach back before they were made
        hi = min(hi, end)
        if hi > lo:
            windows[drimbox_id].append((lo, hi))
    result = {}
    for drimbox_id in drimbox_ids:
        timeline = intervals.status_intervals(changes.get(drimbox_id, ()), start, end,
                                              initial.get(drimbox_id) or WeatherStatus.NO_DATA.value)
        segments = displayed_timeline(timeline, intervals.normalize(windows.get(drimbox_id, ())))
        result[drimbox_id] = _cells(day_list, labels, bounds, segments)
    return result


def _paris_midnight(day):
    return datetime.combine(day, time(0), tzinfo=PARIS).astimezone(UTC)


def closed_days(drimbox_ids, first, end):
    """``{drimbox_id: [DayCell]}`` for the Paris days from ``first`` to the day before ``end``, computed as the
    pages compute them (what ``DaySummary`` stores). A day's cell depends only on the rows of the day and the
    status at its start, so computing it over any range that holds it gives the same floats."""
    day_list = [first + timedelta(days=i) for i in range((end - first).days)]
    if not day_list or not drimbox_ids:
        return {}
    bounds = [_paris_midnight(day) for day in day_list] + [_paris_midnight(end)]
    return _computed_history(list(drimbox_ids), day_list, [paris_date(day) for day in day_list], bounds)


def stored_seconds(cell):
    """``DaySummary.seconds`` of a cell: its seconds per status, in the order the day met them."""
    return [[status, value] for status, value in cell.seconds.items()]


MINUTES = ("down_minutes", "degraded_minutes", "maintenance_minutes", "no_data_minutes")


def stored_days(drimbox_ids, first, end):
    """``{drimbox_id: {day: DayCell}}`` of the stored days from ``first`` to the day before ``end`` (no seconds)."""
    labels = {first + timedelta(days=i): paris_date(first + timedelta(days=i)) for i in range((end - first).days)}
    return _stored_cells(list(drimbox_ids), first, end, labels, seconds=False)


def _stored_cells(drimbox_ids, first, last, labels, *, seconds):
    """``{drimbox_id: {day: DayCell}}`` of the stored days from ``first`` to the day before ``last``; without
    ``seconds``, the cells hold what the bars show (status, minutes) and no seconds.

    A page reads about 4,500 of them: the compiled query runs on a plain cursor (Django's per-row converters
    would cost more than the query); on SQLite the day is read as its ISO text (the driver would parse it)."""
    if not drimbox_ids or first >= last:
        return {}
    rows = DaySummary.objects.filter(drimbox_id__in=drimbox_ids, day__gte=first, day__lt=last).order_by()
    day = "day"
    if connection.vendor == "sqlite":
        rows, day = rows.annotate(day_text=Cast("day", CharField())), "day_text"
    rows = rows.values_list("drimbox_id", day, "shown_status", *MINUTES, *(("seconds",) if seconds else ()))
    sql, params = rows.query.sql_with_params()
    by_text = {day.isoformat(): day for day in labels}
    stored = defaultdict(dict)
    loads = json.loads
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for drimbox_id, day, status, down, degraded, maintenance, no_data, *rest in cursor.fetchall():
            day = by_text[day] if isinstance(day, str) else day
            pairs = (loads(rest[0]) if isinstance(rest[0], str) else rest[0]) if rest else ()
            stored[drimbox_id][day] = DayCell(day, status, down, degraded, maintenance, no_data, dict(pairs),
                                              labels[day])
    return stored


def daily_history(drimbox_ids, *, now=None, days=None, seconds=True):
    """``{drimbox_id: [DayCell × days]}``, oldest day first; four queries for any number of DRIMboxes and days.

    Closed days come from ``DaySummary``; today, and any day a DRIMbox of the list has not stored yet (from the
    first such day on, for them all), are computed from the transitions. The cells are the same either way.
    ``seconds=False`` (list pages: bars only) leaves the seconds of stored days out: no ``availability`` then.
    """
    now = now or timezone.now()
    days = days or history_days()
    drimbox_ids = list(drimbox_ids)
    if not drimbox_ids:
        return {}
    day_list, bounds = day_bounds(now, days)
    labels = [paris_date(day) for day in day_list]
    today = len(day_list) - 1
    stored = _stored_cells(drimbox_ids, day_list[0], day_list[today], dict(zip(day_list, labels, strict=True)),
                           seconds=seconds)
    computed_from = today
    for drimbox_id in drimbox_ids:
        mine = stored.get(drimbox_id, {})
        if len(mine) < today:
            computed_from = min(computed_from, next(i for i, day in enumerate(day_list) if day not in mine))
    computed = _computed_history(drimbox_ids, day_list[computed_from:], labels[computed_from:],
                                 bounds[computed_from:])
    return {drimbox_id: [stored[drimbox_id][day] for day in day_list[:computed_from]] + computed[drimbox_id]
            for drimbox_id in drimbox_ids}


def availability(cells):
    """Share of the shown period (in %) not down outside maintenance, over the time with data; None if none."""
    measured = sum(sum(s for status, s in cell.seconds.items() if status != WeatherStatus.NO_DATA) for cell in cells)
    if measured <= 0:
        return None
    down = sum(cell.seconds.get(WeatherStatus.DOWN, 0) for cell in cells)
    return round(100 * (1 - down / measured), 3)


# --- Incidents and their clocks -------------------------------------------------------------------

IN_MAINTENANCE = "pendant une maintenance déclarée"
NOT_ACKNOWLEDGED = "non pris en compte"
MET, MISSED, RUNNING = "tenue", "dépassée", "en cours"


@dataclass
class IncidentClock:
    """One support-hours clock of an incident (GTI: to the acknowledgement; GTR: to the restoration).

    Met or missed is decided on instants, as ``overdue_filter`` does: the clock is missed when the event it waits
    for comes after ``due_at`` (or has not come by ``now``). The support time elapsed (``text``) can stay at its
    target while the instant passes the deadline: an incident still open when support hours close on the due
    time has its clock stopped at « 4 h / 4 h » but is not restored at the deadline.

    ``event``: what stops it (« prise en compte », « rétablissement »); ``exempt``: the incident opened inside
    a declared maintenance window, so the clock is shown but never missed; ``note``: a French remark shown
    beside it (« non pris en compte », « pendant une maintenance déclarée »)."""

    elapsed: timedelta
    target: timedelta
    due_at: datetime
    stopped_at: datetime | None
    exempt: bool = False
    note: str = ""
    event: str = ""
    now: datetime | None = None

    @property
    def overdue(self):
        if self.exempt:
            return False
        end = self.stopped_at or self.now or timezone.now()
        return end > self.due_at

    @property
    def running(self):
        return self.stopped_at is None

    @property
    def outcome(self):
        """« dépassée », « en cours », « tenue », or "" when the note says it all (maintenance, no ack)."""
        if self.overdue:
            return MISSED
        if self.running:
            return RUNNING
        return "" if self.note else MET

    @property
    def summary(self):
        """The instants behind the outcome, so that « tenue » and « dépassée » can be checked by the reader:
        « rétablissement le 07/11/2026 à 14:30, hors délai (échéance le 07/11/2026 à 13:00) »."""
        due = paris_datetime(self.due_at)
        if self.running:
            return f"pas de {self.event} à l'échéance du {due}" if self.overdue else f"échéance le {due}"
        stopped = f"{self.event} le {paris_datetime(self.stopped_at)}"
        if self.exempt:
            return f"{stopped} (échéance le {due})"
        return f"{stopped}, {'hors délai' if self.overdue else 'dans le délai'} (échéance le {due})"

    @property
    def text(self):
        elapsed = format_minutes(self.elapsed.total_seconds() // 60)
        return f"{elapsed} / {format_minutes(self.target.total_seconds() // 60)}"


def declared_window_at(drimbox_ref, instant_ref):
    """Declared (and by then not cancelled) maintenance windows of ``drimbox_ref`` covering ``instant_ref``,
    counted from their declaration (``max(starts_at, created_at)``); both may be ``OuterRef``."""
    return MaintenanceWindow.objects.filter(
        Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=instant_ref),
        drimbox=drimbox_ref, starts_at__lte=instant_ref, created_at__lte=instant_ref, ends_at__gt=instant_ref)


def with_maintenance_flag(queryset):
    """Incidents annotated with ``in_declared_maintenance`` (opened inside a declared window)."""
    return queryset.annotate(in_declared_maintenance=Exists(
        declared_window_at(OuterRef("drimbox_id"), OuterRef("opened_at"))))


def incident_clocks(incident, now=None):
    """Attach ``gti`` and ``gtr`` clocks (support hours, ``weather.clock.support_duration``) to an incident.

    GTI stops at the acknowledgement or, failing one, at the restoration (« non pris en compte »): a
    restored incident's clock never keeps running. An incident opened inside a declared maintenance window
    is never overdue (« pendant une maintenance déclarée »). Pass incidents from ``with_maintenance_flag``
    to avoid one query each."""
    from .clock import support_duration

    now = now or timezone.now()
    exempt = getattr(incident, "in_declared_maintenance", None)
    if exempt is None:
        exempt = declared_window_at(incident.drimbox_id, incident.opened_at).exists()
    stops = [t for t in (incident.acknowledged_at, incident.restored_at) if t is not None]
    gti_stop = min(stops) if stops else None
    unacknowledged = incident.restored_at is not None and (
        incident.acknowledged_at is None or incident.acknowledged_at > incident.restored_at)
    note = IN_MAINTENANCE if exempt else ""
    incident.gti = IncidentClock(support_duration(incident.opened_at, gti_stop or now), GTI,
                                 incident.gti_due_at, gti_stop, exempt,
                                 ", ".join(n for n in (NOT_ACKNOWLEDGED if unacknowledged else "", note) if n),
                                 "rétablissement sans prise en compte" if unacknowledged else "prise en compte", now)
    incident.gtr = IncidentClock(support_duration(incident.opened_at, incident.restored_at or now), GTR,
                                 incident.gtr_due_at, incident.restored_at, exempt, note, "rétablissement", now)
    return incident


def overdue_filter(kind, now):
    """Q of incidents whose GTI (``"gti"``) or GTR (``"gtr"``) deadline has passed without the event.

    GTI stops at min(acknowledgement, restoration); incidents opened inside a declared maintenance window
    are never overdue."""
    exempt = Exists(declared_window_at(OuterRef("drimbox_id"), OuterRef("opened_at")))
    if kind == "gti":
        due = F("gti_due_at")
        late = (Q(acknowledged_at__isnull=True, restored_at__isnull=True, gti_due_at__lt=now)
                | Q(acknowledged_at__isnull=True, restored_at__gt=due)
                | (Q(acknowledged_at__gt=due) & (Q(restored_at__isnull=True) | Q(restored_at__gt=due))))
    else:
        late = Q(restored_at__isnull=True, gtr_due_at__lt=now) | Q(restored_at__gt=F("gtr_due_at"))
    return late & ~exempt

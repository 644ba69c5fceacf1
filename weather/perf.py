"""Df and PERF per DRIMbox per reference period, under the measurement policy (DESIGN §8).

* **Df** is the time a DRIMbox spent DOWN during the period, derived from ``Transition`` rows: the status at
  the period start is the ``new_status`` of the last transition before it, then each transition inside the
  period changes it. Only DOWN counts: NO_DATA (the prober had nothing to say) never counts, nor DEGRADED.
* Declared maintenance windows (a cancelled window ends at its cancellation; a window counts only from its
  declaration, ``max(starts_at, created_at)``, so that a late declaration cannot hide an outage) are
  subtracted unless the
  policy says maintenance counts; with ``support_hours_only``, only the support-hour part of the downtime
  counts (``weather.clock``).
* The current period is measured up to now: the future is not downtime.
* **PERF** = 1 if Df ≤ 10 h, 0.5 if 10 h < Df ≤ 20 h, 0 if Df > 20 h (boundaries inclusive as written).
* The policy is the latest version whose ``effective_from`` is at or before the period start
  (``weather.policy.policy_for``); its reference period (month or quarter, Europe/Paris) sets the bounds.

``compute`` runs a fixed number of queries whatever the number of DRIMboxes (DRIMboxes with their initial
status, DOWN-related transitions, maintenance windows, and the policy when not given).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import BigIntegerField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from operators.models import Drimbox
from trustspace.errors import InvalidData

from .clock import PARIS, UTC, SupportTimeline, to_us
from .intervals import measure, normalize, subtract
from .models import MaintenanceWindow, MeasurementPolicy, ReferencePeriod, Transition, WeatherStatus

PERF_FULL_LIMIT = timedelta(hours=10)
PERF_HALF_LIMIT = timedelta(hours=20)
DOWN = WeatherStatus.DOWN.value
NO_DATA = WeatherStatus.NO_DATA.value
ZERO = timedelta(0)

MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")
_MONTH_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
_QUARTER_RE = re.compile(r"^\s*(\d{4})-[QqTt]([1-4])\s*$")


def perf_score(df: timedelta) -> Decimal:
    """PERF of a Df: 1 if Df ≤ 10 h, 0.5 if 10 h < Df ≤ 20 h, 0 if Df > 20 h."""
    if df <= PERF_FULL_LIMIT:
        return Decimal("1")
    if df <= PERF_HALF_LIMIT:
        return Decimal("0.5")
    return Decimal("0")


def format_duration(df: timedelta) -> str:
    """« h:mm » (hours may exceed 24; seconds are truncated)."""
    minutes = int(df.total_seconds()) // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


def format_perf(perf: Decimal) -> str:
    """French decimal comma: « 1 », « 0,5 », « 0 »."""
    return str(perf.normalize()).replace(".", ",")


@dataclass(frozen=True)
class Period:
    """A reference period: [start, end) as UTC instants of Paris calendar bounds."""

    kind: str  # ReferencePeriod value
    year: int
    index: int  # month 1-12, or quarter 1-4
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The value accepted back by ``parse_period`` (« 2025-03 », « 2025-T1 »)."""
        return f"{self.year}-{self.index:02d}" if self.kind == ReferencePeriod.MONTH else f"{self.year}-T{self.index}"

    @property
    def label(self) -> str:
        if self.kind == ReferencePeriod.MONTH:
            return f"{MONTHS_FR[self.index - 1]} {self.year}"
        ordinal = "1er" if self.index == 1 else f"{self.index}e"
        return f"{ordinal} trimestre {self.year}"


def _anchor(value) -> tuple[int, int]:
    """(year, first month) named by a period string or a date."""
    return _parse(value)[:2]


def _parse(value) -> tuple[int, int, str | None]:
    """(year, first month, kind asked: ``ReferencePeriod.QUARTER`` for « AAAA-Tn », else None)."""
    if isinstance(value, datetime):
        local = value.astimezone(PARIS) if value.tzinfo else value
        return local.year, local.month, None
    if isinstance(value, date):
        return value.year, value.month, None
    text = str(value or "")
    kind = None
    match = _MONTH_RE.match(text)
    if match:
        year, month = int(match[1]), int(match[2])
    else:
        match = _QUARTER_RE.match(text)
        if not match:
            raise InvalidData(f"Période « {text} » invalide : attendu AAAA-MM (par exemple 2025-03) ou AAAA-Tn.",
                              code="invalid_period")
        year, month, kind = int(match[1]), 3 * int(match[2]) - 2, ReferencePeriod.QUARTER
    if not 1 <= month <= 12 or not 2000 <= year <= 2999:
        raise InvalidData(f"Période « {text} » invalide : mois ou année hors limites.", code="invalid_period")
    return year, month, kind


def _check_kind(period, asked, policy):
    """A quarter asked under a monthly policy is refused (it would silently give its first month)."""
    if asked == ReferencePeriod.QUARTER and policy.reference_period != ReferencePeriod.QUARTER:
        raise InvalidData(f"Période « {str(period).strip()} » : un trimestre a été demandé, mais la politique "
                          f"de mesure v{policy.version} applicable mesure par mois civil ; demandez un mois (AAAA-MM).",
                          code="period_kind_mismatch")


def _paris_midnight(year: int, month: int) -> datetime:
    if month > 12:
        year, month = year + 1, month - 12
    return datetime(year, month, 1, tzinfo=PARIS).astimezone(UTC)


def period_bounds(period, policy: MeasurementPolicy | None = None) -> Period:
    """The reference period containing ``period`` (« AAAA-MM », « AAAA-Tn », a date) under ``policy``.

    Without a policy, the one applying to the named month is used. Under a quarterly policy a month names
    its quarter; under a monthly policy a quarter (« AAAA-Tn ») is refused (InvalidData).
    """
    year, month, asked = _parse(period)
    if policy is None:
        from .policy import policy_for

        policy = policy_for(_paris_midnight(year, month))
    _check_kind(period, asked, policy)
    if policy.reference_period == ReferencePeriod.QUARTER:
        quarter = (month - 1) // 3 + 1
        first = 3 * quarter - 2
        return Period(ReferencePeriod.QUARTER, year, quarter, _paris_midnight(year, first),
                      _paris_midnight(year, first + 3))
    return Period(ReferencePeriod.MONTH, year, month, _paris_midnight(year, month), _paris_midnight(year, month + 1))


def recent_periods(count: int = 24, now: datetime | None = None) -> list[str]:
    """Keys of the current and previous months, newest first (for period selectors)."""
    local = (now or timezone.now()).astimezone(PARIS)
    year, month = local.year, local.month
    keys = []
    for _ in range(count):
        keys.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys


@dataclass
class PerfRow:
    drimbox_id: int
    identifiant: int
    db_fqdn: str
    operator_id: int
    operator_name: str
    df: timedelta
    down_count: int
    policy_version: int

    @property
    def df_seconds(self) -> int:
        return int(self.df.total_seconds())

    @property
    def df_hhmm(self) -> str:
        return format_duration(self.df)

    @property
    def perf(self) -> Decimal:
        return perf_score(self.df)

    @property
    def perf_display(self) -> str:
        return format_perf(self.perf)


def summary(rows) -> dict[str, int]:
    """How many DRIMboxes of ``rows`` score PERF 1 (``full``), 0.5 (``half``) and 0 (``zero``)."""
    names = {Decimal("1"): "full", Decimal("0.5"): "half", Decimal("0"): "zero"}
    counts = {"full": 0, "half": 0, "zero": 0}
    for row in rows:
        counts[names[row.perf]] += 1
    return counts


@dataclass
class PerfReport:
    period: Period
    policy: MeasurementPolicy
    generated_at: datetime
    measured_until: datetime  # the period end, or now for the current period
    rows: list[PerfRow] = field(default_factory=list)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    @property
    def partial(self) -> bool:
        return self.measured_until < self.period.end


def _selection(period: Period, measured_until: datetime, operator, drimboxes) -> QuerySet:
    """The DRIMboxes reported: the given ones, else those the weather knew during the period — a probed
    status at its start other than « pas de données » (a DRIMbox DOWN all period long has no transition
    inside it), or a transition inside it. A DRIMbox activated after the period is not reported (whatever
    its status today)."""
    if drimboxes is not None:
        if isinstance(drimboxes, QuerySet):
            chosen = Drimbox.objects.filter(pk__in=drimboxes.values("pk"))
        else:
            chosen = Drimbox.objects.filter(pk__in=[getattr(d, "pk", d) for d in drimboxes])
        return chosen.annotate(probed_inside=Value(True))
    # Correlated EXISTS on the (drimbox, effective_at) index: far cheaper than « pk IN (all the month's rows) ».
    # The status at the start (``initial_status``, annotated by ``compute``) finishes the choice in Python:
    # repeating that subquery in WHERE would cost a third index probe per DRIMbox.
    probed = Transition.objects.filter(drimbox=OuterRef("pk"), effective_at__gte=period.start,
                                       effective_at__lt=measured_until)
    queryset = Drimbox.objects.annotate(probed_inside=Exists(probed))
    if operator is not None:
        queryset = queryset.filter(operator=operator)
    return queryset


# Instants are handled as integer microseconds since the epoch inside ``compute`` (``clock.to_us``): exact,
# and several times cheaper than building a datetime per transition row (10,000 DRIMboxes × 20 transitions).


def _epoch_us_sql(model, column):
    """SQL giving a datetime column as integer microseconds since the epoch, or None (then read datetimes)."""
    quote = connection.ops.quote_name
    ref = f"{quote(model._meta.db_table)}.{quote(column)}"
    if connection.vendor == "sqlite":
        # Django stores « YYYY-MM-DD HH:MM:SS[.ffffff] » in UTC. The fraction is cut before strftime, which
        # would round .999999 up to the next second; %% escapes the query's parameter style.
        # S611 is safe here: ``ref`` is our own table and column names, quoted by the backend; no input reaches it.
        return RawSQL(f"(CAST(strftime('%%s', substr({ref}, 1, 19)) AS INTEGER) * 1000000"  # noqa: S611
                      f" + CAST(substr({ref}, 21) AS INTEGER))", (), output_field=BigIntegerField())
    if connection.vendor == "postgresql":
        return RawSQL(f"(EXTRACT(EPOCH FROM {ref}) * 1000000)::bigint", (),  # noqa: S611 - same own identifiers
                      output_field=BigIntegerField())
    return None


def _transition_rows(queryset):
    """(drimbox_id, instant µs, new_status, id) of the DOWN-related transitions of ``queryset``.

    The compiled query runs on a plain cursor: Django's per-row converters would cost more than the query.
    """
    expression = _epoch_us_sql(Transition, "effective_at")
    if expression is None:
        return [(box, to_us(at), status, pk)
                for box, at, status, pk in queryset.values_list("drimbox_id", "effective_at", "new_status", "id")]
    sql, params = (queryset.annotate(at_us=expression).values_list("drimbox_id", "at_us", "new_status", "id")
                   .query.sql_with_params())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _down_intervals(initially_down, rows, start, end):
    """({drimbox_id: DOWN intervals (µs)}, {drimbox_id: number of times it went DOWN}) in one pass over
    time-ordered (drimbox_id, instant µs, new_status, id) rows; ``initially_down``: the DRIMboxes DOWN at ``start``."""
    down_since = dict.fromkeys(initially_down, start)
    intervals: dict[int, list] = {}
    counts: dict[int, int] = {}
    for drimbox_id, at, new_status, _pk in rows:
        if new_status == DOWN:
            if drimbox_id not in down_since:
                down_since[drimbox_id] = at
                counts[drimbox_id] = counts.get(drimbox_id, 0) + 1
        else:
            since = down_since.pop(drimbox_id, None)
            if since is not None and at > since:
                intervals.setdefault(drimbox_id, []).append((since, at))
    for drimbox_id, since in down_since.items():
        if end > since:
            intervals.setdefault(drimbox_id, []).append((since, end))
    return intervals, counts


def compute(period, policy: MeasurementPolicy | None = None, drimboxes=None, *, operator=None,
            now: datetime | None = None) -> PerfReport:
    """Df and PERF of each DRIMbox over ``period`` (see the module docstring), ordered by identifiant.

    ``drimboxes`` (a queryset or an iterable of DRIMboxes/pks) fixes the set; otherwise the DRIMboxes with a
    probed status at the period start (other than « pas de données ») or a transition inside the period are
    reported (``_selection``), restricted to ``operator`` when given.
    """
    generated_at = timezone.now()
    now = now or generated_at
    if isinstance(period, Period):
        bounds = period
        if policy is None:
            from .policy import policy_for

            policy = policy_for(bounds.start)
    else:
        if policy is None:
            from .policy import policy_for

            year, month = _anchor(period)
            policy = policy_for(_paris_midnight(year, month))
        bounds = period_bounds(period, policy)
    start = bounds.start
    measured_until = max(start, min(bounds.end, now))

    selection = _selection(bounds, measured_until, operator, drimboxes)
    last_before = (Transition.objects.filter(drimbox=OuterRef("pk"), effective_at__lt=start)
                   .order_by("-effective_at", "-id").values("new_status")[:1])
    boxes = list(selection.annotate(initial_status=Subquery(last_before))
                 .order_by("identifiant")
                 .values_list("pk", "identifiant", "db_fqdn", "operator_id", "operator__name", "initial_status",
                              "probed_inside"))
    # Known to the weather during the period: a transition inside it, or a probed status at its start.
    boxes = [box[:6] for box in boxes if box[6] or box[5] not in (None, NO_DATA)]

    start_us, end_us = to_us(start), to_us(measured_until)
    down: dict[int, list] = {}
    counts: dict[int, int] = {}
    windows: dict[int, list] = {}
    if boxes and measured_until > start:
        restricted = drimboxes is not None or operator is not None
        transitions = (Transition.objects.filter(effective_at__gte=start, effective_at__lt=measured_until)
                       # Only transitions into or out of DOWN move Df: the others need not be read.
                       .filter(Q(old_status=DOWN) | Q(new_status=DOWN))
                       # The order they happened and were recorded in; on SQLite the effective_at index already
                       # yields it (rowid is its last key).
                       .order_by("effective_at", "id"))
        if restricted:
            transitions = transitions.filter(drimbox__in=selection.values("pk"))
        initially_down = [box[0] for box in boxes if box[5] == DOWN]
        down, counts = _down_intervals(initially_down, _transition_rows(transitions), start_us, end_us)
        if not policy.maintenance_counts:
            declared = MaintenanceWindow.objects.filter(starts_at__lt=measured_until, ends_at__gt=start).order_by()
            if restricted:
                declared = declared.filter(drimbox__in=selection.values("pk"))
            for drimbox_id, lo, hi, cancelled_at, created_at in declared.values_list(
                    "drimbox_id", "starts_at", "ends_at", "cancelled_at", "created_at"):
                if cancelled_at is not None:
                    hi = min(hi, cancelled_at)
                lo = max(lo, created_at)  # a window counts only from its declaration: no retroactive excuse
                if hi > lo:
                    windows.setdefault(drimbox_id, []).append((to_us(lo), to_us(hi)))

    timeline = SupportTimeline(start, measured_until) if policy.support_hours_only else None
    rows = []
    for pk, identifiant, db_fqdn, operator_id, operator_name, _initial_status in boxes:
        intervals = down.get(pk, ())
        if intervals and pk in windows:
            intervals = subtract(intervals, normalize(windows[pk]))
        if timeline is not None:
            df_us = timeline.support_time_us(intervals)
        else:
            df_us = measure(intervals, zero=0)
        rows.append(PerfRow(pk, identifiant, db_fqdn, operator_id, operator_name, timedelta(microseconds=df_us),
                            counts.get(pk, 0), policy.version))
    return PerfReport(bounds, policy, generated_at, measured_until, rows)

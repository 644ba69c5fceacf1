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
status, the policy when not given, and the down time of each: ``weather.downtime``, in SQL on PostgreSQL).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from operators.models import Drimbox
from trustspace.errors import InvalidData

from .clock import PARIS, UTC, SupportTimeline
from .downtime import down_totals
from .models import MeasurementPolicy, ReferencePeriod, Transition, WeatherStatus

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
    # A transition inside the period is a last transition before its end at or after its start: one step back
    # on the (drimbox, effective_at, id) index per DRIMbox, where PostgreSQL would turn an EXISTS into a hash of
    # every row of the period. The status at the start (``initial_status``, annotated by ``compute``) finishes
    # the choice in Python: repeating that subquery in WHERE would cost a third index probe per DRIMbox.
    last_seen = (Transition.objects.filter(drimbox=OuterRef("pk"), effective_at__lt=measured_until)
                 .order_by("-effective_at").values("effective_at")[:1])
    queryset = Drimbox.objects.annotate(probed_inside=GreaterThanOrEqual(Subquery(last_seen), Value(period.start)))
    if operator is not None:
        queryset = queryset.filter(operator=operator)
    return queryset


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

    totals = {}
    if boxes and measured_until > start:
        restricted = drimboxes is not None or operator is not None
        totals = down_totals(start, measured_until, initially_down=[box[0] for box in boxes if box[5] == DOWN],
                             subtract_maintenance=not policy.maintenance_counts,
                             timeline=SupportTimeline(start, measured_until) if policy.support_hours_only else None,
                             drimboxes=[box[0] for box in boxes] if restricted else None)
    rows = []
    nothing = (ZERO, 0)
    for pk, identifiant, db_fqdn, operator_id, operator_name, _initial_status in boxes:
        df, down_count = totals.get(pk, nothing)
        rows.append(PerfRow(pk, identifiant, db_fqdn, operator_id, operator_name, df, down_count, policy.version))
    return PerfReport(bounds, policy, generated_at, measured_until, rows)

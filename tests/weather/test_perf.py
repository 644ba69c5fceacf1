"""Df and PERF computed from the database: periods, policies, maintenance, and a bounded number of queries."""
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operators.models import Drimbox, DrimboxStatus, HealthStructure
from trustspace.errors import InvalidData
from weather.clock import PARIS
from weather.intervals import normalize
from weather.models import MaintenanceWindow, MeasurementPolicy, Transition
from weather.perf import compute, format_duration, perf_score, period_bounds


def utc(*args):
    return datetime(*args, tzinfo=UTC)


H = timedelta(hours=1)
S = timedelta(seconds=1)
MARCH = "2025-03"
AFTER_MARCH = utc(2025, 6, 1)  # "now" for reports on March 2025

def paris(*args):
    return datetime(*args, tzinfo=PARIS)


def make_box(operator, identifiant, status=DrimboxStatus.ACTIVE):
    """A DRIMbox row written directly (the lifecycle is not under test here)."""
    structure, _ = HealthStructure.objects.get_or_create(siren="732829320", finess_geographique="",
                                                         defaults={"name": "Structure de test"})
    return Drimbox.objects.create(
        identifiant=identifiant, site_label=f"s{identifiant}", db_fqdn=f"db{identifiant}.test.example.fr",
        vi_fqdn=f"vi{identifiant}.test.example.fr", operator=operator, health_structure=structure,
        pacs=f"PACS {identifiant}", support_contact="support@example.fr", status=status)


def transitions(box, *changes):
    """Transition rows from (effective_at, new_status) pairs, old statuses chained from « no data »."""
    old = "no_data"
    rows = []
    for at, new in changes:
        rows.append(Transition(drimbox=box, old_status=old, new_status=new, effective_at=at))
        old = new
    Transition.objects.bulk_create(rows)


def policy(version=9, *, quarter=False, support_hours_only=False, maintenance_counts=False):
    return MeasurementPolicy(version=version, reference_period="quarter" if quarter else "month",
                             support_hours_only=support_hours_only, maintenance_counts=maintenance_counts,
                             effective_from=utc(2020, 1, 1))


def row_of(report, box):
    return next(row for row in report.rows if row.drimbox_id == box.pk)


@pytest.mark.parametrize("df, expected", [
    (timedelta(0), "1"), (10 * H, "1"), (10 * H + S, "0.5"), (10 * H + timedelta(microseconds=1), "0.5"),
    (20 * H, "0.5"), (20 * H + S, "0"), (300 * H, "0"),
])
def test_perf_score_boundaries(df, expected):
    assert str(perf_score(df)) == expected


def test_format_duration():
    assert format_duration(10 * H + 59 * S) == "10:00"
    assert format_duration(25 * H + 61 * S) == "25:01"


def test_month_bounds_are_paris_midnights_in_utc():
    bounds = period_bounds(MARCH, policy())
    assert (bounds.start, bounds.end) == (utc(2025, 2, 28, 23), utc(2025, 3, 31, 22))  # DST on 30 March
    assert bounds.key == "2025-03" and bounds.label == "mars 2025"
    october = period_bounds("2025-10", policy())
    assert (october.start, october.end) == (utc(2025, 9, 30, 22), utc(2025, 10, 31, 23))
    december = period_bounds("2025-12", policy())
    assert december.end == utc(2025, 12, 31, 23)


def test_quarter_bounds():
    bounds = period_bounds("2025-05", policy(quarter=True))
    assert (bounds.start, bounds.end) == (utc(2025, 3, 31, 22), utc(2025, 6, 30, 22))
    assert bounds.key == "2025-T2" and bounds.label == "2e trimestre 2025"
    assert period_bounds("2025-T2", policy(quarter=True)) == bounds


@pytest.mark.parametrize("bad", ["2025-13", "2025-00", "25-03", "mars", "", "2025-03-01", "1999-01", "2025-T5"])
def test_bad_periods_are_refused_in_french(bad):
    with pytest.raises(InvalidData) as caught:
        period_bounds(bad, policy())
    assert "Période" in caught.value.message and caught.value.code == "invalid_period"


@pytest.mark.django_db
class TestCompute:
    @pytest.fixture(autouse=True)
    def setup(self, world):
        self.w = world
        self.box = make_box(world.operator, 101)

    def df(self, box=None, pol=None, period=MARCH, now=AFTER_MARCH):
        return row_of(compute(period, pol or policy(), now=now), box or self.box).df

    @pytest.mark.parametrize("duration, perf", [(10 * H, "1"), (10 * H + S, "0.5"), (20 * H, "0.5"),
                                                (20 * H + S, "0")])
    def test_df_at_the_perf_boundaries(self, duration, perf):
        start = utc(2025, 3, 10, 8)
        transitions(self.box, (utc(2025, 3, 1), "operational"), (start, "down"), (start + duration, "operational"))
        row = row_of(compute(MARCH, policy(), now=AFTER_MARCH), self.box)
        assert row.df == duration
        assert str(row.perf) == perf
        assert row.down_count == 1 and row.policy_version == 9
        assert row.df_seconds == int(duration.total_seconds())

    def test_no_data_and_degraded_never_count(self):
        transitions(self.box, (utc(2025, 3, 2), "operational"), (utc(2025, 3, 3), "down"),
                    (utc(2025, 3, 3, 2), "no_data"), (utc(2025, 3, 5), "degraded"), (utc(2025, 3, 6), "operational"))
        assert self.df() == 2 * H

    def test_status_at_period_start_comes_from_the_previous_transition(self):
        transitions(self.box, (utc(2025, 2, 20), "operational"), (utc(2025, 2, 28, 20), "down"),
                    (utc(2025, 3, 1, 4), "operational"))
        assert self.df() == 5 * H  # from 1 March 00:00 Paris (23:00 UTC) only
        assert row_of(compute(MARCH, policy(), now=AFTER_MARCH), self.box).down_count == 0
        assert self.df(period="2025-02") == 3 * H

    def test_still_down_at_period_end(self):
        transitions(self.box, (utc(2025, 3, 31, 12), "down"), (utc(2025, 4, 2), "operational"))
        assert self.df() == 10 * H  # up to 31 March 24:00 Paris = 22:00 UTC

    def test_current_period_is_measured_up_to_now(self):
        transitions(self.box, (utc(2025, 3, 10, 8), "down"))
        report = compute(MARCH, policy(), now=utc(2025, 3, 10, 13))
        assert row_of(report, self.box).df == 5 * H
        assert report.partial and report.measured_until == utc(2025, 3, 10, 13)
        future = compute("2025-04", policy(), now=utc(2025, 3, 10, 13))
        assert row_of(future, self.box).df == timedelta(0)

    def test_maintenance_excluded_or_counted_with_overlapping_windows(self):
        transitions(self.box, (utc(2025, 3, 1), "operational"), (utc(2025, 3, 10, 8), "down"),
                    (utc(2025, 3, 10, 20), "operational"))
        for lo, hi, cancelled in [(utc(2025, 3, 10, 9), utc(2025, 3, 10, 12), None),
                                  (utc(2025, 3, 10, 11), utc(2025, 3, 10, 14), None),  # overlaps the first
                                  (utc(2025, 3, 10, 16), utc(2025, 3, 10, 23), utc(2025, 3, 10, 18))]:
            MaintenanceWindow.objects.create(drimbox=self.box, starts_at=lo, ends_at=hi, reason="Mise à jour",
                                             declared_by=self.w.technical, cancelled_at=cancelled,
                                             created_at=lo - timedelta(days=1))
        assert self.df(pol=policy(maintenance_counts=True)) == 12 * H
        assert self.df(pol=policy(maintenance_counts=False)) == 12 * H - 5 * H - 2 * H

    def test_support_hours_only(self):
        # Down from Saturday 8 March 12:00 Paris to Monday 10 March 10:00 Paris: 1 h + 1 h of support time.
        transitions(self.box, (utc(2025, 3, 1), "operational"), (paris(2025, 3, 8, 12), "down"),
                    (paris(2025, 3, 10, 10), "operational"))
        assert self.df(pol=policy(support_hours_only=True)) == 2 * H
        assert self.df(pol=policy(support_hours_only=False)) == 46 * H

    def test_support_hours_and_maintenance_together(self):
        transitions(self.box, (utc(2025, 3, 1), "operational"), (paris(2025, 3, 11, 8), "down"),
                    (paris(2025, 3, 11, 20), "operational"))
        MaintenanceWindow.objects.create(drimbox=self.box, starts_at=paris(2025, 3, 11, 12),
                                         ends_at=paris(2025, 3, 11, 14), reason="Mise à jour",
                                         declared_by=self.w.technical, created_at=paris(2025, 3, 10, 12))
        assert self.df(pol=policy(support_hours_only=True)) == 8 * H
        assert self.df(pol=policy(support_hours_only=True, maintenance_counts=True)) == 10 * H

    def test_the_policy_in_force_at_the_period_start_is_used(self):
        MeasurementPolicy.objects.create(version=2, reference_period="month", support_hours_only=True,
                                         maintenance_counts=False, effective_from=paris(2025, 4, 1))
        transitions(self.box, (paris(2025, 3, 29, 12), "down"), (paris(2025, 4, 1, 11), "operational"))
        march = compute(MARCH, now=AFTER_MARCH)
        april = compute("2025-04", now=AFTER_MARCH)
        assert march.policy.version == 1 and row_of(march, self.box).policy_version == 1
        # All hours, in UTC instants: 59 h (a Paris wall-clock subtraction across the DST change would say 60 h).
        assert row_of(march, self.box).df == 59 * H
        assert april.policy.version == 2 and row_of(april, self.box).df == 2 * H  # 9:00–11:00 support hours

    def test_selection_active_or_probed_and_operator_scope(self):
        declared = make_box(self.w.operator, 102, DrimboxStatus.DECLARED)
        withdrawn = make_box(self.w.operator, 103, DrimboxStatus.WITHDRAWN)
        other = make_box(self.w.other_operator, 104)
        transitions(self.box, (utc(2025, 2, 1), "operational"))
        transitions(other, (utc(2025, 2, 1), "operational"))
        transitions(withdrawn, (utc(2025, 3, 3), "down"), (utc(2025, 3, 3, 1), "no_data"))
        report = compute(MARCH, policy(), now=AFTER_MARCH)
        assert [row.identifiant for row in report] == [101, 103, 104]
        assert row_of(report, withdrawn).df == H
        by_operator = compute(MARCH, policy(), operator=self.w.operator, now=AFTER_MARCH)
        assert [r.identifiant for r in by_operator] == [101, 103]
        assert [r.identifiant for r in compute(MARCH, policy(), drimboxes=[declared], now=AFTER_MARCH)] == [102]
        assert row_of(report, other).operator_name == "Opérateur B"

    def test_selection_follows_the_status_at_the_period_start_not_today(self):
        transitions(self.box, (utc(2025, 2, 1), "operational"))
        later = make_box(self.w.operator, 105)  # ACTIVE today, but activated (first probed) after March
        transitions(later, (utc(2025, 4, 10), "operational"))
        down_all_along = make_box(self.w.operator, 106)  # DOWN since February, no transition in March
        transitions(down_all_along, (utc(2025, 2, 1), "operational"), (utc(2025, 2, 20), "down"))
        gone = make_box(self.w.operator, 107, DrimboxStatus.WITHDRAWN)  # left before March (no data since)
        transitions(gone, (utc(2025, 1, 1), "operational"), (utc(2025, 2, 1), "no_data"))
        report = compute(MARCH, policy(), now=AFTER_MARCH)
        assert [row.identifiant for row in report] == [101, 106]
        bounds = period_bounds(MARCH, policy())
        assert row_of(report, down_all_along).df == bounds.end - bounds.start
        assert row_of(report, down_all_along).perf == 0
        assert [r.identifiant for r in compute("2025-04", policy(), now=AFTER_MARCH)] == [101, 105, 106]

    def test_a_retroactive_maintenance_window_does_not_hide_an_outage(self):
        transitions(self.box, (utc(2025, 3, 1), "operational"), (utc(2025, 3, 10, 8), "down"),
                    (utc(2025, 3, 10, 20), "operational"))
        # Declared at 18:00 for 06:00–22:00: only 18:00–20:00 of the outage is excused.
        MaintenanceWindow.objects.create(drimbox=self.box, starts_at=utc(2025, 3, 10, 6),
                                         ends_at=utc(2025, 3, 10, 22), reason="Après coup",
                                         declared_by=self.w.technical, created_at=utc(2025, 3, 10, 18))
        assert self.df(pol=policy(maintenance_counts=False)) == 10 * H
        assert self.df(pol=policy(maintenance_counts=True)) == 12 * H

    def test_a_quarter_under_a_monthly_policy_is_refused(self):
        transitions(self.box, (utc(2025, 2, 1), "operational"))
        with pytest.raises(InvalidData) as caught:
            compute("2025-T1", policy(), now=AFTER_MARCH)
        assert caught.value.code == "period_kind_mismatch" and "trimestre" in caught.value.message
        with pytest.raises(InvalidData):
            compute("2025-T1", now=AFTER_MARCH)  # v1 (migration): monthly
        with pytest.raises(InvalidData):
            period_bounds("2025-T1", policy())
        assert compute("2025-T1", policy(quarter=True), now=AFTER_MARCH).period.key == "2025-T1"

    def test_query_count_does_not_grow_with_drimboxes(self):
        def queries():
            with CaptureQueriesContext(connection) as captured:
                report = compute(MARCH, now=AFTER_MARCH)
            return len(captured), len(report)

        transitions(self.box, (utc(2025, 3, 3), "down"), (utc(2025, 3, 3, 1), "operational"))
        small = queries()
        for n in range(200, 215):
            box = make_box(self.w.operator, n)
            transitions(box, (utc(2025, 3, 3), "down"), (utc(2025, 3, 3, 1), "operational"))
            MaintenanceWindow.objects.create(drimbox=box, starts_at=utc(2025, 3, 3), ends_at=utc(2025, 3, 3, 1),
                                             reason="x", declared_by=self.w.technical, created_at=utc(2025, 3, 1))
        large = queries()
        assert small[1] == 1 and large[1] == 16
        assert small[0] == large[0] <= 4


# Property: Df over adjacent periods adds up to Df over their union (three months = their quarter).
moments = st.integers(min_value=0, max_value=91 * 24 * 60).map(lambda m: utc(2024, 12, 31, 23) + timedelta(minutes=m))
statuses = st.sampled_from(["operational", "down", "degraded", "no_data"])


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(moments, statuses), max_size=12),
       windows=st.lists(st.tuples(moments, st.integers(1, 3000)), max_size=3),
       support_hours_only=st.booleans(), maintenance_counts=st.booleans())
def test_df_is_additive_over_adjacent_periods(world, changes, windows, support_hours_only, maintenance_counts):
    Transition.objects.all().delete()
    MaintenanceWindow.objects.all().delete()
    box = Drimbox.objects.filter(identifiant=1).first() or make_box(world.operator, 1)
    previous = "no_data"
    rows = []
    for at, new in sorted(changes, key=lambda c: c[0]):
        if new != previous:
            rows.append(Transition(drimbox=box, old_status=previous, new_status=new, effective_at=at))
            previous = new
    Transition.objects.bulk_create(rows)
    for at, minutes in windows:
        MaintenanceWindow.objects.create(drimbox=box, starts_at=at, ends_at=at + timedelta(minutes=minutes),
                                         reason="x", declared_by=world.technical, created_at=at - timedelta(days=1))
    flags = {"support_hours_only": support_hours_only, "maintenance_counts": maintenance_counts}
    months = [row_of(compute(f"2025-{m:02d}", policy(**flags), [box], now=AFTER_MARCH), box).df for m in (1, 2, 3)]
    quarter = row_of(compute("2025-T1", policy(quarter=True, **flags), [box], now=AFTER_MARCH), box).df
    assert sum(months, timedelta(0)) == quarter


@settings(max_examples=100, deadline=None)
@given(raw=st.lists(st.tuples(moments, st.integers(0, 5 * 24 * 60)), max_size=6))
def test_report_timeline_matches_the_clock(raw):
    from weather.clock import SupportTimeline, support_duration

    start, end = utc(2024, 12, 31, 23), utc(2025, 3, 31, 22)
    clipped = [(max(at, start), min(at + timedelta(minutes=m), end)) for at, m in raw]
    intervals = normalize((lo, hi) for lo, hi in clipped if lo < hi)
    expected = sum((support_duration(lo, hi) for lo, hi in intervals), timedelta(0))
    clock = SupportTimeline(start, end).utc_clock()  # on naive UTC instants
    got = sum((clock(hi.replace(tzinfo=None)) - clock(lo.replace(tzinfo=None)) for lo, hi in intervals), timedelta(0))
    assert got == expected


@pytest.mark.django_db
def test_database_instants_are_read_exactly(world):
    from weather.downtime import read_down_rows

    box = make_box(world.operator, 7)
    instants = [utc(2025, 3, 1, 0, 0, 0), utc(2025, 3, 1, 0, 0, 0, 1), utc(2025, 3, 9, 12, 34, 56, 999999)]
    transitions(box, *[(at, status) for at, status in zip(instants, ["down", "operational", "down"], strict=True)])
    rows, parse = read_down_rows(utc(2025, 3, 1), utc(2025, 4, 1))
    assert [(r[0], parse(r[1]), bool(r[2])) for r in rows] == [
        (box.pk, at.replace(tzinfo=None), status == "down")
        for at, status in zip(instants, ["down", "operational", "down"], strict=True)]

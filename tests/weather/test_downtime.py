"""Down time per DRIMbox (``weather.downtime``): the Python pass (SQLite) and the SQL of PostgreSQL give, to the
microsecond, what a plain reference written from the rule gives — on any transitions, consistent or not, with
ties, overlapping, cancelled and late maintenance windows, support hours across a weekend and a DST change."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operators.models import Drimbox
from weather.clock import PARIS, SupportTimeline, support_duration
from weather.downtime import down_totals
from weather.intervals import normalize, subtract
from weather.models import MaintenanceWindow, Transition

from .test_perf import make_box

DOWN = "down"
STATUSES = ["operational", "down", "degraded", "no_data"]
# Friday 28 March 2025 to Wednesday 2 April, Paris: a Saturday morning, a Sunday, the change to summer time.
START = datetime(2025, 3, 28, tzinfo=PARIS).astimezone(UTC)
END = datetime(2025, 4, 2, tzinfo=PARIS).astimezone(UTC)
BOXES = 3

# Instants on a coarse grid (ties are frequent), from two days before the window to one day after it, some with
# microseconds; a transition is (DRIMbox, instant, old status, new status), old and new differing.
instants = st.builds(lambda quarter_hours, micro: START + timedelta(minutes=15 * quarter_hours, microseconds=micro),
                     st.integers(-2 * 96, 6 * 96), st.sampled_from([0, 0, 0, 1, 999_999]))
transitions = st.tuples(st.integers(0, BOXES - 1), instants, st.sampled_from(STATUSES), st.sampled_from(STATUSES)
                        ).filter(lambda row: row[2] != row[3])
# A window: (DRIMbox, start, length in minutes, cancelled after some minutes or not, declared how long before).
windows = st.tuples(st.integers(0, BOXES - 1), instants, st.integers(1, 36 * 60),
                    st.none() | st.integers(0, 36 * 60), st.integers(-24 * 60, 3 * 24 * 60))


def reference(rows, declared, boxes, *, subtract_maintenance, support):
    """The rule as written (DESIGN §8), slowly, on aware datetimes: {DRIMbox: (down time, times it went DOWN)}."""
    result = {}
    for box in boxes:
        mine = sorted((row for row in rows if row.drimbox_id == box.pk), key=lambda row: (row.effective_at, row.pk))
        before = [row for row in mine if row.effective_at < START]
        since = START if before and before[-1].new_status == DOWN else None
        count, stretches = 0, []
        for row in mine:
            if not START <= row.effective_at < END or DOWN not in (row.old_status, row.new_status):
                continue
            if row.new_status == DOWN:
                if since is None:
                    since, count = row.effective_at, count + 1
            elif since is not None:
                if row.effective_at > since:
                    stretches.append((since, row.effective_at))
                since = None
        if since is not None:
            stretches.append((since, END))
        if subtract_maintenance:
            excuses = [(max(w.starts_at, w.created_at), min(w.ends_at, w.cancelled_at or w.ends_at))
                       for w in declared if w.drimbox_id == box.pk]
            stretches = subtract(stretches, normalize(excuses))
        down = sum(((support_duration(lo, hi) if support else hi - lo) for lo, hi in stretches), timedelta(0))
        if down or count:
            result[box.pk] = (down, count)
    return result


def load(world, raw_transitions, raw_windows):
    Transition.objects.all().delete()
    MaintenanceWindow.objects.all().delete()
    boxes = [Drimbox.objects.filter(identifiant=900 + n).first() or make_box(world.operator, 900 + n)
             for n in range(BOXES)]
    Transition.objects.bulk_create([Transition(drimbox=boxes[box], effective_at=at, old_status=old, new_status=new)
                                    for box, at, old, new in raw_transitions])
    MaintenanceWindow.objects.bulk_create([
        MaintenanceWindow(drimbox=boxes[box], starts_at=lo, ends_at=lo + timedelta(minutes=minutes),
                          cancelled_at=None if cancel is None else lo + timedelta(minutes=cancel),
                          created_at=lo - timedelta(minutes=ahead), reason="x", declared_by=world.technical)
        for box, lo, minutes, cancel, ahead in raw_windows])
    return boxes, list(Transition.objects.all()), list(MaintenanceWindow.objects.all())


def initially_down(rows):
    """The DRIMboxes whose last transition before the window (in (effective_at, id) order) went DOWN."""
    last = {}
    for row in sorted((row for row in rows if row.effective_at < START), key=lambda row: (row.effective_at, row.pk)):
        last[row.drimbox_id] = row.new_status
    return [box for box, status in last.items() if status == DOWN]


def check_against_reference(world, raw_transitions, raw_windows, subtract_maintenance, support, some, in_sql_too):
    boxes, rows, declared = load(world, raw_transitions, raw_windows)
    chosen = boxes[:2] if some else boxes
    timeline = SupportTimeline(START, END) if support else None
    expected = reference(rows, declared, chosen, subtract_maintenance=subtract_maintenance, support=support)
    pks = [box.pk for box in chosen]
    for in_sql in ([False, True] if in_sql_too else [False]):
        got = down_totals(START, END, initially_down=[box for box in initially_down(rows) if box in pks],
                          subtract_maintenance=subtract_maintenance, timeline=timeline,
                          drimboxes=pks if some else None, in_sql=in_sql)
        assert got == expected, f"in_sql={in_sql}"


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
data = {"raw_transitions": st.lists(transitions, max_size=30), "raw_windows": st.lists(windows, max_size=5),
        "subtract_maintenance": st.booleans(), "support": st.booleans(), "some": st.booleans()}


@pytest.mark.django_db
@common
@given(**data)
def test_the_python_pass_follows_the_rule(world, raw_transitions, raw_windows, subtract_maintenance, support, some):
    check_against_reference(world, raw_transitions, raw_windows, subtract_maintenance, support, some, False)


@pytest.mark.postgresql
@pytest.mark.django_db
@common
@given(**data)
def test_postgresql_sql_and_python_pass_agree_with_the_rule(world, raw_transitions, raw_windows,
                                                           subtract_maintenance, support, some):
    check_against_reference(world, raw_transitions, raw_windows, subtract_maintenance, support, some, True)


@pytest.mark.django_db
def test_a_down_stretch_across_the_window_and_two_windows_over_it(world):
    """A worked example: DOWN before the window until Monday 31 March 12:00 Paris, maintenance 8:00–9:00 and
    8:30–10:00 (one island), another from 11:00 declared at 11:30."""
    box = make_box(world.operator, 950)
    paris = lambda *args: datetime(2025, *args, tzinfo=PARIS)  # noqa: E731
    Transition.objects.bulk_create([
        Transition(drimbox=box, effective_at=paris(3, 27, 12), old_status="operational", new_status=DOWN),
        Transition(drimbox=box, effective_at=paris(3, 31, 12), old_status=DOWN, new_status="operational")])
    for lo, hi, declared in [((3, 31, 8), (3, 31, 9), (3, 30, 8)), ((3, 31, 8, 30), (3, 31, 10), (3, 30, 8)),
                             ((3, 31, 11), (3, 31, 13), (3, 31, 11, 30))]:
        MaintenanceWindow.objects.create(drimbox=box, starts_at=paris(*lo), ends_at=paris(*hi), reason="x",
                                         created_at=paris(*declared), declared_by=world.technical)
    # 28 March 00:00 → 31 March 12:00 Paris is 83 h of instants (the night of the 30th lost an hour), minus 2 h
    # and 30 min of maintenance; support time: Friday 10 h, Saturday 4 h, Monday 9:00–12:00 less 1 h + 30 min.
    all_hours = down_totals(START, END, initially_down=[box.pk], subtract_maintenance=True, timeline=None)
    assert all_hours == {box.pk: (timedelta(hours=83) - timedelta(hours=2, minutes=30), 0)}
    support = down_totals(START, END, initially_down=[box.pk], subtract_maintenance=True,
                          timeline=SupportTimeline(START, END))
    assert support == {box.pk: (timedelta(hours=10 + 4 + 3 - 1.5), 0)}

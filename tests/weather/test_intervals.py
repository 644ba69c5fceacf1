"""Half-open intervals and status timelines, the base of downtime (weather.intervals)."""
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from weather.intervals import measure, normalize, status_intervals, subtract


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- intervals -----------------------------------------------------------------------------------------------

def test_status_intervals_cover_the_window():
    start, end = utc(2025, 3, 1), utc(2025, 4, 1)
    transitions = [
        (utc(2025, 2, 20), "down"),          # before the window: sets the initial status
        (utc(2025, 3, 2), "operational"),
        (utc(2025, 3, 10), "down"),
        (utc(2025, 3, 10, 2), "no_data"),
        (utc(2025, 3, 11), "operational"),
        (utc(2025, 4, 1), "down"),           # at the end: ignored
    ]
    timeline = status_intervals(transitions, start, end, "operational")
    assert timeline == [
        (start, utc(2025, 3, 2), "down"),
        (utc(2025, 3, 2), utc(2025, 3, 10), "operational"),
        (utc(2025, 3, 10), utc(2025, 3, 10, 2), "down"),
        (utc(2025, 3, 10, 2), utc(2025, 3, 11), "no_data"),
        (utc(2025, 3, 11), end, "operational"),
    ]
    assert measure((lo, hi) for lo, hi, _ in timeline) == end - start


def test_status_intervals_merge_and_accept_rows():
    class Row:
        def __init__(self, at, status):
            self.effective_at, self.new_status = at, status

    start, end = utc(2025, 3, 1), utc(2025, 3, 2)
    rows = [Row(utc(2025, 3, 1, 5), "degraded"), Row(utc(2025, 3, 1, 5), "down"), Row(utc(2025, 3, 1, 6), "down")]
    assert status_intervals(rows, start, end, "operational") == [
        (start, utc(2025, 3, 1, 5), "operational"), (utc(2025, 3, 1, 5), end, "down")]
    assert status_intervals([], start, end, "no_data") == [(start, end, "no_data")]
    assert status_intervals([], end, start, "no_data") == []


def test_overlapping_intervals_are_merged_then_subtracted():
    maintenance = normalize([(utc(2025, 3, 1, 10), utc(2025, 3, 1, 14)), (utc(2025, 3, 1, 12), utc(2025, 3, 1, 16)),
                             (utc(2025, 3, 1, 9), utc(2025, 3, 1, 9))])
    assert maintenance == [(utc(2025, 3, 1, 10), utc(2025, 3, 1, 16))]
    down = [(utc(2025, 3, 1, 8), utc(2025, 3, 1, 11)), (utc(2025, 3, 1, 15), utc(2025, 3, 1, 18))]
    assert subtract(down, maintenance) == [(utc(2025, 3, 1, 8), utc(2025, 3, 1, 10)),
                                           (utc(2025, 3, 1, 16), utc(2025, 3, 1, 18))]
    assert measure(subtract(down, maintenance)) == timedelta(hours=4)


# Property tests against a brute-force model on integer unit cells.
raw_intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=8)


def cells(intervals):
    return {x for lo, hi in intervals for x in range(lo, hi)}


@settings(max_examples=300, deadline=None)
@given(a=raw_intervals, b=raw_intervals)
def test_interval_subtraction_matches_sets(a, b):
    a, b = normalize(a), normalize(b)
    assert cells(subtract(a, b)) == cells(a) - cells(b)
    assert subtract(a, b) == normalize(subtract(a, b))  # sorted, disjoint, non-empty
    assert measure(subtract(a, b), zero=0) == len(cells(a) - cells(b))

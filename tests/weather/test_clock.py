"""Support-hours clock: DST weekends, French public holidays, the Saturday 13:00 boundary, additivity."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weather.clock import PARIS, SupportTimeline, day_interval, support_add, support_duration, support_intervals

H = timedelta(hours=1)
M = timedelta(minutes=1)


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- opening hours -------------------------------------------------------------------------------------------

def test_a_plain_week_has_54_support_hours():
    # 2025-03-03 is a Monday without any holiday that week: 5 × 10 h + 4 h on Saturday.
    assert support_duration(paris(2025, 3, 3), paris(2025, 3, 10)) == 54 * H


def test_weekday_and_saturday_windows():
    assert support_duration(paris(2025, 3, 4, 8), paris(2025, 3, 4, 20)) == 10 * H
    assert support_duration(paris(2025, 3, 8, 8), paris(2025, 3, 8, 20)) == 4 * H  # Saturday
    assert support_duration(paris(2025, 3, 9, 0), paris(2025, 3, 10, 0)) == timedelta(0)  # Sunday


def test_results_are_utc_and_inputs_may_use_any_zone():
    due = support_add(paris(2025, 3, 4, 10), 30 * M)
    assert due.utcoffset() == timedelta(0)
    assert due == utc(2025, 3, 4, 9, 30)
    assert support_duration(utc(2025, 3, 4, 8), utc(2025, 3, 4, 9)) == H  # 9:00–10:00 Paris


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        support_duration(datetime(2025, 3, 4, 10), paris(2025, 3, 4, 11))
    with pytest.raises(ValueError):
        support_add(datetime(2025, 3, 4, 10), H)
    with pytest.raises(ValueError):
        list(support_intervals(paris(2025, 3, 4, 10), datetime(2025, 3, 5)))
    with pytest.raises(ValueError):
        support_add(paris(2025, 3, 4, 10), -H)


def test_reversed_or_empty_ranges_measure_zero():
    assert support_duration(paris(2025, 3, 4, 12), paris(2025, 3, 4, 11)) == timedelta(0)
    assert list(support_intervals(paris(2025, 3, 4, 12), paris(2025, 3, 4, 12))) == []
    assert support_add(paris(2025, 3, 9, 12), timedelta(0)) == paris(2025, 3, 9, 12)


def test_intervals_are_clipped_to_the_range():
    intervals = list(support_intervals(paris(2025, 3, 7, 18), paris(2025, 3, 10, 10)))
    assert intervals == [
        (utc(2025, 3, 7, 17), utc(2025, 3, 7, 18)),   # Friday 18:00–19:00 Paris (UTC+1)
        (utc(2025, 3, 8, 8), utc(2025, 3, 8, 12)),    # Saturday 9:00–13:00
        (utc(2025, 3, 10, 8), utc(2025, 3, 10, 9)),   # Monday 9:00–10:00
    ]


# --- Saturday 13:00 boundary ---------------------------------------------------------------------------------

def test_deadline_exactly_at_saturday_closing_stays_on_saturday():
    assert support_add(paris(2025, 3, 8, 12, 30), 30 * M) == paris(2025, 3, 8, 13)


def test_one_minute_later_the_deadline_moves_to_monday():
    assert support_add(paris(2025, 3, 8, 12, 31), 30 * M) == paris(2025, 3, 10, 9, 1)


def test_nothing_counts_from_saturday_13_to_monday_9():
    assert support_duration(paris(2025, 3, 8, 13), paris(2025, 3, 10, 9)) == timedelta(0)
    assert support_duration(paris(2025, 3, 8, 12, 59), paris(2025, 3, 10, 9, 1)) == 2 * M


def test_starting_outside_support_hours_counts_from_the_next_opening():
    assert support_add(paris(2025, 3, 9, 15), 30 * M) == paris(2025, 3, 10, 9, 30)  # Sunday
    assert support_add(paris(2025, 3, 4, 6), 4 * H) == paris(2025, 3, 4, 13)  # before opening
    assert support_add(paris(2025, 3, 4, 19), 30 * M) == paris(2025, 3, 5, 9, 30)  # at closing


def test_gtr_over_a_weekend():
    # Friday 17:00 + 4 h: 2 h on Friday, 2 h on Saturday morning.
    assert support_add(paris(2025, 3, 7, 17), 4 * H) == paris(2025, 3, 8, 11)


# --- DST weekends --------------------------------------------------------------------------------------------

def test_spring_forward_weekend():
    # 2025-03-30 (last Sunday of March): Paris goes from UTC+1 to UTC+2.
    assert day_interval(paris(2025, 3, 29).date()) == (utc(2025, 3, 29, 8), utc(2025, 3, 29, 12))
    assert day_interval(paris(2025, 3, 31).date()) == (utc(2025, 3, 31, 7), utc(2025, 3, 31, 17))
    # Saturday 12:45 + 4 h: 15 min on Saturday, then Monday 9:00 CEST + 3 h 45.
    assert support_add(paris(2025, 3, 29, 12, 45), 4 * H) == utc(2025, 3, 31, 10, 45)
    assert support_duration(paris(2025, 3, 28, 18), paris(2025, 3, 31, 10)) == 6 * H


def test_fall_back_weekend():
    # 2025-10-26 (last Sunday of October): Paris goes from UTC+2 to UTC+1.
    assert day_interval(paris(2025, 10, 25).date()) == (utc(2025, 10, 25, 7), utc(2025, 10, 25, 11))
    assert day_interval(paris(2025, 10, 27).date()) == (utc(2025, 10, 27, 8), utc(2025, 10, 27, 18))
    assert support_add(paris(2025, 10, 25, 12, 45), 4 * H) == utc(2025, 10, 27, 11, 45)
    assert support_duration(paris(2025, 10, 24, 18), paris(2025, 10, 27, 10)) == 6 * H


def test_dst_weeks_still_have_54_hours():
    assert support_duration(paris(2025, 3, 24), paris(2025, 3, 31)) == 54 * H
    assert support_duration(paris(2025, 3, 31), paris(2025, 4, 7)) == 54 * H
    assert support_duration(paris(2025, 10, 20), paris(2025, 10, 27)) == 54 * H


# --- French public holidays ----------------------------------------------------------------------------------

@pytest.mark.parametrize("holiday", [
    (2025, 7, 14),   # Fête nationale (Monday)
    (2025, 4, 21),   # Easter Monday
    (2025, 5, 29),   # Ascension (Thursday)
    (2025, 5, 1),    # 1 May (Thursday)
    (2025, 12, 25),  # Christmas (Thursday)
    (2026, 7, 14),   # a Tuesday: a different year, cached separately
])
def test_public_holidays_are_closed(holiday):
    assert day_interval(paris(*holiday).date()) is None
    assert support_duration(paris(*holiday), paris(*holiday) + timedelta(days=1)) == timedelta(0)


def test_deadline_skips_sunday_and_the_14_july_monday():
    # Saturday 12 July 2025 12:00 + 4 h: 1 h on Saturday, Sunday closed, Monday 14 July closed, Tuesday 9:00 + 3 h.
    assert support_add(paris(2025, 7, 12, 12), 4 * H) == paris(2025, 7, 15, 12)


def test_ascension_thursday_is_skipped():
    assert support_add(paris(2025, 5, 28, 18, 45), 30 * M) == paris(2025, 5, 30, 9, 15)
    assert support_duration(paris(2025, 5, 26), paris(2025, 6, 2)) == 44 * H


def test_easter_monday_week():
    assert support_duration(paris(2025, 4, 21), paris(2025, 4, 28)) == 44 * H


# --- property-based ------------------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


@settings(max_examples=200, deadline=None)
@given(a=instants, b=instants, c=instants)
def test_support_duration_is_additive(a, b, c):
    a, b, c = sorted((a, b, c))
    assert support_duration(a, c) == support_duration(a, b) + support_duration(b, c)


@settings(max_examples=200, deadline=None)
@given(start=instants, duration=durations)
def test_support_add_inverts_support_duration(start, duration):
    due = support_add(start, duration)
    assert due >= start
    assert support_duration(start, due) == duration
    if duration:
        # The earliest such instant: a microsecond earlier is not enough.
        assert support_duration(start, due - timedelta(microseconds=1)) < duration


@settings(max_examples=100, deadline=None)
@given(a=instants, b=instants)
def test_timeline_matches_support_duration(a, b):
    a, b = sorted((a, b))
    timeline = SupportTimeline(utc(2024, 1, 1), utc(2028, 1, 1))
    assert timeline.duration(a, b) == support_duration(a, b)


def test_timeline_clamps_to_its_window():
    timeline = SupportTimeline(paris(2025, 3, 3), paris(2025, 3, 10))
    assert timeline.total == 54 * H
    assert timeline.duration(paris(2025, 3, 1), paris(2025, 3, 20)) == 54 * H
    assert timeline.duration(paris(2025, 3, 4, 12), paris(2025, 3, 4, 10)) == timedelta(0)

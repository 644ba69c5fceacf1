"""Support-hours clock (DESIGN §8): GTI/GTR deadlines and support-hours-only Df.

Support hours are Monday–Friday 9:00–19:00 and Saturday 9:00–13:00, Europe/Paris wall clock, excluding
Sundays and French public holidays (``holidays.France``, metropolitan list, which includes Easter Monday,
Ascension and Whit Monday). Each support day is turned once into a pair of UTC instants (cached per day), and
every duration is a subtraction of UTC instants, so a day next to a DST change is measured correctly (a
Paris wall-clock subtraction across the change would be an hour off).

Public functions take and return *aware* datetimes (naive ones raise ``ValueError``) and return UTC.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

PARIS = ZoneInfo("Europe/Paris")
# The incident clocks (DESIGN §8), in support hours: the only definition (services, history, tests import it).
GTI = timedelta(minutes=30)  # to the operator's acknowledgement
GTR = timedelta(hours=4)  # to the restoration
ZERO = timedelta(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_us(instant: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (exact; cheap for bulk Df arithmetic)."""
    return (instant - EPOCH) // MICROSECOND

# Opening hours per ISO weekday (1 = Monday … 7 = Sunday) as Paris wall-clock times; None: closed.
OPENING_HOURS = {
    1: (time(9), time(19)),
    2: (time(9), time(19)),
    3: (time(9), time(19)),
    4: (time(9), time(19)),
    5: (time(9), time(19)),
    6: (time(9), time(13)),
    7: None,
}


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (naive datetimes are ambiguous)")
    return value.astimezone(UTC)


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    """French (metropolitan) public holidays of ``year``; cached per year."""
    return frozenset(holidays.France(years=year).keys())


def is_public_holiday(day: date) -> bool:
    return day in _public_holidays(day.year)


@lru_cache(maxsize=4096)
def day_interval(day: date) -> tuple[datetime, datetime] | None:
    """The support interval of one Paris calendar day as UTC instants, or None when it is closed."""
    hours = OPENING_HOURS[day.isoweekday()]
    if hours is None or is_public_holiday(day):
        return None
    opens, closes = hours
    return (
        datetime.combine(day, opens, tzinfo=PARIS).astimezone(UTC),
        datetime.combine(day, closes, tzinfo=PARIS).astimezone(UTC),
    )


def _paris_day(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def support_intervals(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Yield the support-hour intervals inside [start, end) as sorted, disjoint (start, end) UTC pairs."""
    start = _require_aware(start, "start")
    end = _require_aware(end, "end")
    if end <= start:
        return
    day = _paris_day(start)
    last_day = _paris_day(end)
    one_day = timedelta(days=1)
    while day <= last_day:
        interval = day_interval(day)
        if interval is not None:
            lo = max(interval[0], start)
            hi = min(interval[1], end)
            if lo < hi:
                yield lo, hi
        day += one_day


def support_duration(start: datetime, end: datetime) -> timedelta:
    """Support time elapsed between two instants (zero when ``end <= start``)."""
    total = ZERO
    for lo, hi in support_intervals(start, end):
        total += hi - lo
    return total


def support_add(start: datetime, duration: timedelta) -> datetime:
    """The earliest instant at which ``duration`` of support time has elapsed since ``start``.

    Starting outside support hours, counting begins at the next opening. A deadline that falls exactly on
    a closing time is that closing time (not the next opening). A zero duration returns ``start``.
    """
    cursor = _require_aware(start, "start")
    if not isinstance(duration, timedelta):
        raise ValueError("duration must be a timedelta")
    if duration < ZERO:
        raise ValueError("duration must not be negative")
    if duration == ZERO:
        return cursor
    remaining = duration
    day = _paris_day(cursor)
    one_day = timedelta(days=1)
    while True:  # ends: every week holds at least one open day, whatever the holidays
        interval = day_interval(day)
        if interval is not None and interval[1] > cursor:
            lo = max(interval[0], cursor)
            available = interval[1] - lo
            if remaining <= available:
                return lo + remaining
            remaining -= available
        day += one_day


class SupportTimeline:
    """Support time over a fixed window, answering ``duration(a, b)`` in O(log n).

    Built once per report period: the cumulative support seconds at each opening make any duration a
    difference of two bisections, which keeps support-hours Df for thousands of DRIMboxes cheap.
    Instants outside [start, end] are clamped to the window.
    """

    def __init__(self, start: datetime, end: datetime):
        self.start = _require_aware(start, "start")
        self.end = _require_aware(end, "end")
        self.intervals = list(support_intervals(self.start, self.end))
        self._starts = [lo for lo, _ in self.intervals]
        self.cumulative = []  # support time before each interval's start
        total = ZERO
        for lo, hi in self.intervals:
            self.cumulative.append(total)
            total += hi - lo
        self.total = total

    def elapsed(self, instant: datetime) -> timedelta:
        """Support time in [window start, instant)."""
        index = bisect.bisect_right(self._starts, instant) - 1
        if index < 0:
            return ZERO
        lo, hi = self.intervals[index]
        return self.cumulative[index] + (min(instant, hi) - lo)

    def duration(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return ZERO
        return self.elapsed(end) - self.elapsed(start)

    def utc_clock(self) -> Callable[[datetime], timedelta]:
        """``elapsed`` for *naive* UTC datetimes, as ``weather.downtime`` reads them in bulk: its loop over
        every transition of a month compares instants, and naive comparisons cost far less than aware ones."""
        starts = [lo.replace(tzinfo=None) for lo, _ in self.intervals]
        ends = [hi.replace(tzinfo=None) for _, hi in self.intervals]
        cumulative = self.cumulative
        bisect_right = bisect.bisect_right

        def elapsed(instant: datetime) -> timedelta:
            index = bisect_right(starts, instant) - 1
            if index < 0:
                return ZERO
            end = ends[index]
            return cumulative[index] + ((instant if instant < end else end) - starts[index])

        return elapsed

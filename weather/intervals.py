"""Half-open time intervals [start, end) and the status timeline of a DRIMbox (DESIGN §8).

Downtime is derived from ``Transition`` rows: ``status_intervals`` turns them into a list of
(start, end, status) covering a window, and the helpers below combine plain (start, end) lists.
Every list returned by this module is sorted, made of non-empty and non-overlapping intervals.
Values may be datetimes (or any ordered type whose differences can be added, e.g. numbers).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol

# Interval bounds: datetimes in the portal; any ordered type whose differences add up (numbers in the tests).
Instant = Any
Interval = tuple[Instant, Instant]
StatusInterval = tuple[Instant, Instant, str]


class TransitionLike(Protocol):
    effective_at: Instant
    new_status: str


def _transition_pair(transition: TransitionLike | tuple[Instant, str] | list[Any]) -> tuple[Instant, str]:
    """Accept ``Transition`` rows (or any object with ``effective_at``/``new_status``) and plain pairs."""
    if isinstance(transition, (tuple, list)):
        return transition[0], transition[1]
    return transition.effective_at, transition.new_status


def status_intervals(transitions: Iterable[TransitionLike | tuple[Instant, str]], start: Instant, end: Instant,
                     initial_status: str) -> list[StatusInterval]:
    """The status timeline over [start, end) as (start, end, status) triples covering the whole window.

    ``initial_status`` is the status in force at ``start`` (the ``new_status`` of the last transition before
    the window). Transitions before ``start`` are also accepted and simply update that initial status;
    transitions at or after ``end`` are ignored. Several transitions at the same instant: the last one (in
    the given order, which should be ``effective_at, id``) wins. Adjacent runs of one status are merged.
    An empty window gives an empty list.
    """
    if end <= start:
        return []
    changes = sorted((_transition_pair(t) for t in transitions), key=lambda pair: pair[0])  # stable
    status = initial_status
    cursor = start
    result: list[list[Any]] = []

    def push(lo: Instant, hi: Instant, value: str) -> None:
        if lo >= hi:
            return
        if result and result[-1][2] == value and result[-1][1] == lo:
            result[-1][1] = hi
        else:
            result.append([lo, hi, value])

    for at, new_status in changes:
        if at >= end:
            break
        if at <= cursor:
            status = new_status
            continue
        push(cursor, at, status)
        cursor = at
        status = new_status
    push(cursor, end, status)
    return [(lo, hi, value) for lo, hi, value in result]


def normalize(intervals: Iterable[tuple[Instant, ...]]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals; drop empty ones."""
    merged: list[list[Instant]] = []
    for lo, hi in sorted((i[0], i[1]) for i in intervals):
        if lo >= hi:
            continue
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """The parts of sorted, disjoint ``a`` not covered by sorted, disjoint ``b`` (linear merge)."""
    result: list[Interval] = []
    j = 0
    for lo, hi in a:
        cursor = lo
        while j < len(b) and b[j][1] <= cursor:
            j += 1
        k = j
        while k < len(b) and b[k][0] < hi:
            if b[k][0] > cursor:
                result.append((cursor, b[k][0]))
            cursor = max(cursor, b[k][1])
            if cursor >= hi:
                break
            k += 1
        if cursor < hi:
            result.append((cursor, hi))
    return result


def measure(intervals: Iterable[Interval], zero: Any = timedelta(0)) -> Any:
    """Total length of disjoint intervals (``zero`` sets the type of the sum, timedelta by default)."""
    total = zero
    for lo, hi in intervals:
        total += hi - lo
    return total

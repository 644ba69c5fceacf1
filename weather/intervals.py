"""Half-open time intervals [start, end) and the status timeline of a DRIMbox (DESIGN §8).

Downtime is derived from ``Transition`` rows: ``status_intervals`` turns them into a list of
(start, end, status) covering a window, and the helpers below combine plain (start, end) lists.
Every list returned by this module is sorted, made of non-empty and non-overlapping intervals.
Values may be datetimes (or any ordered type whose differences can be added, e.g. numbers).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterable


def _transition_pair(transition) -> tuple[Any, str]:
    """Accept ``Transition`` rows (or any object with ``effective_at``/``new_status``) and plain pairs."""
    if isinstance(transition, (tuple, list)):
        return transition[0], transition[1]
    return transition.effective_at, transition.new_status


def status_intervals(transitions: Iterable, start, end, initial_status: str) -> list[tuple[Any, Any, str]]:
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
    result: list[list] = []

    def push(lo, hi, value):
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
    return [tuple(item) for item in result]


def with_status(timeline: Iterable[tuple], statuses) -> list[tuple]:
    """The (start, end) intervals of a status timeline whose status is in ``statuses`` (a str or a set)."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)
    return normalize((lo, hi) for lo, hi, status in timeline if status in wanted)


def normalize(intervals: Iterable[tuple]) -> list[tuple]:
    """Sort and merge overlapping or touching intervals; drop empty ones."""
    merged: list[list] = []
    for lo, hi in sorted((i[0], i[1]) for i in intervals):
        if lo >= hi:
            continue
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [tuple(item) for item in merged]


def clip(intervals: Iterable[tuple], start, end) -> list[tuple]:
    """Restrict sorted intervals to [start, end)."""
    result = []
    for lo, hi in intervals:
        lo, hi = max(lo, start), min(hi, end)
        if lo < hi:
            result.append((lo, hi))
    return result


def intersect(a: list[tuple], b: list[tuple]) -> list[tuple]:
    """Intersection of two sorted, disjoint interval lists (linear merge)."""
    result = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            result.append((lo, hi))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return result


def subtract(a: list[tuple], b: list[tuple]) -> list[tuple]:
    """The parts of sorted, disjoint ``a`` not covered by sorted, disjoint ``b`` (linear merge)."""
    result = []
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


def union(a: list[tuple], b: list[tuple]) -> list[tuple]:
    return normalize(list(a) + list(b))


def measure(intervals: Iterable[tuple], zero=timedelta(0)):
    """Total length of disjoint intervals (``zero`` sets the type of the sum, timedelta by default)."""
    total = zero
    for lo, hi in intervals:
        total += hi - lo
    return total

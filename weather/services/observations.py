"""The one write path for probe observations and status transitions (DESIGN §8); incidents follow them.

``record_observations`` is called by the prober (``weather.tasks.probe_batch``) with the results of one
location; ``mark_silent`` by ``weather.tasks.detect_silence``; ``set_status`` is the single place that
writes a ``Transition``, the ``DrimboxWeather`` head and opens or restores an ``Incident``.

Confirmation policy (settings ``WEATHER_CONFIRMATION_FAILURES`` = N and ``WEATHER_QUORUM``):

* a location *confirms* a failure after N consecutive failed probes of the DRIMbox (its streak starts at
  the first failed probe, ``first_failure_at``; a streak older than ``WEATHER_STALE_AFTER`` is not
  continued after a silence);
* only *fresh* observations count (an active location that probed the DRIMbox less than
  ``WEATHER_STALE_AFTER`` ago); the quorum is computed over those reporting locations:
  ``WEATHER_QUORUM`` = ``"majority"`` (default: more than half), a fraction such as ``"0.66"``
  (at least ceil(fraction × reporting), minimum 1) or a count such as ``"2"`` (capped at the number
  of reporting locations, so that a single surviving location still decides);
* DOWN when a quorum of reporting locations confirms; effective time = the earliest ``first_failure_at``
  among the confirming locations (the first failed probe, never the confirmation time);
* back to OPERATIONAL (or DEGRADED when a quorum sees it degraded) as soon as a quorum of reporting
  locations has a successful last probe; effective time = that probe;
* while DOWN, as soon as fewer than the quorum of fresh locations still confirm the failure, one fresh
  location seeing it up is enough to leave DOWN (effective at that probe): otherwise a single location
  that stays partitioned would keep the DRIMbox DOWN forever;
* otherwise (unconfirmed failures, split locations) the status does not change;
* a probe result not newer than the stored observation of its location (``checked_at`` ≤ previous) is
  ignored: a late batch must never overwrite a newer state;
* no fresh observation at all: NO DATA (never DOWN), effective at the last observation.

Transitions are the record of what the probes saw (no audit row per probe). Incidents are opened and
restored by ``weather.services.incidents`` in the same transaction as the transition; a transition effective
before today drops the stored days it changes (``weather.services.summaries``).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from operators.models import Drimbox
from trustspace.errors import InvalidData
from trustspace.text import remove_forbidden_characters
from weather.models import DrimboxWeather, LocationObservation, ProbeLocation, Transition, WeatherStatus
from weather.prober import ProbeResult
from weather.services.incidents import UP_STATUSES, open_or_restore_incidents
from weather.services.latency import add_latency_samples
from weather.services.locations import location_named
from weather.services.summaries import forget_closed_days

logger = logging.getLogger(__name__)
FAILING = "failing"  # status of one probe result whose db check failed (not yet a confirmed DOWN)
OBSERVATION_FIELDS = ("checked_at", "db_ok", "db_error", "vi_ok", "vi_error", "latency_ms", "consecutive_failures",
                      "first_failure_at", "status")


# --- settings -------------------------------------------------------------------------------------


def confirmation_failures() -> int:
    return max(1, int(getattr(settings, "WEATHER_CONFIRMATION_FAILURES", 3)))


def stale_after() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "WEATHER_STALE_AFTER", 300)))


def quorum_required(reporting: int, quorum: str | int | float | None = None) -> int:
    """How many of ``reporting`` fresh locations must agree (see the module docstring); 0 when none reports."""
    if reporting <= 0:
        return 0
    value = str(quorum if quorum is not None else getattr(settings, "WEATHER_QUORUM", "majority")).strip().lower()
    if value in {"", "majority", "majorite", "majorité"}:
        return reporting // 2 + 1
    try:
        if "." in value or "/" in value:
            if "/" in value:
                numerator, denominator = value.split("/", 1)
                fraction = float(numerator) / float(denominator)
            else:
                fraction = float(value)
            if not 0 < fraction <= 1:
                raise ValueError(value)
            return min(reporting, max(1, math.ceil(fraction * reporting - 1e-9)))
        count = int(value)
        if count < 1:
            raise ValueError(value)
        return min(reporting, count)
    except (ValueError, ZeroDivisionError):
        raise InvalidData(f"WEATHER_QUORUM invalide : « {value} » (attendu : majority, une fraction ou un nombre).",
                          code="weather_quorum_invalid") from None


# --- observations ---------------------------------------------------------------------------------


def _value(result: ProbeResult | dict[str, Any], name: str, default: Any = None) -> Any:
    return result.get(name, default) if isinstance(result, dict) else getattr(result, name, default)


def _probe_error(text: str | None) -> str:
    """A probe's error as stored and shown: it may quote what the DRIMbox answered (a certificate's name, a TLS
    alert), so without bidi or control characters (``trustspace.text``), 300 characters at most."""
    return remove_forbidden_characters(text or "")[:300]


def _next_observation(previous: LocationObservation | None, result: ProbeResult | dict[str, Any], *,
                      location_id: int, drimbox_id: int, stale: timedelta) -> LocationObservation | None:
    """The new observation row of one DRIMbox at one location, from its previous row and one probe result."""
    checked_at = _value(result, "checked_at")
    if previous is not None and checked_at <= previous.checked_at:
        return None  # a late (older) result: the stored observation is newer, keep it
    failing = _value(result, "status") == FAILING
    continuing = (previous is not None and previous.consecutive_failures > 0
                  and checked_at - previous.checked_at <= stale)
    if failing:
        consecutive = previous.consecutive_failures + 1 if continuing else 1
        first_failure_at = previous.first_failure_at if continuing else checked_at
        if consecutive >= confirmation_failures():
            status = WeatherStatus.DOWN
        else:  # an unconfirmed failure does not change what this location reports
            status = previous.status if previous is not None else WeatherStatus.NO_DATA
    else:
        consecutive, first_failure_at = 0, None
        status = _value(result, "status")
    row = LocationObservation(
        drimbox_id=drimbox_id, location_id=location_id, checked_at=checked_at,
        db_ok=bool(_value(result, "db_ok")), db_error=_probe_error(_value(result, "db_error")),
        vi_ok=_value(result, "vi_ok"), vi_error=_probe_error(_value(result, "vi_error")),
        latency_ms=_value(result, "latency_ms"), consecutive_failures=consecutive,
        first_failure_at=first_failure_at, status=previous.status if previous is not None else WeatherStatus.NO_DATA,
    )
    if status != row.status:
        row.transition_to(status)
    return row


@dataclass(frozen=True)
class Change:
    drimbox_id: int
    new_status: str
    effective_at: datetime
    reason: str


def _reason_of(observation: LocationObservation) -> str:
    return observation.db_error or observation.vi_error or ""


def evaluate(current: DrimboxWeather, fresh: list[LocationObservation], *,
             quorum: str | int | float | None = None) -> Change | None:
    """The status change (or None) for one DRIMbox from its current ``DrimboxWeather`` and fresh observations."""
    required = quorum_required(len(fresh), quorum)
    if required == 0:
        return None  # no data: handled by ``mark_silent``
    n = confirmation_failures()
    confirming = [o for o in fresh if o.consecutive_failures >= n]
    if len(confirming) >= required:
        first = min(confirming, key=lambda o: o.first_failure_at)
        return Change(current.drimbox_id, WeatherStatus.DOWN, first.first_failure_at,
                      _reason_of(first) or "Échecs de sonde confirmés.")
    up = [o for o in fresh if o.consecutive_failures == 0 and o.status in UP_STATUSES]
    if current.status == WeatherStatus.DOWN and up:
        # The failure is no longer confirmed by a quorum (checked above): one fresh location seeing it up
        # ends the DOWN, else a location that stays partitioned would keep it DOWN forever.
        required = 1
    if len(up) >= required:
        degraded = [o for o in up if o.status == WeatherStatus.DEGRADED]
        at = max(o.checked_at for o in up)
        if len(degraded) >= required and (required > 1 or len(degraded) == len(up)):
            return Change(current.drimbox_id, WeatherStatus.DEGRADED, at, _reason_of(degraded[0]) or "Service dégradé.")
        return Change(current.drimbox_id, WeatherStatus.OPERATIONAL, at, "")
    return None


def _ensure_heads(drimbox_ids: list[int], at: datetime) -> dict[int, DrimboxWeather]:
    """Every DRIMbox gets its ``DrimboxWeather`` row (« pas de données »), then the rows are locked in pk order
    so that two locations reporting at once evaluate one after the other."""
    DrimboxWeather.objects.bulk_create(
        [DrimboxWeather(drimbox_id=pk, status=WeatherStatus.NO_DATA, since=at) for pk in drimbox_ids],
        ignore_conflicts=True)
    rows = DrimboxWeather.objects.select_for_update().filter(drimbox_id__in=drimbox_ids).order_by("drimbox_id")
    return {row.drimbox_id: row for row in rows}


def record_observations(location: ProbeLocation | str, results: Iterable[ProbeResult | dict[str, Any]], *,
                        at: datetime | None = None, quorum: str | int | float | None = None) -> list[Change]:
    """Store one location's probe results and apply the status changes they confirm.

    ``location``: a ``ProbeLocation`` or its name. ``results``: ``weather.prober.ProbeResult`` objects
    (or dicts with the same keys: identifiant, checked_at, status ∈ operational|degraded|failing, db_ok,
    db_error, vi_ok, vi_error, latency_ms). Results of unknown DRIMboxes are ignored. Returns the list
    of applied ``Change``. A constant number of queries, whatever the number of results, plus a few per
    status change. The db check's latency goes into the DRIMbox's hourly history (``weather.services.latency``).
    """
    at = at or timezone.now()
    if not isinstance(location, ProbeLocation):
        location = location_named(location)
    results = list(results)
    identifiants = {int(_value(r, "identifiant")) for r in results}
    ids = dict(Drimbox.objects.filter(identifiant__in=identifiants).values_list("identifiant", "id"))
    stale = stale_after()
    with transaction.atomic():
        heads = _ensure_heads(sorted(ids.values()), at)
        previous = {o.drimbox_id: o for o in
                    LocationObservation.objects.filter(location=location, drimbox_id__in=ids.values())}
        rows, latencies = {}, []
        for result in sorted(results, key=lambda r: _value(r, "checked_at")):
            drimbox_id = ids.get(int(_value(result, "identifiant")))
            if drimbox_id is None:
                continue
            row = _next_observation(rows.get(drimbox_id) or previous.get(drimbox_id), result,
                                    location_id=location.pk, drimbox_id=drimbox_id, stale=stale)
            if row is not None:  # None: older than what is stored (a late batch), ignored
                rows[drimbox_id] = row
                latencies.append((drimbox_id, row.checked_at, row.latency_ms))
        add_latency_samples(latencies)  # the history charts' response times (the heads above are locked)
        LocationObservation.objects.bulk_create(
            list(rows.values()), update_conflicts=True, unique_fields=("drimbox", "location"),
            update_fields=OBSERVATION_FIELDS)
        ProbeLocation.objects.filter(pk=location.pk).update(last_report_at=at,
                                                            rounds_reported=F("rounds_reported") + 1)
        if not location.active:
            return []  # kept for display, but an inactive location does not vote
        fresh = {}
        for observation in LocationObservation.objects.filter(
                drimbox_id__in=list(rows), location__active=True, checked_at__gte=at - stale):
            fresh.setdefault(observation.drimbox_id, []).append(observation)
        changes = []
        for drimbox_id in rows:
            change = evaluate(heads[drimbox_id], fresh.get(drimbox_id, []), quorum=quorum)
            if change is not None and change.new_status != heads[drimbox_id].status:
                changes.append(change)
        return _apply(changes, heads, at=at)


def mark_silent(*, at: datetime | None = None) -> list[Change]:
    """DRIMboxes with no fresh observation from any active location go to « pas de données » (never DOWN).

    Also covers DRIMboxes that left the whitelist (no longer probed). Returns the applied changes.
    """
    at = at or timezone.now()
    threshold = at - stale_after()
    with transaction.atomic():
        # Lock the heads FIRST (pk order, like ``_ensure_heads``), THEN read freshness: a location recording
        # at the same time either commits before (its observation is seen as fresh) or waits for us (and
        # then evaluates from the NO DATA head). Reading freshness before locking would let a report that
        # commits in between be overwritten by a stale « pas de données ».
        heads = {row.drimbox_id: row for row in DrimboxWeather.objects.select_for_update()
                 .exclude(status=WeatherStatus.NO_DATA).order_by("drimbox_id")}
        if not heads:
            return []
        still_fresh = set(LocationObservation.objects.filter(
            drimbox_id__in=list(heads), location__active=True, checked_at__gte=threshold,
        ).values_list("drimbox_id", flat=True))
        heads = {pk: row for pk, row in heads.items() if pk not in still_fresh}
        if not heads:
            return []
        last_seen = {}
        for drimbox_id, checked_at in LocationObservation.objects.filter(drimbox_id__in=list(heads)).values_list(
                "drimbox_id", "checked_at"):
            last_seen[drimbox_id] = max(checked_at, last_seen.get(drimbox_id, checked_at))
        changes = [Change(pk, WeatherStatus.NO_DATA, last_seen.get(pk, at),
                          "Aucune donnée récente des points de sonde.") for pk in heads]
        return _apply(changes, heads, at=at)


# --- transitions -----------------------------------------------------------------------------------


def set_status(drimbox: Drimbox | int, new_status: str, *, effective_at: datetime, reason: str = "",
               at: datetime | None = None) -> Change | None:
    """Change the probed status of one DRIMbox (a ``Transition`` row, the head, the incident); no row when
    unchanged. Returns the ``Change`` applied or None."""
    if new_status not in WeatherStatus.values or new_status == WeatherStatus.MAINTENANCE:
        raise InvalidData(f"Statut de sonde inconnu : « {new_status} ».", code="weather_status_invalid")
    at = at or timezone.now()
    drimbox_id = getattr(drimbox, "pk", drimbox)
    with transaction.atomic():
        heads = _ensure_heads([drimbox_id], at)
        if heads[drimbox_id].status == new_status:
            return None
        applied = _apply([Change(drimbox_id, new_status, effective_at, reason)], heads, at=at)
    return applied[0]


def _apply(changes: list[Change], heads: dict[int, DrimboxWeather], *, at: datetime) -> list[Change]:
    """Write the transitions, move the heads, open/restore incidents; inside the caller's transaction."""
    if not changes:
        return []
    transitions, moved = [], []
    for change in changes:
        head = heads[change.drimbox_id]
        # Never before the head: the timeline stays ordered (a streak may predate the last transition).
        effective_at = max(change.effective_at, head.since) if head.since else change.effective_at
        change = Change(change.drimbox_id, change.new_status, effective_at, (change.reason or "")[:300])
        transitions.append(Transition(drimbox_id=head.drimbox_id, old_status=head.status,
                                      new_status=change.new_status, effective_at=effective_at,
                                      recorded_at=at, reason=change.reason))
        moved.append((change, head.status))
        head.transition_to(change.new_status)
        head.since, head.reason = effective_at, change.reason
    Transition.objects.bulk_create(transitions)
    DrimboxWeather.objects.bulk_update([heads[c.drimbox_id] for c, _ in moved], ["status", "since", "reason"])
    open_or_restore_incidents(moved, at=at)
    # A transition effective before today changes days already closed: their stored summaries go.
    forget_closed_days(((t.drimbox_id, t.effective_at) for t in transitions), at=at)
    return [change for change, _ in moved]



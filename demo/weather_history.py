"""The demo's weather (DESIGN §8): 90 days of history for the active DRIMboxes, loaded in bulk through the weather
services, then a live incident as the prober and the operators would write it."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from operators.models import Drimbox, DrimboxStatus, Operator
from trustspace.models import User
from weather import services as weather_services
from weather.clock import PARIS, UTC, is_public_holiday
from weather.models import Incident, MaintenanceWindow, Transition
from weather.models import WeatherStatus as S

HISTORY_DAYS = 90
# Short viewer outages per active DRIMbox (index in identifiant order): (days ago, Paris time, minutes, reason).
DEGRADED_SPELLS = (
    ((74, time(14, 20), 35, "vi : délai dépassé (10 s)"), (33, time(8, 5), 20, "vi : erreur HTTP 503"),
     (9, time(22, 40), 50, "vi : connexion refusée")),
    ((61, time(11, 10), 25, "vi : erreur HTTP 502"), (27, time(16, 45), 15, "vi : délai dépassé (10 s)"),
     (4, time(7, 30), 40, "vi : négociation TLS refusée (WRONG_VERSION_NUMBER)")),
)
LIVE_OUTAGE = timedelta(minutes=12)  # the incident acknowledged live by the technical administrator


@dataclass(frozen=True)
class WeatherEvent:
    """One probed status change of the seeded history."""

    box: int  # index of the active demo DRIMbox (identifiant order)
    effective_at: datetime  # UTC
    status: str
    reason: str = ""
    live: bool = False  # the last incident: opened, acknowledged and restored at load time
    acknowledged_at: datetime | None = None  # on a restoration: when the operator acknowledged the incident


def _paris(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=PARIS).astimezone(UTC)


def _open_day(day: date) -> bool:
    return not is_public_holiday(day)


def _weekday_on_or_before(day: date, isoweekday: int, *, also_open: int = 0) -> date:
    """The latest ``isoweekday`` on or before ``day`` that is no public holiday, nor the ``also_open`` days after it."""
    day -= timedelta(days=(day.isoweekday() - isoweekday) % 7)
    while not all(_open_day(day + timedelta(days=n)) for n in range(also_open + 1)):
        day -= timedelta(days=7)
    return day


def weather_plan(now: datetime, boxes: int = 2) -> list[WeatherEvent]:
    """The seeded history of ``boxes`` active DRIMboxes up to ``now``: ``WeatherEvent``s in time order per box.

    Mostly operational since ``now - 90 days``; a few short degraded spells (viewer only); two past incidents —
    a Tuesday morning outage of 1 h 30 on the first DRIMbox (restored within GTR) and a Friday-night outage of
    18 h on the last one (restored on Saturday after the GTR deadline, PERF 0.5 that month) —; and, on the last
    one, a 12-minute outage ending at ``now``, which the technical administrator acknowledges live.
    """
    now = now.replace(second=0, microsecond=0)
    today = now.astimezone(PARIS).date()
    last = boxes - 1
    tuesday = _weekday_on_or_before(today - timedelta(days=48), 2)
    friday = _weekday_on_or_before(today - timedelta(days=20), 5, also_open=1)
    outages = [  # (box, start, end, reason, acknowledged at): within GTI on Tuesday, late on Saturday morning
        (0, _paris(tuesday, time(10, 5)), _paris(tuesday, time(11, 35)), "db : connexion refusée",
         _paris(tuesday, time(10, 20))),
        (last, _paris(friday, time(20, 30)), _paris(friday + timedelta(days=1), time(14, 30)),
         "db : délai dépassé (10 s)", _paris(friday + timedelta(days=1), time(11, 15))),
    ]
    events = [WeatherEvent(box, now - timedelta(days=HISTORY_DAYS), S.OPERATIONAL) for box in range(boxes)]
    for box in range(boxes):
        for days_ago, at, minutes, reason in DEGRADED_SPELLS[box % len(DEGRADED_SPELLS)]:
            start = _paris(today - timedelta(days=days_ago), at)
            end = start + timedelta(minutes=minutes)
            if any(b == box and lo < end and start < hi for b, lo, hi, _reason, _ack in outages):
                continue  # never inside an outage (possible only when a holiday moved it)
            events += [WeatherEvent(box, start, S.DEGRADED, reason), WeatherEvent(box, end, S.OPERATIONAL)]
    for box, start, end, reason, acknowledged_at in outages:
        events += [WeatherEvent(box, start, S.DOWN, reason),
                   WeatherEvent(box, end, S.OPERATIONAL, acknowledged_at=acknowledged_at)]
    events += [WeatherEvent(last, now - LIVE_OUTAGE, S.DOWN, "db : connexion refusée", live=True),
               WeatherEvent(last, now, S.OPERATIONAL, live=True)]
    return sorted(events, key=lambda e: (e.box, e.effective_at))


def prober_recorded_at(event: WeatherEvent, now: datetime) -> datetime:
    """When the prober recorded ``event``: a DOWN after its confirmation probes, a few minutes after its effective
    time; any other change at once."""
    confirmed = event.effective_at + (timedelta(minutes=2) if event.status == S.DOWN else timedelta(0))
    return min(confirmed, now)


def seed_weather(technical_admin: Callable[[Operator], User], now: datetime | None = None) -> dict[str, int]:
    """Write the demo's weather: the 90 days of history in bulk (``weather.services.backfill_history``), then the
    live incident through the services the prober and the operator use (``set_status``, ``acknowledge_incident``)
    and a maintenance window (``declare_maintenance``); ``technical_admin(operator)`` is the person who
    acknowledges an operator's incidents."""
    boxes = list(Drimbox.objects.filter(status=DrimboxStatus.ACTIVE).select_related("operator")
                 .order_by("identifiant"))
    if not boxes:
        return {"days": 0, "transitions": 0, "incidents": 0}
    now = now or timezone.now()
    technical = {box.pk: technical_admin(box.operator) for box in boxes}
    plan = weather_plan(now, len(boxes))
    history = [event for event in plan if not event.live]
    weather_services.backfill_history(
        [weather_services.PastChange(boxes[e.box].pk, e.status, e.effective_at, e.reason,
                                     recorded_at=prober_recorded_at(e, now)) for e in history],
        [weather_services.PastAcknowledgement(boxes[e.box].pk, e.acknowledged_at, technical[boxes[e.box].pk],
                                              comment="Incident pris en compte, intervention en cours.")
         for e in history if e.acknowledged_at is not None], at=now)
    for event in (event for event in plan if event.live):
        box = boxes[event.box]
        if event.status != S.DOWN:
            # The live incident is acknowledged as the DRIMbox is seen up again.
            incident = Incident.objects.get(drimbox=box, restored_at__isnull=True)
            weather_services.acknowledge_incident(incident, acting_user=technical[box.pk], at=event.effective_at,
                                                   comment="Service DICOMweb redémarré, surveillance en cours.")
        weather_services.set_status(box, event.status, effective_at=event.effective_at, reason=event.reason,
                                    at=prober_recorded_at(event, now))
    # A maintenance window in three days, announced by the technical administrator of the first DRIMbox.
    first = boxes[0]
    day = now.astimezone(PARIS).date() + timedelta(days=3)
    weather_services.declare_maintenance(
        first, acting_user=technical[first.pk], starts_at=_paris(day, time(20, 0)),
        ends_at=_paris(day, time(22, 0)), reason="Mise à jour du logiciel DRIMbox (version 2.4) et redémarrage.")
    ids = [box.pk for box in boxes]
    return {"days": HISTORY_DAYS, "transitions": Transition.objects.filter(drimbox_id__in=ids).count(),
            "incidents": Incident.objects.filter(drimbox_id__in=ids).count(),
            "maintenance": MaintenanceWindow.objects.filter(drimbox_id__in=ids).count()}

"""Past weather loaded in bulk (DESIGN §8): the transitions and incidents of DRIMboxes before the portal probed
them (the demo's 90 days of history, or history brought from another system), in a few statements.

The rules are those of ``observations.set_status`` and ``incidents``: each transition continues the previous one
from « pas de données », never before it; an incident opens when a DRIMbox enters DOWN (GTI and GTR due dates on
the support-hours clock) and is restored when it is seen up again, NO DATA leaving it open; an acknowledgement
stops the GTI clock as ``acknowledge_incident`` records it, by a person of the DRIMbox's operator. What differs:
the events are past, so nobody is e-mailed, and the audit has one row per DRIMbox for its whole history. Only for
DRIMboxes with no weather yet: recorded weather is never rewritten.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from operators.models import Drimbox
from trustspace import audit
from trustspace.errors import Conflict, InvalidData
from trustspace.models import User
from trustspace.text import validate_display_text
from weather.clock import GTI, GTR, support_add
from weather.models import DrimboxWeather, Incident, Transition, WeatherStatus
from weather.permissions import require_weather_member
from weather.services.acknowledgements import COMMENT_MAX
from weather.services.incidents import TASK_ACTOR, UP_STATUSES


@dataclass(frozen=True)
class PastChange:
    """A probed status change: effective at ``effective_at``, recorded by the prober at ``recorded_at``."""

    drimbox_id: int
    status: str
    effective_at: datetime
    reason: str = ""
    recorded_at: datetime | None = None  # None: at its effective time


@dataclass(frozen=True)
class PastAcknowledgement:
    """``user`` acknowledged, at ``at``, the incident of the DRIMbox open at that instant."""

    drimbox_id: int
    at: datetime
    user: User
    comment: str = ""


@dataclass(frozen=True)
class BackfillResult:
    transitions: int
    incidents: int


def backfill_history(changes: Iterable[PastChange], acknowledgements: Iterable[PastAcknowledgement] = (), *,
                     at: datetime | None = None) -> BackfillResult:
    """Write the past weather of DRIMboxes that have none: transitions, incidents (with their acknowledgements)
    and the current status, in one transaction. Refused whole (nothing written) on any invalid event."""
    now = at or timezone.now()
    by_box: dict[int, list[PastChange]] = {}
    for change in changes:
        if change.status not in WeatherStatus.values or change.status == WeatherStatus.MAINTENANCE:
            raise InvalidData(f"Statut de sonde inconnu : « {change.status} ».", code="weather_status_invalid")
        if change.effective_at > now or (change.recorded_at or change.effective_at) > now:
            raise InvalidData("Un historique ne contient que des événements passés.", code="weather_history_future")
        by_box.setdefault(change.drimbox_id, []).append(change)
    acknowledged: dict[int, list[PastAcknowledgement]] = {}
    for acknowledgement in acknowledgements:
        acknowledged.setdefault(acknowledgement.drimbox_id, []).append(acknowledgement)
    if set(acknowledged) - set(by_box):
        raise InvalidData("Une prise en compte vise une DRIMbox sans historique.", code="weather_history_orphan")
    boxes = Drimbox.objects.select_related("operator").in_bulk(list(by_box))
    if len(boxes) != len(by_box):
        raise InvalidData("DRIMbox inconnue dans l'historique.", code="weather_history_unknown_drimbox")
    for box_id, box_acknowledgements in acknowledged.items():
        for acknowledgement in box_acknowledgements:
            require_weather_member(acknowledgement.user, boxes[box_id].operator, "prendre en compte un incident")
            if len(acknowledgement.comment) > COMMENT_MAX:
                raise InvalidData(f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères.")
            validate_display_text({"comment": acknowledgement.comment}, multiline={"comment"},
                                  labels={"comment": "commentaire"})
    with transaction.atomic():
        # Lock the DRIMboxes (pk order) so that a probe report cannot start their weather meanwhile.
        list(Drimbox.objects.select_for_update().filter(pk__in=list(by_box)).order_by("pk").values_list("pk"))
        with_weather = (set(DrimboxWeather.objects.filter(drimbox_id__in=list(by_box)).values_list("drimbox_id",
                                                                                                    flat=True))
                        | set(Transition.objects.filter(drimbox_id__in=list(by_box)).values_list("drimbox_id",
                                                                                                 flat=True)))
        if with_weather:
            names = ", ".join(str(boxes[pk].identifiant) for pk in sorted(with_weather))
            raise Conflict(f"Ces DRIMbox ont déjà une météo (DRIMbox {names}) : un historique se charge avant la "
                           "première sonde.", code="weather_history_exists")
        transitions, incidents, heads = [], [], []
        for box_id in sorted(by_box):
            box_transitions, box_incidents, head = _timeline(boxes[box_id], by_box[box_id], now)
            _acknowledge(box_incidents, acknowledged.get(box_id, []), now)
            transitions += box_transitions
            incidents += box_incidents
            heads.append(head)
            audit.record(actor=TASK_ACTOR, action="weather.history_loaded", obj=boxes[box_id],
                         operator_id=boxes[box_id].operator_id, after={
                             "drimbox": boxes[box_id].identifiant, "transitions": len(box_transitions),
                             "incidents": len(box_incidents),
                             "history_from": box_transitions[0].effective_at if box_transitions else None,
                             "history_until": box_transitions[-1].effective_at if box_transitions else None})
        Transition.objects.bulk_create(transitions)
        Incident.objects.bulk_create(incidents)
        DrimboxWeather.objects.bulk_create(heads)
    return BackfillResult(transitions=len(transitions), incidents=len(incidents))


def _timeline(box: Drimbox, changes: list[PastChange], now: datetime
              ) -> tuple[list[Transition], list[Incident], DrimboxWeather]:
    """The transition rows, incidents and head of one DRIMbox, in memory."""
    ordered = sorted(changes, key=lambda c: c.effective_at)
    head = DrimboxWeather(drimbox_id=box.pk, status=WeatherStatus.NO_DATA, since=ordered[0].effective_at)
    transitions: list[Transition] = []
    incidents: list[Incident] = []
    open_incident: Incident | None = None
    for change in ordered:
        if change.status == head.status:
            continue  # no row when unchanged, as set_status
        effective_at = max(change.effective_at, head.since)
        reason = (change.reason or "")[:300]
        transitions.append(Transition(drimbox_id=box.pk, old_status=head.status, new_status=change.status,
                                      effective_at=effective_at, recorded_at=change.recorded_at or effective_at,
                                      reason=reason))
        head.transition_to(change.status)
        head.since, head.reason = effective_at, reason
        if change.status == WeatherStatus.DOWN and open_incident is None:
            open_incident = Incident(drimbox_id=box.pk, opened_at=effective_at, reason=reason,
                                     gti_due_at=support_add(effective_at, GTI),
                                     gtr_due_at=support_add(effective_at, GTR))
            incidents.append(open_incident)
        elif change.status in UP_STATUSES and open_incident is not None:
            open_incident.restored_at = max(effective_at, open_incident.opened_at)
            open_incident = None
    return transitions, incidents, head


def _acknowledge(incidents: list[Incident], acknowledgements: list[PastAcknowledgement], now: datetime) -> None:
    for acknowledgement in acknowledgements:
        incident = next((i for i in incidents if i.opened_at <= acknowledgement.at <= (i.restored_at or now)), None)
        if incident is None:
            raise InvalidData("Une prise en compte doit tomber pendant un incident de la DRIMbox.",
                              code="weather_history_acknowledgement_outside")
        if incident.acknowledged_at is not None:
            raise Conflict("Cet incident a déjà été pris en compte.", code="incident_acknowledged")
        incident.acknowledged_at = acknowledgement.at
        incident.acknowledged_by = acknowledgement.user
        incident.acknowledgement_comment = acknowledgement.comment.strip()

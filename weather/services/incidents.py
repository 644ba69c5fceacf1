"""Incidents follow the probed status (DESIGN §8): opened when a DRIMbox enters DOWN, restored when it is seen up.

``opened_at`` is the transition's effective time; GTI and GTR due dates run on the support-hours clock. Entering
NO DATA from DOWN leaves the incident open: the prober not knowing is not a restoration. Opening and restoring
are audited with the actor « tâche météo » and e-mailed to the operator's members after commit. Called by
``weather.services.observations`` inside its transaction.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from operators.models import Drimbox
from operators.notify import notify_operator
from trustspace import audit
from weather.clock import GTI, GTR, support_add
from weather.models import Incident, WeatherStatus

if TYPE_CHECKING:  # observations calls this module: no import at run time
    from weather.services.observations import Change

TASK_ACTOR = "tâche météo"
UP_STATUSES = frozenset({WeatherStatus.OPERATIONAL, WeatherStatus.DEGRADED})


def open_or_restore_incidents(moved: list[tuple[Change, str]], *, at: datetime) -> None:
    going_down = [c for c, old in moved if c.new_status == WeatherStatus.DOWN]
    coming_up = [c for c, old in moved if c.new_status in UP_STATUSES]
    if not going_down and not coming_up:
        return
    touched = [c.drimbox_id for c in (*going_down, *coming_up)]
    open_incidents = {i.drimbox_id: i for i in Incident.objects.select_for_update()
                      .filter(drimbox_id__in=touched, restored_at__isnull=True)}
    boxes = Drimbox.objects.select_related("operator").in_bulk(touched)
    for change in going_down:
        if change.drimbox_id in open_incidents:
            continue  # DOWN → NO DATA → DOWN: still the same incident
        incident = Incident.objects.create(
            drimbox_id=change.drimbox_id, opened_at=change.effective_at, reason=change.reason,
            gti_due_at=support_add(change.effective_at, GTI), gtr_due_at=support_add(change.effective_at, GTR))
        box = boxes[change.drimbox_id]
        audit.record(actor=TASK_ACTOR, action="weather.incident_opened", obj=incident, operator_id=box.operator_id,
                     after={"drimbox": box.identifiant, "opened_at": incident.opened_at, "reason": incident.reason,
                            "gti_due_at": incident.gti_due_at, "gtr_due_at": incident.gtr_due_at})
        _notify(box, incident, "opened")
    for change in coming_up:
        incident = open_incidents.get(change.drimbox_id)
        if incident is None:
            continue
        incident.restored_at = max(change.effective_at, incident.opened_at)
        incident.save(update_fields=["restored_at"])
        box = boxes[change.drimbox_id]
        audit.record(actor=TASK_ACTOR, action="weather.incident_restored", obj=incident, operator_id=box.operator_id,
                     before={"restored_at": None}, after={"restored_at": incident.restored_at})
        _notify(box, incident, "restored")


def _weather_url(box: Drimbox) -> str:
    try:
        return settings.SITE_URL + reverse("weather_drimbox", args=[box.identifiant])
    except NoReverseMatch:  # the public pages are not wired (yet)
        return settings.SITE_URL


def _notify(box: Drimbox, incident: Incident, kind: str) -> None:
    subject = (f"Incident ouvert : DRIMbox {box.identifiant} ({box.db_fqdn}) indisponible" if kind == "opened"
               else f"Incident rétabli : DRIMbox {box.identifiant} ({box.db_fqdn})")
    if kind == "restored":  # GTI and GTR met or missed, with the instants they are decided on
        from weather.history import incident_clocks

        incident_clocks(incident, now=incident.restored_at)
    notify_operator(box.operator_id, subject=subject, template=f"weather/email/incident_{kind}.txt",
                    context={"drimbox": box, "incident": incident, "url": _weather_url(box)},
                    event_type=f"weather.incident_{kind}", drimbox=box)

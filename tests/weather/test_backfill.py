"""Past weather loaded in bulk (weather.services.backfill_history): the same rows as one ``set_status`` per event,
in a constant number of queries; refused whole on a DRIMbox that has weather, a future event, an acknowledgement
outside an incident or by someone outside the operator."""
import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.lifecycle import declared_drimbox
from trustspace import audit_labels
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry
from weather import services
from weather.models import DrimboxWeather, Incident, Transition
from weather.models import WeatherStatus as S

T0 = dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC)  # a Monday, 8:00 in Paris
H = dt.timedelta(hours=1)
NOW = T0 + 30 * 24 * H
ACK = "Pris en compte par téléphone."

# (hours after T0, status, reason, recorded minutes after the effective time); unordered on purpose, with a repeated
# status (no row), an outage that goes through « pas de données » (one incident), a degraded spell, a Friday-night
# outage restored on Monday.
EVENTS = [
    (0, S.OPERATIONAL, "", 0),
    (50, S.DOWN, "db : connexion refusée", 2),
    (26, S.DEGRADED, "vi : erreur HTTP 503", 0),
    (27, S.OPERATIONAL, "", 0),
    (27.5, S.OPERATIONAL, "", 0),
    (51, S.NO_DATA, "Aucune donnée récente des points de sonde.", 0),
    (52, S.DOWN, "db : délai dépassé (10 s)", 2),
    (53, S.OPERATIONAL, "", 0),
    (107, S.DOWN, "db : connexion refusée", 2),  # Friday 18:00 Paris
    (170, S.DEGRADED, "vi : connexion refusée", 0),  # Monday 9:00 Paris
]
ACKNOWLEDGED = [50.5, 110]  # hours after T0: during each incident


def _at(hours):
    return T0 + dt.timedelta(hours=hours)


def _figures(box):
    transitions = [(t.old_status, t.new_status, t.effective_at, t.recorded_at, t.reason)
                   for t in Transition.objects.filter(drimbox=box).order_by("effective_at", "id")]
    incidents = [(i.opened_at, i.reason, i.gti_due_at, i.gtr_due_at, i.acknowledged_at, i.acknowledged_by_id,
                  i.acknowledgement_comment, i.restored_at)
                 for i in Incident.objects.filter(drimbox=box).order_by("opened_at")]
    head = DrimboxWeather.objects.filter(drimbox=box).values_list("status", "since", "reason").get()
    return transitions, incidents, head


def _through_set_status(box, technical):
    """The reference: one ``set_status`` per event in time order, acknowledgements by ``acknowledge_incident``."""
    acknowledgements = sorted(ACKNOWLEDGED)
    for hours, status, reason, recorded in sorted(EVENTS, key=lambda e: e[0]):
        while acknowledgements and acknowledgements[0] < hours:
            incident = Incident.objects.get(drimbox=box, restored_at__isnull=True)
            services.acknowledge_incident(incident, acting_user=technical, at=_at(acknowledgements.pop(0)),
                                          comment=ACK)
        services.set_status(box, status, effective_at=_at(hours), reason=reason,
                            at=_at(hours) + dt.timedelta(minutes=recorded))


def _changes(box):
    return [services.PastChange(box.pk, status, _at(hours), reason, recorded_at=_at(hours) + dt.timedelta(minutes=m))
            for hours, status, reason, m in EVENTS]


def _acknowledgements(box, user):
    return [services.PastAcknowledgement(box.pk, _at(hours), user, ACK) for hours in ACKNOWLEDGED]


@pytest.fixture
def boxes(world):
    return [declared_drimbox(world.operator, world.legal, world.ans) for _ in range(2)]


def test_bulk_history_equals_one_set_status_per_event(world, boxes):
    bulk, reference = boxes
    _through_set_status(reference, world.technical)
    mail.outbox.clear()
    with CaptureQueriesContext(connection) as queries:
        result = services.backfill_history(_changes(bulk), _acknowledgements(bulk, world.technical), at=NOW)

    assert _figures(bulk) == _figures(reference)
    transitions, incidents, head = _figures(bulk)
    assert (result.transitions, result.incidents) == (len(transitions), len(incidents)) == (9, 2)
    assert head == (S.DEGRADED, _at(170), "vi : connexion refusée")
    assert all(i[4] is not None and i[7] is not None for i in incidents)  # acknowledged, restored
    # Past events: nobody e-mailed; one audit row for the DRIMbox's whole history, in French.
    assert mail.outbox == []
    [entry] = AuditEntry.objects.filter(action="weather.history_loaded")
    assert entry.object_id == str(bulk.pk) and entry.after["transitions"] == 9 and entry.after["incidents"] == 2
    assert audit_labels.action_label(entry.action) == "Historique météo chargé"
    # A few statements whatever the length of the history.
    third = declared_drimbox(world.operator, world.legal, world.ans)
    longer = [services.PastChange(third.pk, (S.DOWN, S.OPERATIONAL)[n % 2], _at(200 + n)) for n in range(200)]
    with CaptureQueriesContext(connection) as more_queries:
        services.backfill_history(longer, at=NOW)
    assert Transition.objects.filter(drimbox=third).count() == 200
    # (SQLite takes a bulk insert of many rows in a few statements: those batches aside.)
    other = [q for q in more_queries.captured_queries if not q["sql"].startswith('INSERT INTO "weather_transition"')]
    assert len(other) < len(queries)


def test_a_drimbox_with_weather_is_refused_and_nothing_is_written(world, boxes):
    fresh, probed = boxes
    services.set_status(probed, S.OPERATIONAL, effective_at=T0, at=T0)
    before = (Transition.objects.count(), Incident.objects.count(), DrimboxWeather.objects.count())
    with pytest.raises(Conflict, match="déjà une météo"):
        services.backfill_history(_changes(fresh) + _changes(probed), at=NOW)
    assert (Transition.objects.count(), Incident.objects.count(), DrimboxWeather.objects.count()) == before
    # Control: the fresh one alone is loaded.
    services.backfill_history(_changes(fresh), at=NOW)
    assert Transition.objects.filter(drimbox=fresh).count() == 9


@pytest.mark.parametrize("problem", ["future", "maintenance", "outside", "outsider"])
def test_invalid_histories_are_refused_whole(world, boxes, problem):
    box = boxes[0]
    changes, acknowledgements = _changes(box), _acknowledgements(box, world.technical)
    error = InvalidData
    if problem == "future":
        changes.append(services.PastChange(box.pk, S.DOWN, NOW + H))
    elif problem == "maintenance":
        changes.append(services.PastChange(box.pk, S.MAINTENANCE, _at(60)))
    elif problem == "outside":  # at 30 h the DRIMbox is operational: no incident to acknowledge
        acknowledgements.append(services.PastAcknowledgement(box.pk, _at(30), world.technical))
    else:  # the other operator's legal representative
        acknowledgements = _acknowledgements(box, world.other)
        error = NotAllowed
    with pytest.raises(error):
        services.backfill_history(changes, acknowledgements, at=NOW)
    assert not Transition.objects.filter(drimbox=box).exists() and not Incident.objects.filter(drimbox=box).exists()
    assert not DrimboxWeather.objects.filter(drimbox=box).exists()

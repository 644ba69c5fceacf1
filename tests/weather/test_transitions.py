"""Confirmation, quorum, transitions, incidents and « pas de données » (weather.services), with synthetic results."""
import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from operators.models import Drimbox
from tests.support.lifecycle import declared_drimbox
from trustspace.errors import InvalidData
from trustspace.models import AuditEntry
from weather import services
from weather.clock import support_add
from weather.models import DrimboxWeather, Incident, LocationObservation, ProbeLocation, Transition, WeatherStatus
from weather.prober import FAILING, ProbeResult

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # a Monday, 9:00 in Paris
MIN = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _policy(settings):
    settings.WEATHER_CONFIRMATION_FAILURES = 3
    settings.WEATHER_STALE_AFTER = 300
    settings.WEATHER_QUORUM = "majority"
    settings.WEATHER_LOCATION = "paris"


@pytest.fixture(autouse=True)
def _locations(db):
    """The two sites ANS activated (an unknown location is created inactive and does not vote)."""
    for name in ("paris", "lyon"):
        ProbeLocation.objects.create(name=name, label=name.capitalize(), active=True)


@pytest.fixture
def box(world):
    return declared_drimbox(world.operator, world.legal, world.ans)


def result(box, status, at, reason=""):
    failing = status == FAILING
    return ProbeResult(identifiant=box.identifiant, checked_at=at, status=status, db_ok=not failing,
                       db_error=reason if failing else "", vi_ok=status != WeatherStatus.DEGRADED,
                       vi_error=reason if status == WeatherStatus.DEGRADED else "", latency_ms=12)


def report(box, status, at, location="paris", reason=""):
    return services.record_observations(location, [result(box, status, at, reason)], at=at)


def head(box):
    return DrimboxWeather.objects.get(drimbox=box)


def statuses(box):
    return [(t.old_status, t.new_status, t.effective_at) for t in Transition.objects.filter(drimbox=box)]


def test_first_good_probe_makes_it_operational(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    assert head(box).status == WeatherStatus.OPERATIONAL
    assert statuses(box) == [(WeatherStatus.NO_DATA, WeatherStatus.OPERATIONAL, T0)]
    observation = LocationObservation.objects.get(drimbox=box)
    assert observation.location.name == "paris" and observation.latency_ms == 12
    assert ProbeLocation.objects.get(name="paris").last_report_at == T0


def test_one_failed_probe_does_not_flip(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    report(box, FAILING, T0 + MIN, reason="Connexion refusée.")
    report(box, FAILING, T0 + 2 * MIN, reason="Connexion refusée.")
    assert head(box).status == WeatherStatus.OPERATIONAL
    assert LocationObservation.objects.get(drimbox=box).consecutive_failures == 2
    assert not Incident.objects.exists()


def test_confirmed_down_is_effective_at_the_first_failure_and_opens_an_incident(
        box, world, django_capture_on_commit_callbacks):
    report(box, WeatherStatus.OPERATIONAL, T0)
    for i in (1, 2):
        report(box, FAILING, T0 + i * MIN, reason="Connexion refusée.")
    with django_capture_on_commit_callbacks(execute=True):
        report(box, FAILING, T0 + 3 * MIN, reason="Connexion refusée.")
    assert head(box).status == WeatherStatus.DOWN
    assert head(box).since == T0 + MIN
    assert statuses(box)[-1] == (WeatherStatus.OPERATIONAL, WeatherStatus.DOWN, T0 + MIN)
    incident = Incident.objects.get(drimbox=box)
    assert incident.is_open and incident.opened_at == T0 + MIN and incident.reason == "Connexion refusée."
    assert incident.gti_due_at == support_add(T0 + MIN, dt.timedelta(minutes=30)) == T0 + 31 * MIN
    assert incident.gtr_due_at == support_add(T0 + MIN, dt.timedelta(hours=4)) == T0 + MIN + dt.timedelta(hours=4)
    audit = AuditEntry.objects.get(action="weather.incident_opened")
    assert audit.actor_label == "tâche météo" and audit.object_id == str(incident.pk)
    assert len(mail.outbox) == 1 and "indisponible" in mail.outbox[0].subject
    assert world.technical.email in mail.outbox[0].to and world.legal.email in mail.outbox[0].to
    assert "GTI" in mail.outbox[0].body

    # More failures: no second transition, no second incident.
    report(box, FAILING, T0 + 4 * MIN)
    assert len(statuses(box)) == 2 and Incident.objects.count() == 1

    # Seen up again: operational at that probe, incident restored.
    with django_capture_on_commit_callbacks(execute=True):
        report(box, WeatherStatus.OPERATIONAL, T0 + 10 * MIN)
    assert head(box).status == WeatherStatus.OPERATIONAL
    assert statuses(box)[-1] == (WeatherStatus.DOWN, WeatherStatus.OPERATIONAL, T0 + 10 * MIN)
    incident.refresh_from_db()
    assert incident.restored_at == T0 + 10 * MIN
    assert AuditEntry.objects.filter(action="weather.incident_restored").count() == 1
    assert len(mail.outbox) == 2 and "rétabli" in mail.outbox[1].subject
    # GTI and GTR as met or missed, with the instants in Paris time (09:01 opened, 09:10 restored).
    body = mail.outbox[1].body
    assert ("- prise en compte (GTI, 30 min) : non pris en compte — rétablissement sans prise en compte le "
            "02/03/2026 à 09:10, dans le délai (échéance le 02/03/2026 à 09:31) ;") in body, body
    assert ("- rétablissement (GTR, 4 h) : tenue — rétablissement le 02/03/2026 à 09:10, dans le délai "
            "(échéance le 02/03/2026 à 13:01).") in body, body


def test_a_success_breaks_the_streak(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    report(box, FAILING, T0 + MIN)
    report(box, FAILING, T0 + 2 * MIN)
    report(box, WeatherStatus.OPERATIONAL, T0 + 3 * MIN)
    report(box, FAILING, T0 + 4 * MIN)
    report(box, FAILING, T0 + 5 * MIN)
    assert head(box).status == WeatherStatus.OPERATIONAL
    report(box, FAILING, T0 + 6 * MIN)
    assert head(box).status == WeatherStatus.DOWN and head(box).since == T0 + 4 * MIN


def test_degraded_then_operational(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    report(box, WeatherStatus.DEGRADED, T0 + MIN, reason="vi : connexion refusée.")
    assert head(box).status == WeatherStatus.DEGRADED and head(box).reason == "vi : connexion refusée."
    report(box, WeatherStatus.OPERATIONAL, T0 + 2 * MIN)
    assert [s[1] for s in statuses(box)] == ["operational", "degraded", "operational"]
    assert not Incident.objects.exists()


def test_one_failing_location_alone_does_not_meet_the_quorum(box):
    for loc in ("paris", "lyon"):
        report(box, WeatherStatus.OPERATIONAL, T0, location=loc)
    for i in (1, 2, 3, 4):
        report(box, FAILING, T0 + i * MIN, location="paris", reason="Délai dépassé.")
        report(box, WeatherStatus.OPERATIONAL, T0 + i * MIN, location="lyon")
    assert head(box).status == WeatherStatus.OPERATIONAL
    assert not Incident.objects.exists()
    # Lyon fails too: down once Lyon confirms, effective at Paris's first failure (earliest of the confirming).
    for i in (5, 6):
        report(box, FAILING, T0 + i * MIN, location="paris")
        report(box, FAILING, T0 + i * MIN, location="lyon")
    assert head(box).status == WeatherStatus.OPERATIONAL
    report(box, FAILING, T0 + 7 * MIN, location="lyon")
    assert head(box).status == WeatherStatus.DOWN and head(box).since == T0 + MIN
    # Once DOWN, a quorum no longer confirming the failure and one location seeing it up ends the DOWN.
    report(box, WeatherStatus.OPERATIONAL, T0 + 8 * MIN, location="paris")
    assert head(box).status == WeatherStatus.OPERATIONAL and head(box).since == T0 + 8 * MIN
    report(box, WeatherStatus.OPERATIONAL, T0 + 8 * MIN + 5 * dt.timedelta(seconds=1), location="lyon")
    assert head(box).status == WeatherStatus.OPERATIONAL and head(box).since == T0 + 8 * MIN


def test_an_inactive_location_does_not_vote(box):
    ProbeLocation.objects.create(name="test-lab", label="Laboratoire", active=False)
    report(box, WeatherStatus.OPERATIONAL, T0)
    for i in (1, 2, 3):
        report(box, FAILING, T0 + i * MIN, location="test-lab")
    assert head(box).status == WeatherStatus.OPERATIONAL
    assert LocationObservation.objects.get(drimbox=box, location__name="test-lab").consecutive_failures == 3


def test_a_silent_location_yields_no_data_never_down(box, django_capture_on_commit_callbacks):
    report(box, WeatherStatus.OPERATIONAL, T0)
    assert services.mark_silent(at=T0 + 4 * MIN) == []
    with django_capture_on_commit_callbacks(execute=True):
        changes = services.mark_silent(at=T0 + 6 * MIN)
    assert [c.new_status for c in changes] == [WeatherStatus.NO_DATA]
    assert head(box).status == WeatherStatus.NO_DATA
    assert statuses(box)[-1] == (WeatherStatus.OPERATIONAL, WeatherStatus.NO_DATA, T0)
    assert not Incident.objects.exists() and not mail.outbox
    assert WeatherStatus.DOWN not in [s[1] for s in statuses(box)]
    # Reporting again: back to operational, effective at that probe.
    report(box, WeatherStatus.OPERATIONAL, T0 + 20 * MIN)
    assert head(box).status == WeatherStatus.OPERATIONAL and head(box).since == T0 + 20 * MIN


def test_a_streak_does_not_continue_across_a_silence(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    report(box, FAILING, T0 + MIN)
    report(box, FAILING, T0 + 2 * MIN)
    report(box, FAILING, T0 + 30 * MIN)  # the location was silent: a new streak
    assert LocationObservation.objects.get(drimbox=box).consecutive_failures == 1
    assert LocationObservation.objects.get(drimbox=box).first_failure_at == T0 + 30 * MIN
    assert head(box).status == WeatherStatus.OPERATIONAL


def test_no_data_while_down_keeps_the_incident_open(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    for i in (1, 2, 3):
        report(box, FAILING, T0 + i * MIN)
    services.mark_silent(at=T0 + 60 * MIN)
    assert head(box).status == WeatherStatus.NO_DATA
    assert Incident.objects.get().is_open
    for i in (61, 62, 63):
        report(box, FAILING, T0 + i * MIN)
    assert head(box).status == WeatherStatus.DOWN and Incident.objects.count() == 1
    report(box, WeatherStatus.OPERATIONAL, T0 + 70 * MIN)
    assert Incident.objects.get().restored_at == T0 + 70 * MIN


def test_effective_time_never_precedes_the_current_head(box):
    report(box, FAILING, T0, location="paris")  # no data yet: stays no_data
    report(box, FAILING, T0 + MIN, location="paris")
    assert head(box).status == WeatherStatus.NO_DATA
    report(box, FAILING, T0 + 2 * MIN, location="paris")
    assert head(box).status == WeatherStatus.DOWN
    # The head was created at the first report, T0: the down is effective at T0, the first failure.
    assert head(box).since == T0
    times = [s[2] for s in statuses(box)]
    assert times == sorted(times)


def test_set_status_writes_one_row_only_on_change(box):
    assert services.set_status(box, WeatherStatus.OPERATIONAL, effective_at=T0, at=T0) is not None
    assert services.set_status(box, WeatherStatus.OPERATIONAL, effective_at=T0 + MIN, at=T0 + MIN) is None
    assert Transition.objects.filter(drimbox=box).count() == 1
    with pytest.raises(InvalidData):
        services.set_status(box, "maintenance", effective_at=T0)


@pytest.mark.parametrize("quorum,reporting,expected", [
    ("majority", 1, 1), ("majority", 2, 2), ("majority", 3, 2), ("majority", 4, 3),
    ("0.5", 2, 1), ("0.66", 3, 2), ("2/3", 3, 2), ("1.0", 3, 3), ("2", 1, 1), ("2", 3, 2), ("1", 5, 1),
    ("majority", 0, 0),
])
def test_quorum_values(quorum, reporting, expected):
    assert services.quorum_required(reporting, quorum) == expected


@pytest.mark.parametrize("quorum", ["0", "-1", "1.5", "abc", "0/0"])
def test_invalid_quorum_is_refused(quorum):
    with pytest.raises(InvalidData):
        services.quorum_required(3, quorum)


def _clone_boxes(template, count, start):
    """Extra DRIMbox rows copied from a declared one (the service does not care how they were declared)."""
    fields = {f.attname: getattr(template, f.attname) for f in Drimbox._meta.concrete_fields if f.attname != "id"}
    rows = []
    for n in range(start, start + count):
        rows.append(Drimbox(**{**fields, "identifiant": n, "db_fqdn": f"db{n}.test.example.fr",
                               "vi_fqdn": f"vi{n}.test.example.fr"}))
    return Drimbox.objects.bulk_create(rows)


def test_constant_query_count_as_results_grow(box):
    small = _clone_boxes(box, 5, 9000)
    large = _clone_boxes(box, 60, 9100)

    def run(boxes, at):
        with CaptureQueriesContext(connection) as ctx:
            services.record_observations("paris", [result(b, WeatherStatus.OPERATIONAL, at) for b in boxes], at=at)
        return len(ctx.captured_queries)

    services.location_named("paris")
    run(small, T0), run(large, T0)  # first reports: transitions no_data → operational
    steady_small, steady_large = run(small, T0 + MIN), run(large, T0 + MIN)
    assert steady_small == steady_large
    assert steady_large <= 12  # 2 of them: the hour of the latency history read and written back
    # A change for every one of the 60 boxes still costs a constant number of queries (no incident involved).
    degraded = CaptureQueriesContext(connection)
    with degraded:
        services.record_observations("paris", [result(b, WeatherStatus.DEGRADED, T0 + 2 * MIN) for b in large],
                                     at=T0 + 2 * MIN)
    assert len(degraded.captured_queries) <= 16
    assert DrimboxWeather.objects.filter(status=WeatherStatus.DEGRADED).count() == 60


def _two_locations_confirm_down(box):
    for loc in ("paris", "lyon"):
        report(box, WeatherStatus.OPERATIONAL, T0, location=loc)
    for i in (1, 2, 3):
        report(box, FAILING, T0 + i * MIN, location="paris")
        report(box, FAILING, T0 + i * MIN, location="lyon")
    assert head(box).status == WeatherStatus.DOWN and Incident.objects.get().is_open


def test_a_location_that_stays_partitioned_does_not_keep_a_drimbox_down_forever(box):
    _two_locations_confirm_down(box)
    # The DRIMbox is back; Lyon stays partitioned (keeps failing), Paris sees it up.
    report(box, FAILING, T0 + 4 * MIN, location="lyon")
    report(box, WeatherStatus.OPERATIONAL, T0 + 4 * MIN + 10 * dt.timedelta(seconds=1), location="paris")
    assert head(box).status == WeatherStatus.OPERATIONAL
    assert head(box).since == T0 + 4 * MIN + dt.timedelta(seconds=10)  # effective at Paris's probe
    assert Incident.objects.get().restored_at == T0 + 4 * MIN + dt.timedelta(seconds=10)
    for i in (5, 6, 7, 8):  # Lyon failing alone is not a quorum: it does not flip it back
        report(box, FAILING, T0 + i * MIN, location="lyon")
        report(box, WeatherStatus.OPERATIONAL, T0 + i * MIN, location="paris")
    assert head(box).status == WeatherStatus.OPERATIONAL and Incident.objects.count() == 1


def test_leaving_down_on_one_location_keeps_degraded_when_it_sees_it_degraded(box):
    _two_locations_confirm_down(box)
    report(box, WeatherStatus.DEGRADED, T0 + 4 * MIN, location="paris", reason="vi : connexion refusée.")
    assert head(box).status == WeatherStatus.DEGRADED and not Incident.objects.get().is_open


def test_a_late_older_result_never_overwrites_a_newer_one(box):
    report(box, WeatherStatus.OPERATIONAL, T0)
    for i in (1, 2, 3):
        report(box, FAILING, T0 + i * MIN)
    assert head(box).status == WeatherStatus.DOWN
    # A batch probed at T0+2m30 (the DRIMbox answered then) recorded only now, after the DOWN.
    changes = services.record_observations(
        "paris", [result(box, WeatherStatus.OPERATIONAL, T0 + 2 * MIN + 30 * dt.timedelta(seconds=1))],
        at=T0 + 4 * MIN)
    assert changes == []
    assert head(box).status == WeatherStatus.DOWN and Incident.objects.get().is_open
    observation = LocationObservation.objects.get(drimbox=box)
    assert observation.checked_at == T0 + 3 * MIN and observation.consecutive_failures == 3
    # Same instant as the stored row: ignored too.
    services.record_observations("paris", [result(box, WeatherStatus.OPERATIONAL, T0 + 3 * MIN)], at=T0 + 4 * MIN)
    assert head(box).status == WeatherStatus.DOWN
    # Within one batch, an older row after a newer one for the same DRIMbox is ignored as well.
    services.record_observations("paris", [result(box, FAILING, T0 + 5 * MIN),
                                           result(box, WeatherStatus.OPERATIONAL, T0 + 5 * MIN)], at=T0 + 5 * MIN)
    assert head(box).status == WeatherStatus.DOWN
    assert LocationObservation.objects.get(drimbox=box).consecutive_failures == 4


def test_one_location_silent_while_another_keeps_reporting(box):
    for loc in ("paris", "lyon"):
        report(box, WeatherStatus.OPERATIONAL, T0, location=loc)
    # Lyon goes silent; Paris keeps reporting every minute for 20 minutes (well past WEATHER_STALE_AFTER).
    for i in range(1, 21):
        report(box, WeatherStatus.OPERATIONAL, T0 + i * MIN, location="paris")
        assert services.mark_silent(at=T0 + i * MIN) == []
    assert head(box).status == WeatherStatus.OPERATIONAL
    # The status follows the reporting location alone (Lyon's stale observation does not vote).
    for i in (21, 22, 23):
        report(box, FAILING, T0 + i * MIN, location="paris")
    assert head(box).status == WeatherStatus.DOWN and head(box).since == T0 + 21 * MIN
    report(box, WeatherStatus.OPERATIONAL, T0 + 24 * MIN, location="paris")
    assert [s[1] for s in statuses(box)] == ["operational", "down", "operational"]
    assert WeatherStatus.NO_DATA not in [s[1] for s in statuses(box)]


def test_an_unknown_location_is_created_inactive_until_activated(box, capsys):
    from django.core.management import call_command

    report(box, WeatherStatus.OPERATIONAL, T0, location="paris")
    for i in (1, 2, 3):
        report(box, FAILING, T0 + i * MIN, location="marseille")
    marseille = ProbeLocation.objects.get(name="marseille")
    assert not marseille.active  # created by its first report, but it does not vote
    assert head(box).status == WeatherStatus.OPERATIONAL
    call_command("weather_locations", "--activate", "marseille", "--reason", "Nouveau site de sonde")
    assert ProbeLocation.objects.get(name="marseille").active
    entry = AuditEntry.objects.get(action="weather.location_activated")
    assert entry.object_id == str(marseille.pk) and entry.reason == "Nouveau site de sonde"
    assert entry.before == {"active": False} and entry.after == {"active": True}
    call_command("weather_locations")
    assert "marseille\tactif" in capsys.readouterr().out
    with pytest.raises(Exception, match="Point de sonde inconnu"):
        call_command("weather_locations", "--activate", "nulle-part")


def test_a_batch_addressed_to_another_location_is_refused(box, settings, caplog):
    from weather import tasks

    settings.WEATHER_LOCATION = "paris"
    outcome = tasks.probe_batch.apply(args=["lyon", [box.identifiant]]).get()
    assert outcome["refused"] is True
    assert not LocationObservation.objects.exists() and not DrimboxWeather.objects.exists()
    assert "refused by a worker of paris" in caplog.text

"""The demo's weather: 90 days of history written through the weather services, and live loopback DRIMboxes
(``manage.py demo_drimboxes``) probed by the real prober, taken down and brought back."""
import asyncio
import socket
import ssl
import threading
import time
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError

from certificates.devpki import demo_key_path
from certificates.models import Certificate
from demo import drimbox_farm
from demo.weather_history import HISTORY_DAYS, weather_plan
from operators.models import Drimbox, DrimboxStatus
from trustspace.models import AuditEntry
from weather import perf, tasks
from weather.clock import PARIS
from weather.models import DrimboxWeather, Incident, MaintenanceWindow, Transition, WeatherStatus


@pytest.fixture
def demo(demo_trust_space, settings):
    """The demo trust space (tests/conftest.py): its active DRIMboxes. DEBUG, as ``./scripts/run``: the prober
    presents the development client certificate."""
    settings.DEBUG = True
    return list(Drimbox.objects.filter(status=DrimboxStatus.ACTIVE).order_by("identifiant"))


def seeded_now():
    """The instant the demo's weather was seeded: its history starts exactly 90 days before."""
    return Transition.objects.order_by("effective_at").first().effective_at + timedelta(days=HISTORY_DAYS)


def planned_down(plan, box, start, end):
    """Downtime of ``box`` in [start, end) according to the plan."""
    total, down_since = timedelta(0), None
    for event in (e for e in plan if e.box == box):
        if event.status == WeatherStatus.DOWN:
            down_since = event.effective_at
        elif down_since is not None:
            lo, hi = max(down_since, start), min(event.effective_at, end)
            total += max(hi - lo, timedelta(0))
            down_since = None
    return total


@pytest.mark.parametrize("boxes", [1, 2])
def test_the_weather_plan_is_a_consistent_timeline_whatever_the_day(boxes):
    """Every day of two years (DST changes, public holidays): each DRIMbox's events alternate statuses in
    time order inside the 90 days, and nothing happens during an outage."""
    from datetime import datetime

    from weather.clock import is_public_holiday

    for offset in range(0, 730):
        now = datetime(2025, 1, 1, 9, 17, tzinfo=UTC) + timedelta(days=offset, hours=offset % 24)
        plan = weather_plan(now, boxes)
        for box in range(boxes):
            events = [e for e in plan if e.box == box]
            assert events[0].effective_at == now.replace(second=0, microsecond=0) - timedelta(days=HISTORY_DAYS)
            assert events[-1].status == WeatherStatus.OPERATIONAL and events[-1].effective_at <= now
            assert all(a.effective_at < b.effective_at and a.status != b.status
                       for a, b in zip(events, events[1:], strict=False))
            for a, b in zip(events, events[1:], strict=False):
                if a.status == WeatherStatus.DOWN:
                    assert b.status == WeatherStatus.OPERATIONAL  # the outage ends before anything else happens
        downs = [e for e in plan if e.status == WeatherStatus.DOWN and not e.live]
        assert len(downs) == 2 and not any(is_public_holiday(e.effective_at.astimezone(PARIS).date()) for e in downs)


def test_the_demo_seeds_90_days_of_weather_through_the_services(demo):
    assert len(demo) == 2
    now = seeded_now()
    plan = weather_plan(now, len(demo))
    for index, box in enumerate(demo):
        rows = list(Transition.objects.filter(drimbox=box).order_by("effective_at", "id"))
        expected = [e for e in plan if e.box == index]
        assert [r.new_status for r in rows] == [e.status for e in expected]
        assert rows[0].old_status == WeatherStatus.NO_DATA and rows[0].effective_at == now - timedelta(days=90)
        # Each row continues the previous one (the head moved through set_status, never written aside).
        assert all(a.new_status == b.old_status for a, b in zip(rows, rows[1:], strict=False))
        assert {r.new_status for r in rows} == {WeatherStatus.OPERATIONAL, WeatherStatus.DEGRADED, WeatherStatus.DOWN}
        assert DrimboxWeather.objects.get(drimbox=box).status == WeatherStatus.OPERATIONAL

    incidents = list(Incident.objects.order_by("opened_at"))
    assert [i.drimbox_id for i in incidents] == [demo[0].pk, demo[1].pk, demo[1].pk]
    assert all(i.restored_at is not None for i in incidents)
    tuesday, friday, live = incidents
    assert tuesday.opened_at.astimezone(PARIS).isoweekday() == 2
    assert tuesday.restored_at - tuesday.opened_at == timedelta(hours=1, minutes=30)
    assert tuesday.restored_at <= tuesday.gtr_due_at
    assert friday.opened_at.astimezone(PARIS).isoweekday() == 5
    assert friday.restored_at > friday.gtr_due_at  # restored on Saturday afternoon, after the GTR deadline
    # Acknowledged within GTI on Tuesday (10:20 for 10:05), late on Saturday (11:15, GTI due at 9:30).
    assert tuesday.opened_at < tuesday.acknowledged_at <= tuesday.gti_due_at
    assert friday.acknowledged_at > friday.gti_due_at and friday.acknowledged_at < friday.restored_at
    # The live incident was acknowledged by the operator's technical administrator within GTI, then restored.
    assert live.acknowledged_by.username == "at.radionum"
    assert live.opened_at < live.acknowledged_at <= live.gti_due_at and live.restored_at >= live.acknowledged_at
    actions = set(AuditEntry.objects.filter(action__startswith="weather.").values_list("action", flat=True))
    assert {"weather.incident_opened", "weather.incident_restored", "weather.incident_acknowledged",
            "weather.maintenance_declared"} <= actions

    window = MaintenanceWindow.objects.get()
    assert window.drimbox_id == demo[0].pk and window.declared_by.username == "at.emedia"
    assert window.starts_at > now and window.ends_at - window.starts_at == timedelta(hours=2)

    # Df and PERF of the month of the Friday-night outage (18 h: PERF 0.5 unless the month cut it).
    report = perf.compute(friday.opened_at.astimezone(PARIS).strftime("%Y-%m"))
    rows = {row.drimbox_id: row for row in report}
    assert set(rows) == {box.pk for box in demo}
    start, end = report.period.start, report.measured_until
    for index, box in enumerate(demo):
        expected = planned_down(plan, index, start, end)
        assert abs(rows[box.pk].df - expected) < timedelta(minutes=1), (box, rows[box.pk].df, expected)
        assert rows[box.pk].perf == perf.perf_score(rows[box.pk].df)
    if start <= friday.opened_at and friday.restored_at <= end:  # the whole 18 h outage in this month
        assert rows[demo[1].pk].perf == Decimal("0.5")


def _weather_figures(months):
    """What the demo's weather derives: transitions, incidents (GTI/GTR, acknowledgements), heads, and the Df and
    PERF of every DRIMbox for ``months``."""
    transitions = list(Transition.objects.order_by("drimbox_id", "effective_at", "id").values_list(
        "drimbox_id", "old_status", "new_status", "effective_at", "recorded_at", "reason"))
    incidents = list(Incident.objects.order_by("drimbox_id", "opened_at").values_list(
        "drimbox_id", "opened_at", "reason", "gti_due_at", "gtr_due_at", "acknowledged_at", "acknowledged_by",
        "acknowledgement_comment", "restored_at"))
    heads = list(DrimboxWeather.objects.order_by("drimbox_id").values_list("drimbox_id", "status", "since", "reason"))
    reports = {month: sorted((row.drimbox_id, row.df, row.perf) for row in perf.compute(month)) for month in months}
    return transitions, incidents, heads, reports


def _replay_through_the_services(boxes, now):
    """The demo's weather as it was written before the history was loaded in bulk: one ``set_status`` per event,
    each acknowledgement through ``acknowledge_incident`` (the reference the bulk load must equal)."""
    from demo.trust_space import technical_admin
    from demo.weather_history import prober_recorded_at
    from weather import services

    for event in weather_plan(now, len(boxes)):
        box = boxes[event.box]
        acknowledged = (event.effective_at if event.live and event.status != WeatherStatus.DOWN
                        else event.acknowledged_at)
        if acknowledged is not None:
            comment = ("Service DICOMweb redémarré, surveillance en cours." if event.live
                       else "Incident pris en compte, intervention en cours.")
            services.acknowledge_incident(Incident.objects.get(drimbox=box, restored_at__isnull=True),
                                          acting_user=technical_admin(box.operator), at=acknowledged, comment=comment)
        services.set_status(box, event.status, effective_at=event.effective_at, reason=event.reason,
                            at=prober_recorded_at(event, now))


def test_the_bulk_history_derives_the_same_weather_as_one_service_call_per_event(demo):
    """Transitions, incidents and the Df/PERF of every month of the 90 days: the same figures whether the history is
    loaded in bulk (the demo) or written event by event through the services (as the demo did before)."""
    now = seeded_now()
    months = sorted({(now - timedelta(days=days)).astimezone(PARIS).strftime("%Y-%m") for days in range(91)})
    loaded = _weather_figures(months)
    transitions, incidents, _heads, reports = loaded
    # 91 days reach over three calendar months at least, four on most days: on 30 and 31 December, for instance,
    # they run from 1 or 2 October (two 31-day months and one of 30: 92 days).
    assert len(transitions) == 20 and len(incidents) == 3 and len(reports) == len(months) >= 3
    assert any(row[2] < 1 for rows in reports.values() for row in rows)  # the outages weigh on some PERF

    Transition.objects.all().delete()
    Incident.objects.all().delete()
    DrimboxWeather.objects.all().delete()
    _replay_through_the_services(demo, now)
    assert _weather_figures(months) == loaded


def _wait(condition, polls=100, message="condition"):
    """Check ``condition`` up to ``polls`` times, 0.1 s apart (the farm applies a control within a second)."""
    for _poll in range(polls):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{message}: not seen after {polls} checks")


@pytest.fixture
def served(demo, settings, tmp_path):
    """``demo_drimboxes`` serving in a thread on kernel-chosen ports; the prober pointed at it."""
    state_dir = tmp_path / "demo-drimboxes"
    specs, warnings = drimbox_farm.load_endpoints()
    assert warnings == []
    farm = drimbox_farm.DemoFarm(specs, state_dir, drimbox_farm.client_ca_pem(), base_port=0)
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(farm.run(stop=stop, ready=ready.set)), daemon=True)
    thread.start()
    assert ready.wait(15), "demo_drimboxes did not start"
    settings.WEATHER_PROBE_RESOLVE = drimbox_farm.parse_resolve((state_dir / "resolve.txt").read_text())
    settings.WEATHER_VI_CA_BUNDLE = str(settings.DEV_PKI_DIR / "root.pem")
    settings.WEATHER_CLIENT_CERT = settings.WEATHER_CLIENT_KEY = ""  # DEBUG: the development client certificate
    settings.WEATHER_LOCATION = "local"
    settings.WEATHER_PROBE_TIMEOUT = 3
    settings.WEATHER_PROBE_RETRIES = 0
    settings.WEATHER_CONFIRMATION_FAILURES = 3
    settings.WEATHER_QUORUM = "majority"
    settings.WEATHER_STALE_AFTER = 300
    try:
        yield farm, state_dir
    finally:
        stop.set()
        thread.join(10)


def _control(state_dir, *args):
    call_command("demo_drimboxes", *args, "--state-dir", str(state_dir))


def _running(state_dir, name):
    return drimbox_farm.read_state(state_dir)["endpoints"][name]["running"]


def test_db_endpoints_present_the_uploaded_certificate_and_require_a_client_certificate(served, demo, settings):
    farm, _state_dir = served
    box = demo[0]
    host, port = settings.WEATHER_PROBE_RESOLVE[box.db_fqdn].split(":")
    uploaded = Certificate.objects.get(drimbox=box, kind="db", superseded_at__isnull=True)
    from weather.prober import client_certificate_paths

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(cadata=drimbox_farm.client_ca_pem())
    context.load_cert_chain(*client_certificate_paths())
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=box.db_fqdn) as tls:
        presented = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    assert presented == x509.load_pem_x509_certificate(uploaded.pem.encode())
    assert demo_key_path(settings.DEV_PKI_DIR, box.db_fqdn).exists()

    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
    with pytest.raises((ssl.SSLError, ConnectionError)):
        with socket.create_connection((host, int(port)), timeout=5) as raw, \
                anonymous.wrap_socket(raw, server_hostname=box.db_fqdn) as tls:
            tls.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
            if not tls.recv(100):  # TLS 1.3: the refusal arrives with the first read
                raise ConnectionError("closed")


def test_the_real_prober_sees_the_demo_drimboxes_go_down_and_come_back(served, demo, settings):
    _farm, state_dir = served
    first, second = demo
    tasks.schedule_probes.delay()  # eager: the batch goes to probe.local and is probed at once
    assert {w.drimbox_id: w.status for w in DrimboxWeather.objects.all()} == {
        first.pk: WeatherStatus.OPERATIONAL, second.pk: WeatherStatus.OPERATIONAL}

    label = first.db_fqdn.split(".", 1)[0]
    _control(state_dir, "--stop", label)
    _wait(lambda: not _running(state_dir, first.db_fqdn), message=f"{label} stopped")
    before = Incident.objects.count()
    tasks.probe_batch.delay("local", [first.identifiant, second.identifiant])
    tasks.probe_batch.delay("local", [first.identifiant, second.identifiant])
    # Two failed probes are not a confirmation: still operational, no incident.
    assert DrimboxWeather.objects.get(drimbox=first).status == WeatherStatus.OPERATIONAL
    assert Incident.objects.count() == before
    tasks.probe_batch.delay("local", [first.identifiant, second.identifiant])
    head = DrimboxWeather.objects.get(drimbox=first)
    assert head.status == WeatherStatus.DOWN and head.reason == "db : connexion refusée"
    incident = Incident.objects.get(drimbox=first, restored_at__isnull=True)
    down = Transition.objects.filter(drimbox=first).latest("effective_at")
    assert down.new_status == WeatherStatus.DOWN and incident.opened_at == down.effective_at < down.recorded_at
    assert DrimboxWeather.objects.get(drimbox=second).status == WeatherStatus.OPERATIONAL

    _control(state_dir, "--start", label)
    _wait(lambda: _running(state_dir, first.db_fqdn), message=f"{label} restarted")
    tasks.probe_batch.delay("local", [first.identifiant, second.identifiant])
    assert DrimboxWeather.objects.get(drimbox=first).status == WeatherStatus.OPERATIONAL
    incident.refresh_from_db()
    assert incident.restored_at is not None and incident.restored_at > incident.opened_at

    # The viewer alone: degraded, no incident.
    vi_label = second.vi_fqdn.split(".", 1)[0]
    _control(state_dir, "--stop", vi_label)
    _wait(lambda: not _running(state_dir, second.vi_fqdn), message=f"{vi_label} stopped")
    tasks.probe_batch.delay("local", [first.identifiant, second.identifiant])
    head = DrimboxWeather.objects.get(drimbox=second)
    assert head.status == WeatherStatus.DEGRADED and head.reason == "vi : connexion refusée"
    assert not Incident.objects.filter(drimbox=second, restored_at__isnull=True).exists()

    with pytest.raises(CommandError, match="Point d'accès inconnu"):
        _control(state_dir, "--stop", "db999")

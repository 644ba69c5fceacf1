"""Prometheus /metrics: restricted access, domain gauges against seeded rows, a constant number of queries."""
import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from certificates.models import Certificate
from operators.models import DnsChange, DnsChangeStatus
from tests.support.weather import make_drimboxes
from trustspace.beat import write_heartbeat
from trustspace.models import OutboxMessage
from weather.models import Incident, LocationObservation, ProbeLocation
from whitelist.models import GitHubPublication, GitHubPublicationStatus, WhitelistVersion, WhitelistVersionStatus

_serials = itertools.count(1)


def scrape(client, **extra):
    response = client.get("/metrics", **{"REMOTE_ADDR": "127.0.0.1", **extra})
    assert response.status_code == 200, response.status_code
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_only_allowed_addresses_or_the_token_get_metrics(client, db, settings):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9",
                      HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    # X-Forwarded-For is not believed without trusted proxies.
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 404


def certificate(drimbox, kind, not_after):
    serial = next(_serials)
    return Certificate(drimbox=drimbox, operator=drimbox.operator, kind=kind, source="depot", pem="-",
                       serial=str(serial), fingerprint_sha256=f"{serial:095d}", subject=f"CN={drimbox.db_fqdn}",
                       issuer="CN=test", not_before=not_after - timedelta(days=365), not_after=not_after)


def seed(world, count):
    """``count`` of everything each gauge counts; returns what the gauges must show."""
    now = timezone.now()
    boxes = make_drimboxes(world.operator, 4 * count)
    groups = [boxes[i::4] for i in range(4)]
    # db certificates: expiring in 10 days, in 30 days, in 200 days, expired; vi: one superseded, not counted.
    Certificate.objects.bulk_create(
        [certificate(box, "db", now + timedelta(days=10)) for box in groups[0]]
        + [certificate(box, "db", now + timedelta(days=30)) for box in groups[1]]
        + [certificate(box, "db", now + timedelta(days=200)) for box in groups[2]]
        + [certificate(box, "db", now - timedelta(days=1)) for box in groups[3]])
    superseded = [certificate(box, "vi", now + timedelta(days=5)) for box in groups[0]]
    for cert in superseded:
        cert.superseded_at = now
    Certificate.objects.bulk_create(superseded)
    DnsChange.objects.bulk_create(
        [DnsChange(name=f"db{n}.test.example.fr", reason="t", status=DnsChangeStatus.PENDING) for n in range(count)]
        + [DnsChange(name=f"vi{n}.test.example.fr", reason="t", status=DnsChangeStatus.APPLIED) for n in range(count)])
    Incident.objects.bulk_create(
        [Incident(drimbox=box, opened_at=now, gti_due_at=now, gtr_due_at=now) for box in groups[0]]
        + [Incident(drimbox=box, opened_at=now, gti_due_at=now, gtr_due_at=now, restored_at=now) for box in groups[1]])
    location, _ = ProbeLocation.objects.get_or_create(name="paris", defaults={"label": "Paris"})
    location.last_report_at = now - timedelta(seconds=120)
    location.save()
    LocationObservation.objects.bulk_create(
        [LocationObservation(drimbox=box, location=location, checked_at=now) for box in groups[2]])
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(kind="email", label=f"due {n}") for n in range(count)]
        + [OutboxMessage(kind="email", status="failed", label=f"failed {n}") for n in range(count)]
        + [OutboxMessage(kind="email", status="sent", label=f"sent {n}") for n in range(count)])


@pytest.mark.django_db
def test_gauges_match_the_rows_and_queries_do_not_grow_with_them(client, world):
    write_heartbeat("host:1")
    before = scrape(client)  # the world fixture already wrote e-mails to the outbox, DNS changes…

    def grew(samples, name, **labels):
        return value(samples, name, **labels) - value(before, name, **labels)

    seed(world, 3)
    version = WhitelistVersion.objects.create(number=7, status=WhitelistVersionStatus.PUBLISHED, unsigned_xml=b"x",
                                              generated_at=timezone.now(), prepared_by=world.ans, entry_count=12,
                                              published_at=timezone.now() - timedelta(hours=2))
    GitHubPublication.objects.create(version=version, status=GitHubPublicationStatus.FAILED, repository="a/b",
                                     branch="main")
    with CaptureQueriesContext(connection) as small:
        samples = scrape(client)
    assert grew(samples, "drimm_certificates_expiring", kind="db", days="15") == 3
    assert grew(samples, "drimm_certificates_expiring", kind="db", days="60") == 6
    assert grew(samples, "drimm_certificates_expired", kind="db") == 3
    assert grew(samples, "drimm_certificates_current", kind="db") == 12
    assert grew(samples, "drimm_certificates_expiring", kind="vi", days="15") == 0  # superseded ones do not count
    assert grew(samples, "drimm_dns_changes_pending") == 3
    assert grew(samples, "drimm_weather_incidents_open") == 3
    assert value(samples, "drimm_weather_location_drimboxes_observed", location="paris", active="1") == 3
    assert 120 <= value(samples, "drimm_weather_location_last_report_age_seconds", location="paris", active="1") < 3600
    assert grew(samples, "drimm_outbox_pending") == 3 and grew(samples, "drimm_outbox_failed") == 3
    assert value(samples, "drimm_whitelist_published_version") == 7
    assert 7200 <= value(samples, "drimm_whitelist_published_age_seconds") < 7200 + 3600
    assert value(samples, "drimm_whitelist_github_publications", status="echec") == 1
    assert value(samples, "drimm_whitelist_github_current_published") == 0
    assert value(samples, "drimm_beat_heartbeat_age_seconds") < 3600

    seed(world, 30)
    with CaptureQueriesContext(connection) as large:
        samples = scrape(client)
    assert grew(samples, "drimm_certificates_expiring", kind="db", days="15") == 33
    assert grew(samples, "drimm_weather_incidents_open") == 33
    assert grew(samples, "drimm_outbox_pending") == 33
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.django_db
def test_each_probe_report_of_a_location_counts_as_a_round(client, world):
    from weather import services
    from weather.models import WeatherStatus
    from weather.prober import ProbeResult

    boxes = make_drimboxes(world.operator, 2)
    ProbeLocation.objects.create(name="lyon", label="Lyon", active=True)
    ProbeLocation.objects.create(name="brest", label="Brest", active=False)
    start = timezone.now() - timedelta(minutes=10)
    for n in range(3):  # three rounds from lyon, the last one 4 minutes ago
        at = start + timedelta(minutes=3 * n)
        services.record_observations("lyon", [ProbeResult(
            identifiant=box.identifiant, checked_at=at, status=WeatherStatus.OPERATIONAL, db_ok=True, db_error="",
            vi_ok=True, vi_error="", latency_ms=5) for box in boxes], at=at)
    samples = scrape(client)
    assert value(samples, "drimm_weather_location_rounds_total", location="lyon", active="1") == 3
    assert value(samples, "drimm_weather_location_rounds_total", location="brest", active="0") == 0
    assert 240 <= value(samples, "drimm_weather_location_last_report_age_seconds", location="lyon", active="1") < 3600

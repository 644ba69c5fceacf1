"""Readiness (/api/v1/health, /api/v1/health/ready) and liveness (/api/v1/health/live)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import require_or_skip
from tests.support.processes import _die_with_parent
from tests.trustspace.test_beat import database_url
from trustspace import workers
from trustspace.beat import write_heartbeat
from trustspace.models import BeatHeartbeat, OutboxMessage, WorkerHeartbeat
from weather.models import ProbeLocation

ROOT = Path(__file__).resolve().parents[2]
STARTUP_POLLS = 300  # checks 0.2 s apart while a process starts: a generous wait, never an assertion about speed


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def worker_alive(name="worker@host-1", queues=("celery",)):
    workers.write_heartbeat(name, queues, started_at=timezone.now())


@pytest.fixture
def all_up(db):
    write_heartbeat("host:1")
    worker_alive()
    ProbeLocation.objects.create(name="local", label="Local", active=True, last_report_at=timezone.now())


def failing(response):
    body = response.json()
    return [part["name"] for part in body["checks"] if part["state"] == "failing"]


@pytest.mark.parametrize("url", ["/api/v1/health", "/api/v1/health/ready"])
def test_all_parts_up_is_ready(client, all_up, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert [part["name"] for part in body["checks"]] == ["database", "cache", "broker", "worker", "beat", "outbox",
                                                         "weather"]
    assert response["Cache-Control"].startswith("max-age=0")
    parts = {part["name"]: part for part in body["checks"]}
    assert all(part["duration_ms"] >= 0 for part in parts.values())
    # Healthy parts say what they measured, not only « ok ».
    beat = parts["beat"]["details"]
    assert 0 <= beat["heartbeat_age_seconds"] < beat["max_age_seconds"]
    assert parts["outbox"]["details"]["pending"] == 0 and parts["outbox"]["details"]["failed"] == 0
    [worker] = parts["worker"]["details"]["workers"]
    assert worker["name"] == "worker" and worker["queues"] == ["celery"] and worker["alive"] is True
    assert "host-1" not in response.content.decode()  # a worker is named without its host
    [location] = parts["weather"]["details"]["locations"]
    assert location["name"] == "local" and 0 <= location["last_round_age_seconds"] < 60 and location["rounds"] == 0


def test_details_follow_the_rows(client, all_up):
    BeatHeartbeat.objects.filter(pk=1).update(beat_at=timezone.now() - timedelta(seconds=100))
    ProbeLocation.objects.filter(name="local").update(last_report_at=timezone.now() - timedelta(seconds=70),
                                                      rounds_reported=12)
    ProbeLocation.objects.create(name="lyon", label="Lyon", active=True, last_report_at=timezone.now())
    ProbeLocation.objects.create(name="retiree", label="Retirée", active=False)
    OutboxMessage.objects.create(kind="email", label="à envoyer")
    OutboxMessage.objects.create(kind="email", label="en échec", status="failed")
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200, response.content
    parts = {part["name"]: part for part in response.json()["checks"]}
    assert 100 <= parts["beat"]["details"]["heartbeat_age_seconds"] < 160
    assert {key: parts["outbox"]["details"][key] for key in ("pending", "late", "failed")} == {
        "pending": 1, "late": 0, "failed": 1}
    locations = parts["weather"]["details"]["locations"]
    assert [(loc["name"], loc["rounds"]) for loc in locations] == [("local", 12), ("lyon", 0)]
    assert 70 <= locations[0]["last_round_age_seconds"] < 130


def test_a_stale_worker_is_named_without_its_host(client, all_up, settings):
    WorkerHeartbeat.objects.update(beat_at=timezone.now() - timedelta(seconds=settings.HEALTH_WORKER_MAX_AGE_SECONDS
                                                                         + 60))
    worker_alive("probe-paris@host-2", ["probe.paris"])  # alive, but serves another queue
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["worker"]
    message = response.json()["error"]["fields"]["worker"][0]
    assert "« celery »" in message and "« worker » (depuis 2 min)" in message, message
    assert "host-1" not in response.content.decode()
    workers_seen = {w["name"]: w["alive"] for w in
                    {p["name"]: p for p in response.json()["checks"]}["worker"]["details"]["workers"]}
    assert workers_seen == {"worker": False, "probe-paris": True}
    worker_alive("worker@host-3")  # another worker of the queue: ready again
    assert client.get("/api/v1/health/ready").status_code == 200


def test_no_worker_ever_is_named(client, all_up, settings):
    WorkerHeartbeat.objects.all().delete()
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["worker"]
    assert "n'a jamais signalé" in response.json()["error"]["message"]
    settings.HEALTH_WORKER_QUEUES = []  # no queue to watch: the part passes
    assert client.get("/api/v1/health/ready").status_code == 200


def test_a_stale_beat_is_named(client, all_up, settings):
    BeatHeartbeat.objects.filter(pk=1).update(
        beat_at=timezone.now() - timedelta(seconds=settings.HEALTH_BEAT_MAX_AGE_SECONDS + 60))
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert failing(response) == ["beat"]
    assert "n'a pas battu depuis" in response.json()["error"]["message"]


def test_no_beat_ever_is_named(client, all_up):
    BeatHeartbeat.objects.all().delete()
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and failing(response) == ["beat"]


def test_a_503_is_logged_once_and_never_mailed_to_the_administrators(client, all_up, settings, mailoutbox, caplog):
    """A load balancer polling readiness during an outage must not flood ANS with Django's error mails."""
    settings.ADMINS = [("ANS", "exploitation@example.fr")]
    BeatHeartbeat.objects.all().delete()
    with caplog.at_level("WARNING"):
        for _ in range(3):
            assert client.get("/api/v1/health/ready").status_code == 503
    assert mailoutbox == []
    assert [r.getMessage() for r in caplog.records if r.name == "trustspace.views"] == ["readiness: 503 (beat)"] * 3
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_a_silent_probe_location_is_named(client, all_up, settings):
    silent_since = timezone.now() - timedelta(seconds=settings.HEALTH_WEATHER_MAX_AGE_SECONDS + 5)
    ProbeLocation.objects.create(name="paris", label="Paris", active=True, last_report_at=silent_since)
    ProbeLocation.objects.create(name="retiree", label="Retirée", active=False, last_report_at=None)
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["weather"]
    message = response.json()["error"]["fields"]["weather"][0]
    assert "« paris »" in message and "retiree" not in message and "« local »" not in message


def test_an_outbox_backlog_is_named(client, all_up, settings):
    OutboxMessage.objects.create(kind="email", label="vieux", next_attempt_at=timezone.now() - timedelta(
        seconds=settings.HEALTH_OUTBOX_MAX_DELAY_SECONDS + 60))
    OutboxMessage.objects.create(kind="email", status="failed", label="abandonné")
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["outbox"]
    OutboxMessage.objects.filter(label="vieux").update(status="sent")
    settings.HEALTH_OUTBOX_MAX_PENDING = 2
    for n in range(3):
        OutboxMessage.objects.create(kind="email", label=f"récent {n}")
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["outbox"]


def test_an_unreachable_cache_is_named(client, all_up, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}}
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["cache"]


def test_an_unreachable_broker_is_named(client, all_up, settings, broker_retry_sleeps):
    settings.CELERY_BROKER_URL = f"redis://:secret-broker-password@127.0.0.1:{closed_port()}/0"
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["broker"]
    assert broker_retry_sleeps == []  # one attempt: the probe answers without kombu's pause before a retry
    assert "secret-broker-password" not in response.content.decode()


def test_liveness_touches_nothing(client):
    response = client.get("/api/v1/health/live")  # no database access allowed in this test: it would raise
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - http://127.0.0.1 of the portal under test
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start_portal(tmp_path, env):
    """gunicorn serving the portal on a free loopback port; returns (process, base URL) once it answers."""
    port = closed_port()
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "trustspace.settings",
           "DEBUG": "1", **env}
    log_path = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trustspace.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent)  # noqa: PLW1509
    base = f"http://127.0.0.1:{port}"
    for _poll in range(STARTUP_POLLS):
        try:
            status, _body = get_json(f"{base}/api/v1/health/live")
            assert status == 200  # alive: liveness needs no dependency
            return process, base
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not start: no answer after {STARTUP_POLLS} checks\n{log_path.read_text()}")


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def failing_parts(body):
    return [part["name"] for part in body["checks"] if part["state"] == "failing"]


def test_a_real_portal_with_its_database_down_answers_503_naming_it(tmp_path):
    """DATABASE_URL pointing at a closed port: a database that is down."""
    password = "db-secret-password"
    process, base = start_portal(tmp_path, {
        "DATABASE_URL": f"postgres://portal:{password}@127.0.0.1:{closed_port()}/drimm", "REDIS_URL": ""})
    try:
        status, body = get_json(f"{base}/api/v1/health/ready")
        assert status == 503
        assert "database" in failing_parts(body)
        assert "La base de données ne répond pas." in body["error"]["message"]
        assert password not in json.dumps(body)
    finally:
        stop(process)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_real_portal_names_its_redis_when_it_stops(tmp_path):
    """PostgreSQL and a private redis-server (cache and broker): 200, then the redis-server stops: 503 naming both."""
    require_or_skip(shutil.which("redis-server"), "redis-server is not installed")
    write_heartbeat("host:1")
    worker_alive()
    ProbeLocation.objects.create(name="local", label="Local", active=True, last_report_at=timezone.now())
    redis_port = closed_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent)  # noqa: PLW1509
    process = None
    try:
        process, base = start_portal(tmp_path, {"DATABASE_URL": database_url(),
                                                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"})
        for _poll in range(STARTUP_POLLS):  # redis may still be starting
            if (result := get_json(f"{base}/api/v1/health/ready"))[0] == 200:
                break
            time.sleep(0.2)
        assert result[0] == 200, result
        assert result[1]["status"] == "ok"
        redis.terminate()
        redis.wait(10)
        status, body = get_json(f"{base}/api/v1/health/ready")
        assert status == 503
        assert failing_parts(body) == ["cache", "broker"]
    finally:
        if process is not None:
            stop(process)
        stop(redis)


def worker_part(client):
    body = client.get("/api/v1/health/ready").json()
    return {part["name"]: part for part in body["checks"]}["worker"]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_its_own_heartbeat_and_is_named_once_killed(client, tmp_path, settings):
    """A production worker (prefork, no beat anywhere) writes its heartbeat by itself; after kill -9 the heartbeat
    ages and readiness names the worker."""
    settings.HEALTH_WORKER_MAX_AGE_SECONDS = 3
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": "", "VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "trustspace.settings", "WORKER_HEARTBEAT_SECONDS": "0.5"}
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trustspace", "worker", "-Q", "celery", "-n", "battement@%h",
         "--concurrency", "1", "--loglevel", "INFO", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
    try:
        def written():
            return WorkerHeartbeat.objects.filter(name__startswith="battement@").first()

        for _poll in range(STARTUP_POLLS):
            if (row := written()) is not None:
                break
            assert worker.poll() is None, log_path.read_text()
            time.sleep(0.2)
        else:
            pytest.fail("no heartbeat from the worker\n" + log_path.read_text())
        assert row.queue_names == ["celery"]
        for _poll in range(STARTUP_POLLS):  # it keeps beating on its own
            if written().beat_at > row.beat_at:
                break
            time.sleep(0.2)
        assert written().beat_at > row.beat_at
        part = worker_part(client)
        assert part["state"] == "ok", part
        assert [w["name"] for w in part["details"]["workers"]] == ["battement"]

        os.killpg(worker.pid, 9)
        worker.wait(10)
        last = written().beat_at
        for _poll in range(STARTUP_POLLS):
            if (part := worker_part(client))["state"] == "failing":
                break
            time.sleep(0.2)
        assert part["state"] == "failing", part
        assert "« battement »" in part["message"] and "« celery »" in part["message"]
        assert written().beat_at == last  # nothing beats for a dead worker
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 9)
            worker.wait()


def test_a_hanging_redis_cache_fails_fast(settings):
    """The cache of settings.py (REDIS_URL) carries short socket timeouts: a Redis that accepts and never answers is
    « not answering » within them, not a request held forever."""
    import threading

    from django.conf import settings as django_settings

    from trustspace.health import CacheCheck

    require_or_skip(django_settings.REDIS_URL, "REDIS_URL is not set (Redis cache test)")
    options = django_settings.CACHES["default"]["OPTIONS"]
    assert 0 < options["socket_timeout"] <= 5 and 0 < options["socket_connect_timeout"] <= 5
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings.CACHES = {"default": {**django_settings.CACHES["default"],
                                       "LOCATION": f"redis://127.0.0.1:{silent.getsockname()[1]}/0"}}
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(CacheCheck().problem()), daemon=True)
        thread.start()
        thread.join(60)  # a bound for a hung test, far above the timeouts: not a speed assertion
        assert outcome == ["Le cache ne répond pas."]

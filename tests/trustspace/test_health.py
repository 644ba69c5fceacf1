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
from trustspace.beat import write_heartbeat
from trustspace.models import BeatHeartbeat, OutboxMessage
from weather.models import ProbeLocation

ROOT = Path(__file__).resolve().parents[2]
STARTUP_POLLS = 300  # checks 0.2 s apart while a process starts: a generous wait, never an assertion about speed


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def all_up(db):
    write_heartbeat("host:1")
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
    assert [part["name"] for part in body["checks"]] == ["database", "cache", "broker", "beat", "outbox", "weather"]
    assert response["Cache-Control"].startswith("max-age=0")


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


def test_an_unreachable_broker_is_named(client, all_up, settings):
    settings.CELERY_BROKER_URL = f"redis://:secret-broker-password@127.0.0.1:{closed_port()}/0"
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 503 and failing(response) == ["broker"]
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

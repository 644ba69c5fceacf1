"""The production recipe in deploy/: environment template, systemd units (systemd-analyze verify), nginx site
(nginx -t, then a real nginx in front of a loopback backend: whitelist cache, /metrics from loopback only)."""
import http.client
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require_or_skip
from tests.deploy.local_services import free_port, render_nginx
from tests.support.processes import _die_with_parent
from tests.support.serving import start_serving, stop_serving
from trustspace.celery import app as celery_app
from weather.tasks import queue_of

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS_FILE = ROOT / "trustspace" / "settings.py"
ENV_TEMPLATE = DEPLOY / "drimm.env.example"
NGINX_SITE = DEPLOY / "nginx" / "drimm.conf"
UNITS = DEPLOY / "systemd"
SECRET_NAME = re.compile(r"SECRET|_PASSWORD$|_PIN$|_TOKEN$|_API_KEY$|^AUDIT_HMAC_KEYS$|^DATABASE_URL$")


def settings_variables():
    """Every environment variable trustspace/settings.py reads (env/env_int/env_bool/env_list, os.environ)."""
    text = SETTINGS_FILE.read_text()
    names = set(re.findall(r"\benv(?:_int|_bool|_list)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", text))
    names |= set(re.findall(r"os\.(?:environ\.get\(|environ\[|getenv\()\s*[\"']([A-Z][A-Z0-9_]*)[\"']", text))
    # Set by pytest-xdist in parallel test processes, never by an operator.
    return names - {"PYTEST_XDIST_WORKER"}


def template_entries():
    """{variable: the comment lines just above it} from deploy/drimm.env.example (set or commented out)."""
    entries, comments = {}, []
    for line in ENV_TEMPLATE.read_text().splitlines():
        match = re.match(r"#?([A-Z][A-Z0-9_]*)=", line)
        if match:
            entries[match.group(1)] = list(comments)
            comments = []
        elif line.startswith("#"):
            comments.append(line)
        else:
            comments = []
    return entries


def test_settings_are_parsed_from_the_source():
    names = settings_variables()
    # A sample from each layer of the file, so that a broken pattern cannot make the next test vacuous.
    assert {"SECRET_KEY", "DATABASE_URL", "VAR_DIR", "EMAIL_BACKEND", "AUDIT_HMAC_KEYS", "WEATHER_QUORUM"} <= names


def test_environment_template_lists_every_setting_with_a_comment():
    entries = template_entries()
    missing = sorted(settings_variables() - set(entries))
    assert not missing, f"deploy/drimm.env.example ne liste pas : {', '.join(missing)}"
    uncommented = sorted(name for name, comments in entries.items() if not comments)
    assert not uncommented, f"variables sans commentaire : {uncommented}"


def test_environment_template_marks_secrets_and_sets_none():
    entries = template_entries()
    secrets = [name for name in entries if SECRET_NAME.search(name)]
    assert {"SECRET_KEY", "AUDIT_HMAC_KEYS", "ACME_ACCOUNT_KEY_SECRET", "DNS_TSIG_SECRET"} <= set(secrets)
    unmarked = [name for name in secrets if not any("[SECRET]" in line for line in entries[name])]
    assert not unmarked, f"secrets non signalés [SECRET] : {unmarked}"
    for line in ENV_TEMPLATE.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#") and SECRET_NAME.search(name) and name != "DATABASE_URL":
            assert value == "", f"{name} : un secret n'a pas de valeur dans le modèle"


def test_environment_template_is_production():
    lines = ENV_TEMPLATE.read_text().splitlines()
    assert "DEBUG=0" in lines
    assert "THROTTLE_NUM_PROXIES=1" in lines  # behind exactly one proxy: nginx


# --- systemd -----------------------------------------------------------------------------------------------


def unit_text(name):
    return (UNITS / name).read_text()


@pytest.mark.parametrize("name", ["drimm-web.service", "drimm-worker.service", "drimm-reports.service",
                                  "drimm-probe@.service", "drimm-beat.service"])
def test_units_are_hardened_and_read_the_environment_file(name):
    text = unit_text(name)
    for directive in ("EnvironmentFile=/etc/drimm/drimm.env", "User=drimm", "NoNewPrivileges=yes",
                      "ProtectSystem=strict", "PrivateTmp=yes", "Restart=on-failure",
                      "ReadWritePaths=/var/lib/drimm"):
        assert directive in text.splitlines(), f"{name}: {directive}"


def test_units_run_the_portal_processes_on_their_queues():
    web = unit_text("drimm-web.service")
    assert "gunicorn trustspace.wsgi --config python:trustspace.gunicorn_conf" in web
    assert "--bind 127.0.0.1:8001" in web
    assert re.search(r"celery -A trustspace worker -Q celery\b", unit_text("drimm-worker.service"))
    # The PERF layouts on their own queue, one at a time, so that they never hold up the other queues.
    reports = exec_start("drimm-reports.service")
    assert reports[reports.index("-Q") + 1] == settings.PERF_REPORT_QUEUE == "reports"
    assert reports[reports.index("--concurrency") + 1] == "1"
    assert celery_app.amqp.router.route({}, "weather.tasks.generate_perf_report")["queue"].name == "reports"
    assert "drimm-reports.service" in unit_text("drimm.target")
    probe = unit_text("drimm-probe@.service")
    assert f"-Q {queue_of('%i')} " in probe and "Environment=WEATHER_LOCATION=%i" in probe.splitlines()
    beat = unit_text("drimm-beat.service")
    assert "celery -A trustspace beat" in beat and "worker" not in beat.split("ExecStart=")[1].split("\n")[0]


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    require_or_skip(analyze, "systemd-analyze (paquet Debian systemd) est requis")
    # The units name /opt/drimm; here they run from this checkout (verify checks that ExecStart exists).
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/drimm/.venv", str(ROOT / ".venv")).replace("/opt/drimm", str(ROOT))
        (tmp_path / unit.name).write_text(text)
    names = ["drimm-web.service", "drimm-worker.service", "drimm-reports.service", "drimm-beat.service",
             "drimm-probe@paris.service", "drimm.target", "drimm-backup.service", "drimm-backup.timer",
             "drimm-alerts.service", "drimm-alerts.timer"]
    result = subprocess.run([analyze, "verify", *names], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Unknown" not in output and "ignoring" not in output, output


def exec_start(name):
    """The unit's ExecStart command line, continuation lines joined, as a list of arguments."""
    text = unit_text(name).replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.split("=", 1)[1])


def test_the_alerts_timer_runs_the_checks_every_minute_without_the_beat():
    service = unit_text("drimm-alerts.service")
    for directive in ("EnvironmentFile=/etc/drimm/drimm.env", "User=drimm", "NoNewPrivileges=yes",
                      "ProtectSystem=strict", "PrivateTmp=yes", "Type=oneshot", "ReadWritePaths=/var/lib/drimm"):
        assert directive in service.splitlines(), directive
    assert exec_start("drimm-alerts.service") == ["/opt/drimm/.venv/bin/python", "/opt/drimm/manage.py",
                                                  "check_alerts"]
    timer = unit_text("drimm-alerts.timer").splitlines()
    assert "OnCalendar=*-*-* *:*:00" in timer and "WantedBy=timers.target" in timer
    assert "drimm-alerts.timer" in unit_text("drimm.target")


def wait_for_port(port, process, log):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
    pytest.fail("gunicorn did not listen\n" + log.read_text())


def json_lines(path, *, plain_allowed=()):
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith(plain_allowed):
            continue
        assert line.startswith("{"), f"not a JSON line: {line}"
        lines.append(json.loads(line))
    return lines


def test_the_web_unit_logs_json_lines_carrying_the_request_id(tmp_path):
    """gunicorn run with the unit's own arguments (one worker, a free port): every access line is JSON with the
    request id the portal answered in X-Request-ID, gunicorn's own lines are JSON too."""
    args = exec_start("drimm-web.service")
    args[0] = str(ROOT / ".venv" / "bin" / "gunicorn")
    port = free_port()
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    args[args.index("--workers") + 1] = "1"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "trustspace.settings", "DEBUG": "1", "DATABASE_URL": "",
           "REDIS_URL": "", "VAR_DIR": str(tmp_path / "var"), "LOG_FORMAT": "json"}  # json: production's default
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(access, "ab"),
                               stderr=open(errors, "ab"), preexec_fn=_die_with_parent)  # noqa: PLW1509
    try:
        wait_for_port(port, process, errors)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/v1/health/live?nom=Dupont", headers={"X-Request-ID": "controle-1234",
                                                                              "User-Agent": 'sonde "test"'})
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("X-Request-ID") == "controle-1234"
        connection.request("GET", "/page-qui-n-existe-pas/")
        missing = connection.getresponse()
        missing.read()
        generated = missing.getheader("X-Request-ID")
        connection.close()
        for _ in range(100):  # the access line is written after the response
            if access.exists() and access.read_text().count("\n") >= 2:
                break
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(30)
    lines = json_lines(access)
    live = next(line for line in lines if line.get("path") == "/api/v1/health/live")
    assert live["request_id"] == "controle-1234" and live["status"] == 200 and live["method"] == "GET"
    assert live["logger"] == "gunicorn.access" and live["user_agent"] == 'sonde "test"'
    assert "Dupont" not in access.read_text()  # no query string in the access log
    assert next(line for line in lines if line.get("path") == "/page-qui-n-existe-pas/")["request_id"] == generated
    # DEBUG=1 here: Django's development console handler also prints its « Not Found » in plain text.
    started = json_lines(errors, plain_allowed=("Not Found:",))
    assert any(line["logger"] == "gunicorn.error" and "Listening at" in line["message"] for line in started), started
    # Django's own line about the same request carries the same id: one id joins both logs.
    assert any(line["logger"] == "django.request" and line.get("request_id") == generated for line in started)


# --- nginx -------------------------------------------------------------------------------------------------


def test_nginx_body_limit_matches_uploads():
    match = re.search(r"client_max_body_size (\d+)m;", NGINX_SITE.read_text())
    limit = int(match.group(1)) * 1024 * 1024
    # Two PDF pieces of MAX_UPLOAD_BYTES (membership application) plus the form fields; not much more.
    assert 2 * settings.MAX_UPLOAD_BYTES < limit <= 2 * settings.MAX_UPLOAD_BYTES + 2 * 1024 * 1024


def nginx_prefix(tmp_path, **ports):
    return render_nginx(tmp_path, **ports)


def require_nginx():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    require_or_skip(Path(nginx).exists(), "nginx (paquet Debian nginx-light) est requis")
    return nginx


def test_nginx_site_passes_nginx_t(tmp_path):
    nginx = require_nginx()
    conf = nginx_prefix(tmp_path)
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


class CountingBackend(http.server.ThreadingHTTPServer):
    """Stands for gunicorn: answers like whitelist/views.py (ETag, max-age=0) and counts what reaches it."""

    def __init__(self):
        self.hits = []
        self.seen_headers = []
        super().__init__(("127.0.0.1", 0), self.Handler)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.server.hits.append(self.path)
            self.server.seen_headers.append(dict(self.headers))
            body = b"<ListeBlanche/>" if self.path.startswith("/liste-blanche/") else b"metrics 1\n"
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Cache-Control", "public, max-age=0, must-revalidate")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass


def get(url, *, source="127.0.0.1", headers=None):
    host, port = url.split("//")[1].split("/")[0].split(":")
    context = ssl.create_default_context()
    context.check_hostname = False  # the test certificate is self-signed, for a name the test does not resolve
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(host, int(port), source_address=(source, 0), context=context, timeout=10)
    path = "/" + url.split("//")[1].split("/", 1)[1]
    connection.request("GET", path, headers={"Host": "portail.mesimagesmedicales.fr", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def test_nginx_caches_the_whitelist_and_keeps_metrics_on_loopback(tmp_path):
    nginx = require_nginx()
    backend = CountingBackend()
    serving_thread = start_serving(backend)
    https_port = free_port()
    conf = nginx_prefix(tmp_path, backend_port=backend.server_address[1], http_port=free_port(),
                        https_port=https_port)
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        base = f"https://127.0.0.1:{https_port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                time.sleep(0.05)
        started = time.monotonic()
        statuses = [get(base + "/liste-blanche/listeblanche.xml")[0] for _ in range(20)]
        lifetimes = (time.monotonic() - started) / 2  # the cache keeps the list 2 s (deploy/nginx)
        assert statuses == [200] * 20
        # Twenty downloads: the backend saw one per cache lifetime they spanned (plus one where a lifetime ends
        # between two downloads), not one per download — on a loaded machine too.
        whitelist_hits = [path for path in backend.hits if path.startswith("/liste-blanche/")]
        assert 1 <= len(whitelist_hits) <= int(lifetimes) + 2 and len(whitelist_hits) < 20
        status, headers, _ = get(base + "/liste-blanche/listeblanche.xml", headers={"If-None-Match": '"v1"'})
        assert status == 304 and headers["ETag"] == '"v1"'
        assert "max-age=31536000" in headers["Strict-Transport-Security"]
        assert all(h.get("X-Forwarded-Proto") == "https" and h["Host"] == "portail.mesimagesmedicales.fr"
                   for h in backend.seen_headers), backend.seen_headers
        assert get(base + "/metrics")[0] == 200
        hits_before = len(backend.hits)
        assert get(base + "/metrics", source="127.0.0.2")[0] == 403  # another address: refused by nginx
        assert len(backend.hits) == hits_before
    finally:
        process.terminate()
        process.wait(timeout=10)
        stop_serving(backend, serving_thread)

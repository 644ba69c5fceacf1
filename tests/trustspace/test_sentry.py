"""Optional Sentry: a portal process with SENTRY_DSN reports an unhandled view error to a loopback receiver, without
credentials; without SENTRY_DSN nothing of sentry_sdk is even imported."""
import gzip
import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.serving import serving

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def sentry_receiver():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            # sentry-sdk compresses with brotli when the package is installed (WeasyPrint brings it), else gzip.
            encoding = self.headers.get("Content-Encoding")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "br":
                import brotli

                body = brotli.decompress(body)
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server):
        yield server.server_address[1], received


def run_portal(env_overrides, tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": "", **env_overrides}
    env.pop("SENTRY_DSN", None) if "SENTRY_DSN" not in env_overrides else None
    return subprocess.run([sys.executable, "-m", "tests.trustspace.sentry_app"], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def events_of(received):
    events = []
    for request in received:
        for line in request["body"].splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "exception" in item:
                events.append(item)
    return events


def test_an_unhandled_view_error_reaches_sentry_without_credentials(sentry_receiver, tmp_path):
    port, received = sentry_receiver
    result = run_portal({"SENTRY_DSN": f"http://publickey@127.0.0.1:{port}/1", "SENTRY_ENVIRONMENT": "recette",
                         "SENTRY_RELEASE": "portail@1.2.3"}, tmp_path)
    assert "status=500 sentry_loaded=True" in result.stdout, result.stderr
    assert received and all(r["path"] == "/api/1/envelope/" for r in received)
    events = events_of(received)
    assert len(events) == 1, received
    event = events[0]
    assert event["exception"]["values"][-1]["value"] == "sentry-test-failure"
    assert event["environment"] == "recette" and event["release"] == "portail@1.2.3"
    headers = {name.lower() for name in event["request"].get("headers", {})}
    assert "authorization" not in headers and "cookie" not in headers
    assert "cookies" not in event["request"]
    raw = b"".join(r["body"] for r in received)
    assert b"secret-bearer-token" not in raw and b"secret-cookie-value" not in raw
    # The request's body and query string (personal data in a form or a search) never leave the portal either.
    assert not {"data", "query_string", "env"} & set(event["request"]), event["request"]
    assert b"secret-body-value" not in raw and b"secret-query-value" not in raw
    assert "user" not in event or "ip_address" not in event["user"]


def test_scrub_event_drops_bodies_cookies_query_strings_and_credentials():
    from trustspace.sentry import scrub_event

    event = {"request": {
        "method": "POST", "url": "https://portail.example.fr/ans/recherche/?q=Dupont#haut",
        "query_string": "q=Dupont", "data": {"nir": "1850575123456"}, "cookies": {"sessionid": "s"},
        "env": {"REMOTE_ADDR": "192.0.2.7"},
        "headers": {"Authorization": "Token t", "Cookie": "sessionid=s", "X-CSRFToken": "c", "Accept": "text/html"}},
        "user": {"id": 3, "ip_address": "192.0.2.7"}}
    scrubbed = scrub_event(event)
    assert scrubbed["request"] == {"method": "POST", "url": "https://portail.example.fr/ans/recherche/",
                                   "headers": {"Accept": "text/html"}}
    assert scrubbed["user"] == {"id": 3}
    assert scrub_event({"message": "sans requête"}) == {"message": "sans requête"}


def test_without_a_dsn_sentry_is_not_imported(sentry_receiver, tmp_path):
    port, received = sentry_receiver
    result = run_portal({}, tmp_path)
    assert "status=500 sentry_loaded=False" in result.stdout, result.stderr
    assert received == []

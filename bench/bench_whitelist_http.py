"""Benchmark: the public whitelist endpoint under gunicorn, loaded with ``wrk`` (Debian ``wrk``).

A signed 10,000-entry list (6 MB) is published in a throwaway database; gunicorn serves the portal
(``DEBUG=0``, as in production behind its TLS proxy) on 127.0.0.1, and wrk measures, on this machine
(both share its cores):

* conditional GETs per second — ``If-None-Match`` with the current ETag, every answer a 304
  (what every DRIMbox does daily) — target ≥ 1,000/s;
* full downloads per second of the 10,000-entry list (200, the whole body) — target ≥ 200/s;
* the same full download with ``Accept-Encoding: gzip`` (what HTTP clients send by default).

Median of ``BENCH_ROUNDS`` (default 3) wrk runs of ``BENCH_SECONDS`` (default 8) each.
Knobs: ``BENCH_ENTRIES`` (10000), ``BENCH_WORKERS`` (gunicorn workers, default 4), ``BENCH_THREADS``
(threads per gthread worker, default 4),
``BENCH_CONNECTIONS`` (wrk connections, default 16), ``BENCH_DATABASE_URL`` (PostgreSQL instead of
SQLite), ``BENCH_STRICT=1`` (exit 1 when a target is missed). Run with ``bench/run whitelist_http``.
"""
import base64
import datetime as dt
import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import benchlib  # noqa: E402

benchlib.setup("whitelist_http")

from bench_whitelist import entries  # noqa: E402  (the same 10,000 entries)
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from tests.support import pki  # noqa: E402
from tests.whitelist.signing import org_sign_certificate  # noqa: E402
from whitelist import builder, xades  # noqa: E402
from whitelist.models import WhitelistVersion, WhitelistVersionStatus  # noqa: E402

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
TARGET_CONDITIONAL = 1000
TARGET_FULL = 200


def publish_list():
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    unsigned = builder.render(entries(now), generated_at=now)
    hierarchy = pki.TestPKI()
    signer = org_sign_certificate(hierarchy)
    signed = xades.sign(unsigned, signer.key, signer.cert, [hierarchy.intermediate.cert], signing_time=now)
    user = get_user_model().objects.create(username="bench.ans")
    WhitelistVersion.objects.create(
        number=1, status=WhitelistVersionStatus.PUBLISHED, generated_at=now, unsigned_xml=unsigned,
        signed_xml=signed, sha256=hashlib.sha256(signed).hexdigest(), entry_count=ENTRIES, prepared_by=user,
        approved_by=user, published_at=now)
    return signed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port):
    env = dict(os.environ, DEBUG="0", SECRET_KEY="bench-only-" + "x" * 40, SECURE_SSL_REDIRECT="0",
               AUDIT_HMAC_KEYS="bench:" + base64.b64encode(b"bench-only-audit-key-" + b"x" * 16).decode(),
               ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "trustspace.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--worker-class", "gthread", "--threads", str(THREADS),
         "--keep-alive", "5", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/liste-blanche/listeblanche.xml"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return process, url, response.headers["ETag"], response.read()
        except OSError as exc:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace")[-2000:]
                raise SystemExit("gunicorn stopped: " + stderr) from exc
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not answer within 30 s")


def wrk(url, *headers, seconds=SECONDS, warmup=False):
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if warmup:
        return None
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if errors or socket_errors:
        raise SystemExit("wrk saw errors:\n" + output)
    return rate


def main():
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (Debian package wrk)")
    benchlib.migrate()
    signed = publish_list()
    connection.close()  # gunicorn's workers open their own
    process, url, etag, body = start_gunicorn(free_port())
    try:
        assert body == signed, "the served list differs from the stored signed bytes"
        size_mb = len(signed) / 1e6
        print(f"# {ENTRIES} entries, {size_mb:.1f} MB; gunicorn {WORKERS} workers x {THREADS} threads "
              f"(gthread, keep-alive); wrk 2 threads, {CONNECTIONS} connections, {SECONDS}s x {ROUNDS} runs (median)")
        missed = False
        cases = (
            ("conditional GET (304)", (f"If-None-Match: {etag}",), TARGET_CONDITIONAL),
            ("full download (200)", (), TARGET_FULL),
            ("full download, gzip", ("Accept-Encoding: gzip",), TARGET_FULL),
        )
        # Every worker thread's first request imports the views and loads the list into memory: not measured.
        wrk(url, seconds=3, warmup=True)
        wrk(url, "Accept-Encoding: gzip", seconds=2, warmup=True)
        for label, headers, target in cases:
            rates = [wrk(url, *headers) for _ in range(ROUNDS)]
            median = statistics.median(rates)
            ok = median >= target
            missed |= not ok
            print(f"{label:28s} median {median:9.0f}/s  runs {' '.join(f'{r:.0f}' for r in rates)}  "
                  f"target >= {target}/s: {'OK' if ok else 'MISSED'}")
        return missed
    finally:
        process.terminate()
        process.wait(timeout=10)


benchlib.run(main)

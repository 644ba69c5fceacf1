"""Scaffolding shared by the bench/bench_*.py benchmarks (not a benchmark itself).

A benchmark script calls ``setup(name)`` before importing anything that needs Django's settings
(models, ``django.conf.settings``), measures its pages with ``measure(url, user)`` and ends with
``run(main)``, which cleans up and exits.

Knobs read here, documented in each benchmark's docstring: ``BENCH_DATABASE_URL``,
``BENCH_REQUESTS`` (default 30), ``BENCH_WARMUP`` (default 3), ``BENCH_STRICT``,
``BENCH_SHOW_SQL``, ``BENCH_SQL_WIDTH`` (default 300), and through ``size_pair`` /
``target_p95_ms`` the ``BENCH_SMALL`` / ``BENCH_LARGE`` / ``BENCH_TARGET_P95_MS`` knobs whose
defaults each benchmark chooses.

Every benchmark states its verdict against each target with ``report_target(name, value, target, unit)``:
one ``SUMMARY`` line that ``bench/run`` collects into its closing summary. This helper needs neither
``setup()`` nor Django, so a benchmark that configures Django itself can still ``import benchlib``.
"""
import contextlib
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "").strip()
N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "30"))
N_WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")
SHOW_SQL = os.environ.get("BENCH_SHOW_SQL", "") not in ("", "0")
SQL_WIDTH = int(os.environ.get("BENCH_SQL_WIDTH", "300"))

_tmp_dir = None  # the temporary VAR_DIR (SQLite database, Celery broker files), set by setup()
_pg_admin_url = None
_pg_db_name = None  # the throwaway PostgreSQL database, when BENCH_DATABASE_URL is given


def size_pair(name, default):
    """A size knob such as ``BENCH_SMALL``: "a/b" (or "a", meaning "a/5a") as (a, b); default when unset."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    first, second = raw.split("/") if "/" in raw else (raw, int(raw) * 5)
    return int(first), int(second)


def target_p95_ms(default):
    """``BENCH_TARGET_P95_MS``, with the benchmark's own default."""
    return float(os.environ.get("BENCH_TARGET_P95_MS", str(default)))


# ---------------------------------------------------------------------------
# Environment and database, before django.setup(): settings read VAR_DIR / DATABASE_URL /
# ALLOWED_HOSTS.
# ---------------------------------------------------------------------------
def setup(name, unset=()):
    """Point the settings at a temporary VAR_DIR and a throwaway database, then django.setup().

    ``name`` names the temporary directory (``bench_<name>_...``); ``unset`` lists further
    environment variables to remove before the settings read them.
    """
    global _tmp_dir
    _tmp_dir = tempfile.TemporaryDirectory(prefix=f"bench_{name}_")
    os.environ["VAR_DIR"] = _tmp_dir.name
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)  # locmem cache, filesystem Celery broker under VAR_DIR
    for variable in unset:
        os.environ.pop(variable, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
    os.environ["DEBUG"] = os.environ.get("DEBUG") or "1"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if BENCH_DATABASE_URL:
        _create_pg_database()

    import django

    django.setup()


def _create_pg_database():
    """Create ``bench_<pid>`` on the given server and point DATABASE_URL at it."""
    global _pg_admin_url, _pg_db_name
    import psycopg
    from psycopg import sql

    _pg_admin_url = BENCH_DATABASE_URL
    _pg_db_name = f"bench_{os.getpid()}"
    with psycopg.connect(_pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(_pg_db_name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_pg_db_name)))
    parts = urlsplit(_pg_admin_url)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + _pg_db_name))


def _drop_pg_database():
    if not _pg_db_name:
        return
    import psycopg
    from psycopg import sql

    with contextlib.suppress(Exception):  # best effort before dropping
        from django.db import connections

        connections.close_all()
    with psycopg.connect(_pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(_pg_db_name)))


def run(main):
    """Run ``main()`` (true when a target was missed), clean up, and exit: 1 when a target was
    missed under ``BENCH_STRICT`` (or on an error), else 0."""
    from django.db import connection

    code = 1
    try:
        code = 1 if (main() and STRICT) else 0
    finally:
        try:
            connection.close()
        finally:
            _drop_pg_database()
            _tmp_dir.cleanup()
    sys.exit(code)


# ---------------------------------------------------------------------------
# Measurement and report.
# ---------------------------------------------------------------------------
def _figure(value):
    """A figure with about three significant digits, never in exponent notation."""
    value = float(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def report_target(name, value, target, unit="", *, higher_is_better=False):
    """Print ``SUMMARY <name> <value> <target> OK|MISSED [<unit>]`` and return whether the target is met.

    ``name`` is one word (e.g. ``whitelist.verify_vs_xmlsec1``); the target is met when ``value <= target``
    (``value >= target`` with ``higher_is_better``). Under ``bench/run`` the line is also appended to the
    file named by ``BENCH_SUMMARY_FILE``, which ``bench/run`` prints once every benchmark has run.
    """
    if not name or any(character.isspace() for character in name):
        raise ValueError(f"a summary name is one word, got {name!r}")
    met = value >= target if higher_is_better else value <= target
    line = f"SUMMARY {name} {_figure(value)} {_figure(target)} {'OK' if met else 'MISSED'}"
    if unit:
        line += f" {unit}"
    print(line, flush=True)
    summary_file = os.environ.get("BENCH_SUMMARY_FILE", "")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return met


def print_header(title, target_ms):
    """The first line of a report: which database, how many requests, the targets."""
    database = f"postgresql ({_pg_db_name})" if _pg_db_name else "sqlite (temporary file)"
    print(f"# {title} — database: {database}; {N_REQUESTS} timed requests after {N_WARMUP} warm-ups; "
          f"target p95<={target_ms:g}ms, query count independent of size")


def migrate():
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"# migrate: {time.perf_counter() - started:.1f}s")


def cpu_seconds():
    """CPU seconds used so far by this process plus, when the database is a PostgreSQL server on this machine,
    by this connection's backend: on a shared machine, what the work costs whatever the machine gives it."""
    from django.db import connection

    used = time.process_time()
    if connection.vendor != "postgresql":
        return used
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:  # a server elsewhere: its CPU is not ours to read
        return used
    return used + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Measurement(NamedTuple):
    median: float  # ms
    p95: float  # ms
    queries: int
    sql: list  # the queries of the counted request (CaptureQueriesContext entries)
    response: object  # the counted request's response


def p95(samples):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def get_ok(client, url):
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code} (expected 200)")
    return response


def measure(url, user):
    """``GET url`` as ``user``: N_WARMUP warm-ups, one counted request, N_REQUESTS timed ones."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    # Warm-ups first: a first visit may write to the session (the operator pages store the
    # active operator: one extra UPDATE), which is not the steady state we count and time.
    for _ in range(N_WARMUP):
        get_ok(client, url)
    # Query count: one separate, untimed request (CaptureQueriesContext forces the debug cursor).
    with CaptureQueriesContext(connection) as captured:
        counted = get_ok(client, url)
    # Copy now: the connection's query log is reset at the start of every request.
    captured_queries = list(captured.captured_queries)
    # Timed runs: DEBUG off so that the connection does not log every query (as in production).
    with override_settings(DEBUG=False):
        gc.collect()
        samples = []
        for _ in range(N_REQUESTS):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET {url} answered {response.status_code} (expected 200)")
    return Measurement(statistics.median(samples), p95(samples), len(captured_queries), captured_queries, counted)


def size_verdict(counts):
    """(same, label) for the query counts of one page at every size."""
    same = len(set(counts)) == 1
    return same, "independent of size: OK" if same else "DEPENDS ON SIZE (N+1?)"


def print_sql(captured):
    for query in captured:
        print(f"    {query['time']}s  {query['sql'][:SQL_WIDTH]}")

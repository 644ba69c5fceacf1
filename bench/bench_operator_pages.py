"""Benchmark: server time and SQL query count of the operator pages.

Pages measured (through Django's test Client, full middleware stack, in-process):
  * ``/ans/operateurs/`` (``operators.views_ans.operators_list``) for an ANS administrator:
    first page, with a search ``?q=...`` and with ``?contract=a_accepter``;
  * ``/`` (``operators.views.home``) for a legal representative of 3 operators (so the
    operator switcher is rendered).

Sizes: a small data set (``BENCH_SMALL``, default 100 operators / 500 people) then a large
one (``BENCH_LARGE``, default 1000 / 5000). The database is grown in place from the small
size to the large one (same generator, so the large data set is exactly the one a fresh
load would produce). For each page the query count must be the same at both sizes.

Database: a throwaway SQLite file in a temporary directory (default), or, when
``BENCH_DATABASE_URL`` (postgres://user:pw@host:port/maintenance_db) is given, a database
``bench_<pid>`` created on that server, migrated, and dropped at the end.

Other environment knobs: ``BENCH_REQUESTS`` (timed requests, default 30),
``BENCH_WARMUP`` (default 3), ``BENCH_TARGET_P95_MS`` (default 150),
``BENCH_STRICT=1`` (exit 1 when a target is missed), ``BENCH_SMALL`` / ``BENCH_LARGE``
("operators/people", e.g. ``10000/50000``), ``BENCH_SHOW_SQL=1`` (print the SQL of each
counted request; ``BENCH_SQL_WIDTH`` characters per query, default 300).

Timed requests run with ``DEBUG`` off (no per-query logging); the query count comes from one
separate request under ``CaptureQueriesContext``, after the warm-ups (steady state: the
first visit also writes the active operator into the session).

Run with ``bench/run operator_pages`` from the repository root.
"""
import contextlib
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

# ---------------------------------------------------------------------------
# Environment, before django.setup(): settings read VAR_DIR / DATABASE_URL / ALLOWED_HOSTS.
# ---------------------------------------------------------------------------
BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "").strip()
TMP_DIR = tempfile.TemporaryDirectory(prefix="bench_operator_pages_")
os.environ["VAR_DIR"] = TMP_DIR.name
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)  # locmem cache, filesystem Celery broker under VAR_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
os.environ["DEBUG"] = os.environ.get("DEBUG") or "1"
os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ.setdefault("LOG_LEVEL", "WARNING")


def _int_pair(name, default):
    raw = os.environ.get(name, "")
    if not raw:
        return default
    ops, people = raw.split("/") if "/" in raw else (raw, int(raw) * 5)
    return int(ops), int(people)


SMALL = _int_pair("BENCH_SMALL", (100, 500))
LARGE = _int_pair("BENCH_LARGE", (1000, 5000))
N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "30"))
N_WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
TARGET_P95_MS = float(os.environ.get("BENCH_TARGET_P95_MS", "150"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")

PG_ADMIN_URL = None
PG_DB_NAME = None


def _create_pg_database():
    """Create ``bench_<pid>`` on the given server and point DATABASE_URL at it."""
    global PG_ADMIN_URL, PG_DB_NAME
    import psycopg
    from psycopg import sql

    PG_ADMIN_URL = BENCH_DATABASE_URL
    PG_DB_NAME = f"bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(PG_DB_NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_DB_NAME)))
    parts = urlsplit(PG_ADMIN_URL)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + PG_DB_NAME))


def _drop_pg_database():
    if not PG_DB_NAME:
        return
    import psycopg
    from psycopg import sql

    with contextlib.suppress(Exception):  # best effort before dropping
        from django.db import connections

        connections.close_all()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(PG_DB_NAME)))


if BENCH_DATABASE_URL:
    _create_pg_database()

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from stdnum import luhn  # noqa: E402

from operators.models import ContractAcceptance, ContractVersion, Membership, Operator, Role  # noqa: E402
from trustspace.models import User  # noqa: E402

# ---------------------------------------------------------------------------
# Fixture data (bulk_create straight on the models: benchmark data, not application writes).
# ---------------------------------------------------------------------------
KINDS = ["Imagerie Médicale", "Radiologie", "Groupe Santé", "Téléradiologie", "Centre d'Imagerie",
         "Cabinet de Radiologie", "Clinique", "Scanner IRM", "Réseau Imagerie", "Imagerie Partenaires"]
CITIES = ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Bordeaux", "Lille", "Rennes",
          "Strasbourg", "Montpellier", "Nice", "Grenoble", "Dijon"]
SEARCH_Q = "lyon"  # matches ~1 operator in 13
PASSWORD = "!unusable"  # never used: the benchmark logs in with force_login
BATCH = 1000
PER_OP = max(1, LARGE[1] // LARGE[0])  # people per operator (5 by default)


def siren_for(i):
    base = f"{10_000_000 + i:08d}"
    return base + luhn.calc_check_digit(base)


def siret_for(siren):
    base = siren + "0001"
    return base + luhn.calc_check_digit(base)


class World:
    """Bench actors and the two contract versions (created once, before any size)."""

    ans_admin = None
    legal_rep = None
    current = None
    previous = None
    n_ops = 0
    n_people = 0


def create_world():
    World.ans_admin = User.objects.create(
        username="bench-ans", email="ans@bench.example", first_name="Admin", last_name="ANS",
        oidc_sub="bench-sub-ans", is_ans_admin=True, password=PASSWORD,
    )
    World.legal_rep = User.objects.create(
        username="bench-rl", email="rl@bench.example", first_name="Rita", last_name="Légale",
        oidc_sub="bench-sub-rl", password=PASSWORD,
    )
    now = timezone.now()
    World.previous = ContractVersion.objects.create(
        version="1.0", title="Contrat d'adhésion", body="Texte v1. " * 200,
        published_at=now - timezone.timedelta(days=400), published_by=World.ans_admin,
    )
    World.current = ContractVersion.objects.create(
        version="2.0", title="Contrat d'adhésion", body="Texte v2. " * 200,
        published_at=now - timezone.timedelta(days=30), published_by=World.ans_admin,
    )


def grow_to(n_ops, n_people):
    """Add operators [World.n_ops, n_ops) and people [World.n_people, n_people), deterministically."""
    start_op, start_person = World.n_ops, World.n_people
    now = timezone.now()

    ops = []
    for i in range(start_op, n_ops):
        siren = siren_for(i)
        siret = siret_for(siren) if i % 2 == 0 else ""
        ops.append(Operator(
            name=f"{KINDS[i % len(KINDS)]} {CITIES[i % len(CITIES)]} {i:05d}",
            siren=siren, siret=siret, id_nat_struct=("3" + siret) if siret else ("2" + siren),
            address_line=f"{i} rue de la Santé", postal_code=f"{75000 + i % 900:05d}",
            city=CITIES[i % len(CITIES)], contact_email=f"contact{i}@op{i}.example",
            contact_phone="01 02 03 04 05", support_contact=f"support{i}@op{i}.example",
        ))
    Operator.objects.bulk_create(ops, batch_size=BATCH)
    all_ops = list(Operator.objects.order_by("pk").values_list("pk", flat=True))
    assert len(all_ops) == n_ops, (len(all_ops), n_ops)

    users = [
        User(username=f"person{j:06d}", email=f"person{j}@bench.example", first_name=f"Prénom{j}",
             last_name=f"Nom{j}", oidc_sub=f"bench-sub-{j}", password=PASSWORD)
        for j in range(start_person, n_people)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    user_pks = dict(User.objects.filter(username__startswith="person").values_list("username", "pk"))

    # One membership per person; person j belongs to operator j // PER_OP (PER_OP people per
    # operator, so growing keeps earlier rows unchanged). Within an operator: first person
    # legal representative, second a mandataire on one operator in three, the others
    # technical administrators; one in seven of those roles has ended.
    memberships = []
    for j in range(start_person, n_people):
        op_index = min(j // PER_OP, n_ops - 1)
        rank = j - op_index * PER_OP
        if rank == 0:
            role, mandate = Role.LEGAL_REPRESENTATIVE, ""
        elif rank == 1 and op_index % 3 == 0:
            role, mandate = Role.MANDATAIRE, f"mandats/{op_index}/bench.pdf"
        else:
            role, mandate = Role.TECHNICAL_ADMIN, ""
        ended = rank >= 2 and j % 7 == 0
        memberships.append(Membership(
            operator_id=all_ops[op_index], user_id=user_pks[f"person{j:06d}"], role=role,
            mandate_document=mandate, created_at=now, created_by_id=World.ans_admin.pk,
            ended_at=now if ended else None, ended_by_id=World.ans_admin.pk if ended else None,
            end_reason="départ" if ended else "",
        ))
    if start_op == 0:
        # The benchmarked legal representative holds that role in the first three operators.
        memberships += [
            Membership(operator_id=all_ops[k], user_id=World.legal_rep.pk, role=Role.LEGAL_REPRESENTATIVE,
                       created_at=now, created_by_id=World.ans_admin.pk)
            for k in range(3)
        ]
    Membership.objects.bulk_create(memberships, batch_size=BATCH)

    # Contract: about half the operators accepted the version in force; most of the rest the previous one.
    lr_by_op = dict(
        Membership.objects.filter(role=Role.LEGAL_REPRESENTATIVE, user__username__startswith="person")
        .values_list("operator_id", "user_id")
    )
    acceptances = []
    for i in range(start_op, n_ops):
        op_pk = all_ops[i]
        accepted_by = lr_by_op.get(op_pk, World.legal_rep.pk)
        if i % 2 == 0:
            acceptances.append(ContractAcceptance(operator_id=op_pk, contract_version=World.current,
                                                  accepted_by_id=accepted_by))
        if i % 4 != 3:
            acceptances.append(ContractAcceptance(operator_id=op_pk, contract_version=World.previous,
                                                  accepted_by_id=accepted_by))
    ContractAcceptance.objects.bulk_create(acceptances, batch_size=BATCH)

    World.n_ops, World.n_people = n_ops, n_people
    with connection.cursor() as cursor:  # planner statistics, as a live database would have
        cursor.execute("ANALYZE")


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------
PAGES = [
    # (name, url, actor attribute)
    ("ans_operators_list", "/ans/operateurs/", "ans_admin"),
    ("ans_operators_list_q", f"/ans/operateurs/?q={SEARCH_Q}", "ans_admin"),
    ("ans_operators_list_a_accepter", "/ans/operateurs/?contract=a_accepter", "ans_admin"),
    ("operator_home_legal_rep", "/", "legal_rep"),
]


def p95(samples):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(url, user):
    client = Client()
    client.force_login(user)
    # Warm-ups first: the first visit also stores the active operator in the session (one
    # extra UPDATE), which is not the steady state we want to count and time.
    for _ in range(N_WARMUP):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code} (expected 200)")
    # Query count: one separate, untimed request (CaptureQueriesContext forces the debug cursor).
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code} (expected 200)")
    # Copy now: the connection's query log is reset at the start of every request.
    captured_queries = list(captured.captured_queries)
    queries = len(captured_queries)
    # Timed runs: DEBUG off so that the connection does not log every query (as in production).
    with override_settings(DEBUG=False):
        gc.collect()
        samples = []
        for _ in range(N_REQUESTS):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    return statistics.median(samples), p95(samples), queries, captured_queries


def main():
    vendor_label = f"postgresql ({PG_DB_NAME})" if PG_DB_NAME else "sqlite (temporary file)"
    print(f"# operator pages — database: {vendor_label}; {N_REQUESTS} timed requests after {N_WARMUP} warm-ups; "
          f"target p95<={TARGET_P95_MS:g}ms, query count independent of size")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"# migrate: {time.perf_counter() - started:.1f}s")
    create_world()

    results = {}  # page -> [(size, median, p95, queries)]
    last_queries = {}
    missed = False
    for n_ops, n_people in sorted({SMALL, LARGE}):
        started = time.perf_counter()
        grow_to(n_ops, n_people)
        print(f"# loaded n_ops={n_ops} people={n_people} in {time.perf_counter() - started:.1f}s")
        for name, url, actor in PAGES:
            median, high, queries, captured = measure(url, getattr(World, actor))
            ok = high <= TARGET_P95_MS
            missed |= not ok
            results.setdefault(name, []).append(((n_ops, n_people), median, high, queries))
            last_queries[name] = captured
            print(f"{name:<30} n_ops={n_ops:<5} people={n_people:<5} median={median:7.1f}ms p95={high:7.1f}ms "
                  f"queries={queries:<3} (target p95<={TARGET_P95_MS:g}ms: {'OK' if ok else 'MISSED'})")

    print("# query count vs size")
    for name, rows in results.items():
        counts = [row[3] for row in rows]
        same = len(set(counts)) == 1
        missed |= not same
        sizes = " / ".join(f"{ops} ops: {q}" for (ops, _), _, _, q in rows)
        print(f"{name:<30} queries {sizes}  -> "
              f"{'independent of size: OK' if same else 'DEPENDS ON SIZE (N+1?)'}")
        if not same or os.environ.get("BENCH_SHOW_SQL"):
            for query in last_queries[name]:
                print(f"    {query['time']}s  {query['sql'][:int(os.environ.get('BENCH_SQL_WIDTH', '300'))]}")
    return 1 if (missed and STRICT) else 0


if __name__ == "__main__":
    code = 1
    try:
        code = main()
    finally:
        try:
            connection.close()
        finally:
            _drop_pg_database()
            TMP_DIR.cleanup()
    sys.exit(code)

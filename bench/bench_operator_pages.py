"""Benchmark: server time and SQL query count of the operator pages.

Pages measured (through Django's test Client, full middleware stack, in-process):
  * ``/ans/operateurs/`` (``operators.views.ans.operators_list``) for an ANS administrator:
    first page, with a search ``?q=...`` and with ``?contract=a_accepter``;
  * ``/`` (``operators.views.space.home``) for a legal representative of 3 operators (so the
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

Run with ``bench/run operator_pages`` from the repository root. Database set-up, timing, query
counting and cleanup: ``bench/benchlib.py``.
"""
import os
import time

import benchlib

SMALL = benchlib.size_pair("BENCH_SMALL", (100, 500))
LARGE = benchlib.size_pair("BENCH_LARGE", (1000, 5000))
TARGET_P95_MS = benchlib.target_p95_ms(150)

benchlib.setup("operator_pages")

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from stdnum import luhn  # noqa: E402

from operators.models import (  # noqa: E402
    ContractAcceptance,
    ContractVersion,
    Membership,
    Operator,
    Role,
)
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


def main():
    benchlib.print_header("operator pages", TARGET_P95_MS)
    benchlib.migrate()
    create_world()

    results = {}  # page -> [(size, median, p95, queries)]
    last_queries = {}
    missed = False
    for n_ops, n_people in sorted({SMALL, LARGE}):
        started = time.perf_counter()
        grow_to(n_ops, n_people)
        print(f"# loaded n_ops={n_ops} people={n_people} in {time.perf_counter() - started:.1f}s")
        for name, url, actor in PAGES:
            median, high, queries, captured, _response = benchlib.measure(url, getattr(World, actor))
            ok = high <= TARGET_P95_MS
            missed |= not ok
            results.setdefault(name, []).append(((n_ops, n_people), median, high, queries))
            last_queries[name] = captured
            print(f"{name:<30} n_ops={n_ops:<5} people={n_people:<5} median={median:7.1f}ms p95={high:7.1f}ms "
                  f"queries={queries:<3} (target p95<={TARGET_P95_MS:g}ms: {'OK' if ok else 'MISSED'})")

    print("# query count vs size")
    for name, rows in results.items():
        same, verdict = benchlib.size_verdict([row[3] for row in rows])
        missed |= not same
        sizes = " / ".join(f"{ops} ops: {q}" for (ops, _), _, _, q in rows)
        print(f"{name:<30} queries {sizes}  -> {verdict}")
        # Any value of BENCH_SHOW_SQL, even "0", shows the SQL here (benchlib.SHOW_SQL ignores "0").
        if not same or os.environ.get("BENCH_SHOW_SQL"):
            benchlib.print_sql(last_queries[name])
    return missed


if __name__ == "__main__":
    benchlib.run(main)

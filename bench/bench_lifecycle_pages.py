"""Benchmark: server time and SQL query count of the ANS review queue and FQDN registry.

Issue: "with 10,000 DRIMboxes and 50,000 requests loaded, the review queue and the registry
search: median and p95 server time (target p95 <= 200 ms) and a query count independent of the
number of rows".

Pages measured (through Django's test Client, full middleware stack, in-process), for an ANS
administrator:
  * ``/ans/demandes/`` (``operators.views.ans.review_queue``): default (submitted + in review,
    oldest first), ``?kind=integration``, ``?operator=<fragment>``, ``?age=7``,
    ``?status=toutes``, ``?assigned=moi``;
  * ``/ans/registre/`` (``operators.views.ans.registry``): first page, ``?q=db12`` (FQDN prefix),
    ``?q=<identifiant>``, ``?operator=<fragment>``, ``?structure=<fragment>``,
    ``?status=active``, ``?dns=en_attente``.

Sizes: a small data set (``BENCH_SMALL``, default 1000 DRIMboxes / 5000 requests) then a large
one (``BENCH_LARGE``, default 10000 / 50000), format "drimboxes/requests". One operator per 10
DRIMboxes (1000 at the large size), one health structure per DRIMbox, a financing order for one
DRIMbox in two, DNS changes (every name applied once, about 5% of DRIMboxes with a pending
change), requests of every kind and status (mostly closed; about 35% of DRIMboxes with one open
request: submitted, in review, changes requested or draft), submitted over the last 400 days.
The database is grown in place from the small size to the large one (same generator, so the
large data set is exactly the one a fresh load would produce). For each page the query count
must be the same at both sizes.

Database: a throwaway SQLite file in a temporary directory (default), or, when
``BENCH_DATABASE_URL`` (postgres://user:pw@host:port/maintenance_db) is given, a database
``bench_<pid>`` created on that server, migrated, and dropped at the end.

Other environment knobs: ``BENCH_REQUESTS`` (timed requests, default 30),
``BENCH_WARMUP`` (default 3), ``BENCH_TARGET_P95_MS`` (default 200),
``BENCH_STRICT=1`` (exit 1 when a target is missed), ``BENCH_SMALL`` / ``BENCH_LARGE``
("drimboxes/requests", e.g. ``10000/50000``), ``BENCH_SHOW_SQL=1`` (print the SQL of each
counted request; ``BENCH_SQL_WIDTH`` characters per query, default 300).

Timed requests run with ``DEBUG`` off (no per-query logging); the query count comes from one
separate request under ``CaptureQueriesContext``, after the warm-ups. "rows" is the number of
matching rows the page itself reports (its paginator count).

Run with ``bench/run lifecycle_pages`` from the repository root. Database set-up, timing, query
counting and cleanup: ``bench/benchlib.py``.
"""
import re
import time
from datetime import timedelta

import benchlib

SMALL = benchlib.size_pair("BENCH_SMALL", (1000, 5000))
LARGE = benchlib.size_pair("BENCH_LARGE", (10000, 50000))
TARGET_P95_MS = benchlib.target_p95_ms(200)

# No DNS server: DNS changes stay queued, nothing is sent.
benchlib.setup("lifecycle_pages", unset=["DNS_SERVER"])

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from stdnum import luhn  # noqa: E402

from operators.models import (  # noqa: E402
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    FinancingOrder,
    FinancingOrderClient,
    FinancingOrderPacs,
    HealthStructure,
    IdentifiantCounter,
    Membership,
    Operator,
    RequestKind,
    RequestStatus,
    Role,
)
from operators.registry import SEQUENCE, fqdns_for  # noqa: E402
from trustspace.models import User  # noqa: E402

# ---------------------------------------------------------------------------
# Fixture data (bulk_create straight on the models: benchmark data, not application writes).
# ---------------------------------------------------------------------------
KINDS = ["Imagerie Médicale", "Radiologie", "Groupe Santé", "Téléradiologie", "Centre d'Imagerie",
         "Cabinet de Radiologie", "Clinique", "Scanner IRM", "Réseau Imagerie", "Imagerie Partenaires"]
CITIES = ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Bordeaux", "Lille", "Rennes",
          "Strasbourg", "Montpellier", "Nice", "Grenoble", "Dijon"]
STRUCTURE_KINDS = ["Centre Hospitalier", "Clinique", "Polyclinique", "Cabinet d'imagerie", "Hôpital privé",
                   "Centre de radiologie", "Groupe hospitalier"]
PATRONS = ["Pasteur", "Saint-Joseph", "Sainte-Anne", "du Parc", "des Lilas", "Jean Moulin", "de la Source",
           "Saint-Martin", "du Val", "Bellevue", "des Cèdres"]
OPERATOR_Q = "lyon"  # operators: matches 1 in 13 (CITIES)
STRUCTURE_Q = "joseph"  # health structures: matches 1 in 11 (PATRONS)
PASSWORD = "!unusable"  # never used: the benchmark logs in with force_login
BATCH = 1000
DBX_PER_OP = 10  # DRIMboxes per operator (1000 operators at 10,000 DRIMboxes)
REQ_PER_DBX = max(1, LARGE[1] // LARGE[0])  # requests per DRIMbox (5 by default)
CLOSED = [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED]


def siren_for(i, base=100_000_000):
    digits = f"{base + i:08d}"[-8:]
    return digits + luhn.calc_check_digit(digits)


def siret_for(siren):
    digits = siren + "0001"
    return digits + luhn.calc_check_digit(digits)


def finess_for(i, offset):
    digits = f"{(i % 95) + 1:02d}{offset + i:06d}"
    return digits + luhn.calc_check_digit(digits)


def n_ops_for(n_drimboxes):
    return max(2, n_drimboxes // DBX_PER_OP)


class World:
    """Bench actors (created once, before any size) and the sizes loaded so far."""

    ans_admin = None
    reviewers = ()  # the bench admin and two other ANS reviewers
    n_ops = 0
    n_drimboxes = 0
    n_requests = 0
    identifiant_q = None  # an identifiant present at every size


def create_world():
    World.ans_admin = User.objects.create(
        username="bench-ans", email="ans@bench.example", first_name="Admin", last_name="ANS",
        oidc_sub="bench-sub-ans", is_ans_admin=True, password=PASSWORD,
    )
    others = [
        User.objects.create(username=f"bench-ans{k}", email=f"ans{k}@bench.example", first_name="Relecteur",
                            last_name=f"ANS {k}", oidc_sub=f"bench-sub-ans{k}", is_ans_admin=True, password=PASSWORD)
        for k in (2, 3)
    ]
    World.reviewers = (World.ans_admin, *others)
    World.identifiant_q = str(min(SMALL[0], LARGE[0]) * 3 // 4 or 1)


def drimbox_status(i):
    bucket = i % 10
    if bucket <= 6:
        return DrimboxStatus.ACTIVE
    return {7: DrimboxStatus.INTEGRATING, 8: DrimboxStatus.DECLARED, 9: DrimboxStatus.WITHDRAWN}[bucket]


def has_pending_dns(i):
    return i % 20 == (i // 20) % 20  # 1 in 20, spread over every status


def grow_operators(n_ops, now):
    start = World.n_ops
    ops = []
    for i in range(start, n_ops):
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
    op_pks = list(Operator.objects.order_by("pk").values_list("pk", flat=True))
    assert len(op_pks) == n_ops, (len(op_pks), n_ops)

    # One legal representative per operator: the author of its requests.
    User.objects.bulk_create([
        User(username=f"rep{i:05d}", email=f"rep{i}@op{i}.example", first_name=f"Prénom{i}", last_name=f"Nom{i}",
             oidc_sub=f"bench-sub-rep{i}", password=PASSWORD)
        for i in range(start, n_ops)
    ], batch_size=BATCH)
    rep_pks = dict(User.objects.filter(username__startswith="rep").values_list("username", "pk"))
    Membership.objects.bulk_create([
        Membership(operator_id=op_pks[i], user_id=rep_pks[f"rep{i:05d}"], role=Role.LEGAL_REPRESENTATIVE,
                   created_at=now - timedelta(days=420), created_by_id=World.ans_admin.pk)
        for i in range(start, n_ops)
    ], batch_size=BATCH)
    return op_pks, [rep_pks[f"rep{i:05d}"] for i in range(n_ops)]


def grow_drimboxes(n_drimboxes, op_pks, now):
    start = World.n_drimboxes
    n_ops = len(op_pks)
    structures = []
    for i in range(start, n_drimboxes):
        structures.append(HealthStructure(
            name=f"{STRUCTURE_KINDS[i % len(STRUCTURE_KINDS)]} {PATRONS[i % len(PATRONS)]} {i:05d}",
            siren=siren_for(i, base=30_000_000), finess_juridique=finess_for(i, 500_000),
            finess_geographique=finess_for(i, 0),
        ))
    HealthStructure.objects.bulk_create(structures, batch_size=BATCH)
    structure_pks = dict(HealthStructure.objects.values_list("finess_geographique", "pk"))

    def operator_index(i):
        return min(i // DBX_PER_OP, n_ops - 1)

    # A financing order for one DRIMbox in two (one per client SIREN and per PACS).
    FinancingOrder.objects.bulk_create([
        FinancingOrder(operator_id=op_pks[operator_index(i)], reference=f"BC-{i:07d}",
                       created_by_id=World.ans_admin.pk, created_at=now - timedelta(days=410))
        for i in range(start, n_drimboxes) if i % 2 == 0
    ], batch_size=BATCH)
    order_pks = dict(FinancingOrder.objects.values_list("reference", "pk"))
    funded = [i for i in range(start, n_drimboxes) if i % 2 == 0]
    FinancingOrderClient.objects.bulk_create([
        FinancingOrderClient(order_id=order_pks[f"BC-{i:07d}"], siren=siren_for(i, base=30_000_000),
                             name=f"Client {i}", activity_2023=True, ris_wave="vague_2",
                             ris_order_reference=f"RIS-{i:07d}") for i in funded], batch_size=BATCH)
    FinancingOrderPacs.objects.bulk_create([
        FinancingOrderPacs(order_id=order_pks[f"BC-{i:07d}"], identifier=f"PACS-{i:06d}") for i in funded],
        batch_size=BATCH)

    drimboxes = []
    for i in range(start, n_drimboxes):
        identifiant = i + 1
        db_fqdn, vi_fqdn = fqdns_for(identifiant, settings.FQDN_SITE_LABEL)
        status = drimbox_status(i)
        created = now - timedelta(days=40 + (i * 7919) % 360, minutes=i % 1440)
        drimboxes.append(Drimbox(
            identifiant=identifiant, site_label=settings.FQDN_SITE_LABEL, db_fqdn=db_fqdn, vi_fqdn=vi_fqdn,
            operator_id=op_pks[operator_index(i)], health_structure_id=structure_pks[finess_for(i, 0)],
            financing_order_id=order_pks.get(f"BC-{i:07d}"),
            eligibility_override_reason="dérogation ANS" if i % 10 == 1 else "",
            pacs=f"PACS-{i:06d}",
            db_records=[["A", f"192.0.2.{i % 254 + 1}"]], vi_records=[["A", f"198.51.100.{i % 254 + 1}"]],
            responsable_contact=f"responsable{i}@site{i}.example", support_contact=f"support{i}@site{i}.example",
            status=status, created_at=created, updated_at=created,
            integrated_at=(created + timedelta(days=20)
                           if status in (DrimboxStatus.ACTIVE, DrimboxStatus.WITHDRAWN) else None),
            withdrawn_at=created + timedelta(days=30) if status == DrimboxStatus.WITHDRAWN else None,
        ))
    Drimbox.objects.bulk_create(drimboxes, batch_size=BATCH)
    dbx = {identifiant: (pk, operator_id) for identifiant, pk, operator_id
           in Drimbox.objects.values_list("identifiant", "pk", "operator_id")}
    assert len(dbx) == n_drimboxes, (len(dbx), n_drimboxes)

    # DNS: each name applied once at declaration (and deleted at withdrawal); 1 in 20 DRIMboxes
    # has a pending change of its db name.
    changes = []
    for i in range(start, n_drimboxes):
        pk = dbx[i + 1][0]
        db_fqdn, vi_fqdn = fqdns_for(i + 1, settings.FQDN_SITE_LABEL)
        created = now - timedelta(days=40 + (i * 7919) % 360, minutes=i % 1440)
        for name, records in ((db_fqdn, [["A", f"192.0.2.{i % 254 + 1}"]]),
                              (vi_fqdn, [["A", f"198.51.100.{i % 254 + 1}"]])):
            changes.append(DnsChange(drimbox_id=pk, name=name, records=records, status=DnsChangeStatus.APPLIED,
                                     reason="déclaration", attempts=1, next_attempt_at=created,
                                     created_at=created, applied_at=created + timedelta(seconds=5)))
            if drimbox_status(i) == DrimboxStatus.WITHDRAWN:
                gone = created + timedelta(days=30)
                changes.append(DnsChange(drimbox_id=pk, name=name, records=[], status=DnsChangeStatus.APPLIED,
                                         reason="retrait", attempts=1, next_attempt_at=gone, created_at=gone,
                                         applied_at=gone + timedelta(seconds=5)))
        if has_pending_dns(i):
            queued = now - timedelta(minutes=5 + i % 600)
            changes.append(DnsChange(drimbox_id=pk, name=db_fqdn, records=[["A", f"203.0.113.{i % 254 + 1}"]],
                                     status=DnsChangeStatus.PENDING, reason="mise à jour", attempts=i % 4,
                                     next_attempt_at=queued + timedelta(minutes=1), created_at=queued,
                                     last_error="serveur DNS injoignable" if i % 4 else ""))
    DnsChange.objects.bulk_create(changes, batch_size=BATCH)

    # Keep the Identifiant allocator past the loaded rows, as the application would.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(%s, %s)", [SEQUENCE, n_drimboxes])
    else:
        IdentifiantCounter.objects.update_or_create(pk=1, defaults={"last_value": n_drimboxes})
    return dbx


# The current (last) request of a DRIMbox, by (i * 7) % 20 (so every operator has some): 20% submitted,
# 10% in review, 5% changes requested, 5% drafts, the rest closed.
CURRENT_STATUS = ([RequestStatus.SUBMITTED] * 4 + [RequestStatus.IN_REVIEW] * 2
                  + [RequestStatus.CHANGES_REQUESTED, RequestStatus.DRAFT]
                  + [RequestStatus.APPROVED] * 6 + [RequestStatus.REJECTED] * 3 + [RequestStatus.CANCELLED] * 3)
ALL_KINDS = [RequestKind.DECLARATION, RequestKind.INTEGRATION, RequestKind.UPDATE, RequestKind.WITHDRAWAL,
             RequestKind.REINTEGRATION, RequestKind.SWITCH]
HISTORY_KINDS = [RequestKind.DECLARATION, RequestKind.WITHDRAWAL, RequestKind.REINTEGRATION, RequestKind.UPDATE,
                 RequestKind.SWITCH]


def request_spec(j, n_drimboxes):
    """(drimbox index, kind, status, days ago) of request j, deterministic."""
    i = j // REQ_PER_DBX
    rank = j % REQ_PER_DBX
    clamped = i >= n_drimboxes  # more requests than REQ_PER_DBX per DRIMbox: extra closed history
    i = min(i, n_drimboxes - 1)
    base_days = 40 + (i * 7919) % 360  # the DRIMbox's declaration, 40 to 399 days ago
    if rank == REQ_PER_DBX - 1 and not clamped:
        kind = ALL_KINDS[(i // 20) % len(ALL_KINDS)]
        status = CURRENT_STATUS[(i * 7) % 20]
        days = (i * 31) % 60 if status not in CLOSED else (i * 13) % 40
    elif rank == 0 and not clamped:
        kind, status, days = RequestKind.DECLARATION, RequestStatus.APPROVED, base_days
    else:
        days = max(1, base_days * (REQ_PER_DBX - rank) // REQ_PER_DBX)
        if rank == 1:
            kind = RequestKind.INTEGRATION
            status = RequestStatus.REJECTED if i % 9 == 0 else RequestStatus.APPROVED
        elif rank == 2:
            kind = RequestKind.UPDATE
            status = [RequestStatus.APPROVED, RequestStatus.APPROVED, RequestStatus.REJECTED,
                      RequestStatus.CANCELLED][i % 4]
        else:
            kind = HISTORY_KINDS[(i + rank) % len(HISTORY_KINDS)]
            status = CLOSED[(i * 3 + rank + j) % 3]
    if kind == RequestKind.DECLARATION and status == RequestStatus.APPROVED and rank != 0:
        status = RequestStatus.REJECTED  # a DRIMbox is declared (approved) once: its first request
    return i, kind, status, days


def grow_requests(n_requests, n_drimboxes, op_pks, rep_pks, dbx, now):
    start = World.n_requests
    op_index = {pk: k for k, pk in enumerate(op_pks)}
    reviewers = [user.pk for user in World.reviewers]
    rows = []
    for j in range(start, n_requests):
        i, kind, status, days = request_spec(j, n_drimboxes)
        drimbox_pk, operator_pk = dbx[i + 1]
        k = op_index[operator_pk]
        if kind == RequestKind.SWITCH:  # asked by the operator taking the DRIMbox over
            k = k - 1 if k > 0 else k + 1
            operator_pk = op_pks[k]
        if kind == RequestKind.DECLARATION and status != RequestStatus.APPROVED:
            drimbox_pk = None  # a declaration names its DRIMbox only once approved
        submitted = (None if status == RequestStatus.DRAFT
                     else now - timedelta(days=days, minutes=(j * 37) % 1440))
        created = (submitted or now - timedelta(days=days)) - timedelta(hours=20)
        decided = None
        if status in (RequestStatus.APPROVED, RequestStatus.REJECTED):
            decided = min(now, submitted + timedelta(days=2, hours=j % 24))
        elif status == RequestStatus.CANCELLED:
            decided = min(now, submitted + timedelta(days=1))
        if status in (RequestStatus.IN_REVIEW, RequestStatus.CHANGES_REQUESTED):
            assigned = reviewers[i % 3]
        elif status == RequestStatus.SUBMITTED:
            assigned = World.ans_admin.pk if i % 4 == 0 else None
        elif status in (RequestStatus.APPROVED, RequestStatus.REJECTED):
            assigned = reviewers[j % 3]
        else:
            assigned = None
        data = {}
        if kind in (RequestKind.DECLARATION, RequestKind.SWITCH, RequestKind.UPDATE):
            data = {"pacs": f"PACS-{i:06d}", "support_contact": f"support{i}@site{i}.example",
                    "db_records": [["A", f"192.0.2.{i % 254 + 1}"]]}
        rows.append(DrimboxRequest(
            reference=f"DEM-B{j:09d}", kind=kind, status=status, operator_id=operator_pk, drimbox_id=drimbox_pk,
            data=data, created_by_id=rep_pks[k], created_at=created, updated_at=decided or submitted or created,
            submitted_at=submitted, assigned_to_id=assigned,
            decided_by_id=assigned if status in (RequestStatus.APPROVED, RequestStatus.REJECTED) else None,
            decided_at=decided,
            decision_reason="Pièces incomplètes." if status == RequestStatus.REJECTED else "",
        ))
    DrimboxRequest.objects.bulk_create(rows, batch_size=BATCH)
    assert DrimboxRequest.objects.count() == n_requests, (DrimboxRequest.objects.count(), n_requests)


def grow_to(n_drimboxes, n_requests):
    """Add operators, DRIMboxes and requests up to the given size, deterministically."""
    now = timezone.now()
    n_ops = n_ops_for(n_drimboxes)
    op_pks, rep_pks = grow_operators(n_ops, now)
    dbx = grow_drimboxes(n_drimboxes, op_pks, now)
    grow_requests(n_requests, n_drimboxes, op_pks, rep_pks, dbx, now)
    World.n_ops, World.n_drimboxes, World.n_requests = n_ops, n_drimboxes, n_requests
    with connection.cursor() as cursor:  # planner statistics, as a live database would have
        cursor.execute("ANALYZE")


# ---------------------------------------------------------------------------
# Measurement.
# ---------------------------------------------------------------------------
QUEUE_ROWS = re.compile(r"<p>(\d+) demandes?</p>")
REGISTRY_ROWS = re.compile(r"<p>(\d+) DRIMbox</p>")


def pages():
    """(name, url, rows pattern, base page, expected relation of rows to the base page's)."""
    return [
        ("queue", "/ans/demandes/", QUEUE_ROWS, None, None),
        ("queue ?kind=integration", "/ans/demandes/?kind=integration", QUEUE_ROWS, "queue", "<"),
        (f"queue ?operator={OPERATOR_Q}", f"/ans/demandes/?operator={OPERATOR_Q}", QUEUE_ROWS, "queue", "<"),
        ("queue ?age=7", "/ans/demandes/?age=7", QUEUE_ROWS, "queue", "<"),
        ("queue ?status=toutes", "/ans/demandes/?status=toutes", QUEUE_ROWS, "queue", ">"),
        ("queue ?assigned=moi", "/ans/demandes/?assigned=moi", QUEUE_ROWS, "queue", "<"),
        ("registry", "/ans/registre/", REGISTRY_ROWS, None, None),
        ("registry ?q=db12", "/ans/registre/?q=db12", REGISTRY_ROWS, "registry", "<"),
        (f"registry ?q={World.identifiant_q}", f"/ans/registre/?q={World.identifiant_q}", REGISTRY_ROWS,
         "registry", "=1"),
        (f"registry ?operator={OPERATOR_Q}", f"/ans/registre/?operator={OPERATOR_Q}", REGISTRY_ROWS, "registry", "<"),
        (f"registry ?structure={STRUCTURE_Q}", f"/ans/registre/?structure={STRUCTURE_Q}", REGISTRY_ROWS,
         "registry", "<"),
        ("registry ?status=active", "/ans/registre/?status=active", REGISTRY_ROWS, "registry", "<"),
        ("registry ?dns=en_attente", "/ans/registre/?dns=en_attente", REGISTRY_ROWS, "registry", "<"),
    ]


def rows_in(response, url, rows_pattern):
    """The number of matching rows the page reports."""
    found = rows_pattern.search(response.content.decode())
    if not found:
        raise SystemExit(f"GET {url}: no row count ({rows_pattern.pattern}) in the page")
    return int(found.group(1))


def check_rows(size_rows):
    """The filters must actually filter: a refused form would silently show every row."""
    problems = []
    for name, _url, _pattern, base, relation in pages():
        rows = size_rows[name]
        if rows == 0:
            problems.append(f"{name}: no row matched")
        if base is None:
            continue
        base_rows = size_rows[base]
        if relation == "<" and not rows < base_rows:
            problems.append(f"{name}: {rows} rows, expected fewer than '{base}' ({base_rows})")
        elif relation == ">" and not rows > base_rows:
            problems.append(f"{name}: {rows} rows, expected more than '{base}' ({base_rows})")
        elif relation == "=1" and rows != 1:
            problems.append(f"{name}: {rows} rows, expected exactly 1")
    if problems:
        raise SystemExit("bench data does not exercise the filters:\n  " + "\n  ".join(problems))


def main():
    benchlib.print_header("lifecycle pages (ANS review queue, FQDN registry)", TARGET_P95_MS)
    benchlib.migrate()
    create_world()

    results = {}  # page -> [(size, median, p95, queries, rows)]
    last_queries = {}
    total_load = 0.0
    for n_drimboxes, n_requests in sorted({SMALL, LARGE}):
        started = time.perf_counter()
        grow_to(n_drimboxes, n_requests)
        load = time.perf_counter() - started
        total_load += load
        print()
        print(f"## {n_drimboxes} DRIMboxes / {n_requests} requests / {World.n_ops} operators "
              f"(loaded in {load:.1f}s)")
        print(f"{'page':<34} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'rows':>7}")
        size_rows = {}
        for name, url, pattern, _base, _relation in pages():
            median, high, queries, captured, response = benchlib.measure(url, World.ans_admin)
            rows = rows_in(response, url, pattern)
            results.setdefault(name, []).append(((n_drimboxes, n_requests), median, high, queries, rows))
            last_queries[name] = captured
            size_rows[name] = rows
            print(f"{name:<34} {median:10.1f} {high:8.1f} {queries:8d} {rows:7d}"
                  f"{'' if high <= TARGET_P95_MS else '  <- p95 over target'}")
        check_rows(size_rows)

    print()
    print(f"# total load time: {total_load:.1f}s")
    print(f"# verdict (target p95<={TARGET_P95_MS:g}ms at every size; same query count at every size)")
    missed = False
    for name, rows in results.items():
        worst = max(row[2] for row in rows)
        counts = [row[3] for row in rows]
        fast = worst <= TARGET_P95_MS
        same, verdict = benchlib.size_verdict(counts)
        missed |= not (fast and same)
        p95s = " / ".join(f"{row[2]:.1f}" for row in rows)
        print(f"{name:<34} p95 {p95s} ms: {'OK' if fast else 'MISSED'}; "
              f"queries {' / '.join(map(str, counts))}: {verdict}")
        if benchlib.SHOW_SQL or not fast or not same:
            benchlib.print_sql(last_queries[name])
    print(f"# {'all targets met' if not missed else 'TARGET MISSED'}")
    return missed


if __name__ == "__main__":
    benchlib.run(main)

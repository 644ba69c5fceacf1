"""Benchmark: Df and PERF of 10,000 DRIMboxes over one month with 20 transitions each (target ≤ 400 ms).

Data (bulk_create straight on the models: benchmark data, not application writes): ``BENCH_DRIMBOXES``
(default 10000) active DRIMboxes over 100 operators, each with ``BENCH_TRANSITIONS`` (default 20)
transitions inside March 2025 — outages of 1 min to 3 h, ended by « operational » or sometimes by « no data » /
« degraded » — plus ``BENCH_HISTORY_MONTHS`` (default 1) earlier months of the same density, so that the
month is a range of a larger table and the status at the month start comes from history; one DRIMbox in ten
has a declared maintenance window. Rows are inserted in time order, as production appends them.

Timed: ``weather.perf.compute("2025-03", policy)`` (reads the rows, builds the timelines, subtracts
maintenance, computes Df and PERF) under three policies: all hours with maintenance excluded (v1, the
default), support hours only, maintenance counted. Median of ``BENCH_ROUNDS`` (default 5) runs, DEBUG off;
the query count of one run is printed too (independent of the number of DRIMboxes).

Beside it, in the same run: the raw row read — the month's DOWN-related transitions (about 200,000 rows, what
the Python pass reads) fetched into Python and nothing else, the floor of any computation done outside the
database — and, on PostgreSQL, the same report through the Python pass instead of SQL (``weather.downtime``).
Results are checked equal. The load average is printed: the machine is shared, compare ratios.

Database: a throwaway SQLite file (default), or PostgreSQL when ``BENCH_DATABASE_URL`` — or
``DATABASE_URL`` — is set (a database ``bench_<pid>`` is created, migrated and dropped).
``BENCH_STRICT=1`` → exit 1 when the target is missed. Run with ``bench/run perf``.
"""
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
if os.environ.get("DATABASE_URL") and not os.environ.get("BENCH_DATABASE_URL"):
    os.environ["BENCH_DATABASE_URL"] = os.environ["DATABASE_URL"]

import benchlib  # noqa: E402

benchlib.setup("perf")

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

from operators.models import Drimbox, DrimboxStatus, HealthStructure, Operator  # noqa: E402
from trustspace.models import User  # noqa: E402
from weather import downtime  # noqa: E402
from weather.models import MaintenanceWindow, MeasurementPolicy, Transition  # noqa: E402
from weather.perf import compute, period_bounds  # noqa: E402

DRIMBOXES = int(os.environ.get("BENCH_DRIMBOXES", "10000"))
TRANSITIONS = int(os.environ.get("BENCH_TRANSITIONS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
HISTORY_MONTHS = int(os.environ.get("BENCH_HISTORY_MONTHS", "1"))
TARGET_S = 0.4
BATCH = 2000
MONTH_START = datetime(2025, 2, 28, 23, tzinfo=UTC)  # 1 March 2025 00:00 Paris
MONTH_END = datetime(2025, 3, 31, 22, tzinfo=UTC)


def outages(rng, start, end, count):
    """``count`` transitions as outages of 1 min–3 h: down, then operational (sometimes via no data/degraded)."""
    span = (end - start).total_seconds()
    changes, old = [], "operational"
    for at in sorted(start + timedelta(seconds=rng.uniform(0, span - 4 * 3600)) for _ in range(count // 2)):
        changes.append((at, "down"))
        back = rng.choice(["operational"] * 8 + ["no_data", "degraded"])
        changes.append((at + timedelta(minutes=rng.uniform(1, 180)), back))
    result = []
    for at, new in changes:
        if new != old and (not result or at > result[-1][1]):
            result.append((old, at, new))
            old = new
    return result


def load():
    rng = random.Random(6)  # noqa: S311 - seeded for reproducible bench data, not for secrets
    user = User.objects.create(username="bench-tech", email="tech@bench.example", oidc_sub="bench-tech")
    operators = Operator.objects.bulk_create([
        Operator(name=f"Opérateur {i}", siren=f"{100000000 + i}", id_nat_struct=f"3{10000000000000 + i}",
                 address_line="1 rue", postal_code="75001", city="Paris") for i in range(100)])
    structure = HealthStructure.objects.create(name="Structure", siren="732829320")
    boxes = Drimbox.objects.bulk_create([
        Drimbox(identifiant=n, site_label=f"s{n}", db_fqdn=f"db{n}.bench.example.fr", vi_fqdn=f"vi{n}.bench.example.fr",
                operator=operators[n % 100], health_structure=structure, pacs="PACS", support_contact="support",
                status=DrimboxStatus.ACTIVE) for n in range(1, DRIMBOXES + 1)], batch_size=BATCH)
    if boxes[0].pk is None:  # backends without RETURNING
        boxes = list(Drimbox.objects.order_by("identifiant"))
    history_start = MONTH_START - timedelta(days=28 * HISTORY_MONTHS)
    transitions, windows = [], []
    for box in boxes:
        transitions.append(Transition(drimbox=box, old_status="no_data", new_status="operational",
                                      effective_at=history_start - timedelta(days=1)))
        for begin, end in ((history_start, MONTH_START), (MONTH_START, MONTH_END)):
            count = TRANSITIONS * HISTORY_MONTHS if begin == history_start else TRANSITIONS
            if count:
                for old, at, new in outages(rng, begin, end, count):
                    transitions.append(Transition(drimbox=box, old_status=old, new_status=new, effective_at=at))
            if transitions[-1].new_status != "operational":
                transitions.append(Transition(drimbox=box, old_status=transitions[-1].new_status,
                                              new_status="operational", effective_at=end - timedelta(seconds=1)))
        if box.identifiant % 10 == 0:
            start = MONTH_START + timedelta(seconds=rng.uniform(0, (MONTH_END - MONTH_START).total_seconds() - 86400))
            windows.append(MaintenanceWindow(drimbox=box, starts_at=start, ends_at=start + timedelta(hours=4),
                                             reason="Mise à jour", declared_by=user,
                                             created_at=start - timedelta(days=1)))  # declared in advance
    # Rows are appended as they happen in production: insert them in time order.
    transitions.sort(key=lambda row: row.effective_at)
    Transition.objects.bulk_create(transitions, batch_size=BATCH)
    MaintenanceWindow.objects.bulk_create(windows, batch_size=BATCH)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def policies():
    base = {"effective_from": MONTH_START, "reference_period": "month"}
    return [
        ("v1: toutes les heures, maintenance exclue", MeasurementPolicy.objects.get(version=1)),
        ("heures ouvrées seulement", MeasurementPolicy(version=2, support_hours_only=True, **base)),
        ("maintenance comptée", MeasurementPolicy(version=3, maintenance_counts=True, **base)),
    ]


class Timing:
    """Median wall time of ``rounds`` calls, and their median CPU time (this process, plus the PostgreSQL
    backend when local): on a shared machine the CPU time says what the work costs, the wall time what the
    machine gave it."""

    def __init__(self, function, rounds=ROUNDS):
        walls, cpus = [], []
        with override_settings(DEBUG=False):
            for _ in range(rounds):
                cpu, begin = benchlib.cpu_seconds(), time.perf_counter()
                self.result = function()
                walls.append((time.perf_counter() - begin) * 1000)
                cpus.append((benchlib.cpu_seconds() - cpu) * 1000)
        self.median, self.low, self.high = statistics.median(walls), min(walls), max(walls)
        self.cpu = statistics.median(cpus)


def python_pass(policy):
    """``compute`` with the Python pass forced (what SQLite runs), for comparison on PostgreSQL."""
    def forced(*args, **kwargs):
        return downtime.down_totals(*args, **dict(kwargs, in_sql=False))

    with mock.patch("weather.perf.down_totals", forced):
        return compute("2025-03", policy)


def main():
    benchlib.migrate()
    started = time.perf_counter()
    load()
    print(f"# data: {Drimbox.objects.count()} DRIMboxes, {Transition.objects.count()} transitions, "
          f"{MaintenanceWindow.objects.count()} maintenance windows (load {time.perf_counter() - started:.1f}s); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    database = connection.vendor
    bounds = period_bounds("2025-03", MeasurementPolicy.objects.get(version=1))
    raw = Timing(lambda: downtime.read_down_rows(bounds.start, bounds.end))
    print(f"raw row read [{database}]: {len(raw.result[0])} DOWN-related transitions of the month into Python: "
          f"median {raw.median:.0f} ms (cpu {raw.cpu:.0f} ms)")
    missed = False
    for key, (label, policy) in zip(("all_hours", "support_hours", "maintenance_counted"), policies(), strict=True):
        with CaptureQueriesContext(connection) as captured:
            report = compute("2025-03", policy)
        assert len(report) == DRIMBOXES
        timing = Timing(lambda policy=policy: compute("2025-03", policy))
        report = timing.result
        perf = {value: sum(1 for row in report if str(row.perf) == value) for value in ("1", "0.5", "0")}
        print(f"compute() [{database}] {label}: median {timing.median:.0f} ms over {ROUNDS} "
              f"(min {timing.low:.0f}, max {timing.high:.0f}; cpu {timing.cpu:.0f} ms; "
              f"target ≤ {TARGET_S * 1000:.0f} ms); "
              f"{timing.median / raw.median:.2f} × the raw row read; {len(captured)} queries; "
              f"PERF 1/0.5/0: {perf['1']}/{perf['0.5']}/{perf['0']}")
        missed |= not benchlib.report_target(f"perf.{database}.{key}", timing.median, TARGET_S * 1000, "ms")
        if database == "postgresql":
            other = Timing(lambda policy=policy: python_pass(policy))
            assert [(r.drimbox_id, r.df, r.down_count) for r in other.result] == \
                [(r.drimbox_id, r.df, r.down_count) for r in report], "SQL and the Python pass disagree"
            print(f"    the same through the Python pass [{database}]: median {other.median:.0f} ms "
                  f"(cpu {other.cpu:.0f} ms), same results")
    return missed


benchlib.run(main)

"""Benchmark: the tagged PDF/A documents (trustspace.pdf, WeasyPrint) — an attestation de délégation (rendered inside
the approving transaction; target median ≤ 0.5 s) and PERF reports of ``BENCH_PDF_ROWS`` DRIMboxes (default
"100,1000"; target ≤ 30 s for 1,000 rows, well inside the proxy's 90 s read timeout).

The documents are built from unsaved objects (no database rows): only the layout and the PDF writing are timed.
Median of ``BENCH_ROUNDS`` (default 3) renders after one warm-up, wall time and this process's CPU time. The layout
is CPU-bound in one thread: on an idle machine wall ≈ CPU, and on a loaded one the wall time stretches while the CPU
time does not, so the targets apply to the CPU time. ``BENCH_STRICT=1`` → exit 1 when a target is missed. Run with
``bench/run pdf``.
"""
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402

benchlib.setup("pdf")

from operators.attestation_pdf import render_attestation  # noqa: E402
from operators.models import Attestation, DrimboxRequest  # noqa: E402
from weather import reports  # noqa: E402
from weather.models import MeasurementPolicy  # noqa: E402
from weather.perf import PerfReport, PerfRow, period_bounds  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ROWS = [int(size) for size in os.environ.get("BENCH_PDF_ROWS", "100,1000").split(",")]
ATTESTATION_TARGET_S = 0.5
PERF_TARGET_S_PER_1000 = 30.0


def timed(render):
    render()  # warm-up: fonts, style sheets, imports
    walls, cpus = [], []
    for _ in range(ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        render()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def attestation():
    made = Attestation(code="ATT-ABCD-EFGH-JKMN", issued_at=datetime(2026, 6, 30, 22, 15, tzinfo=UTC),
                       operator_name="Radiologie Numérique Cœur — Sud", operator_siren="123456789",
                       structure_name="Centre d'imagerie des Trois Rivières", structure_siren="987654321",
                       structure_finess="750000001", identifiant=12, db_fqdn="db12.123.mesimagesmedicales.fr",
                       vi_fqdn="vi12.123.mesimagesmedicales.fr")
    made.request = DrimboxRequest(reference="DEC-2026-00012")
    return made


def perf_report(rows):
    policy = MeasurementPolicy(version=1, reference_period="month")
    period = period_bounds("2026-11", policy)
    return PerfReport(period=period, policy=policy, generated_at=datetime(2026, 12, 1, 8, tzinfo=UTC),
                      measured_until=period.end, rows=[
                          PerfRow(drimbox_id=i, identifiant=1000 + i, db_fqdn=f"db{1000 + i}.123.mesimagesmedicales.fr",
                                  operator_id=i % 50, operator_name=f"Opérateur de radiologie numéro {i % 50}",
                                  df=timedelta(seconds=i * 97 % 90000), down_count=i % 4, policy_version=1)
                          for i in range(rows)])


def main():
    missed = False
    document = attestation()
    wall, cpu = timed(lambda: render_attestation(document, check_url="https://portail.example.fr/attestations/"))
    verdict = "ok" if cpu <= ATTESTATION_TARGET_S else "MISSED"
    missed |= verdict == "MISSED"
    print(f"attestation: median {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU over {ROUNDS} "
          f"(target ≤ {ATTESTATION_TARGET_S * 1000:.0f} ms) {verdict}")
    for rows in ROWS:
        report = perf_report(rows)
        wall, cpu = timed(lambda report=report: reports.render(report, "pdf"))
        target = PERF_TARGET_S_PER_1000 * max(rows, 1) / 1000
        verdict = "ok" if cpu <= target else "MISSED"
        missed |= verdict == "MISSED"
        print(f"PERF PDF, {rows} DRIMbox: median {wall:.2f} s wall, {cpu:.2f} s CPU "
              f"({cpu / max(rows, 1) * 1000:.1f} ms CPU per row; target ≤ {target:.1f} s) {verdict}")
    return missed


if __name__ == "__main__":
    benchlib.run(main)

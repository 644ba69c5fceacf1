"""Benchmark: the public weather page ``/meteo/`` (first page, 50 DRIMboxes with their 90-day bars) at 10,000
DRIMboxes, with its closed days stored (``DaySummary``) beside the same page computed from the transitions (what
every request did before the days were stored), in the same run.

Data: ``BENCH_SMALL`` then ``BENCH_LARGE`` (default 1000/10000) published DRIMboxes across 300 operators, each
with a weather head and ``BENCH_TRANSITIONS`` (default 20) status changes over the last 90 days at instants to
the microsecond, every tenth one with a maintenance window and a restored incident. Rows are bulk-inserted
through the ORM (benchmark data, not application writes); the stored days are then filled by the service, as
beat does (``weather.services.record_day_summaries``), and that filling is timed too.

Measured through Django's test Client (full middleware stack, in-process), as an anonymous visitor: median and
p95 of ``BENCH_REQUESTS`` timed requests (default 30) after ``BENCH_WARMUP`` warm-ups; target p95 ≤
``BENCH_TARGET_P95_MS`` (default 100 ms) for ``/meteo/`` with its days stored, and a query count that does not
depend on the number of DRIMboxes. The median CPU time of a request is printed too (the machine may be shared).
Also, for information: one DRIMbox's page and its JSON (``/api/v1/weather/N/``) and a conditional request
answered 304. ``BENCH_DATABASE_URL`` benches on PostgreSQL; ``BENCH_STRICT=1`` exits 1
when a target is missed. Run with ``bench/run weather_page``.
"""
import gc
import os
import random
import statistics
import time
from datetime import timedelta

import benchlib

SMALL, LARGE = benchlib.size_pair("BENCH_SMALL", (1000, 10000))
TARGET_P95_MS = benchlib.target_p95_ms(100)
TRANSITIONS = int(os.environ.get("BENCH_TRANSITIONS", "20"))
OPERATORS = 300
BATCH = 2000

benchlib.setup("weather_page")

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from operators.models import Drimbox, DrimboxStatus, HealthStructure, Operator  # noqa: E402
from weather import services  # noqa: E402
from weather.clock import GTI, GTR  # noqa: E402
from weather.models import (  # noqa: E402
    DayStrip,
    DaySummary,
    DrimboxWeather,
    Incident,
    MaintenanceWindow,
    Transition,
    WeatherStatus,
)
from whitelist.models import PublishedEntry  # noqa: E402

STATUSES = [WeatherStatus.OPERATIONAL] * 6 + [WeatherStatus.DEGRADED, WeatherStatus.DOWN, WeatherStatus.NO_DATA]


def load(first, last, user, now, rng):
    """Published DRIMboxes with Identifiants first..last-1, their heads, 90 days of transitions, some windows and
    incidents."""
    operators = list(Operator.objects.order_by("pk"))
    structure = HealthStructure.objects.first()
    Drimbox.objects.bulk_create([
        Drimbox(identifiant=n, site_label="test", db_fqdn=f"db{n}.test.mesimagesmedicales.fr",
                vi_fqdn=f"vi{n}.test.mesimagesmedicales.fr", operator=operators[n % len(operators)],
                health_structure=structure, pacs=f"PACS-{n}", support_contact="support@example.fr",
                status=DrimboxStatus.ACTIVE) for n in range(first, last)], batch_size=BATCH)
    PublishedEntry.objects.bulk_create([PublishedEntry(identifiant=n, fields_sha256="0" * 64, date_maj=now)
                                        for n in range(first, last)], batch_size=BATCH)
    boxes = list(Drimbox.objects.filter(identifiant__gte=first, identifiant__lt=last).values_list("pk", "identifiant"))
    start = now - timedelta(days=91)
    transitions, heads, windows, incidents = [], [], [], []
    for pk, n in boxes:
        instants = sorted(start + timedelta(seconds=rng.uniform(0, 91 * 86400 - 3600)) for _ in range(TRANSITIONS))
        old = WeatherStatus.NO_DATA
        for at in instants:
            new = rng.choice([s for s in STATUSES if s != old])
            transitions.append(Transition(drimbox_id=pk, old_status=old, new_status=new, effective_at=at))
            old = new
        heads.append(DrimboxWeather(drimbox_id=pk, status=old, since=instants[-1]))
        if n % 10 == 0:
            lo = now - timedelta(days=rng.uniform(1, 80))
            windows.append(MaintenanceWindow(drimbox_id=pk, starts_at=lo, ends_at=lo + timedelta(hours=3),
                                             reason="Mise à jour", declared_by=user,
                                             created_at=lo - timedelta(days=1)))
            opened = now - timedelta(days=rng.uniform(1, 60))
            incidents.append(Incident(drimbox_id=pk, opened_at=opened, gti_due_at=opened + GTI,
                                      gtr_due_at=opened + GTR, restored_at=opened + timedelta(hours=2)))
    transitions.sort(key=lambda row: row.effective_at)  # appended as they happen
    Transition.objects.bulk_create(transitions, batch_size=BATCH)
    DrimboxWeather.objects.bulk_create(heads, batch_size=BATCH)
    MaintenanceWindow.objects.bulk_create(windows, batch_size=BATCH)
    Incident.objects.bulk_create(incidents, batch_size=BATCH)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(url, *, revalidate=False):
    """``GET url`` as an anonymous visitor: warm-ups, one counted request, timed ones (DEBUG off). With
    ``revalidate``, each request sends the ETag last received (``If-None-Match``): 304 while the page is the
    same; a bar of today moves with the clock, so a 200 may come between (counted in ``not_modified``)."""
    client = Client()
    etag = ""
    for _ in range(benchlib.N_WARMUP):
        etag = benchlib.get_ok(client, url)["ETag"]
    with CaptureQueriesContext(connection) as captured:
        counted = client.get(url)
    count = len(captured.captured_queries)
    etag = counted["ETag"]
    not_modified = 0
    with override_settings(DEBUG=False):
        gc.collect()
        samples, cpus = [], []
        for _ in range(benchlib.N_REQUESTS):
            headers = {"HTTP_IF_NONE_MATCH": etag} if revalidate else {}
            cpu, started = benchlib.cpu_seconds(), time.perf_counter()
            response = client.get(url, **headers)
            samples.append((time.perf_counter() - started) * 1000)
            cpus.append((benchlib.cpu_seconds() - cpu) * 1000)
            if response.status_code == 304:
                not_modified += 1
            elif response.status_code != 200:
                raise SystemExit(f"GET {url} answered {response.status_code}")
            etag = response["ETag"]
    measured = benchlib.Measurement(statistics.median(samples), benchlib.p95(samples), count,
                                    captured.captured_queries, counted)
    return measured, statistics.median(cpus), not_modified


def line(label, size, measured, extra=""):
    m, cpu, _ = measured
    print(f"{label:<34} drimboxes={size:<6} median={m.median:7.1f}ms p95={m.p95:7.1f}ms cpu={cpu:6.1f}ms "
          f"queries={m.queries}{extra}")


def main():
    benchlib.print_header("public weather page /meteo/", TARGET_P95_MS)
    benchlib.migrate()
    rng = random.Random(90)  # noqa: S311 - seeded for reproducible bench data, not for secrets
    now = timezone.now()
    user = get_user_model().objects.create(username="bench", email="bench@example.fr")
    Operator.objects.bulk_create([
        Operator(name=f"Opérateur {i}", siren=f"{100000000 + i}", id_nat_struct=f"2{100000000 + i}",
                 address_line="1 rue", postal_code="75001", city="Paris", contact_email="contact@example.fr")
        for i in range(OPERATORS)])
    HealthStructure.objects.create(name="Centre", siren="732829320")
    missed, counts, loaded = False, [], 1
    for size in sorted({SMALL, LARGE}):
        started = time.perf_counter()
        load(loaded, size + 1, user, now, rng)
        loaded = size + 1
        print(f"# loaded {size} DRIMboxes, {Transition.objects.count()} transitions in "
              f"{time.perf_counter() - started:.1f}s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        DaySummary.objects.all().delete()
        DayStrip.objects.all().delete()
        computed, *_ = computed_cpu = measure("/meteo/")
        line("/meteo/ every day computed", size, computed_cpu, " (the previous way, for comparison)")
        started = time.perf_counter()
        filled = services.record_day_summaries()
        print(f"# stored {filled['stored']} closed days and drew {filled['drawn']} strips of {filled['drimboxes']} "
              f"DRIMboxes in {time.perf_counter() - started:.1f}s (beat does this once a day for one day)")
        page, *_ = page_cpu = measure("/meteo/")
        counts.append(page.queries)
        line("/meteo/ closed days stored", size, page_cpu,
             f" (target p95<={TARGET_P95_MS:g}ms; {computed.p95 / page.p95:.1f}× faster at p95)")
        if size == LARGE:
            missed |= not benchlib.report_target("weather_page.p95", page.p95, TARGET_P95_MS, "ms")
        revalidated = measure("/meteo/", revalidate=True)
        if not revalidated[2]:
            raise SystemExit("If-None-Match never answered 304")
        line("/meteo/ revalidated (If-None-Match)", size, revalidated,
             f" ({revalidated[2]}/{benchlib.N_REQUESTS} answered 304)")
        box = Drimbox.objects.order_by("identifiant").values_list("identifiant", flat=True)[size // 2]
        line(f"/meteo/{box}/", size, measure(f"/meteo/{box}/"))
        line(f"/api/v1/weather/{box}/", size, measure(f"/api/v1/weather/{box}/"))
        if benchlib.SHOW_SQL:
            benchlib.print_sql(page.sql)
    _, verdict = benchlib.size_verdict(counts)
    print(f"# /meteo/ query count vs size: {counts} -> {verdict}")
    # The count at the largest size over the count at the smallest: 1 when it does not depend on the size.
    same = benchlib.report_target("weather_page.query_count_ratio", counts[-1] / counts[0], 1, "x")
    return missed or not same


if __name__ == "__main__":
    benchlib.run(main)

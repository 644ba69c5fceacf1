"""Benchmark: weather probes against 1,000 loopback DRIMboxes: sustained rate (target ≥ 300/s) and the prober's
client CPU per mutual-TLS probe (target ≤ 1.6 ms), with a breakdown of where that CPU goes.

Each DRIMbox is a real HTTPS server on its own 127.0.0.1 port, presenting its own IGC-Santé-shaped `db`
certificate (distinct DN) and requiring the prober's client certificate (mutual TLS); optionally a `vi`
server too. Servers run in separate processes (asyncio, ``tests.support.drimbox_servers``). The prober runs
in ``BENCH_CLIENTS`` processes like as many Celery worker processes, batch after batch as ``probe_batch``
does: ``weather.prober.config_from_settings`` for each batch of ``BENCH_BATCH`` DRIMboxes (the settings name
the bench's trust store, client certificate and key), then ``run_probes``, which reads the CRL cache (a
temporary SQLite database holding a CRL of the bench's intermediate with ``BENCH_CRL_ENTRIES`` revoked serials,
none of them a DRIMbox's: every probe looks its serial up). Full TLS handshake, chain, DN and CRL checks, HEAD,
no session resumption. Clients and servers share the machine (on a 2-core machine they share the 2 cores), so
the rate is a lower bound of what a dedicated probe host does. Recording the observations
(``weather.services``) is not included (a few bulk queries per batch).

A probe = one DRIMbox checked (db, plus vi when ``BENCH_WITH_VI=1``). Each run probes all DRIMboxes in
rounds for ``BENCH_SECONDS`` (default 20) and counts completed probes and the client processes' CPU time; the
medians of ``BENCH_ROUNDS`` (default 3) runs are compared with the targets.

Then, in the same run, the breakdown: 3 more passes of the prober in this process with the calls that do the work
wrapped and their CPU time (``time.thread_time``) added up: TLS handshake (OpenSSL), TCP connect and close (kernel),
HEAD and status line, certificate checks, per-batch setup; the rest (event loop, coroutines, results) is a pass's
total less these (medians). The first three are the reference: what any client doing this handshake and HEAD pays;
the others are the prober's own work. The wrappers cost a little: the metered total is printed beside the figure.
(A bare blocking client is no floor here: it sleeps and wakes at every network wait, which costs more CPU than the
event loop's one wake-up for many connections.) The targets end in ``SUMMARY`` lines (``benchlib.report_target``).

Knobs: ``BENCH_DRIMBOXES`` (1000), ``BENCH_SECONDS`` (20), ``BENCH_ROUNDS`` (3), ``BENCH_CLIENTS`` (1),
``BENCH_SERVERS`` (1, server processes), ``BENCH_CONCURRENCY`` (200), ``BENCH_BATCH`` (500),
``BENCH_CRL_ENTRIES`` (5000), ``BENCH_WITH_VI`` (0), ``BENCH_TARGET`` (300 probes/s),
``BENCH_TARGET_CPU_MS`` (1.6), ``BENCH_STRICT``.
"""
import collections
import contextlib
import datetime as dt
import importlib
import importlib.util
import json
import multiprocessing
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import benchlib  # noqa: E402

benchlib.setup("probes")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connections  # noqa: E402

from certificates.models import CrlCache  # noqa: E402
from tests.support import pki  # noqa: E402
from tests.support.drimbox_servers import write_pem_pair  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402
from weather import prober  # noqa: E402
from weather.targets import Target  # noqa: E402

COUNT = int(os.environ.get("BENCH_DRIMBOXES", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1"))
SERVERS = int(os.environ.get("BENCH_SERVERS", "1"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "200"))
BATCH = int(os.environ.get("BENCH_BATCH", "500"))
CRL_ENTRIES = int(os.environ.get("BENCH_CRL_ENTRIES", "5000"))
WITH_VI = os.environ.get("BENCH_WITH_VI", "0") not in ("", "0")
TARGET = float(os.environ.get("BENCH_TARGET", "300"))
TARGET_CPU_MS = float(os.environ.get("BENCH_TARGET_CPU_MS", "1.6"))
PASSES = 3  # metered passes of the prober (medians)


def build(directory, hierarchy):
    """Certificates, server descriptions and the prober's targets."""
    key = pki.rsa_key(2048, pki.DB_SLOT)  # one key for every leaf: generation is not what we measure
    servers, targets = [], []
    for n in range(1, COUNT + 1):
        db, vi = f"db{n}.test.mesimagesmedicales.fr", f"vi{n}.test.mesimagesmedicales.fr"
        issued = hierarchy.db_certificate(db, id_nat_struct=f"3{n:014d}", key=key)
        cert, key_path = write_pem_pair(directory / "certs", db, issued)
        servers.append({"name": db, "cert": cert, "key": key_path, "mutual": True})
        if WITH_VI:
            cert, key_path = write_pem_pair(directory / "certs", vi, hierarchy.vi_certificate(vi))
            servers.append({"name": vi, "cert": cert, "key": key_path, "mutual": False})
        targets.append(Target(identifiant=n, drimbox_id=n, db=db, vi=vi if WITH_VI else "",
                              dn=issued.cert.subject.rfc4514_string()))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sonde meteo DRIM-M (bench)")])
    client = hierarchy.db_certificate(None, subject=subject, eku=("clientAuth",), san=[], key=pki.rsa_key(2048, 61))
    client_cert, client_key = write_pem_pair(directory / "certs", "client", client)
    return servers, targets, (client_cert, client_key)


def configure(directory, hierarchy, client_pair, resolve):
    """The settings ``config_from_settings`` reads in ``probe_batch``, naming the bench's PKI and servers."""
    anchors, intermediates, bundle = directory / "anchors.pem", directory / "intermediates.pem", directory / "vi.pem"
    anchors.write_bytes(hierarchy.root.pem)
    intermediates.write_bytes(hierarchy.intermediate.pem)
    bundle.write_bytes(hierarchy.root.pem)
    settings.DEBUG = False  # as in production (no query log)
    settings.IGC_SANTE_ANCHORS, settings.IGC_SANTE_INTERMEDIATES = [str(anchors)], [str(intermediates)]
    settings.WEATHER_CLIENT_CERT, settings.WEATHER_CLIENT_KEY = client_pair
    settings.WEATHER_VI_CA_BUNDLE = str(bundle)
    settings.WEATHER_PROBE_TIMEOUT, settings.WEATHER_PROBE_RETRIES = 10, 0
    settings.WEATHER_PROBE_CONCURRENCY = CONCURRENCY
    settings.WEATHER_PROBE_RESOLVE = resolve


def cache_crl(hierarchy):
    """The intermediate's CRL in the CRL cache, with CRL_ENTRIES serials that are no DRIMbox's."""
    crl = hierarchy.crl([(1 << 62) + 7919 * n for n in range(CRL_ENTRIES)])  # the leaves' serials are random 159-bit
    CrlCache.objects.create(url=pki.CRL_URL, der=crl.public_bytes(Encoding.DER), this_update=crl.last_update_utc,
                            next_update=crl.next_update_utc, fetched_at=dt.datetime.now(dt.UTC))


def start_servers(directory, servers, client_ca_pem):
    """``SERVERS`` processes, each serving a share of the ports; returns (processes, {name: port})."""
    processes, ports = [], {}
    for index in range(SERVERS):
        share = servers[index::SERVERS]
        description = directory / f"servers-{index}.json"
        ports_file = directory / f"ports-{index}.json"
        description.write_text(json.dumps({"client_ca_pem": client_ca_pem, "servers": share}))
        process = ServerProcess(directory / f"servers-{index}.log")
        ok, output = process.launch([sys.executable, "-m", "tests.support.drimbox_servers", str(description),
                                     str(ports_file)], ready=ports_file.exists, cwd=str(ROOT),
                                    start_timeout=120)
        if not ok:
            raise SystemExit(f"servers did not start: {output}")
        processes.append(process)
        ports.update(json.loads(ports_file.read_text()))
    return processes, ports


def probe_round(targets):
    """Every target once, batch by batch as ``weather.tasks.probe_batch`` probes them; the results."""
    results = []
    for start in range(0, len(targets), BATCH):
        batch = targets[start:start + BATCH]
        results.extend(prober.run_probes(batch, prober.config_from_settings()))
    return results


def client_run(args):
    """One client process: probe its targets in rounds for SECONDS; (probes, failures, elapsed, CPU seconds)."""
    targets, seconds = args
    done = failures = 0
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        results = probe_round(targets)
        done += len(results)
        failures += sum(1 for r in results if r.status != prober.OPERATIONAL)
    return done, failures, time.perf_counter() - started, time.process_time() - cpu


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), to state a load-independent cost per probe."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the reference and the breakdown -----------------------------------------------------------------------------


# (category, label) in print order; what each wraps is in ``instrumented_calls``.
CATEGORIES = [
    ("handshake", "TLS handshake (OpenSSL: key exchange, client RSA signature, chain verification)"),
    ("tcp", "TCP connect and close (kernel)"),
    ("http", "HEAD and status line (TLS records, the server's session tickets)"),
    ("checks", "certificate checks (DER, parse once per certificate, DN, CRL lookup)"),
    ("setup", "per-batch setup (config, SSL contexts, CRL cache read)"),
]


FLOOR = ("handshake", "tcp", "http")  # what the prober cannot do without


def instrumented_calls():
    """[(owner, attribute, category)] of the calls that do the work, in the prober as now (and as it was before
    issue 17: asyncio streams over SSLObject; absent attributes are skipped)."""
    probe_cache = importlib.import_module("weather.probe_cache") if importlib.util.find_spec("weather.probe_cache") \
        else None
    return [
        (ssl.SSLContext, "wrap_socket", "handshake"), (ssl.SSLContext, "wrap_bio", "handshake"),
        (ssl.SSLSocket, "do_handshake", "handshake"), (ssl.SSLObject, "do_handshake", "handshake"),
        (socket.socket, "connect", "tcp"), (socket.socket, "close", "tcp"),
        (ssl.SSLSocket, "send", "http"), (ssl.SSLSocket, "recv", "http"),
        (ssl.SSLObject, "write", "http"), (ssl.SSLObject, "read", "http"),
        (ssl.SSLSocket, "getpeercert", "checks"), (ssl.SSLObject, "getpeercert", "checks"),
        (getattr(probe_cache, "PeerCertificates", None), "get", "checks"), (prober, "is_revoked", "checks"),
        (prober, "_peer_identity", "checks"), (prober, "_revoked", "checks"),
        (prober, "config_from_settings", "setup"), (prober, "cached_crls", "setup"),
    ]


@contextlib.contextmanager
def metered(totals):
    """Wrap ``instrumented_calls()`` so that their CPU time adds up in ``totals`` (nested calls count once)."""
    depth = [0]
    restore = []

    def wrap(original, category):
        def timed(*args, **kwargs):
            if depth[0]:
                return original(*args, **kwargs)
            depth[0] += 1
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                totals[category] += time.thread_time() - started
                depth[0] -= 1
        return timed

    for owner, name, category in instrumented_calls():
        if owner is None:
            continue
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None and isinstance(owner, type) and hasattr(owner, name):
            original = getattr(owner, name)  # inherited (socket.socket.connect from _socket.socket)
            restore.append((owner, name, None))
        elif original is not None:
            restore.append((owner, name, original))
        else:
            continue
        setattr(owner, name, wrap(original, category))
    try:
        yield
    finally:
        for owner, name, original in reversed(restore):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def breakdown(targets):
    """({category: ms per probe}, 'rest' included; total ms per probe): medians of PASSES metered passes over
    every target."""
    probe_round(targets)  # warm: contexts made, certificates parsed, CRL indexed (as in a long-running worker)
    passes = []
    for _ in range(PASSES):
        totals = collections.Counter()
        with metered(totals):
            cpu = time.process_time()
            results = probe_round(targets)
            total = time.process_time() - cpu
        per_probe = {category: seconds / len(results) * 1000 for category, seconds in totals.items()}
        per_probe["rest"] = total / len(results) * 1000 - sum(per_probe.values())
        per_probe["total"] = total / len(results) * 1000
        passes.append(per_probe)
    medians = {category: statistics.median(p.get(category, 0.0) for p in passes) for category in passes[0]}
    return medians, medians.pop("total")


def main():
    benchlib.migrate()
    hierarchy = pki.TestPKI()
    with tempfile.TemporaryDirectory(prefix="bench_probes_") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        servers, targets, client_pair = build(directory, hierarchy)
        cache_crl(hierarchy)
        ca_pem = pki.cert_pem(hierarchy.root.cert, hierarchy.intermediate.cert).decode()
        processes, ports = start_servers(directory, servers, ca_pem)
        resolve = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
        configure(directory, hierarchy, client_pair, resolve)
        print(f"# {COUNT} DRIMboxes ({len(servers)} HTTPS servers in {SERVERS} process(es)) ready in "
              f"{time.perf_counter() - started:.1f}s; {CLIENTS} client process(es), batches of {BATCH}, "
              f"{CONCURRENCY} probes in flight each, vi {'probed' if WITH_VI else 'not probed'}, a cached CRL of "
              f"{CRL_ENTRIES} serials; {os.cpu_count()} CPU(s) shared by all")
        connections.close_all()  # each forked client opens its own database connection
        try:
            rates, capacity, client_cpu = [], [], []
            with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
                for run in range(ROUNDS):
                    shares = [(targets[i::CLIENTS], SECONDS) for i in range(CLIENTS)]
                    server_cpu = sum(cpu_seconds(p.process.pid) for p in processes)
                    outcomes = pool.map(client_run, shares)
                    server_cpu = sum(cpu_seconds(p.process.pid) for p in processes) - server_cpu
                    done = sum(o[0] for o in outcomes)
                    failures = sum(o[1] for o in outcomes)
                    elapsed = max(o[2] for o in outcomes)
                    rates.append(done / elapsed)
                    client_ms = sum(o[3] for o in outcomes) / done * 1000
                    server_ms = server_cpu / done * 1000
                    client_cpu.append(client_ms)
                    capacity.append((os.cpu_count() or 1) * 1000 / (client_ms + server_ms))
                    print(f"run {run + 1}: {done} probes in {elapsed:.1f}s = {done / elapsed:.0f} probes/s "
                          f"({failures} not operational); CPU per probe: client {client_ms:.2f} ms, servers "
                          f"{server_ms:.2f} ms; load average {os.getloadavg()[0]:.1f}")
                    if failures:
                        print("  (failures mean the servers or the client are saturated: see timeouts)")
            parts, metered_total = breakdown(targets)
        finally:
            for process in processes:
                process.terminate()
    median, median_cpu = statistics.median(rates), statistics.median(client_cpu)
    print(f"CPU-bound capacity of this machine for client + servers (cores / CPU per probe): median "
          f"{statistics.median(capacity):.0f} probes/s (what the measured rate reaches when nothing else runs)")
    print(f"where the prober's CPU goes (medians of {PASSES} metered passes in this process: {metered_total:.2f} ms "
          f"per probe, wrappers included):")
    for category, label in [*CATEGORIES, ("rest", "event loop, coroutines, results (the rest)")]:
        share = parts.get(category, 0.0)
        print(f"  {share:6.3f} ms  {share / metered_total:6.1%}  {label}")
    floor = sum(parts.get(category, 0.0) for category in FLOOR)
    print(f"reference, same passes: handshake + TCP + HEAD, what any client of these servers pays: {floor:.2f} ms per "
          f"probe; the prober's own work (checks, setup, event loop): {metered_total - floor:.2f} ms")
    print(f"sustained probes: median {median:.0f}/s over {ROUNDS} runs of {SECONDS:g}s; client CPU per probe: median "
          f"{median_cpu:.2f} ms")
    rate_ok = benchlib.report_target("probes.rate", median, TARGET, "probes/s", higher_is_better=True)
    cpu_ok = benchlib.report_target("probes.client_cpu", median_cpu, TARGET_CPU_MS, "ms")
    return not (rate_ok and cpu_ok)


if __name__ == "__main__":
    benchlib.run(main)

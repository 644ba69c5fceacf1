"""Benchmark: sustained weather probes per second against 1,000 loopback DRIMboxes (target ≥ 300/s).

Each DRIMbox is a real HTTPS server on its own 127.0.0.1 port, presenting its own IGC-Santé-shaped `db`
certificate (distinct DN) and requiring the prober's client certificate (mutual TLS); optionally a `vi`
server too. Servers run in separate processes (asyncio, ``tests.support.drimbox_servers``); the prober
is ``weather.prober`` exactly as ``probe_batch`` runs it (full TLS handshake, chain and DN checks, HEAD,
no session resumption), in ``BENCH_CLIENTS`` processes like as many Celery worker processes. Clients
and servers share the same machine (on a 2-core machine they share the 2 cores), so the figure is a
lower bound of what a dedicated probe host does. Recording the observations (``weather.services``) is
not included here (it is a few bulk queries per batch).

A probe = one DRIMbox checked (db, plus vi when ``BENCH_WITH_VI=1``). Each run probes all DRIMboxes in
rounds for ``BENCH_SECONDS`` (default 20) and counts completed probes; the median of ``BENCH_ROUNDS``
(default 3) runs is compared with the target.

Knobs: ``BENCH_DRIMBOXES`` (1000), ``BENCH_SECONDS`` (20), ``BENCH_ROUNDS`` (3), ``BENCH_CLIENTS`` (1),
``BENCH_SERVERS`` (1, server processes), ``BENCH_CONCURRENCY`` (200), ``BENCH_WITH_VI`` (0),
``BENCH_TARGET`` (300), ``BENCH_STRICT``.
"""
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from cryptography import x509  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

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
WITH_VI = os.environ.get("BENCH_WITH_VI", "0") not in ("", "0")
TARGET = float(os.environ.get("BENCH_TARGET", "300"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")


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


def client_run(args):
    """One client process: probe its targets in rounds for SECONDS; (probes, failures, elapsed)."""
    targets, resolve, cadata, client_pair, seconds = args
    config = prober.ProbeConfig(
        db_context=prober.db_context(cadata=cadata, client_cert=client_pair[0], client_key=client_pair[1]),
        vi_context=prober.vi_context(extra_bundle=client_pair[2]), timeout=10, retries=0,
        concurrency=CONCURRENCY, resolve=resolve,
        crls={})  # no database in the client processes: an empty CRL cache (the lookup costs a dict access)
    done = failures = 0
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        results = prober.run_probes(targets, config)
        done += len(results)
        failures += sum(1 for r in results if r.status != prober.OPERATIONAL)
    return done, failures, time.perf_counter() - started, time.process_time() - cpu


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), to state a load-independent cost per probe."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    hierarchy = pki.TestPKI()
    with tempfile.TemporaryDirectory(prefix="bench_probes_") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        servers, targets, (client_cert, client_key) = build(directory, hierarchy)
        ca_pem = pki.cert_pem(hierarchy.root.cert, hierarchy.intermediate.cert).decode()
        bundle = directory / "vi-ca.pem"
        bundle.write_bytes(hierarchy.root.pem)
        processes, ports = start_servers(directory, servers, ca_pem)
        print(f"# {COUNT} DRIMboxes ({len(servers)} HTTPS servers in {SERVERS} process(es)) ready in "
              f"{time.perf_counter() - started:.1f}s; {CLIENTS} client process(es), {CONCURRENCY} probes in "
              f"flight each, vi {'probed' if WITH_VI else 'not probed'}; {os.cpu_count()} CPU(s) shared by all")
        resolve = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
        try:
            rates, capacity = [], []
            with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
                for run in range(ROUNDS):
                    shares = [(targets[i::CLIENTS], resolve, ca_pem, (client_cert, client_key, str(bundle)), SECONDS)
                              for i in range(CLIENTS)]
                    server_cpu = sum(cpu_seconds(p.process.pid) for p in processes)
                    outcomes = pool.map(client_run, shares)
                    server_cpu = sum(cpu_seconds(p.process.pid) for p in processes) - server_cpu
                    done = sum(o[0] for o in outcomes)
                    failures = sum(o[1] for o in outcomes)
                    elapsed = max(o[2] for o in outcomes)
                    rates.append(done / elapsed)
                    client_ms = sum(o[3] for o in outcomes) / done * 1000
                    server_ms = server_cpu / done * 1000
                    capacity.append((os.cpu_count() or 1) * 1000 / (client_ms + server_ms))
                    print(f"run {run + 1}: {done} probes in {elapsed:.1f}s = {done / elapsed:.0f} probes/s "
                          f"({failures} not operational); CPU per probe: client {client_ms:.2f} ms, servers "
                          f"{server_ms:.2f} ms; load average {os.getloadavg()[0]:.1f}")
                    if failures:
                        print("  (failures mean the servers or the client are saturated: see timeouts)")
        finally:
            for process in processes:
                process.terminate()
    median = statistics.median(rates)
    ok = median >= TARGET
    print(f"CPU-bound capacity of this machine for client + servers (cores / CPU per probe): median "
          f"{statistics.median(capacity):.0f} probes/s (what the measured rate reaches when nothing else runs)")
    print(f"sustained probes: median {median:.0f}/s over {ROUNDS} runs of {SECONDS:g}s "
          f"(target ≥ {TARGET:g}/s): {'OK' if ok else 'MISSED'}")
    if STRICT and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()

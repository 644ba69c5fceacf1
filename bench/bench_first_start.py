"""Benchmark: a newcomer's ``./scripts/run`` — first start on a fresh ``VAR_DIR`` and warm restart (targets: the
demo data loaded ≤ 30 s after install, a warm restart ≤ 5 s).

Runs the real ``scripts/run`` (the virtualenv already installed: « after install ») with a temporary
``VAR_DIR`` and ports chosen free on this host (``PORT``, ``DNS_PORT``, ``PEBBLE_*_PORT``, ``DEMO_DRIMBOX_PORT``),
so that it never collides with a portal already running here. Timed from the launch of ``scripts/run`` until
``GET /connexion/`` answers 200 (ready), then stopped through its trap (SIGTERM to its process group).

* first start: ``BENCH_COLD_ROUNDS`` (default 3) runs, each on a new ``VAR_DIR`` (migrate, demo data);
  ``scripts/run`` reports how long its database and demo step took (« Base et démo prêtes en … s »), printed
  beside the time to ready;
* warm restart: ``BENCH_WARM_ROUNDS`` (default 5) runs on the ``VAR_DIR`` of the last first start.

Medians; the load average is printed (other processes share the CPUs: ratios and medians matter more than one
run), and so is the CPU time all the processes of ``scripts/run`` used from launch to exit, which the load does
not change. ``BENCH_ROOT`` runs the ``scripts/run`` of another checkout (e.g. the previous implementation, for
reference). ``BENCH_STRICT=1`` → exit 1 when a target is missed. Run with ``bench/run first_start``.
"""
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402 - beside this file; no Django needed here

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.ports import free_port_block  # noqa: E402 - no Django needed either

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parent.parent)
COLD_ROUNDS = int(os.environ.get("BENCH_COLD_ROUNDS", "3"))
WARM_ROUNDS = int(os.environ.get("BENCH_WARM_ROUNDS", "5"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")
TARGET_DEMO_S = 30.0
TARGET_WARM_S = 5.0
READY_TIMEOUT_S = 600
PREPARED = re.compile(r"Base et démo prêtes en ([0-9]+(?:,[0-9]+)?) s")


def instance_environment(var_dir):
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "VAR_DIR"}}
    env.update(VAR_DIR=str(var_dir), PORT=str(free_port_block(1)), DNS_PORT=str(free_port_block(1)),
               PEBBLE_PORT=str(free_port_block(1)), PEBBLE_MANAGEMENT_PORT=str(free_port_block(1)),
               DEMO_DRIMBOX_PORT=str(free_port_block(8)))
    return env


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_and_stop(var_dir):
    """One ``scripts/run``: (seconds to ready, seconds of its database and demo step or None, CPU seconds of all
    its processes from launch to exit, output)."""
    env = instance_environment(var_dir)
    cpu = children_cpu()
    log_path = Path(var_dir).with_suffix(".run.log")
    with open(log_path, "w") as log:
        started = time.perf_counter()
        process = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{env['PORT']}/connexion/"
        try:
            while not answers(url):
                if process.poll() is not None:
                    raise SystemExit(f"scripts/run exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
                if time.perf_counter() - started > READY_TIMEOUT_S:
                    raise SystemExit(f"not ready after {READY_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.05)
            ready = time.perf_counter() - started
        finally:
            stop(process)
    output = log_path.read_text()
    match = PREPARED.search(output)
    return ready, float(match.group(1).replace(",", ".")) if match else None, children_cpu() - cpu, output


def stop(process):
    """SIGTERM to the whole process group scripts/run leads, then SIGKILL what is left after 20 s."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                process.wait()
                return
            process.poll()
            time.sleep(0.1)


def seconds(values):
    return "–" if not values else f"{statistics.median(values):.1f}s (runs: {', '.join(f'{v:.1f}' for v in values)})"


def main():
    print(f"# scripts/run of {ROOT}; {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at start; "
          f"{COLD_ROUNDS} first starts, {WARM_ROUNDS} warm restarts; ready = GET /connexion/ answers 200")
    workspace = Path(tempfile.mkdtemp(prefix="bench_first_start_"))
    try:
        cold, prepared, cold_cpu, var_dir = [], [], [], None
        for run in range(COLD_ROUNDS):
            var_dir = workspace / f"var-{run}"
            ready, prepare, cpu, _output = start_and_stop(var_dir)
            cold.append(ready)
            cold_cpu.append(cpu)
            if prepare is not None:
                prepared.append(prepare)
        warm, warm_cpu = [], []
        for _run in range(WARM_ROUNDS):
            ready, _prepare, cpu, _output = start_and_stop(var_dir)
            warm.append(ready)
            warm_cpu.append(cpu)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    print(f"first start, to ready:        {seconds(cold)}")
    print(f"  of which database and demo: {seconds(prepared)}")
    print(f"  CPU of all its processes:   {seconds(cold_cpu)}")
    print(f"warm restart, to ready:       {seconds(warm)}")
    print(f"  CPU of all its processes:   {seconds(warm_cpu)}")
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")
    demo = statistics.median(prepared or cold)
    missed = not benchlib.report_target("first_start.demo_data", demo, TARGET_DEMO_S, "s")
    missed |= not benchlib.report_target("first_start.warm_restart", statistics.median(warm), TARGET_WARM_S, "s")
    return missed


if __name__ == "__main__":
    sys.exit(1 if main() and STRICT else 0)

"""``./scripts/run`` for real (issue 17, item 7): a first start on a fresh VAR_DIR with every port moved off its
default, then a warm restart. The banner names only what listens, lists every demo account, and prints an outage
command that reaches this instance's DRIMboxes; a second instance on the same portal port or the same VAR_DIR is
refused before it starts anything. BIND 9 and Pebble are used when installed (the banner says so when they are not).
"""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from demo import accounts
from tests.support.dns_server import free_port as free_tcp_and_udp_port
from tests.support.ports import free_port_block
from tests.support.processes import _die_with_parent

ROOT = Path(__file__).resolve().parents[2]
POLLS = 3000  # checks 0.1 s apart: a generous wait for a first start on a busy machine, never a speed assertion
NAMED, PEBBLE = Path("/usr/sbin/named"), Path("/usr/bin/pebble")


def listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Instance:
    """One ``scripts/run``, its output in a file; stopped by SIGTERM to its process group, which its trap handles
    as Ctrl+C (SIGINT may be ignored by a test process's children)."""

    def __init__(self, env, log_path):
        self.env, self.log_path = env, log_path
        self.process = None

    def start(self):
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, preexec_fn=_die_with_parent)
        for _poll in range(POLLS):
            output = self.log_path.read_text()
            if "Ctrl+C pour arrêter" in output:
                return output
            assert self.process.poll() is None, f"scripts/run ended ({self.process.returncode}):\n{output[-4000:]}"
            time.sleep(0.1)
        raise AssertionError(f"no banner after {POLLS} checks:\n{self.log_path.read_text()[-4000:]}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # anything left behind (none expected)
            except ProcessLookupError:
                pass


def run_refused(env):
    result = subprocess.run([str(ROOT / "scripts" / "run")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    return result.returncode, result.stderr


def test_scripts_run_on_other_ports_then_a_warm_restart(tmp_path):
    var = tmp_path / "var"
    ports = {"PORT": free_port_block(1), "DNS_PORT": free_tcp_and_udp_port(), "PEBBLE_PORT": free_port_block(1),
             "PEBBLE_MANAGEMENT_PORT": free_port_block(1), "PEBBLE_HTTP_PORT": free_port_block(1),
             "PEBBLE_TLS_PORT": free_port_block(1), "DEMO_DRIMBOX_PORT": free_port_block(8)}
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "OIDC_RP_CLIENT_SECRET"}}
    env.update({name: str(port) for name, port in ports.items()}, VAR_DIR=str(var), WEATHER_PROBE_INTERVAL="3600")
    instance = Instance(env, tmp_path / "first.log")
    try:
        banner = instance.start()
        assert "Base et démo prêtes en" in banner and "migrations appliquées" in banner
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['PORT']}/connexion/", timeout=30) as page:
            assert page.status == 200
        assert f"Portail : http://127.0.0.1:{ports['PORT']}/" in banner
        for username, _who, _what in accounts.ACCOUNTS:
            assert re.search(rf"^    {re.escape(username)} ", banner, re.MULTILINE), username
        assert "iSC n'est pas relié à la démonstration" in banner

        # The demo DRIMboxes from DEMO_DRIMBOX_PORT upwards, and the outage command names this VAR_DIR.
        resolve = (var / "demo-drimboxes" / "resolve.txt").read_text()
        served = sorted(int(address.rsplit(":", 1)[1]) for address in re.findall(r"=([0-9.:]+)", resolve))
        assert served == list(range(ports["DEMO_DRIMBOX_PORT"], ports["DEMO_DRIMBOX_PORT"] + 4))
        command = re.search(r"panne en direct : (VAR_DIR=\S+ \.venv/bin/python manage\.py demo_drimboxes --stop db1)",
                            banner)
        assert command and f"VAR_DIR={var} " in command.group(1)
        without_var_dir = {key: value for key, value in env.items() if key != "VAR_DIR"}
        # The banner's own command line, as a person pastes it into a shell.
        subprocess.run(command.group(1), shell=True, cwd=ROOT, env=without_var_dir,  # noqa: S602
                       check=True, capture_output=True, timeout=120)
        for _poll in range(100):
            if not listening(ports["DEMO_DRIMBOX_PORT"]):
                break
            time.sleep(0.1)
        assert not listening(ports["DEMO_DRIMBOX_PORT"])  # db1 stopped; vi1 still served
        assert listening(ports["DEMO_DRIMBOX_PORT"] + 1)

        # BIND 9 and Pebble on the ports given, or the banner says they are absent.
        if NAMED.exists():
            assert f"BIND 9 sur 127.0.0.1:{ports['DNS_PORT']}" in banner and listening(ports["DNS_PORT"])
        else:
            assert "BIND 9 absent" in banner
        if NAMED.exists() and PEBBLE.exists():
            assert f"Pebble sur https://127.0.0.1:{ports['PEBBLE_PORT']}/dir" in banner
            assert listening(ports["PEBBLE_PORT"]) and listening(ports["PEBBLE_MANAGEMENT_PORT"])
            config = (var / "pebble" / "config.json").read_text()
            assert f'"httpPort": {ports["PEBBLE_HTTP_PORT"]}' in config
            assert f'"tlsPort": {ports["PEBBLE_TLS_PORT"]}' in config
        else:
            assert "Pebble" in banner and "Pebble sur" not in banner

        # A second instance: on the same portal port, or with the same VAR_DIR, refused before starting anything.
        code, error = run_refused({**env, "VAR_DIR": str(tmp_path / "other")})
        assert code == 1 and f"Le port {ports['PORT']} est déjà pris" in error
        code, error = run_refused({**env, "PORT": str(free_port_block(1))})
        assert code == 1 and f"Un autre ./scripts/run utilise déjà {var}" in error
    finally:
        instance.stop()
    assert not any(listening(port) for name, port in ports.items() if name not in {"PEBBLE_HTTP_PORT",
                                                                                    "PEBBLE_TLS_PORT"})

    # Warm restart: nothing to install, migrate or load, checked without Django.
    again = Instance(env, tmp_path / "second.log")
    try:
        banner = again.start()
        assert "Base et démo déjà prêtes" in banner and "migrations appliquées" not in banner
        assert f"Portail : http://127.0.0.1:{ports['PORT']}/" in banner
    finally:
        again.stop()

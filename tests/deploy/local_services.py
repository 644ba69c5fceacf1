"""Private services on loopback for the deployment tests and scripts/production-check: a PostgreSQL cluster of
its own (initdb + pg_ctl, so that restarting it never touches the machine's one), a redis-server, and the nginx
site of deploy/nginx with its paths and ports moved under a temporary directory."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
NGINX_SITE = ROOT / "deploy" / "nginx" / "drimm.conf"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_answers(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


class PostgresCluster:
    """A throwaway cluster in ``directory``; as root, it runs as the ``postgres`` user (PostgreSQL refuses root)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.port = free_port()
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            raise RuntimeError("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
        self.bin = Path(binaries[-1]).parent
        self.as_postgres = os.geteuid() == 0

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/drimm"

    def _run(self, *command, check=True):
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return subprocess.run([*prefix, *map(str, command)], capture_output=True, text=True, check=check,
                              timeout=120)

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        if not self.data.exists():
            self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync",
                      "-E", "UTF8", "--locale", "C")
        self._ctl("start")
        self._run(self.bin / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "drimm", check=False)
        return self

    def _ctl(self, action, mode="fast"):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        arguments = ["-D", self.data, "-l", self.directory / "postgres.log", "-w", "-t", "60", "-m", mode]
        if action != "stop":
            arguments += ["-o", options]
        self._run(self.bin / "pg_ctl", action, *arguments)

    def stop(self, mode="fast"):
        self._ctl("stop", mode)

    def restart(self):
        self._ctl("restart")

    def running(self):
        return port_answers(self.port)

    def close(self):
        if self.data.exists():
            self._run(self.bin / "pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w", check=False)


class RedisServer:
    """A redis-server on a free loopback port, no persistence; stop() and start() keep the port."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._server = ServerProcess(self.directory / "redis.log")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        serving, output = self._server.launch(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], ready=lambda: port_answers(self.port), cwd=self.directory)
        if not serving:
            raise RuntimeError(f"redis-server did not start:\n{output[-2000:]}")
        return self

    def stop(self):
        self._server.terminate()

    @property
    def running(self):
        return self._server.running


def make_self_signed(directory, host="127.0.0.1"):
    """A self-signed certificate for ``host`` (an IP address); returns (cert path, key path)."""
    cert, key = Path(directory) / "tls-cert.pem", Path(directory) / "tls-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=IP:{host},DNS:localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def render_nginx(directory, *, backend_port=8001, http_port=80, https_port=443):
    """deploy/nginx/drimm.conf with its paths under ``directory`` and its ports on 127.0.0.1, in a minimal
    nginx.conf (foreground); returns the nginx.conf path. Every replaced text must exist in the site."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = make_self_signed(directory)
    for folder in ("logs", "cache", "static"):
        (directory / folder).mkdir(exist_ok=True)
    site = NGINX_SITE.read_text()
    for old, new in (("/etc/ssl/drimm/fullchain.pem", cert), ("/etc/ssl/drimm/privkey.pem", key),
                     ("/var/cache/nginx/drimm", directory / "cache"), ("/var/log/nginx", directory / "logs"),
                     ("/var/lib/drimm/static", directory / "static"),
                     ("127.0.0.1:8001", f"127.0.0.1:{backend_port}"),
                     ("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen [::]:443 ssl http2;", ""), ("listen [::]:80;", "")):
        if str(old) not in site:
            raise AssertionError(f"{old} is no longer in deploy/nginx/drimm.conf")
        site = site.replace(str(old), str(new))
    (directory / "site.conf").write_text(site)
    conf = directory / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(f"pid {directory}/nginx.pid;\nerror_log {directory}/logs/error.log;\n{user}daemon off;\n"
                    f"events {{}}\nhttp {{\n  include /etc/nginx/mime.types;\n"
                    f"  client_body_temp_path {directory}/body; proxy_temp_path {directory}/proxy;\n"
                    f"  include {directory}/site.conf;\n}}\n")
    return conf


def wait_for(condition, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False

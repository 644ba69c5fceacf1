"""A real BIND 9 primary for the tests: TSIG-signed dynamic updates and transfers on 127.0.0.1."""
import base64
import os
import secrets
import shutil
import socket
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode

from tests.support.processes import ServerProcess
from trustspace.dnszone import ZoneClient

NAMED = shutil.which("named") or "/usr/sbin/named"
DEFAULT_ZONE = "mesimagesmedicales.fr"


def named_available():
    """Whether BIND's named can be run here."""
    return os.path.isfile(NAMED) and os.access(NAMED, os.X_OK)


def _port_is_free(port):
    """Whether both TCP and UDP ``port`` can be bound on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("127.0.0.1", port))
            udp.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(attempts=50):
    """A loopback port free for both TCP and UDP."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if _port_is_free(port):
            return port
    raise RuntimeError("no free loopback port for TCP and UDP")


class BindServer:
    """One named process serving ``zone`` from ``directory``; start/stop keep the zone and its journal."""

    host = "127.0.0.1"
    algorithm = "hmac-sha256"

    def __init__(self, directory, zone=DEFAULT_ZONE, *, key_name="trustspace-test-key"):
        self.directory = Path(directory)
        self.zone = dns.name.from_text(zone).to_text(omit_final_dot=True).lower()
        self.key_name = key_name
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.port = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.directory / "named.conf"
        self.zone_path = self.directory / f"{self.zone}.db"
        self.log_path = self.directory / "named.log"
        self._server = ServerProcess(self.log_path)
        self._write_zone_file()

    def _write_zone_file(self):
        zone = self.zone
        self.zone_path.write_text(
            "$TTL 300\n"
            f"@ IN SOA ns1.{zone}. hostmaster.{zone}. ( 1 3600 600 86400 300 )\n"
            f"@ IN NS ns1.{zone}.\n"
            "ns1 IN A 127.0.0.1\n"
        )

    def _write_conf(self):
        d = self.directory
        self.conf_path.write_text(f"""
key "{self.key_name}" {{
    algorithm {self.algorithm};
    secret "{self.secret}";
}};
controls {{ }};
options {{
    directory "{d}";
    pid-file "{d / 'named.pid'}";
    session-keyfile "{d / 'session.key'}";
    managed-keys-directory "{d}";
    dump-file "{d / 'named_dump.db'}";
    statistics-file "{d / 'named.stats'}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};
}};
zone "{self.zone}" {{
    type primary;
    file "{self.zone_path}";
    allow-update {{ key "{self.key_name}"; }};
    allow-transfer {{ key "{self.key_name}"; }};
}};
""")

    def _log_tail(self, lines=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _answers_soa(self):
        query = dns.message.make_query(self.zone, "SOA")
        try:
            response = dns.query.udp(query, self.host, port=self.port, timeout=0.2)
        except (dns.exception.DNSException, OSError):
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def _launch(self):
        """Start named on self.port; True once it answers, False if it could not listen there."""
        self._write_conf()
        serving, output = self._server.launch([NAMED, "-g", "-4", "-n", "1", "-c", str(self.conf_path)],
                                              ready=self._answers_soa, cwd=self.directory)
        if serving:
            return True
        if "address in use" in output or "unable to listen on any configured interfaces" in output:
            return False
        raise RuntimeError(f"named did not serve {self.zone} on {self.host}:{self.port}:\n{output[-4000:]}")

    @property
    def process(self):
        return self._server.process

    def start(self):
        """Start named (on its previous port after a stop) and wait until it serves the zone."""
        if self.process is not None:
            raise RuntimeError("named is already running")
        if self.port is not None and self._launch():
            return self
        for _ in range(5):
            self.port = free_port()
            if self._launch():
                return self
        raise RuntimeError(f"named could not bind a free port:\n{self._log_tail()}")

    def stop(self):
        """Stop named; the zone file and its journal stay for a later start()."""
        self._server.terminate()

    @property
    def running(self):
        return self._server.running

    def settings_overrides(self):
        """The Django settings that point the portal's ZoneClient at this server."""
        return {
            "DNS_SERVER": self.host,
            "DNS_PORT": self.port,
            "FQDN_ZONE": self.zone,
            "DNS_TSIG_KEY_NAME": self.key_name,
            "DNS_TSIG_SECRET": self.secret,
            "DNS_TSIG_ALGORITHM": self.algorithm,
            "DNS_TIMEOUT": 2,
            "DNS_TTL": 300,
        }

    def client(self, **overrides):
        """A ZoneClient for this server; keyword arguments override its parameters (secret, timeout…)."""
        options = {"server": self.host, "port": self.port, "zone": self.zone, "key_name": self.key_name,
                   "secret": self.secret, "algorithm": self.algorithm, "timeout": 2, "ttl": 300}
        options.update(overrides)
        return ZoneClient(**options)


@contextmanager
def running_bind(tmp_path=None, zone=DEFAULT_ZONE):
    """A started BindServer in ``tmp_path`` (or a temporary directory), always stopped at exit."""
    with ExitStack() as stack:
        base = tmp_path or stack.enter_context(tempfile.TemporaryDirectory(prefix="named-"))
        server = BindServer(Path(base) / "named", zone)
        stack.callback(server.stop)
        yield server.start()



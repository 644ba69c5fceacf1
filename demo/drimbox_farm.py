"""The demo's DRIMboxes served on loopback so that the real weather prober has something to probe (development;
``manage.py demo_drimboxes`` runs and controls it).

For each DRIMbox of the current published whitelist, two endpoints on 127.0.0.1:

* `db`, mutual TLS: it presents the `db` certificate the demo uploaded (chain from the inventory, private key
  kept by ``certificates.devpki`` under ``DEV_PKI_DIR/demo-keys``) and requires a client certificate of the
  development hierarchy — the one the prober presents in DEBUG;
* `vi`, HTTPS: it presents the demo's `vi` certificate (the prober trusts it through ``WEATHER_VI_CA_BUNDLE``
  = ``DEV_PKI_DIR/root.pem``).

Ports: ``--base-port`` + 0, 1, 2… (db then vi, by identifiant), stable across restarts; ``--base-port 0`` lets
the kernel choose. Once listening, the process writes the FQDN → address map to ``<state dir>/resolve.txt`` in
the ``WEATHER_PROBE_RESOLVE`` format (the worker reads it from its environment) and ``state.json``; it
watches ``control.json`` (written by ``--stop``/``--start``) and closes or reopens listeners accordingly.
"""
from __future__ import annotations

import asyncio
import json
import os
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import CommandError

from certificates import devpki
from certificates.models import Certificate
from weather.targets import current_targets

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 9443
POLL_SECONDS = 0.5
READ_TIMEOUT = 5.0


def state_dir_default():
    return Path(settings.VAR_DIR) / "demo-drimboxes"


# --- what to serve (reads the database) -----------------------------------------------------------------------

@dataclass
class EndpointSpec:
    """One endpoint: ``name`` is the FQDN, ``label`` its first label (db1, vi1)."""

    name: str
    kind: str  # db | vi
    identifiant: int
    chain_pem: str
    key_path: Path

    @property
    def label(self):
        return self.name.split(".", 1)[0]


def _current_certificates(drimbox_ids):
    rows = Certificate.objects.filter(drimbox_id__in=drimbox_ids, superseded_at__isnull=True,
                                      revoked_at__isnull=True)
    return {(c.drimbox_id, c.kind): c for c in rows}


def _matching_key(certificate, key_path):
    """True when the PEM key at ``key_path`` is the private half of ``certificate``."""
    leaf = x509.load_pem_x509_certificate(certificate.pem.encode())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == leaf.public_key().public_bytes(*spki)


def load_endpoints(pki_dir=None):
    """The endpoints of the current published whitelist, with the demo's certificates and kept keys.

    Returns (specs, warnings). A DRIMbox whose `db` certificate or key is missing is an error (the demo must be
    reloaded); a missing `vi` certificate only leaves its viewer unserved (the prober will say « dégradé »).
    """
    pki_dir = Path(pki_dir or settings.DEV_PKI_DIR)
    targets = sorted(current_targets(), key=lambda t: t.identifiant)
    if not targets:
        raise CommandError("Aucune liste blanche publiée : chargez d'abord la démo (manage.py demo_trustspace).")
    certificates = _current_certificates([t.drimbox_id for t in targets])
    specs, warnings = [], []
    for target in targets:
        for kind, name in (("db", target.db), ("vi", target.vi)):
            if not name:
                continue
            certificate = certificates.get((target.drimbox_id, kind))
            key_path = devpki.demo_key_path(pki_dir, name)
            problem = None
            if certificate is None:
                problem = f"pas de certificat {kind} en cours pour {name}"
            elif not key_path.exists():
                problem = (f"clé privée du certificat {kind} de {name} introuvable ({key_path}) : cette démo a été "
                           "chargée avant que les clés soient conservées ; supprimez le dossier var et relancez "
                           "./scripts/run")
            elif not _matching_key(certificate, key_path):
                problem = f"la clé conservée pour {name} ne correspond pas à son certificat {kind} en cours"
            if problem is None:
                chain = certificate.pem.strip() + "\n" + (certificate.chain_pem or "").strip() + "\n"
                specs.append(EndpointSpec(name, kind, target.identifiant, chain, key_path))
            elif kind == "db":
                raise CommandError(problem.capitalize() + ".")
            else:
                warnings.append(problem)
    return specs, warnings


def known_names():
    """The endpoint names (FQDNs) of the current published whitelist, by identifiant, db before vi."""
    return [name for t in sorted(current_targets(), key=lambda t: t.identifiant) for name in (t.db, t.vi) if name]


def client_ca_pem(pki_dir=None):
    """The development hierarchy (root and intermediate): the `db` endpoints accept its client certificates."""
    pki_dir = Path(pki_dir or settings.DEV_PKI_DIR)
    return (pki_dir / "root.pem").read_text() + (pki_dir / "intermediate.pem").read_text()


# --- serving (no database access: may run in a thread) -------------------------------------------------------


def _write_atomically(path, text):
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(text)
    temporary.replace(path)


def read_control(state_dir):
    try:
        return set(json.loads((Path(state_dir) / "control.json").read_text()).get("stopped", []))
    except (FileNotFoundError, ValueError):
        return set()


def write_control(state_dir, stopped):
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    _write_atomically(Path(state_dir) / "control.json", json.dumps({"stopped": sorted(stopped)}, indent=1))


def read_state(state_dir):
    """The serving process's last written state, or None when no serving process is alive."""
    try:
        state = json.loads((Path(state_dir) / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if state.get("pid") != os.getpid():  # served by this very process (tests) or by another one, alive?
        try:
            os.kill(int(state["pid"]), 0)
        except (ProcessLookupError, KeyError, ValueError):
            return None
        except PermissionError:
            pass
    return state


def parse_resolve(text):
    """``"a=127.0.0.1:1,b=127.0.0.1:2"`` → dict (the parsing of the ``WEATHER_PROBE_RESOLVE`` setting)."""
    return dict(item.strip().split("=", 1) for item in text.split(",") if "=" in item)


@dataclass
class Endpoint:
    spec: EndpointSpec
    context: ssl.SSLContext
    port: int
    server: asyncio.base_events.Server | None = None
    requests: int = 0

    @property
    def address(self):
        return f"{HOST}:{self.port}"


@dataclass
class DemoFarm:
    """The loopback DRIMboxes; ``run`` serves until ``stop`` (a ``threading.Event``) is set or the task ends."""

    specs: list
    state_dir: Path
    client_ca: str
    base_port: int = DEFAULT_BASE_PORT
    endpoints: dict = field(default_factory=dict)

    def _contexts(self):
        certs = Path(self.state_dir) / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        for index, spec in enumerate(self.specs):
            chain_path = certs / f"{spec.name}.pem"
            chain_path.write_text(spec.chain_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(chain_path), str(spec.key_path))
            if spec.kind == "db":  # mutual TLS: no client certificate of the hierarchy, no handshake
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(cadata=self.client_ca)
            port = self.base_port + index if self.base_port else 0
            self.endpoints[spec.name] = Endpoint(spec, context, port)

    async def _handle(self, endpoint, reader, writer):
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            endpoint.requests += 1
            method = head.split(b" ", 1)[0]
            body = b"" if method == b"HEAD" else (
                f"DRIMbox de demonstration {endpoint.spec.identifiant} : {endpoint.spec.name}\n").encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
                         + (body if method != b"HEAD" else b""))
            await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass  # a client that went away, or one the TLS layer refused
        finally:
            writer.transport.abort()

    async def _open(self, endpoint):
        if endpoint.server is not None:
            return
        try:
            endpoint.server = await asyncio.start_server(
                lambda r, w: self._handle(endpoint, r, w), HOST, endpoint.port, ssl=endpoint.context,
                reuse_address=True, ssl_handshake_timeout=READ_TIMEOUT)
        except OSError as exc:
            raise CommandError(f"Impossible d'écouter sur {HOST}:{endpoint.port} pour {endpoint.spec.name} "
                               f"({exc.strerror}) : choisissez un autre --base-port.") from None
        endpoint.port = endpoint.server.sockets[0].getsockname()[1]  # keep it: a restart reuses the same port

    async def _close(self, endpoint):
        server, endpoint.server = endpoint.server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def resolve_value(self):
        return ",".join(f"{name}={endpoint.address}" for name, endpoint in self.endpoints.items())

    def _write_state(self):
        _write_atomically(Path(self.state_dir) / "state.json", json.dumps({"pid": os.getpid(), "endpoints": {
            name: {"address": e.address, "running": e.server is not None, "kind": e.spec.kind,
                   "identifiant": e.spec.identifiant} for name, e in self.endpoints.items()}}, indent=1))

    async def _apply_control(self):
        stopped = read_control(self.state_dir)
        changed = False
        for name, endpoint in self.endpoints.items():
            if name in stopped and endpoint.server is not None:
                await self._close(endpoint)
                changed = True
            elif name not in stopped and endpoint.server is None:
                await self._open(endpoint)
                changed = True
        if changed:
            self._write_state()

    async def run(self, stop=None, ready=None):
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        self._contexts()
        try:
            for endpoint in self.endpoints.values():  # bind everything first: every port is then known
                await self._open(endpoint)
            await self._apply_control()
            self._write_state()
            _write_atomically(Path(self.state_dir) / "resolve.txt", self.resolve_value())
            if ready is not None:
                ready()
            while stop is None or not stop.is_set():
                await asyncio.sleep(POLL_SECONDS)
                await self._apply_control()
        finally:
            for endpoint in self.endpoints.values():
                await self._close(endpoint)

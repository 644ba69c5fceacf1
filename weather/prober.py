"""The probe engine (DESIGN §8): asyncio, many DRIMboxes at once, run inside one Celery task.

For each target (``weather.targets.Target``):

* ``db`` over mutual TLS: the portal presents its client certificate (``WEATHER_CLIENT_CERT`` /
  ``WEATHER_CLIENT_KEY``; in DEBUG without them, a development certificate from
  ``certificates.devpki.ensure_probe_client_certificate``). The server certificate must chain to the
  configured IGC-Santé anchors (``certificates.trust.hierarchy()``, OpenSSL verification, which also
  checks that it is valid now) and its subject, as an RFC 4514 string, must be exactly the whitelist's
  ``DNCertificatOperateur`` (the whitelist builder writes ``Certificate.subject``, the same
  ``rfc4514_string()``). Host names are not compared: the exact DN (which holds CN=<db FQDN>) is the
  identity check. Then ``HEAD <WEATHER_DB_PATH> HTTP/1.1``: any HTTP answer (whatever its status code:
  the DRIMbox may well refuse a bare HEAD) after a good handshake means « up ».
* ``vi`` over public HTTPS with normal validation (system CAs, plus ``WEATHER_VI_CA_BUNDLE``, host name
  checked): up when it answers HTTP with a status below 500.

Revocation: after the handshake, the presented leaf's serial is looked up in the CACHED CRL of its issuer
(``certificates.models.CrlCache``, kept fresh by ``certificates.trust.refresh_crls``; authenticated when
fetched). The cache is read once per batch, before the asyncio loop: no CRL is ever fetched inside the
probe loop. A revoked certificate fails with « certificat révoqué »; an unknown or missing CRL does not
fail the probe (the prober is no CRL checker of last resort).

Discovery of `vi` certificates (issue 14, item 2): when ``ProbeConfig.known_vi`` is given ({DRIMbox id: what the
portal knows, ``certificates.discovery.known_vi_presentations``, read once per batch before the loop), the `vi`
check keeps what the endpoint presented — its certificate (``getpeercert``) and the chain it sent
(``get_unverified_chain``: public from Python 3.13, the same CPython method on ``_sslobj`` from 3.10; without it,
the certificate alone) — in ``ProbeResult.vi_presented``, only when the portal does not know it yet. When the
normal validation refuses the certificate (expired, wrong name, unknown CA…), one more handshake without
validation reads what was presented (no HTTP request), so that the refusal can be recorded with its rules. The
task hands new presentations to ``certificates.services.record_presented_vi_certificate``; the prober writes
nothing. ``read_vi_presentations`` does the handshake alone, for DRIMboxes awaiting integration (not yet probed).

Result per DRIMbox: ``failing`` when ``db`` fails (unreachable, timeout, TLS refused, untrusted, expired or
revoked certificate, « DN inattendu »): these count towards DOWN after the confirmation policy
(``weather.services``); ``degraded`` when ``db`` is up but ``vi`` fails, or when the ``db`` certificate
expires within ``WEATHER_CERT_EXPIRY_DEGRADED_DAYS``; ``operational`` otherwise. Each check is retried
immediately ``WEATHER_PROBE_RETRIES`` times (not for certificate verdicts, which a retry cannot change),
each attempt bounded by ``WEATHER_PROBE_TIMEOUT``. ``WEATHER_PROBE_RESOLVE`` (``{"name": "host:port"}``)
pins names to addresses, like ``curl --resolve`` (tests, benchmarks, split-horizon probing).

Cost: a probe should cost its TLS handshake and little more (``bench/bench_probes.py`` prints where it goes).
Connections are non-blocking ``ssl.SSLSocket`` objects driven by the event loop (``weather.probe_io``), not
asyncio's streams; each distinct presented certificate is parsed once, each cached CRL copy indexed once as a set
of serials, and the SSL contexts are reused from batch to batch while their configuration is unchanged
(``weather.probe_cache``, per worker process).
"""
from __future__ import annotations

import _ssl
import asyncio
import contextlib
import dataclasses
import datetime as dt
import errno
import gc
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from trustspace.paris_time import paris_date

from .probe_cache import contexts, is_revoked, peer_certificates, revocation_index
from .probe_io import open_tls

OPERATIONAL, DEGRADED, FAILING = "operational", "degraded", "failing"
USER_AGENT = "DRIM-M-meteo/1.0"
# OpenSSL verification codes worth a specific French message.
X509_EXPIRED, X509_NOT_YET_VALID = 10, 9
# The others, in French (OpenSSL's texts are English and the reasons are shown on the public weather pages).
VERIFY_REASONS = {
    2: "émetteur inconnu", 20: "émetteur inconnu", 21: "chaîne incomplète", 18: "certificat auto-signé",
    19: "autorité racine non reconnue", 23: "certificat révoqué", 24: "autorité intermédiaire invalide",
    26: "usage du certificat non admis", 62: "nom du serveur absent du certificat",
    64: "adresse IP absente du certificat",
}
# Network errors (errno) in French; any other reads as its errno code.
NETWORK_REASONS = {
    errno.ENETUNREACH: "réseau injoignable", errno.EHOSTUNREACH: "hôte injoignable",
    errno.ECONNRESET: "connexion interrompue par le serveur", errno.ECONNABORTED: "connexion abandonnée",
    errno.EPIPE: "connexion fermée par le serveur", errno.ETIMEDOUT: "délai de connexion dépassé",
    errno.EHOSTDOWN: "hôte arrêté", errno.ENETDOWN: "réseau arrêté", errno.EADDRNOTAVAIL: "adresse indisponible",
}


@dataclass
class ProbeResult:
    """What one location saw of one DRIMbox at ``checked_at`` (the input of ``weather.services``)."""

    identifiant: int
    checked_at: dt.datetime
    status: str  # operational | degraded | failing
    db_ok: bool = False
    db_error: str = ""
    vi_ok: bool | None = None  # None: the DRIMbox publishes no vi name
    vi_error: str = ""
    latency_ms: int | None = None
    db_not_after: dt.datetime | None = None
    # What the vi endpoint presented (DER, the certificate first), when discovery is on and the portal does not
    # know it: for certificates.services.record_presented_vi_certificate.
    vi_presented: tuple[bytes, ...] = ()

    def as_dict(self):
        return dataclasses.asdict(self)


class CheckFailed(Exception):
    """One failed check; ``message`` is French; ``final`` when a retry cannot help (certificate verdicts)."""

    def __init__(self, message, *, final=False, presented=()):
        super().__init__(message)
        self.message = message
        self.final = final
        self.presented = presented


@dataclass
class ProbeConfig:
    db_context: ssl.SSLContext
    vi_context: ssl.SSLContext
    timeout: float = 10.0
    retries: int = 1
    concurrency: int = 200
    expiry_degraded: dt.timedelta = dt.timedelta(days=15)
    db_path: str = "/"
    vi_path: str = "/"
    db_port: int = 443
    vi_port: int = 443
    resolve: dict = dataclasses.field(default_factory=dict)
    # {CRL URL: probe_cache.RevocationList}, from the CRL cache; None: read it in run_probes.
    crls: dict | None = None
    # {DRIMbox id: fingerprints and digests the portal knows} (certificates.discovery); None: no vi discovery.
    known_vi: dict | None = None
    # Reads what a vi endpoint presents without validating it (discovery); made on first use.
    vi_read_context: ssl.SSLContext | None = None

    def address(self, name, default_port):
        pinned = self.resolve.get(name)
        if not pinned:
            return name, default_port
        host, _, port = str(pinned).rpartition(":")
        return (host or str(pinned)), int(port or default_port)


# --- configuration -------------------------------------------------------------------------------------------


def client_certificate_paths():
    """(certificate PEM path, key PEM path) the portal presents to DRIMboxes."""
    cert, key = getattr(settings, "WEATHER_CLIENT_CERT", ""), getattr(settings, "WEATHER_CLIENT_KEY", "")
    if cert and key:
        return cert, key
    if settings.DEBUG:
        from certificates.devpki import ensure_probe_client_certificate

        return ensure_probe_client_certificate(settings.DEV_PKI_DIR)
    raise ImproperlyConfigured("WEATHER_CLIENT_CERT et WEATHER_CLIENT_KEY doivent désigner le certificat client "
                               "de la sonde (PEM) lorsque DEBUG=0.")


def igc_sante_pem():
    """The configured IGC-Santé anchors and intermediates, as one PEM string (the db trust store)."""
    from certificates.trust import hierarchy

    anchors, intermediates = hierarchy()
    if not anchors:
        raise ImproperlyConfigured("Aucune autorité IGC-Santé configurée (IGC_SANTE_ANCHORS).")
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in (*anchors, *intermediates))


def db_context(*, cadata=None, client_cert=None, client_key=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # the exact DN is the identity check (see the module docstring)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=cadata if cadata is not None else igc_sante_pem())
    if client_cert is None:
        client_cert, client_key = client_certificate_paths()
    context.load_cert_chain(client_cert, client_key)
    return context


def vi_context(extra_bundle=None):
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    extra_bundle = extra_bundle if extra_bundle is not None else getattr(settings, "WEATHER_VI_CA_BUNDLE", "")
    if extra_bundle:
        context.load_verify_locations(cafile=str(Path(extra_bundle)))
    return context


def vi_read_context():
    """TLS without validation, only to read the certificate a `vi` endpoint presents (the portal's rules judge it,
    ``certificates.services.record_presented_vi_certificate``); never used to decide that an endpoint is up."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def shared_db_context():
    """``db_context()`` for the configured trust store and client files, made again only when they change."""
    cadata = igc_sante_pem()
    client_cert, client_key = client_certificate_paths()
    return contexts.db(cadata, client_cert, client_key,
                       lambda: db_context(cadata=cadata, client_cert=client_cert, client_key=client_key))


def shared_vi_context():
    """``vi_context()`` for the configured extra bundle, made again only when it (or the system store) changes."""
    extra_bundle = getattr(settings, "WEATHER_VI_CA_BUNDLE", "")
    return contexts.vi(extra_bundle, lambda: vi_context(extra_bundle=extra_bundle))


def shared_vi_read_context():
    return contexts.vi_read(vi_read_context)


def config_from_settings(**overrides):
    """The probe configuration of this batch; the SSL contexts are the previous batch's when nothing changed."""
    values = dict(
        timeout=float(getattr(settings, "WEATHER_PROBE_TIMEOUT", 10)),
        retries=max(0, int(getattr(settings, "WEATHER_PROBE_RETRIES", 1))),
        concurrency=max(1, int(getattr(settings, "WEATHER_PROBE_CONCURRENCY", 200))),
        expiry_degraded=dt.timedelta(days=int(getattr(settings, "WEATHER_CERT_EXPIRY_DEGRADED_DAYS", 15))),
        db_path=getattr(settings, "WEATHER_DB_PATH", "/") or "/",
        vi_path=getattr(settings, "WEATHER_VI_PATH", "/") or "/",
        db_port=int(getattr(settings, "WEATHER_DB_PORT", 443)),
        vi_port=int(getattr(settings, "WEATHER_VI_PORT", 443)),
        resolve=dict(getattr(settings, "WEATHER_PROBE_RESOLVE", {}) or {}),
    )
    values.update(overrides)
    if "db_context" not in values:
        values["db_context"] = shared_db_context()
    if "vi_context" not in values:
        values["vi_context"] = shared_vi_context()
    return ProbeConfig(**values)


# --- checks --------------------------------------------------------------------------------------------------


def _describe(exc, timeout):
    if isinstance(exc, CheckFailed):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return CheckFailed(f"délai dépassé ({timeout:g} s)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code == X509_EXPIRED:
            return CheckFailed("certificat du serveur expiré", final=True)
        if exc.verify_code == X509_NOT_YET_VALID:
            return CheckFailed("certificat du serveur pas encore valide", final=True)
        why = VERIFY_REASONS.get(exc.verify_code, f"code de vérification {exc.verify_code}")
        return CheckFailed(f"certificat du serveur non reconnu ({why})", final=True)
    if isinstance(exc, ssl.SSLError):  # OpenSSL's reason is an identifier (TLSV1_ALERT_UNKNOWN_CA…), not a sentence
        return CheckFailed(f"négociation TLS refusée (code {exc.reason or exc.errno or type(exc).__name__})")
    if isinstance(exc, ConnectionRefusedError):
        return CheckFailed("connexion refusée")
    if isinstance(exc, socket.gaierror):
        return CheckFailed("nom introuvable (DNS)")
    if isinstance(exc, (ConnectionError, OSError)):
        why = NETWORK_REASONS.get(exc.errno, f"erreur réseau {errno.errorcode.get(exc.errno, exc.errno)}"
                                  if exc.errno else f"erreur réseau {exc.__class__.__name__}")
        return CheckFailed(f"connexion impossible ({why})")
    return CheckFailed(f"erreur inattendue ({exc.__class__.__name__})")


async def _http_status(connection, name, path):
    line = await connection.status_line(f"HEAD {path} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: {USER_AGENT}\r\n"
                                        "Accept: */*\r\nConnection: close\r\n\r\n".encode("ascii"))
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise CheckFailed("réponse non HTTP" if line else "connexion fermée sans réponse HTTP")
    return int(parts[1])


def cached_crls():
    """The CRL cache as {URL: probe_cache.RevocationList}; synchronous (before the loop). A copy is parsed and
    indexed once per process (``probe_cache.revocation_index``)."""
    return revocation_index.current()


def _unverified_chain(ssl_object):
    """The certificates the server sent, as DER (the certificate first), or [] where the ssl module cannot say."""
    public = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
    if public is not None:
        return [bytes(der) for der in public() or ()]
    internal = getattr(getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None)  # CPython 3.10–3.12
    if internal is not None:
        return [certificate.public_bytes(_ssl.ENCODING_DER) for certificate in internal() or ()]
    return []


def presented_certificates(ssl_object):
    """(certificate, then the chain the server sent) as DER; () when the server presented nothing."""
    leaf = ssl_object.getpeercert(binary_form=True)
    if not leaf:
        return ()
    try:
        chain = _unverified_chain(ssl_object)
    except Exception:  # noqa: BLE001 - the chain is a plus; the certificate alone is still worth judging
        chain = []
    return (leaf, *[der for der in chain if der != leaf][:9])


def _new_presentation(target, config, presented):
    """``presented`` if the portal does not know it yet (discovery on), else ()."""
    if config.known_vi is None or not presented:
        return ()
    from certificates.discovery import is_known

    return () if is_known(presented, config.known_vi.get(target.drimbox_id, frozenset())) else tuple(presented)


async def _read_presented(target, config):
    """One handshake without validation: what the `vi` endpoint presents (DER); () when unreachable."""
    host, port = config.address(target.vi, config.vi_port)
    context = config.vi_read_context or shared_vi_read_context()
    connection = None
    try:
        async with asyncio.timeout(config.timeout):
            connection = await open_tls(host, port, context, target.vi)
            return presented_certificates(connection.tls)
    except Exception:  # noqa: BLE001 - nothing to read is not a verdict: the vi check gives that
        return ()
    finally:
        _close(connection)


def _close(connection):
    if connection is not None:
        connection.close()  # a probe needs no graceful TLS close


async def check_db(target, config, now):
    """(latency in ms, certificate notAfter); raises CheckFailed."""
    host, port = config.address(target.db, config.db_port)
    started = time.perf_counter()
    connection = None
    try:
        async with asyncio.timeout(config.timeout):
            connection = await open_tls(host, port, config.db_context, target.db)
            presented = peer_certificates.get(connection.tls.getpeercert(binary_form=True))
            if presented.subject != target.dn:
                raise CheckFailed(f"DN inattendu : « {presented.subject} » au lieu de « {target.dn} »", final=True)
            if is_revoked(presented, config.crls):
                raise CheckFailed("certificat révoqué", final=True)
            await _http_status(connection, target.db, config.db_path)
    except Exception as exc:  # every failure is a verdict on the DRIMbox, never a crash of the batch
        raise _describe(exc, config.timeout) from None
    finally:
        _close(connection)
    return round((time.perf_counter() - started) * 1000), presented.not_after


async def check_vi(target, config):
    """What the endpoint presented when it is new to the portal (discovery), else (); raises CheckFailed (with
    ``presented`` when the certificate was refused by the normal validation)."""
    host, port = config.address(target.vi, config.vi_port)
    connection = None
    presented = ()
    try:
        async with asyncio.timeout(config.timeout):
            connection = await open_tls(host, port, config.vi_context, target.vi)
            presented = _new_presentation(target, config, presented_certificates(connection.tls))
            status = await _http_status(connection, target.vi, config.vi_path)
    except Exception as exc:
        failure = _describe(exc, config.timeout)
        if isinstance(exc, ssl.SSLCertVerificationError) and config.known_vi is not None:
            failure.presented = _new_presentation(target, config, await _read_presented(target, config))
        else:
            failure.presented = presented
        raise failure from None
    finally:
        _close(connection)
    if status >= 500:
        raise CheckFailed(f"erreur HTTP {status}", presented=presented)
    return presented


async def _with_retries(check, retries):
    for attempt in range(retries + 1):
        try:
            return await check()
        except CheckFailed as failure:
            if failure.final or attempt == retries:
                raise


async def probe_target(target, config):
    """One DRIMbox seen from here now: a ``ProbeResult``."""
    now = dt.datetime.now(dt.UTC)
    result = ProbeResult(identifiant=target.identifiant, checked_at=now, status=OPERATIONAL)
    try:
        result.latency_ms, result.db_not_after = await _with_retries(lambda: check_db(target, config, now),
                                                                     config.retries)
        result.db_ok = True
    except CheckFailed as failure:
        result.status, result.db_error = FAILING, f"db : {failure.message}"
        return result  # the db verdict decides; vi is not probed for a failing DRIMbox
    if result.db_not_after - now <= config.expiry_degraded:
        result.status = DEGRADED
        result.db_error = f"db : le certificat expire le {paris_date(result.db_not_after)}"
    if target.vi:
        try:
            result.vi_presented = await _with_retries(lambda: check_vi(target, config), config.retries)
            result.vi_ok = True
        except CheckFailed as failure:
            result.vi_ok, result.vi_error, result.status = False, f"vi : {failure.message}", DEGRADED
            result.vi_presented = failure.presented
    return result


async def _each(targets, concurrency, work):
    """[await work(target) for target in targets] with at most ``concurrency`` in flight, in the targets' order:
    that many tasks take the next target in turn (no task, semaphore or waiter per target)."""
    results = [None] * len(targets)
    queue = iter(enumerate(targets))

    async def worker():
        for index, target in queue:
            results[index] = await work(target)

    await asyncio.gather(*(worker() for _ in range(min(max(1, concurrency), len(targets)))))
    return results


async def probe_all(targets, config):
    """Probe every target with at most ``config.concurrency`` in flight; results in the targets' order."""
    return await _each(targets, config.concurrency, lambda target: probe_target(target, config))


@contextlib.contextmanager
def _without_cyclic_gc():
    """No cyclic garbage collection while a batch runs (then as before). Reference counting frees a probe's objects
    when it ends; but the results and the connections in flight survive the young collections, and every so often
    push a full one, which walks every object of the worker (Django's included) in the middle of the batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_probes(targets, config=None):
    """Synchronous entry point (Celery tasks): a fresh event loop per batch."""
    targets = list(targets)
    if not targets:
        return []
    config = config or config_from_settings()
    if config.crls is None:
        config = dataclasses.replace(config, crls=cached_crls())  # read the CRL cache here, not in the loop
    with _without_cyclic_gc():
        return asyncio.run(probe_all(targets, config))


async def _read_all(targets, config):
    async def one(target):
        return target, _new_presentation(target, config, await _read_presented(target, config))

    return await _each(targets, config.concurrency, one)


def read_vi_presentations(targets, config):
    """[(target, new presentation)] for `vi` endpoints that are not probed yet (DRIMboxes awaiting integration):
    one handshake each, no validation, no HTTP request; only presentations the portal does not know
    (``config.known_vi``) are returned."""
    targets = [t for t in targets if t.vi]
    if not targets:
        return []
    if config.known_vi is None:
        config = dataclasses.replace(config, known_vi={})
    with _without_cyclic_gc():
        presentations = asyncio.run(_read_all(targets, config))
    return [(target, presented) for target, presented in presentations if presented]

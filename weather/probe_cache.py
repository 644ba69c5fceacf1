"""What the prober keeps per worker process, so that a probe costs its TLS handshake and little else.

* Presented certificates (``peer_certificates``): a DRIMbox shows the same certificate round after round, so each
  distinct certificate is parsed once (subject as RFC 4514, notAfter, issuer, serial, CRL URLs), keyed by the SHA-256
  of its DER: a changed certificate has another key and is parsed anew. Bounded well above the number of DRIMboxes
  (no thrashing when every DRIMbox is probed in turn); the oldest half is dropped when full.
* Revocation lists (``revocation_index``): each cached CRL copy (``certificates.models.CrlCache``, one per URL and
  fetch) becomes its issuer's name key and a frozenset of revoked serials once; a probe looks its serial up in that set.
  The CRL bodies are read from the database only for copies not indexed yet.
* SSL contexts (``contexts``): one per configuration, keyed by what it is built from (the trust store's PEM, the
  content of the client certificate and key files, the extra `vi` bundle and the system CA files' stamps), so a
  batch reuses the context of the previous one unless a file or setting changed.

Each cache counts the work it does (``parsed``, ``indexed``, ``built``): tests assert on counts, never on time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """What the prober checks of a presented certificate."""

    subject: str  # RFC 4514, as the whitelist writes DNCertificatOperateur
    not_after: dt.datetime
    issuer: tuple  # name_key of the issuer, compared with a CRL's issuer
    serial: int
    crl_urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RevocationList:
    """One cached CRL copy, ready for lookups."""

    issuer: tuple  # name_key of the CRL's issuer
    serials: frozenset[int]


def name_key(name: x509.Name) -> tuple:
    """A hashable value equal for two names exactly when ``x509.Name.__eq__`` says so (the same attributes, by OID
    and value, in the same RDNs), cheaper to compare at every probe than the ``Name`` objects."""
    return tuple(frozenset((attribute.oid.dotted_string, attribute.value) for attribute in rdn) for rdn in name.rdns)


class PeerCertificates:
    """{SHA-256 of a DER certificate: PeerCertificate}; ``parsed`` counts the certificates actually parsed."""

    def __init__(self, limit=50_000):
        self.limit = limit
        self.parsed = 0
        self._entries: dict[bytes, PeerCertificate] = {}

    def get(self, der: bytes) -> PeerCertificate:
        key = hashlib.sha256(der).digest()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._parse(der)  # an unreadable certificate raises and is not remembered
            if len(self._entries) >= self.limit:
                for old in list(self._entries)[: self.limit // 2]:  # insertion order: the oldest first
                    del self._entries[old]
            self._entries[key] = entry
        return entry

    def _parse(self, der):
        from certificates.trust import crl_urls

        certificate = x509.load_der_x509_certificate(der)
        self.parsed += 1
        return PeerCertificate(subject=certificate.subject.rfc4514_string(),
                               not_after=certificate.not_valid_after_utc,
                               issuer=name_key(certificate.issuer), serial=certificate.serial_number,
                               crl_urls=tuple(crl_urls(certificate)))

    def clear(self):
        self._entries.clear()


def is_revoked(certificate: PeerCertificate, crls) -> bool:
    """True when a cached CRL of the certificate's issuer lists its serial; False when not listed or unknown."""
    if not crls:
        return False
    for url in certificate.crl_urls:
        entry = crls.get(url)
        if entry is not None and entry.issuer == certificate.issuer and certificate.serial in entry.serials:
            return True
    return False


class RevocationIndex:
    """{(CRL URL, fetched_at): RevocationList or None (unreadable copy)}; ``indexed`` counts the copies parsed."""

    def __init__(self, limit=64):
        self.limit = limit
        self.indexed = 0
        self._entries: dict[tuple, RevocationList | None] = {}

    def current(self):
        """{URL: RevocationList} of the CRL cache now; a copy's body is read and parsed only when new here."""
        from certificates.models import CrlCache
        from certificates.trust import _parsed
        from certificates.validation import CertificateInputError

        result = {}
        for cache in CrlCache.objects.exclude(der__isnull=True).only("url", "fetched_at"):
            key = (cache.url, cache.fetched_at)
            if key not in self._entries:
                try:
                    crl = _parsed(cache)  # the body (deferred) is read here, for this copy only
                except CertificateInputError:  # an unreadable copy: unknown, never a failed probe
                    crl = None
                if len(self._entries) >= self.limit:
                    self._entries.clear()
                self.indexed += 1
                self._entries[key] = None if crl is None else RevocationList(
                    issuer=name_key(crl.issuer), serials=frozenset(r.serial_number for r in crl))
            entry = self._entries[key]
            if entry is not None:
                result[cache.url] = entry
        return result

    def clear(self):
        self._entries.clear()


def _file_bytes(path):
    return Path(path).read_bytes()


def _stamp(path):
    """(path, mtime, size) of a file or folder, or None when absent: the system CA store is too big to hash."""
    if not path:
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return path, status.st_mtime_ns, status.st_size


class Contexts:
    """SSL contexts per configuration; ``built`` counts the contexts made."""

    def __init__(self, limit=16):
        self.limit = limit
        self.built = 0
        self._entries: dict[tuple, ssl.SSLContext] = {}

    def _get(self, key, build):
        context = self._entries.get(key)
        if context is None:
            context = build()
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self.built += 1
            self._entries[key] = context
        return context

    def db(self, cadata, client_cert, client_key, build):
        """The mutual-TLS context for this trust store and the current content of the client files."""
        digest = hashlib.sha256()
        for part in (cadata.encode(), _file_bytes(client_cert), _file_bytes(client_key)):
            digest.update(hashlib.sha256(part).digest())
        return self._get(("db", str(client_cert), str(client_key), digest.digest()), build)

    def vi(self, extra_bundle, build):
        """The public-HTTPS context for this extra bundle's content and the system CA store's stamps."""
        defaults = ssl.get_default_verify_paths()
        extra = hashlib.sha256(_file_bytes(extra_bundle)).digest() if extra_bundle else b""
        return self._get(("vi", str(extra_bundle or ""), extra, _stamp(defaults.cafile), _stamp(defaults.capath)),
                         build)

    def vi_read(self, build):
        """The context that reads a `vi` presentation without validating it (it has no configuration)."""
        return self._get(("vi-read",), build)

    def clear(self):
        self._entries.clear()


peer_certificates = PeerCertificates()
revocation_index = RevocationIndex()
contexts = Contexts()

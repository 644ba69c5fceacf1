"""The configured IGC-Santé hierarchy and the CRL cache (DESIGN §6).

Anchors and intermediates come from PEM files named by settings (the ANS TEST hierarchy is bundled
for development and tests; production points at the production files). CRLs are fetched on a
schedule and cached; a CRL that is stale or could not be fetched is reported as such, never as
« not revoked ».
"""
import logging
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.utils import timezone

from .models import CrlCache
from .validation import (
    CertificateInputError,
    CrlStatus,
    CrlVerdict,
    crl_verdict,
    parse_crl,
)

logger = logging.getLogger(__name__)


def _load(paths):
    certificates = []
    for path, _mtime in paths:
        if Path(path).exists():  # the development hierarchy exists once the demo has made it
            certificates.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return tuple(certificates)


@lru_cache(maxsize=8)
def _hierarchy(anchor_paths, intermediate_paths):
    return _load(anchor_paths), _load(intermediate_paths)


def _stamped(paths):
    return tuple((path, Path(path).stat().st_mtime if Path(path).exists() else None) for path in paths)


def hierarchy():
    """(anchors, intermediates) of the configured IGC-Santé hierarchy, parsed once per file version."""
    return _hierarchy(_stamped(settings.IGC_SANTE_ANCHORS), _stamped(settings.IGC_SANTE_INTERMEDIATES))


def crl_urls(certificate):
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for point in points:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(("http://", "https://")):
                urls.append(name.value)
    return urls


def fetch_crl(url, *, now=None):
    """Download one CRL into the cache; keeps the last good copy when the fetch fails."""
    now = now or timezone.now()
    cache, _ = CrlCache.objects.get_or_create(url=url)
    cache.last_attempt_at = now
    try:
        response = requests.get(url, timeout=settings.CRL_FETCH_TIMEOUT, stream=True, allow_redirects=False)
        response.raise_for_status()
        if response.status_code != 200:
            raise CertificateInputError(f"Réponse HTTP {response.status_code} inattendue (redirections refusées).")
        data = _read_within(response, settings.CRL_MAX_BYTES, deadline=time.monotonic() + settings.CRL_FETCH_TIMEOUT * 3)
        crl = parse_crl(data)
        _check_authentic(crl, now)
    except (requests.RequestException, CertificateInputError, OSError) as exc:
        cache.last_error = str(getattr(exc, "message", exc))[:1000]
        cache.save(update_fields=["last_attempt_at", "last_error"])
        logger.warning("CRL %s: %s", url, cache.last_error)
        return cache
    if cache.this_update is not None and crl.last_update_utc < cache.this_update:
        # A replayed older CRL would « un-revoke » certificates (RFC 5280 §6.3.3: keep the most recent).
        cache.last_error = (f"CRL plus ancienne ({crl.last_update_utc:%d/%m/%Y %H:%M}) que celle en cache "
                            f"({cache.this_update:%d/%m/%Y %H:%M}) : ignorée.")
        cache.save(update_fields=["last_attempt_at", "last_error"])
        logger.warning("CRL %s: %s", url, cache.last_error)
        return cache
    cache.der = crl.public_bytes(Encoding.DER)
    cache.this_update = crl.last_update_utc
    cache.next_update = crl.next_update_utc
    cache.fetched_at = now
    cache.last_error = ""
    cache.save()
    return cache


def _read_within(response, limit, *, deadline):
    """The body, at most ``limit`` bytes and within an overall deadline (a slow server cannot hold a worker)."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise CertificateInputError("La CRL dépasse la taille maximale acceptée.")
        if time.monotonic() > deadline:
            raise CertificateInputError("Téléchargement de la CRL trop long.")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_authentic(crl, now):
    """Cache only a CRL signed by a CA of the configured hierarchy and not dated in the future: a forged or
    future-dated CRL would otherwise hide later revocations (CRLs travel over plain HTTP)."""
    anchors, intermediates = hierarchy()
    issuers = [c for c in (*intermediates, *anchors) if c.subject == crl.issuer]
    if not any(crl.is_signature_valid(issuer.public_key()) for issuer in issuers):
        raise CertificateInputError("CRL non signée par une autorité de la hiérarchie IGC-Santé configurée.")
    if crl.last_update_utc > now + timedelta(minutes=5):
        raise CertificateInputError("CRL datée dans le futur : ignorée.")


_PARSED = {}


def _parsed(cache):
    """The parsed CRL of a cache row, kept per process while the row's copy stays the same (a CRL of
    thousands of entries costs more to parse than a certificate's whole validation)."""
    key = (cache.url, cache.fetched_at)
    crl = _PARSED.get(key)
    if crl is None:
        if len(_PARSED) > 64:
            _PARSED.clear()
        crl = _PARSED[key] = parse_crl(bytes(cache.der))
    return crl


def crl_status_for(*, now=None, fetch_missing=True):
    """The callback the rules use: ``(certificate, issuer) -> CrlVerdict`` from the cache."""
    now = now or timezone.now()

    def status(certificate, issuer):
        urls = crl_urls(certificate)
        if not urls:
            return CrlVerdict.UNAVAILABLE("le certificat n'indique aucune CRL")
        reasons = []
        for url in urls:
            cache = CrlCache.objects.filter(url=url).first()
            if (cache is None or cache.der is None) and fetch_missing:
                cache = fetch_crl(url, now=now)
            if cache is None or cache.der is None:
                reasons.append(f"CRL {url} injoignable ({cache.last_error if cache else 'jamais téléchargée'})")
                continue
            verdict = crl_verdict(certificate, issuer, _parsed(cache), at=now)
            if verdict.status != CrlStatus.UNAVAILABLE:
                return verdict
            reasons.append(verdict.reason or url)
        return CrlVerdict.UNAVAILABLE(" ; ".join(reasons))

    return status


def refresh_crls(*, now=None):
    """Periodic task: refresh every known CRL and those of the configured hierarchy."""
    now = now or timezone.now()
    anchors, intermediates = hierarchy()
    urls = set(CrlCache.objects.values_list("url", flat=True))
    for certificate in (*anchors, *intermediates):
        urls.update(crl_urls(certificate))
    refreshed = 0
    for url in sorted(urls):
        cache = CrlCache.objects.filter(url=url).first()
        due = cache is None or cache.fetched_at is None or cache.next_update is None or (
            cache.next_update - timedelta(hours=settings.CRL_REFRESH_MARGIN_HOURS) <= now
            or cache.fetched_at <= now - timedelta(hours=settings.CRL_MAX_AGE_HOURS))
        if due:
            fetch_crl(url, now=now)
            refreshed += 1
    return refreshed

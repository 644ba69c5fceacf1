"""The CRL cache: the last good copy of each CRL and how its latest fetch went (``certificates.trust`` reads it).

Only CRLs signed by a CA of the configured hierarchy and not dated in the future are cached; a fetch that
fails keeps the last good copy and records why.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.utils import timezone

from certificates import trust
from certificates.models import CrlCache
from certificates.validation import CertificateInputError, parse_crl
from trustspace.paris_time import paris_datetime
from trustspace.technical_detail import error_text, split_detail

logger = logging.getLogger(__name__)


def _fetch_failure(exc: Exception) -> str:
    """What went wrong with a CRL download, in French (requests' own English goes to the technical detail)."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"le serveur a répondu par une erreur HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return "le serveur ne répond pas (délai dépassé)"
    if isinstance(exc, requests.ConnectionError):
        return "serveur injoignable"
    return "téléchargement impossible"


def fetch_crl(url: str, *, now: datetime | None = None) -> CrlCache:
    """Download one CRL into the cache; keeps the last good copy when the fetch fails."""
    now = now or timezone.now()
    cache, _ = CrlCache.objects.get_or_create(url=url)
    cache.last_attempt_at = now
    try:
        response = requests.get(url, timeout=settings.CRL_FETCH_TIMEOUT, stream=True, allow_redirects=False)
        response.raise_for_status()
        if response.status_code != 200:
            raise CertificateInputError(f"Réponse HTTP {response.status_code} inattendue (redirections refusées).")
        data = _read_within(response, settings.CRL_MAX_BYTES,
                            deadline=time.monotonic() + settings.CRL_FETCH_TIMEOUT * 3)
        crl = parse_crl(data)
        _check_authentic(crl, now)
    except (requests.RequestException, CertificateInputError, OSError) as exc:
        cache.last_error = error_text(exc, _fetch_failure(exc), limit=1000)
        cache.save(update_fields=["last_attempt_at", "last_error"])
        logger.warning("CRL %s: %s", url, " — ".join(part for part in split_detail(cache.last_error) if part))
        return cache
    if cache.this_update is not None and crl.last_update_utc < cache.this_update:
        # A replayed older CRL would « un-revoke » certificates (RFC 5280 §6.3.3: keep the most recent).
        cache.last_error = (f"CRL plus ancienne ({paris_datetime(crl.last_update_utc)}) que "
                            f"celle en cache ({paris_datetime(cache.this_update)}) : ignorée.")
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


def _read_within(response: requests.Response, limit: int, *, deadline: float) -> bytes:
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


def _check_authentic(crl: x509.CertificateRevocationList, now: datetime) -> None:
    """Cache only a CRL signed by a CA of the configured hierarchy and not dated in the future: a forged or
    future-dated CRL would otherwise hide later revocations (CRLs travel over plain HTTP)."""
    anchors, intermediates = trust.hierarchy()
    issuers = [c for c in (*intermediates, *anchors) if c.subject == crl.issuer]
    if not any(crl.is_signature_valid(issuer.public_key()) for issuer in issuers):
        raise CertificateInputError("CRL non signée par une autorité de la hiérarchie IGC-Santé configurée.")
    if crl.last_update_utc > now + timedelta(minutes=5):
        raise CertificateInputError("CRL datée dans le futur : ignorée.")


def refresh_crls(*, now: datetime | None = None) -> int:
    """Periodic task: refresh every known CRL and those of the configured hierarchy."""
    now = now or timezone.now()
    anchors, intermediates = trust.hierarchy()
    urls = set(CrlCache.objects.values_list("url", flat=True))
    for certificate in (*anchors, *intermediates):
        urls |= set(trust.crl_urls(certificate))
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

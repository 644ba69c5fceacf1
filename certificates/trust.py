"""The configured IGC-Santé hierarchy, and CRL verdicts read from the CRL cache (DESIGN §6).

Anchors and intermediates come from PEM files named by settings (the ANS TEST hierarchy is bundled
for development and tests; production points at the production files). CRLs are fetched on a
schedule and cached by ``certificates.services.crls``; a CRL that is stale or could not be fetched is
reported as such, never as « not revoked ».
"""
import re
import time
import warnings
from functools import lru_cache
from pathlib import Path

import requests
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from django.conf import settings
from django.utils import timezone

from trustspace.technical_detail import split_detail

from .models import CrlCache
from .validation import CertificateInputError, CrlStatus, CrlVerdict, RevocationAnswer, crl_verdict, parse_crl
from .validation.ocsp import MAX_OCSP_BYTES, ocsp_request, ocsp_urls, ocsp_verdict


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
                # The write path imports this module: imported here, when a missing copy must be fetched.
                from certificates.services.crls import fetch_crl

                cache = fetch_crl(url, now=now)
            if cache is None or cache.der is None:
                why = split_detail(cache.last_error)[0] if cache else "jamais téléchargée"
                reasons.append(f"CRL {url} indisponible ({why})")
                continue
            verdict = crl_verdict(certificate, issuer, _parsed(cache), at=now)
            if verdict.status != CrlStatus.UNAVAILABLE:
                return verdict
            reasons.append(verdict.reason or url)
        return CrlVerdict.UNAVAILABLE(" ; ".join(reasons))

    return status


# =========================================================================== market `vi` certificates

@lru_cache(maxsize=4)
def _market_anchors(stamped):
    """Each certificate of the bundle on its own: one unreadable root does not hide the others."""
    path, _mtime = stamped
    if not Path(path).exists():
        return ()
    anchors = []
    for block in _PEM_CERTIFICATE.findall(Path(path).read_bytes()):
        try:
            with warnings.catch_warnings():  # an old root of the store has a negative serial: still a root
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                anchors.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            continue
    return tuple(anchors)


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def market_anchors():
    """The public web PKI roots (``VI_MARKET_TRUST_BUNDLE``: the Mozilla store as certifi ships it)."""
    return _market_anchors(_stamped([settings.VI_MARKET_TRUST_BUNDLE])[0])


def _get_within(method, url, *, timeout, limit, **kwargs):
    """The body of a 200 answer, at most ``limit`` bytes, no redirect; raises ``ValueError`` with a reason."""
    try:
        with requests.request(method, url, timeout=timeout, stream=True, allow_redirects=False, **kwargs) as response:
            if response.status_code != 200:
                raise ValueError(f"réponse HTTP {response.status_code}")
            chunks, size, deadline = [], 0, time.monotonic() + timeout * 3
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit or time.monotonic() > deadline:
                    raise ValueError("réponse trop volumineuse ou trop lente")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.RequestException as exc:
        raise ValueError(f"injoignable : {exc.__class__.__name__}") from None


def market_revocation_status(*, now=None):
    """The callback of ``check_vi_market_certificate``: the certificate's CRL if it names one (fetched now, not
    cached: the CRL cache holds the IGC-Santé hierarchy's), else its OCSP responder; UNAVAILABLE if it gives
    neither or none answers usably."""
    now = now or timezone.now()

    def status(certificate, issuer):
        reasons = []
        for url in crl_urls(certificate):
            try:
                crl = parse_crl(_get_within("GET", url, timeout=settings.CRL_FETCH_TIMEOUT,
                                            limit=settings.CRL_MAX_BYTES))
            except (ValueError, CertificateInputError) as exc:
                reasons.append(f"LCR {url} : {getattr(exc, 'message', exc)}")
                continue
            verdict = crl_verdict(certificate, issuer, crl, at=now)
            if verdict.status != CrlStatus.UNAVAILABLE:
                return RevocationAnswer(verdict, f"la LCR {url}")
            reasons.append(f"LCR {url} : {verdict.reason}")
        for url in ocsp_urls(certificate):
            try:
                der = _get_within("POST", url, timeout=settings.OCSP_TIMEOUT, limit=MAX_OCSP_BYTES,
                                  data=ocsp_request(certificate, issuer),
                                  headers={"Content-Type": "application/ocsp-request"})
            except ValueError as exc:
                reasons.append(f"OCSP {url} : {exc}")
                continue
            verdict = ocsp_verdict(certificate, issuer, der, at=now)
            if verdict.status != CrlStatus.UNAVAILABLE:
                return RevocationAnswer(verdict, f"le répondeur OCSP {url}")
            reasons.append(f"OCSP {url} : {verdict.reason}")
        if not reasons:
            return RevocationAnswer(CrlVerdict.UNAVAILABLE("le certificat n'indique ni LCR ni répondeur OCSP"),
                                    "l'autorité")
        return RevocationAnswer(CrlVerdict.UNAVAILABLE(" ; ".join(reasons)), "l'autorité")

    return status

"""The configured IGC-Santé hierarchy, and CRL verdicts read from the CRL cache (DESIGN §6).

Anchors and intermediates come from PEM files named by settings (the ANS TEST hierarchy is bundled
for development and tests; production points at the production files). CRLs are fetched on a
schedule and cached by ``certificates.services.crls``; a CRL that is stale or could not be fetched is
reported as such, never as « not revoked ».
"""
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.utils import timezone

from .models import CrlCache
from .validation import CrlStatus, CrlVerdict, crl_verdict, parse_crl


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
                reasons.append(f"CRL {url} injoignable ({cache.last_error if cache else 'jamais téléchargée'})")
                continue
            verdict = crl_verdict(certificate, issuer, _parsed(cache), at=now)
            if verdict.status != CrlStatus.UNAVAILABLE:
                return verdict
            reasons.append(verdict.reason or url)
        return CrlVerdict.UNAVAILABLE(" ; ".join(reasons))

    return status

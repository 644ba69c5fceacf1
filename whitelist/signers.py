"""Signers of the whitelist (DESIGN §7): a PKCS#12 file, a PKCS#11 token or an eSignSanté instance.

``WHITELIST_SIGNER_BACKEND`` chooses the backend (``pkcs12`` by default, ``pkcs11``, ``esignsante``);
``configured_signer()`` returns the matching object. Every signer exposes:

* ``subject`` (RFC 4514 DN) and ``certificate`` / ``cert`` (the signing certificate, for the watch);
* ``chain`` (certificates that help to build the path; never trusted by themselves);
* ``check_valid(at)``: refuses an expired, not yet valid or revoked certificate (``SignerError`` with the
  codes ``signer_expired``, ``signer_not_yet_valid``, ``signer_revoked``);
* ``sign(data, signing_time=)`` → the signed bytes (XAdES-BASELINE-B enveloped).

PKCS#12: ``WHITELIST_SIGNER_P12`` (a path) and ``WHITELIST_SIGNER_P12_PASSWORD``; in DEBUG without a
configured file, the development signer of the embedded demo (``certificates.devpki.ensure_whitelist_signer``).

Chain: the signed list's ``KeyInfo`` holds the signer, then its chain issuer by issuer up to and including the
root (ANS's 2026 layout, ``xades.key_info_certificates``), made of what the backend holds (the PKCS#12's other
certificates, the PKCS#11 token's certificate objects) and of ``WHITELIST_SIGNER_CHAIN_PEM`` (a PEM file path or
PEM text: the intermediates and the root, for a PKCS#12 or a token that lacks them). Only the certificates that
actually issued the signer, one after the other, are kept; without any, the list carries the signer alone.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from django.conf import settings

from trustspace.errors import Conflict
from trustspace.paris_time import paris_date
from trustspace.technical_detail import os_error_french, with_detail

from . import xades

logger = logging.getLogger(__name__)

# The signer's issuers in order, up to the root (Django-free, in xades; the PKCS#11 backend imports it from here).
issuer_chain = xades.issuer_chain

DEV_PASSWORD = b"drimm-demo"
BACKENDS = ("pkcs12", "pkcs11", "esignsante")


class SignerError(Conflict):
    """A French ``message``; ``detail``: the library's or service's own words (PKCS#11, eSignSanté, lxml), shown
    only as the technical detail (``text``, for ``{% error_with_detail %}``)."""

    code = "whitelist_signer"

    def __init__(self, message, *, detail: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.detail = detail

    @property
    def text(self) -> str:
        return with_detail(self.message, self.detail)


def signing_failed(exc: xades.SigningError, by: str = "") -> SignerError:
    """A signature that failed: its French cause, the library's words as the detail."""
    return SignerError(f"La signature de la liste blanche{by} a échoué : {exc.message}.",
                       detail=getattr(exc, "detail", ""))


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def check_certificate(cert: x509.Certificate, chain=(), at: dt.datetime | None = None, *,
                      check_revocation: bool = True) -> None:
    """Refuse a signing certificate that is expired, not yet valid or revoked at ``at`` (French errors)."""
    at = at or dt.datetime.now(dt.UTC)
    subject = describe(cert)
    if at > cert.not_valid_after_utc:
        raise SignerError(
            f"Le certificat de signature de la liste blanche ({subject}) a expiré le "
            f"{paris_date(cert.not_valid_after_utc)} : signature refusée.", code="signer_expired")
    if at < cert.not_valid_before_utc:
        raise SignerError(
            f"Le certificat de signature de la liste blanche ({subject}) n'est valide qu'à partir du "
            f"{paris_date(cert.not_valid_before_utc)} : signature refusée.", code="signer_not_yet_valid")
    if not check_revocation:
        return
    from .signer_watch import revocation  # the watch owns the CRL lookup (it imports this module)

    state = revocation(cert, chain, at)
    if state.revoked:
        raise SignerError(
            f"Le certificat de signature de la liste blanche ({subject}) est révoqué ({state.message}) : "
            "signature refusée.", code="signer_revoked")
    if not state.known:
        if getattr(settings, "WHITELIST_SIGNER_REQUIRE_CRL", False):
            raise SignerError(
                f"La révocation du certificat de signature de la liste blanche ({subject}) ne peut pas être "
                f"vérifiée ({state.message}) : signature refusée.", code="signer_crl_unavailable")
        logger.warning("whitelist signer %s: revocation unknown (%s)", subject, state.message)


def read_pem_certificates(value: str, what: str = "Certificat du signataire") -> list[x509.Certificate]:
    """Certificates from a PEM file path or PEM text (empty → []); the signer first, then its chain."""
    if not value:
        return []
    text = value.encode() if "-----BEGIN" in value else None
    if text is None:
        try:
            text = Path(value).read_bytes()
        except OSError as exc:
            raise SignerError(f"{what} illisible : {value} ({os_error_french(exc)}).") from exc
    try:
        return x509.load_pem_x509_certificates(text)
    except ValueError as exc:
        raise SignerError(f"{what} invalide : un ou plusieurs certificats PEM sont attendus.") from exc


def configured_chain() -> list[x509.Certificate]:
    """``WHITELIST_SIGNER_CHAIN_PEM``: the signer's intermediates and root, when its backend does not hold them."""
    return read_pem_certificates(getattr(settings, "WHITELIST_SIGNER_CHAIN_PEM", "") or "",
                                 "Chaîne du signataire (WHITELIST_SIGNER_CHAIN_PEM)")


def signer_chain(cert: x509.Certificate, held=(), configured=()) -> list[x509.Certificate]:
    """The chain written after ``cert`` in KeyInfo: its issuers among the backend's certificates (``held``) and the
    configured ones, issuer by issuer up to the root. A configured certificate left out is logged (wrong file?)."""
    chain = issuer_chain(cert, [*held, *configured])
    unused = [c for c in configured if c not in chain and c != cert]
    if unused:
        logger.warning("whitelist signer %s: configured chain certificates not on its path: %s", describe(cert),
                       "; ".join(describe(c) for c in unused))
    return chain


class BaseSigner:
    """What every backend shares: the certificate properties and the validity check."""

    cert: x509.Certificate | None
    chain: list

    @property
    def certificate(self) -> x509.Certificate | None:
        return self.cert

    @property
    def subject(self) -> str:
        return describe(self.cert) if self.cert is not None else ""

    def check_valid(self, at: dt.datetime | None = None, *, check_revocation: bool = True) -> None:
        if self.cert is None:
            raise SignerError("Le certificat du signataire de la liste blanche est inconnu.", code="signer_unknown")
        check_certificate(self.cert, self.chain, at, check_revocation=check_revocation)


@dataclass
class Pkcs12Signer(BaseSigner):
    key: object
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)
    source: str = ""
    backend = "pkcs12"

    def sign(self, data: bytes, *, signing_time: dt.datetime | None = None) -> bytes:
        signing_time = signing_time or dt.datetime.now(dt.UTC)
        self.check_valid(signing_time)
        try:
            return xades.sign(data, self.key, self.cert, self.chain, signing_time=signing_time)
        except xades.SigningError as exc:
            raise signing_failed(exc) from exc


def load_pkcs12_signer(path, password: bytes | None) -> Pkcs12Signer:
    """The PKCS#12 signer; every failure (missing, unreadable, garbage, wrong password) is a French ``SignerError``."""
    try:
        key, cert, chain = xades.load_pkcs12_file(path, password)
    except FileNotFoundError as exc:
        raise SignerError(f"Fichier PKCS#12 du signataire introuvable : {path}") from exc
    except OSError as exc:  # permission, a directory, an I/O error
        raise SignerError(f"Fichier PKCS#12 du signataire illisible : {path} ({os_error_french(exc)}).") from exc
    except (ValueError, TypeError, xades.SigningError) as exc:
        raise SignerError(f"Fichier PKCS#12 du signataire illisible : {path} (mot de passe incorrect ou fichier "
                          "qui n'est pas au format PKCS#12).") from exc
    except Exception as exc:  # whatever the parser raises must not become a 500
        logger.exception("whitelist signer: PKCS#12 %s unreadable", path)
        raise SignerError(f"Fichier PKCS#12 du signataire illisible ({type(exc).__name__}).") from exc
    if cert is None:
        raise SignerError(f"Le fichier PKCS#12 du signataire ne contient pas de certificat : {path}")
    return Pkcs12Signer(key=key, cert=cert, chain=issuer_chain(cert, chain), source=str(path))


def _pkcs12_source() -> tuple[str, bytes | None]:
    path = getattr(settings, "WHITELIST_SIGNER_P12", "") or ""
    password = getattr(settings, "WHITELIST_SIGNER_P12_PASSWORD", "") or ""
    if isinstance(password, str):
        password = password.encode("utf-8")
    if path:
        return str(path), password or None
    if settings.DEBUG:
        from certificates import devpki

        return str(devpki.ensure_whitelist_signer(settings.DEV_PKI_DIR)), DEV_PASSWORD
    raise SignerError("Aucun signataire de la liste blanche n'est configuré (WHITELIST_SIGNER_P12).")


def pkcs12_signer() -> Pkcs12Signer:
    """The configured PKCS#12 signer, its chain completed by ``WHITELIST_SIGNER_CHAIN_PEM``."""
    signer = load_pkcs12_signer(*_pkcs12_source())
    signer.chain = signer_chain(signer.cert, signer.chain, configured_chain())
    return signer


# --- the signer's public certificate, cheaply (for the ANS page and the watch) -------------------------------

_PKCS12_CERTIFICATES: dict[tuple, tuple] = {}


def _pkcs12_public_certificate():
    """(certificate, chain) of the PKCS#12 file, decrypted once per file version (path, mtime, size)."""
    path, password = _pkcs12_source()
    try:
        stat = os.stat(path)
    except FileNotFoundError as exc:
        raise SignerError(f"Fichier PKCS#12 du signataire introuvable : {path}") from exc
    except OSError as exc:
        raise SignerError(f"Fichier PKCS#12 du signataire illisible : {path} ({os_error_french(exc)}).") from exc
    key = (path, stat.st_mtime_ns, stat.st_size, password)
    if key not in _PKCS12_CERTIFICATES:
        signer = load_pkcs12_signer(path, password)
        _PKCS12_CERTIFICATES.clear()  # one file is configured: keep only its current version
        _PKCS12_CERTIFICATES[key] = (signer.cert, list(signer.chain))
    cert, chain = _PKCS12_CERTIFICATES[key]
    return cert, issuer_chain(cert, [*chain, *configured_chain()])


def public_certificate() -> tuple[x509.Certificate | None, list[x509.Certificate]]:
    """The configured signer's certificate and chain without using its key: no PKCS#11 login (a wrong PIN would
    count against the token's retry counter), no eSignSanté request, a PKCS#12 decrypted once per file version.
    Always a French ``SignerError`` on failure."""
    backend = backend_name()
    try:
        if backend == "pkcs12":
            return _pkcs12_public_certificate()
        if backend == "pkcs11":
            from .pkcs11_signer import public_certificate as pkcs11_certificate

            return pkcs11_certificate()
        if backend == "esignsante":
            from .esignsante import public_certificate as esignsante_certificate

            return esignsante_certificate()
    except SignerError:
        raise
    except Exception as exc:  # never a 500 on the ANS page
        logger.exception("whitelist signer certificate unreadable")
        raise SignerError(f"Certificat du signataire illisible ({type(exc).__name__}).") from exc
    raise SignerError(f"Dorsale de signature de la liste blanche inconnue : « {backend} » "
                      f"(attendu : {', '.join(BACKENDS)}).", code="signer_backend")


def backend_name() -> str:
    return (getattr(settings, "WHITELIST_SIGNER_BACKEND", "") or "pkcs12").strip().lower()


def configured_signer():
    """The signer of ``WHITELIST_SIGNER_BACKEND`` (a ``SignerError`` in French when it cannot be built)."""
    backend = backend_name()
    try:
        return _build_signer(backend)
    except SignerError:
        raise
    except Exception as exc:  # a loader's unexpected error must not become a 500 on approve-and-publish
        logger.exception("whitelist signer %s could not be built", backend)
        raise SignerError(f"Signataire de la liste blanche inutilisable ({type(exc).__name__}).") from exc


def _build_signer(backend):
    if backend == "pkcs12":
        return pkcs12_signer()
    if backend == "pkcs11":
        from .pkcs11_signer import configured_pkcs11_signer

        return configured_pkcs11_signer()
    if backend == "esignsante":
        from .esignsante import configured_esignsante_signer

        return configured_esignsante_signer()
    raise SignerError(f"Dorsale de signature de la liste blanche inconnue : « {backend} » "
                      f"(attendu : {', '.join(BACKENDS)}).", code="signer_backend")

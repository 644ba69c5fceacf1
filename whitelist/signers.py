"""Signers of the whitelist (DESIGN §7): the PKCS#12 file backend.

``configured_signer()`` returns a :class:`Pkcs12Signer` from ``WHITELIST_SIGNER_P12`` (a path) and
``WHITELIST_SIGNER_P12_PASSWORD``; in DEBUG without a configured file, the development signer of the
embedded demo (``certificates.devpki.ensure_whitelist_signer``). An expired (or not yet valid) signing
certificate is refused with a French error.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from django.conf import settings

from trustspace.errors import Conflict

from . import xades

DEV_PASSWORD = b"drimm-demo"


class SignerError(Conflict):
    code = "whitelist_signer"


@dataclass
class Pkcs12Signer:
    key: object
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)
    source: str = ""

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    def check_valid(self, at: dt.datetime | None = None) -> None:
        at = at or dt.datetime.now(dt.UTC)
        if at > self.cert.not_valid_after_utc:
            raise SignerError(
                f"Le certificat de signature de la liste blanche ({self.subject}) a expiré le "
                f"{self.cert.not_valid_after_utc:%d/%m/%Y} : signature refusée.", code="signer_expired")
        if at < self.cert.not_valid_before_utc:
            raise SignerError(
                f"Le certificat de signature de la liste blanche ({self.subject}) n'est valide qu'à partir du "
                f"{self.cert.not_valid_before_utc:%d/%m/%Y} : signature refusée.", code="signer_not_yet_valid")

    def sign(self, data: bytes, *, signing_time: dt.datetime | None = None) -> bytes:
        signing_time = signing_time or dt.datetime.now(dt.UTC)
        self.check_valid(signing_time)
        try:
            return xades.sign(data, self.key, self.cert, self.chain, signing_time=signing_time)
        except xades.SigningError as exc:
            raise SignerError(f"La signature de la liste blanche a échoué : {exc}") from exc


def load_pkcs12_signer(path, password: bytes | None) -> Pkcs12Signer:
    try:
        key, cert, chain = xades.load_pkcs12_file(path, password)
    except FileNotFoundError as exc:
        raise SignerError(f"Fichier PKCS#12 du signataire introuvable : {path}") from exc
    except (ValueError, xades.SigningError) as exc:
        raise SignerError(f"Fichier PKCS#12 du signataire illisible (mot de passe ?) : {exc}") from exc
    return Pkcs12Signer(key=key, cert=cert, chain=chain, source=str(path))


def configured_signer() -> Pkcs12Signer:
    path = getattr(settings, "WHITELIST_SIGNER_P12", "") or ""
    password = getattr(settings, "WHITELIST_SIGNER_P12_PASSWORD", "") or ""
    if isinstance(password, str):
        password = password.encode("utf-8")
    if path:
        return load_pkcs12_signer(path, password or None)
    if settings.DEBUG:
        from certificates import devpki

        return load_pkcs12_signer(devpki.ensure_whitelist_signer(settings.DEV_PKI_DIR), DEV_PASSWORD)
    raise SignerError("Aucun signataire de la liste blanche n'est configuré (WHITELIST_SIGNER_P12).")

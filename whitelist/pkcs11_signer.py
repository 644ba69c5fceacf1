"""PKCS#11 backend of the whitelist signer (python-pkcs11; SoftHSM2 in tests, an HSM in production).

Settings: ``WHITELIST_PKCS11_MODULE`` (the library; empty → the usual SoftHSM2 paths),
``WHITELIST_PKCS11_TOKEN_LABEL``, ``WHITELIST_PKCS11_PIN`` (secret, environment only),
``WHITELIST_PKCS11_KEY_LABEL``; the certificate either from ``WHITELIST_PKCS11_CERT_PEM`` (a PEM file
path or PEM text: the signer first, then its chain) or, when empty, from the token (the ``CKO_CERTIFICATE``
with the key's label or ID, the token's other certificate objects as its chain). ``WHITELIST_PKCS11_CHAIN_PEM``
and ``WHITELIST_SIGNER_CHAIN_PEM`` may add chain certificates. The chain written in the list's KeyInfo is made
of the certificates that actually issued the signer, issuer by issuer with the signature checked, up to and
including the root when one of those sources holds it (ANS's 2026 layout).

``public_certificate()`` reads the certificate for the ANS page and the watch without logging in (certificates
are public objects on a token), so a wrong PIN is never tried there.

The private key never leaves the token: ``xades.sign`` receives a callable that asks the token for an
RSA PKCS#1 v1.5 SHA-256 signature (``CKM_SHA256_RSA_PKCS``) of the SignedInfo. PKCS#11 login state is
shared by all sessions of a process, so each signature opens its own session under a per-token lock.
"""
from __future__ import annotations

import datetime as dt
import glob
import os
import threading
from collections.abc import Sequence
from contextlib import contextmanager

import pkcs11
import pkcs11.exceptions as p11
from cryptography import x509
from django.conf import settings

from . import xades
from .signers import (
    BaseSigner,
    SignerError,
    configured_chain,
    issuer_chain,
    read_pem_certificates,
    signer_chain,
    signing_failed,
)

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)

_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def find_module(configured: str = "") -> str | None:
    """The PKCS#11 library to load: the configured path, else the first SoftHSM2 library found."""
    if configured:
        return configured
    for candidate in MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    found = sorted(glob.glob("/usr/lib*/**/libsofthsm2.so", recursive=True))
    return found[0] if found else None


def _lock_for(module: str, token_label: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((module, token_label), threading.Lock())


@contextmanager
def _pkcs11_errors(token_label: str, key_label: str):
    """PKCS#11 failures as French ``SignerError``s."""
    try:
        yield
    except SignerError:
        raise
    except p11.NoSuchToken as exc:
        raise SignerError(f"Jeton PKCS#11 « {token_label} » introuvable.", code="signer_pkcs11_token") from exc
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as exc:
        raise SignerError(f"Code PIN du jeton PKCS#11 « {token_label} » incorrect.",
                          code="signer_pkcs11_pin") from exc
    except p11.PinLocked as exc:
        raise SignerError(f"Le code PIN du jeton PKCS#11 « {token_label} » est bloqué.",
                          code="signer_pkcs11_pin") from exc
    except p11.NoSuchKey as exc:
        raise SignerError(f"Clé privée « {key_label} » introuvable sur le jeton PKCS#11 « {token_label} ».",
                          code="signer_pkcs11_key") from exc
    except p11.MultipleObjectsReturned as exc:
        raise SignerError(f"Plusieurs clés privées « {key_label} » sur le jeton PKCS#11 « {token_label} » : "
                          "libellé ambigu.", code="signer_pkcs11_key") from exc
    except p11.PKCS11Error as exc:
        raise SignerError(f"Erreur du jeton PKCS#11 « {token_label} » ({type(exc).__name__}).",
                          code="signer_pkcs11", detail=str(exc)) from exc


def load_library(module: str | None):
    if not module:
        raise SignerError("Module PKCS#11 introuvable : renseignez WHITELIST_PKCS11_MODULE.",
                          code="signer_pkcs11_module")
    if not os.path.exists(module):
        raise SignerError(f"Module PKCS#11 introuvable : {module}.", code="signer_pkcs11_module")
    try:
        return pkcs11.lib(module)
    except pkcs11.PKCS11Error as exc:
        raise SignerError(f"Module PKCS#11 inutilisable : {module}.", code="signer_pkcs11_module",
                          detail=str(exc)) from exc


class Pkcs11Signer(BaseSigner):
    backend = "pkcs11"

    def __init__(self, *, module: str | None, token_label: str, pin: str, key_label: str,
                 cert_pem: str = "", chain_pem: str = "", extra_chain: Sequence[x509.Certificate] = ()):
        if not token_label or not key_label:
            raise SignerError("Signataire PKCS#11 incomplet : WHITELIST_PKCS11_TOKEN_LABEL et "
                              "WHITELIST_PKCS11_KEY_LABEL sont requis.", code="signer_pkcs11")
        if not pin:
            raise SignerError("Code PIN du jeton PKCS#11 absent (WHITELIST_PKCS11_PIN).", code="signer_pkcs11_pin")
        self.lib = load_library(module)
        self.module, self.token_label, self.key_label = module, token_label, key_label
        self._pin = pin
        self._lock = _lock_for(module, token_label)
        configured = read_pem_certificates(cert_pem)
        added = [*read_pem_certificates(chain_pem, "Chaîne du signataire (WHITELIST_PKCS11_CHAIN_PEM)"), *extra_chain]
        # One session now: a wrong PIN or a missing key is reported when the signer is built.
        with self._session() as session:
            key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=key_label)
            if configured:
                self.cert, held = configured[0], configured[1:]
            else:
                self.cert, held = self._certificates_on_token(session, key)
        self.chain = signer_chain(self.cert, held, added)

    @contextmanager
    def _session(self):
        with self._lock, _pkcs11_errors(self.token_label, self.key_label):
            token = self.lib.get_token(token_label=self.token_label)
            with token.open(user_pin=self._pin) as session:
                yield session

    def _certificates_on_token(self, session, key):
        key_id = _attribute(key, pkcs11.Attribute.ID)
        signer, others = None, []
        for obj in session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE}):
            cert = x509.load_der_x509_certificate(bytes(obj[pkcs11.Attribute.VALUE]))
            same_label = _attribute(obj, pkcs11.Attribute.LABEL) == self.key_label
            same_id = bool(key_id) and _attribute(obj, pkcs11.Attribute.ID) == key_id
            if signer is None and (same_label or same_id):
                signer = cert
            else:
                others.append(cert)
        if signer is None:
            raise SignerError(f"Aucun certificat « {self.key_label} » sur le jeton PKCS#11 « {self.token_label} » "
                              "(ni WHITELIST_PKCS11_CERT_PEM).", code="signer_pkcs11_cert")
        return signer, others  # signer_chain keeps only its issuers, in order, for KeyInfo

    def raw_sign(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 SHA-256 by the token (the hook of ``xades.sign``)."""
        with self._session() as session:
            key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=self.key_label)
            return bytes(key.sign(data, mechanism=pkcs11.Mechanism.SHA256_RSA_PKCS))

    def sign(self, data: bytes, *, signing_time: dt.datetime | None = None) -> bytes:
        signing_time = signing_time or dt.datetime.now(dt.UTC)
        self.check_valid(signing_time)
        try:
            return xades.sign(data, self.raw_sign, self.cert, self.chain, signing_time=signing_time)
        except xades.SigningError as exc:
            raise signing_failed(exc, " par le jeton PKCS#11") from exc


def _attribute(obj, attribute):
    try:
        value = obj[attribute]
    except Exception:  # AttributeTypeInvalid / sensitive: treat as absent
        return None
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else value


def configured_pkcs11_signer() -> Pkcs11Signer:
    return Pkcs11Signer(
        module=find_module(getattr(settings, "WHITELIST_PKCS11_MODULE", "") or ""),
        token_label=getattr(settings, "WHITELIST_PKCS11_TOKEN_LABEL", "") or "",
        pin=getattr(settings, "WHITELIST_PKCS11_PIN", "") or "",
        key_label=getattr(settings, "WHITELIST_PKCS11_KEY_LABEL", "") or "",
        cert_pem=getattr(settings, "WHITELIST_PKCS11_CERT_PEM", "") or "",
        chain_pem=getattr(settings, "WHITELIST_PKCS11_CHAIN_PEM", "") or "",
        extra_chain=configured_chain(),
    )


def public_certificate():
    """(certificate, chain) of the configured PKCS#11 signer without a login: ``WHITELIST_PKCS11_CERT_PEM`` when
    set, else the public certificate object labelled like the key (or with the ID of the key's public half)."""
    cert_pem = getattr(settings, "WHITELIST_PKCS11_CERT_PEM", "") or ""
    extra_chain = read_pem_certificates(getattr(settings, "WHITELIST_PKCS11_CHAIN_PEM", "") or "",
                                        "Chaîne du signataire (WHITELIST_PKCS11_CHAIN_PEM)") + configured_chain()
    if cert_pem:
        configured = read_pem_certificates(cert_pem)
        if configured:
            return configured[0], issuer_chain(configured[0], [*configured[1:], *extra_chain])
    token_label = getattr(settings, "WHITELIST_PKCS11_TOKEN_LABEL", "") or ""
    key_label = getattr(settings, "WHITELIST_PKCS11_KEY_LABEL", "") or ""
    if not token_label or not key_label:
        raise SignerError("Signataire PKCS#11 incomplet : WHITELIST_PKCS11_TOKEN_LABEL et WHITELIST_PKCS11_KEY_LABEL "
                          "sont requis.", code="signer_pkcs11")
    module = find_module(getattr(settings, "WHITELIST_PKCS11_MODULE", "") or "")
    lib = load_library(module)
    with _lock_for(module, token_label), _pkcs11_errors(token_label, key_label):
        token = lib.get_token(token_label=token_label)
        with token.open() as session:  # public session: no C_Login
            key_ids = {_attribute(obj, pkcs11.Attribute.ID) for obj in session.get_objects(
                {pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PUBLIC_KEY, pkcs11.Attribute.LABEL: key_label})}
            key_ids.discard(None)
            key_ids.discard(b"")
            signer, others = None, []
            for obj in session.get_objects({pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE}):
                cert = x509.load_der_x509_certificate(bytes(obj[pkcs11.Attribute.VALUE]))
                if signer is None and (_attribute(obj, pkcs11.Attribute.LABEL) == key_label
                                       or _attribute(obj, pkcs11.Attribute.ID) in key_ids):
                    signer = cert
                else:
                    others.append(cert)
    if signer is None:
        raise SignerError(f"Certificat « {key_label} » non lisible sans connexion au jeton PKCS#11 « {token_label} » "
                          "(objet privé ou absent) : indiquez-le dans WHITELIST_PKCS11_CERT_PEM.",
                          code="signer_pkcs11_cert")
    return signer, issuer_chain(signer, [*others, *extra_chain])  # quiet: signer_chain logs at signing

"""Certificate validation for the DRIM-M trust space (DESIGN §4 and §6). Pure Python + ``cryptography``:
this module must never import Django (the portal's services wrap it).

Uploads
    ``parse_certificate_upload``, ``parse_csr_upload`` and ``parse_crl`` accept PEM or DER and raise only
    ``CertificateInputError`` (a French message for end users) on bad input — never anything else, whatever
    the bytes. Private keys (PEM ``… PRIVATE KEY`` blocks, DER private keys, PKCS#12 blobs) are refused;
    nothing is kept from them.

Rules
    ``check_db_certificate`` (IGC-Santé *SERV SSL* ``db`` certificate), ``check_vi_csr`` and
    ``check_vi_certificate`` (market ``vi`` certificate) return ``RuleResult(code, ok, message)`` lists.
    ``ok is None`` means "could not be decided" (e.g. CRL stale or unavailable): it must never be shown as
    a success, in particular never as "not revoked".

Chain building
    Done by hand (``build_chain``): leaf → intermediates (uploaded extra chain + configured) → configured
    anchor, each link checked for issuer/subject names, signature (``public_key().verify``), CA basic
    constraints, ``keyCertSign``, path length, validity, and SHA-256 or stronger for intermediates.
    ``cryptography.x509.verification`` can verify the real IGC-Santé TEST hierarchy (with a custom
    end-entity extension policy), but it folds the leaf's validity period and signature hash into one
    opaque English error and refuses SHA-1 outright, whereas the portal must report each rule alone, in
    French. The tests use the Rust verifier as an oracle on the good chains.

The ``except Exception`` clauses (``noqa: BLE001``) are deliberate: hostile or corrupt input must end
as a ``CertificateInputError`` or as an undecided rule, never as a 500.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

__all__ = [
    "RULE_LABELS",
    "CertificateInputError",
    "ChainResult",
    "CrlStatus",
    "CrlVerdict",
    "RuleResult",
    "build_chain",
    "check_db_certificate",
    "check_vi_certificate",
    "check_vi_csr",
    "crl_verdict",
    "describe_certificate",
    "fingerprint",
    "parse_certificate_upload",
    "parse_crl",
    "parse_csr_upload",
]

UTC = dt.UTC
MAX_UPLOAD_BYTES = 64_000
MAX_CRL_BYTES = 20_000_000
MAX_PEM_CERTIFICATES = 10
MAX_PEM_BLOCKS = 16
MAX_CHAIN_DEPTH = 8
MAX_PATH_STEPS = 64
VI_RSA_MIN_BITS = 2048
VI_RSA_MAX_BITS = 4096  # Let's Encrypt (and Pebble) accept RSA 2048, 3072 and 4096 only
VI_ALLOW_ECDSA = False  # DESIGN §6: "RSA with SHA-256 signature" for vi (see check_vi_csr)
SHA256_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
}
CA_SIGNATURES = {  # accepted for the intermediate links of a chain
    SignatureAlgorithmOID.RSA_WITH_SHA256, SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512, SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384, SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    SignatureAlgorithmOID.RSASSA_PSS, SignatureAlgorithmOID.ED25519, SignatureAlgorithmOID.ED448,
}
SHA1_SIGNATURES = {SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.ECDSA_WITH_SHA1,
                   SignatureAlgorithmOID.DSA_WITH_SHA1, x509.ObjectIdentifier("1.3.14.3.2.29")}

RULE_LABELS = {
    "chain": "Chaîne de certification IGC-Santé",
    "cn": "Nom commun (CN) = FQDN db de la DRIMbox",
    "ou": "Unité organisationnelle (OU) = idNat_Struct de l'opérateur",
    "validity": "Période de validité",
    "signature_hash": "Signature SHA-256",
    "key_usage": "Usages de la clé (TLS serveur et client)",
    "revocation": "Révocation (LCR)",
    "csr_signature": "Signature de la demande (CSR)",
    "names": "Un seul nom DNS",
    "fqdn": "Nom = FQDN vi de la DRIMbox",
    "wildcard": "Pas de nom générique (*)",
    "public_key": "Clé publique",
}


class CertificateInputError(ValueError):
    """An upload that cannot be accepted; ``message`` is French, meant for end users."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RuleResult:
    code: str
    ok: bool | None  # None: could not be decided — never display it as a success
    message: str


# =========================================================================== formatting helpers

def _fmt_date(value: dt.datetime | None) -> str:
    if value is None:
        return "date inconnue"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%d/%m/%Y à %H:%M:%S UTC")


def _fmt_size(n: int) -> str:
    return f"{n / 1_000_000:g} Mo" if n >= 1_000_000 else f"{n / 1000:g} ko"


def _aware(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError("at must be a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fingerprint(cert: x509.Certificate, algorithm: hashes.HashAlgorithm | None = None) -> str:
    """Uppercase hex, colon-separated (``AB:CD:…``); SHA-256 by default."""
    return cert.fingerprint(algorithm or hashes.SHA256()).hex(":").upper()


def _short(cert: x509.Certificate) -> str:
    """The CN if any, else the RFC 4514 subject, for messages."""
    try:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cns:
            return f"« {cns[0].value} »"
        return f"« {cert.subject.rfc4514_string()} »"
    except Exception:  # noqa: BLE001
        return "« (nom illisible) »"


def _list_fr(values: Iterable[str]) -> str:
    values = [f"« {v} »" for v in values]
    return ", ".join(values) if values else "aucun"


# =========================================================================== upload parsing

_BEGIN_RE = re.compile(rb"-----BEGIN ([^\r\n-]{1,80})-----")
_PRIVATE_KEY_MESSAGE = (
    "Le fichier contient une clé privée : la clé privée est refusée et n'a pas été conservée (le fichier "
    "entier est rejeté). Ne transmettez jamais la clé privée ; déposez uniquement le certificat "
    "(partie publique)."
)
_PKCS12_MESSAGE = (
    "Le fichier est un conteneur PKCS#12 (.p12/.pfx), qui contient une clé privée : la clé privée est "
    "refusée et n'a pas été conservée (le fichier entier est rejeté). Déposez uniquement le certificat "
    "(partie publique), au format PEM ou DER."
)
_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_PKCS7_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")


def _check_size(data, max_bytes: int, what: str) -> bytes:
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise CertificateInputError(f"Le {what} doit être transmis sous forme de fichier.")
    if not data.strip():
        raise CertificateInputError(f"Le fichier est vide : aucun {what} n'a été reçu.")
    if len(data) > max_bytes:
        raise CertificateInputError(
            f"Le fichier est trop volumineux ({_fmt_size(len(data))}) : la taille maximale d'un {what} "
            f"est de {_fmt_size(max_bytes)}.")
    return data


def _pem_markers(data: bytes) -> list[re.Match]:
    markers = list(_BEGIN_RE.finditer(data))
    if len(markers) > MAX_PEM_BLOCKS:
        # a private key among them is still named as such
        _refuse_private_keys(data, [m.group(1).decode("ascii", "replace") for m in markers])
        raise CertificateInputError(f"Le fichier contient {len(markers)} blocs PEM : au plus {MAX_PEM_BLOCKS} "
                                    "sont acceptés.")
    return markers


def _pem_labels(markers: Sequence[re.Match]) -> list[str]:
    return [m.group(1).decode("ascii", "replace").strip() for m in markers]


def _refuse_private_keys(data: bytes, labels: Sequence[str]) -> None:
    if any("PRIVATE KEY" in label.upper() for label in labels):
        raise CertificateInputError(_PRIVATE_KEY_MESSAGE)
    if any("PKCS12" in label.upper() or "PFX" in label.upper() for label in labels):
        raise CertificateInputError(_PKCS12_MESSAGE)


def _pem_blocks(data: bytes, markers: Sequence[re.Match]) -> list[tuple[str, bytes]]:
    """(label, DER) for each block. Linear time: a block's END marker is searched only up to the next
    BEGIN (blocks never nest), so hostile input made of BEGIN markers cannot make this quadratic. An
    unterminated block, or a block whose base64 is broken, raises."""
    blocks = []
    for number, match in enumerate(markers, start=1):
        raw_label = match.group(1)
        label = raw_label.decode("ascii", "replace").strip()
        limit = markers[number].start() if number < len(markers) else len(data)
        end = data.find(b"-----END " + raw_label + b"-----", match.end(), limit)
        if end < 0:
            raise CertificateInputError(f"Le fichier PEM est mal formé : le bloc n°{number} ({label}) n'est pas "
                                        f"fermé par « -----END {label}----- ».")
        lines = [line.strip() for line in data[match.end():end].splitlines()]
        # RFC 1421 headers (Proc-Type, DEK-Info…) are not allowed in certificates / CSRs / CRLs.
        if any(b":" in line for line in lines):
            raise CertificateInputError(
                f"Le bloc PEM n°{number} ({label}) contient des en-têtes inattendus : il n'est pas accepté.")
        try:
            der = base64.b64decode(b"".join(lines), validate=True)
        except (binascii.Error, ValueError):
            raise CertificateInputError(
                f"Le bloc PEM n°{number} ({label}) est illisible (encodage base64 invalide).") from None
        if not der:
            raise CertificateInputError(f"Le bloc PEM n°{number} ({label}) est vide.")
        blocks.append((label, der))
    return blocks


def _der_header(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """(tag, content offset, content length) of the DER TLV at ``offset``, or None."""
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, first
    count = first & 0x7F
    if count == 0 or count > 4 or offset + 2 + count > len(data):
        return None
    length = int.from_bytes(data[offset + 2:offset + 2 + count], "big")
    return tag, offset + 2 + count, length


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (pkcs7-data or signedData), … }."""
    header = _der_header(data, 0)
    if header is None or header[0] != 0x30:
        return False
    start = header[1]
    if data[start:start + 3] != b"\x02\x01\x03":
        return False
    content_info = _der_header(data, start + 3)
    if content_info is None or content_info[0] != 0x30:
        return False
    oid = data[content_info[1]:content_info[1] + len(_OID_PKCS7_DATA)]
    return oid in (_OID_PKCS7_DATA, _OID_PKCS7_SIGNED_DATA)


def _looks_like_pkcs7(data: bytes) -> bool:
    header = _der_header(data, 0)
    return header is not None and header[0] == 0x30 and \
        data[header[1]:header[1] + len(_OID_PKCS7_SIGNED_DATA)] == _OID_PKCS7_SIGNED_DATA


def _is_der_private_key(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        return True
    except TypeError:  # encrypted PKCS#8: a password is required — still a private key
        return True
    except Exception:  # noqa: BLE001
        return False


def _try(loader, der: bytes):
    try:
        return loader(der)
    except Exception:  # noqa: BLE001
        return None


def _force_certificate(cert: x509.Certificate, label: str) -> x509.Certificate:
    """cryptography parses some fields lazily: touch them now so that a malformed certificate is refused
    at upload rather than failing later in the rules or on the certificate page."""
    try:
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.version
        _ = cert.signature_algorithm_oid, cert.tbs_certificate_bytes, cert.signature
    except Exception:  # noqa: BLE001
        raise CertificateInputError(f"{label} est illisible (champ mal formé).") from None
    try:
        for extension in cert.extensions:
            _ = extension.value
    except x509.DuplicateExtension:
        raise CertificateInputError(f"{label} contient deux fois la même extension : il est refusé.") from None
    except Exception:  # noqa: BLE001
        raise CertificateInputError(f"{label} contient une extension illisible : il est refusé.") from None
    try:
        key = cert.public_key()
    except Exception:  # noqa: BLE001
        raise CertificateInputError(f"{label} contient une clé publique illisible ou d'un type non pris en "
                                    "charge.") from None
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                            ed448.Ed448PublicKey, dsa.DSAPublicKey)):
        raise CertificateInputError(f"{label} utilise un type de clé non pris en charge.")
    return cert


def _force_csr(csr: x509.CertificateSigningRequest) -> x509.CertificateSigningRequest:
    try:
        csr.subject.rfc4514_string()
        _ = csr.signature_algorithm_oid, csr.tbs_certrequest_bytes, csr.signature
        for extension in csr.extensions:
            _ = extension.value
        for attribute in csr.attributes:
            _ = attribute.value
        csr.public_key()
    except x509.DuplicateExtension:
        raise CertificateInputError("La demande de certificat (CSR) contient deux fois la même extension : "
                                    "elle est refusée.") from None
    except Exception:  # noqa: BLE001
        raise CertificateInputError("La demande de certificat (CSR) est illisible (champ, extension ou clé "
                                    "mal formés ou non pris en charge).") from None
    return csr


def _ordinal(index: int) -> str:
    return "Le certificat" if index == 0 else f"Le certificat n°{index + 1} du fichier"


def parse_certificate_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> list[x509.Certificate]:
    """PEM (one or several ``CERTIFICATE`` blocks, the leaf first, then optional intermediates) or DER.
    Raises only ``CertificateInputError``."""
    try:
        return _parse_certificate_upload(data, max_bytes)
    except CertificateInputError:
        raise
    except Exception:  # noqa: BLE001 — defensive: never let an unexpected error out
        raise CertificateInputError("Le fichier n'a pas pu être lu comme un certificat.") from None


def _parse_certificate_upload(data, max_bytes):
    data = _check_size(data, max_bytes, "certificat")
    markers = _pem_markers(data)
    if markers:
        _refuse_private_keys(data, _pem_labels(markers))
        blocks = _pem_blocks(data, markers)
        for label, _der in blocks:
            _refuse_unexpected_block(label, expected="CERTIFICATE")
        if len(blocks) > MAX_PEM_CERTIFICATES:
            raise CertificateInputError(f"Le fichier contient {len(blocks)} certificats : au plus "
                                        f"{MAX_PEM_CERTIFICATES} sont acceptés (le certificat et sa chaîne).")
        certs = []
        for index, (_label, der) in enumerate(blocks):
            cert = _try(x509.load_der_x509_certificate, der)
            if cert is None:
                if _looks_like_pkcs12(der) or _is_der_private_key(der):  # a key mislabelled CERTIFICATE
                    raise CertificateInputError(_PRIVATE_KEY_MESSAGE)
                raise CertificateInputError(f"{_ordinal(index)} est illisible : ce n'est pas un certificat X.509 "
                                            "valide.")
            certs.append(_force_certificate(cert, _ordinal(index)))
        return certs
    # DER
    if _looks_like_pkcs12(data):
        raise CertificateInputError(_PKCS12_MESSAGE)
    cert = _try(x509.load_der_x509_certificate, data)
    if cert is not None:
        return [_force_certificate(cert, "Le certificat")]
    if _is_der_private_key(data):
        raise CertificateInputError(_PRIVATE_KEY_MESSAGE)
    if _try(x509.load_der_x509_csr, data) is not None:
        raise CertificateInputError("Le fichier est une demande de certificat (CSR), pas un certificat : déposez "
                                    "le certificat délivré par l'IGC-Santé.")
    if _try(x509.load_der_x509_crl, data) is not None:
        raise CertificateInputError("Le fichier est une liste de certificats révoqués (LCR), pas un certificat.")
    if _looks_like_pkcs7(data):
        raise CertificateInputError("Les fichiers PKCS#7 (.p7b/.p7c) ne sont pas acceptés : déposez le "
                                    "certificat au format PEM ou DER.")
    raise CertificateInputError("Le fichier n'est pas un certificat lisible : formats acceptés PEM "
                                "(« -----BEGIN CERTIFICATE----- ») ou DER.")


_LABEL_NAMES = {
    "CERTIFICATE": "un certificat",
    "CERTIFICATE REQUEST": "une demande de certificat (CSR)",
    "NEW CERTIFICATE REQUEST": "une demande de certificat (CSR)",
    "X509 CRL": "une liste de certificats révoqués (LCR)",
    "PUBLIC KEY": "une clé publique seule",
    "RSA PUBLIC KEY": "une clé publique seule",
    "PKCS7": "des données PKCS#7",
    "CMS": "des données CMS/PKCS#7",
    "TRUSTED CERTIFICATE": "un certificat au format OpenSSL « TRUSTED CERTIFICATE »",
}
_EXPECTED_NAMES = {
    "CERTIFICATE": "un certificat (« -----BEGIN CERTIFICATE----- »)",
    "CERTIFICATE REQUEST": "une demande de certificat (« -----BEGIN CERTIFICATE REQUEST----- »)",
    "X509 CRL": "une liste de certificats révoqués (« -----BEGIN X509 CRL----- »)",
}


def _refuse_unexpected_block(label: str, *, expected: str) -> None:
    normalized = "CERTIFICATE REQUEST" if label == "NEW CERTIFICATE REQUEST" else label
    if normalized == expected:
        return
    found = _LABEL_NAMES.get(label, f"un bloc « {label} »")
    raise CertificateInputError(f"Le fichier contient {found} alors que le portail attend "
                                f"{_EXPECTED_NAMES[expected]} : il est refusé.")


def parse_csr_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> x509.CertificateSigningRequest:
    """One PEM ``CERTIFICATE REQUEST`` block or a DER CSR. Raises only ``CertificateInputError``."""
    try:
        return _parse_csr_upload(data, max_bytes)
    except CertificateInputError:
        raise
    except Exception:  # noqa: BLE001
        raise CertificateInputError("Le fichier n'a pas pu être lu comme une demande de certificat (CSR).") from None


def _parse_csr_upload(data, max_bytes):
    data = _check_size(data, max_bytes, "demande de certificat (CSR)")
    markers = _pem_markers(data)
    if markers:
        _refuse_private_keys(data, _pem_labels(markers))
        blocks = _pem_blocks(data, markers)
        for label, _der in blocks:
            _refuse_unexpected_block(label, expected="CERTIFICATE REQUEST")
        if len(blocks) != 1:
            raise CertificateInputError(f"Le fichier contient {len(blocks)} demandes de certificat : déposez-en "
                                        "une seule.")
        der = blocks[0][1]
        csr = _try(x509.load_der_x509_csr, der)
        if csr is None:
            if _is_der_private_key(der):  # a key mislabelled CERTIFICATE REQUEST
                raise CertificateInputError(_PRIVATE_KEY_MESSAGE)
            raise CertificateInputError("La demande de certificat (CSR) est illisible.")
        return _force_csr(csr)
    if _looks_like_pkcs12(data):
        raise CertificateInputError(_PKCS12_MESSAGE)
    csr = _try(x509.load_der_x509_csr, data)
    if csr is not None:
        return _force_csr(csr)
    if _is_der_private_key(data):
        raise CertificateInputError(_PRIVATE_KEY_MESSAGE)
    if _try(x509.load_der_x509_certificate, data) is not None:
        raise CertificateInputError("Le fichier est un certificat, pas une demande de certificat (CSR) : "
                                    "générez une CSR sur la DRIMbox et déposez-la.")
    raise CertificateInputError("Le fichier n'est pas une demande de certificat lisible : formats acceptés PEM "
                                "(« -----BEGIN CERTIFICATE REQUEST----- ») ou DER.")


def parse_crl(data: bytes, *, max_bytes: int = MAX_CRL_BYTES) -> x509.CertificateRevocationList:
    """A CRL in PEM (``X509 CRL``) or DER. Raises only ``CertificateInputError``."""
    try:
        return _parse_crl(data, max_bytes)
    except CertificateInputError:
        raise
    except Exception:  # noqa: BLE001
        raise CertificateInputError("Le fichier n'a pas pu être lu comme une liste de certificats révoqués.") from None


def _parse_crl(data, max_bytes):
    data = _check_size(data, max_bytes, "liste de certificats révoqués (LCR)")
    markers = _pem_markers(data)
    if markers:
        _refuse_private_keys(data, _pem_labels(markers))
        blocks = _pem_blocks(data, markers)
        if len(blocks) != 1:
            raise CertificateInputError("Le fichier PEM doit contenir exactement une liste de certificats "
                                        "révoqués (« -----BEGIN X509 CRL----- »).")
        _refuse_unexpected_block(blocks[0][0], expected="X509 CRL")
        der = blocks[0][1]
    else:
        der = data
    crl = _try(x509.load_der_x509_crl, der)
    if crl is None:
        raise CertificateInputError("La liste de certificats révoqués (LCR) est illisible.")
    try:
        crl.issuer.rfc4514_string()
        _ = crl.last_update_utc, crl.next_update_utc, crl.signature_algorithm_oid, crl.tbs_certlist_bytes
        for extension in crl.extensions:
            _ = extension.value
        for entry in crl:
            _ = entry.serial_number, entry.revocation_date_utc
            for extension in entry.extensions:
                _ = extension.value
    except Exception:  # noqa: BLE001
        raise CertificateInputError("La liste de certificats révoqués (LCR) contient un champ mal formé.") from None
    return crl


# =========================================================================== signatures and chain

def _signature_ok(child_tbs: bytes, signature: bytes, algorithm_parameters, hash_algorithm, public_key) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, child_tbs, algorithm_parameters, hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, child_tbs, algorithm_parameters)
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(signature, child_tbs)
        elif isinstance(public_key, dsa.DSAPublicKey):
            public_key.verify(signature, child_tbs, hash_algorithm)
        else:
            return False
        return True
    except Exception:  # noqa: BLE001 — InvalidSignature, UnsupportedAlgorithm, TypeError (key/algorithm mismatch)…
        return False


_signature_cache: dict[tuple[bytes, bytes], bool] = {}
_SIGNATURE_CACHE_MAX = 4096


def _certificate_signed_by(child: x509.Certificate, issuer: x509.Certificate, *, cache: bool) -> bool:
    """Signature of ``child`` verified with ``issuer``'s public key. With ``cache`` (CA certificates only:
    the configured intermediate → anchor links), results are memoised by the pair of SHA-256 fingerprints,
    so those links are verified once per process; a leaf is always verified."""
    key = (child.fingerprint(hashes.SHA256()), issuer.fingerprint(hashes.SHA256())) if cache else None
    if key is not None:
        cached = _signature_cache.get(key)
        if cached is not None:
            return cached
    try:
        result = _signature_ok(child.tbs_certificate_bytes, child.signature, child.signature_algorithm_parameters,
                               child.signature_hash_algorithm, issuer.public_key())
    except Exception:  # noqa: BLE001
        result = False
    if key is not None:
        if len(_signature_cache) >= _SIGNATURE_CACHE_MAX:
            _signature_cache.clear()
        _signature_cache[key] = result
    return result


@dataclass(frozen=True)
class ChainResult:
    ok: bool
    path: tuple[x509.Certificate, ...]  # leaf … anchor when ok, else ()
    message: str

    @property
    def issuer(self) -> x509.Certificate | None:
        return self.path[1] if len(self.path) > 1 else None


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _ca_problem(ca: x509.Certificate, *, intermediates_below: int, at: dt.datetime, is_anchor: bool) -> str | None:
    """Why ``ca`` cannot issue at this position, or None. Anchors are trusted by configuration but must
    still be valid at ``at`` and respect their own path length."""
    try:
        constraints = _basic_constraints(ca)
        if not is_anchor:
            if constraints is None or not constraints.ca:
                return f"le certificat {_short(ca)} n'est pas un certificat d'autorité (basicConstraints CA:TRUE absent)"
            usage = _key_usage(ca)
            if usage is not None and not usage.key_cert_sign:
                return f"l'autorité {_short(ca)} n'a pas l'usage keyCertSign"
        if constraints is not None and constraints.path_length is not None \
                and intermediates_below > constraints.path_length:
            return (f"l'autorité {_short(ca)} limite la chaîne à {constraints.path_length} autorité(s) "
                    f"intermédiaire(s) en dessous d'elle, {intermediates_below} trouvée(s)")
        if at < ca.not_valid_before_utc:
            return f"l'autorité {_short(ca)} n'est valide qu'à partir du {_fmt_date(ca.not_valid_before_utc)}"
        if at > ca.not_valid_after_utc:
            return f"l'autorité {_short(ca)} a expiré le {_fmt_date(ca.not_valid_after_utc)}"
    except Exception:  # noqa: BLE001
        return f"le certificat d'autorité {_short(ca)} est illisible"
    return None


def _index_by_subject(certs: Iterable[x509.Certificate]) -> dict[bytes, list[x509.Certificate]]:
    index: dict[bytes, list[x509.Certificate]] = {}
    for cert in certs:
        index.setdefault(cert.subject.public_bytes(), []).append(cert)
    return index


def build_chain(leaf: x509.Certificate, *, anchors: Sequence[x509.Certificate],
                intermediates: Sequence[x509.Certificate] = (), extra_chain: Sequence[x509.Certificate] = (),
                at: dt.datetime, max_depth: int = MAX_CHAIN_DEPTH) -> ChainResult:
    """Depth-first path building with backtracking: leaf → intermediates (uploaded ``extra_chain`` and
    configured ``intermediates``) → one of ``anchors``. Anchors are tried first at every step, so a
    configured anchor is preferred to an uploaded copy of it. The leaf's own validity, key usage and
    signature hash are *not* judged here (separate rules; a SHA-1 leaf signature is still verified);
    intermediates must be signed with SHA-256 or stronger, be CAs (keyCertSign if keyUsage is present),
    respect path lengths and be valid at ``at``."""
    at = _aware(at)
    if not anchors:
        return ChainResult(False, (), "Aucune autorité de confiance IGC-Santé n'est configurée : la chaîne ne "
                                      "peut pas être vérifiée.")
    anchor_index = _index_by_subject(anchors)
    pool_index = _index_by_subject(list(extra_chain) + list(intermediates))
    problems: list[str] = []
    budget = [MAX_PATH_STEPS]  # hostile uploads of same-name CAs must not make the search explode

    def extend(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = path[-1]
        issuer_name = current.issuer.public_bytes()
        anchor_candidates = anchor_index.get(issuer_name, [])
        other_candidates = [c for c in pool_index.get(issuer_name, []) if c not in anchor_candidates]
        if not anchor_candidates and not other_candidates:
            problems.append(f"aucune autorité configurée ou fournie ne porte le nom de l'émetteur de "
                            f"{_short(current)} (« {current.issuer.rfc4514_string()} »)")
            return None
        if len(path) > 1 and current.signature_algorithm_oid not in CA_SIGNATURES:
            # the leaf's own hash is the signature_hash rule; an intermediate signed with SHA-1 (or worse)
            # could be forged by a collision, so the chain does not go through it
            problems.append(f"l'autorité intermédiaire {_short(current)} est signée avec "
                            f"{_signature_name(current.signature_algorithm_oid)} (SHA-256 ou plus fort attendu)")
            return None
        for is_anchor, candidates in ((True, anchor_candidates), (False, other_candidates)):
            for candidate in candidates:
                if candidate in path:  # loops, and a self-signed upload "issued by itself"
                    continue
                budget[0] -= 1
                if budget[0] < 0:
                    problems.append("trop de chemins possibles entre les certificats fournis")
                    return None
                if not _certificate_signed_by(current, candidate, cache=len(path) > 1):
                    problems.append(f"la signature de {_short(current)} n'est pas vérifiée par la clé de "
                                    f"l'autorité {_short(candidate)} (même nom, autre clé ?)")
                    continue
                problem = _ca_problem(candidate, intermediates_below=len(path) - 1, at=at, is_anchor=is_anchor)
                if problem:
                    problems.append(problem)
                    continue
                if is_anchor:
                    return [*path, candidate]
                if len(path) >= max_depth:
                    problems.append(f"la chaîne dépasse {max_depth} certificats")
                    continue
                found = extend([*path, candidate])
                if found:
                    return found
        return None

    try:
        path = extend([leaf])
    except Exception:  # noqa: BLE001
        path = None
        problems.append("un certificat de la chaîne est illisible")
    if path:
        names = " → ".join(_short(c) for c in path)
        return ChainResult(True, tuple(path), f"Le certificat est rattaché à une autorité de confiance "
                                              f"IGC-Santé configurée : {names}.")
    distinct = list(dict.fromkeys(problems))
    detail = " ; ".join(distinct[:3]) if distinct else "aucun chemin trouvé"
    return ChainResult(False, (), f"Le certificat n'est pas rattaché à une autorité de confiance IGC-Santé "
                                  f"configurée : {detail}.")


# =========================================================================== CRL

class CrlStatus(enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNAVAILABLE = "unavailable"
    STALE = "stale"


_REASONS_FR = {
    x509.ReasonFlags.unspecified: "non précisé",
    x509.ReasonFlags.key_compromise: "compromission de la clé (keyCompromise)",
    x509.ReasonFlags.ca_compromise: "compromission de l'autorité (cACompromise)",
    x509.ReasonFlags.affiliation_changed: "changement d'affiliation (affiliationChanged)",
    x509.ReasonFlags.superseded: "remplacé (superseded)",
    x509.ReasonFlags.cessation_of_operation: "cessation d'activité (cessationOfOperation)",
    x509.ReasonFlags.certificate_hold: "suspendu (certificateHold)",
    x509.ReasonFlags.privilege_withdrawn: "privilège retiré (privilegeWithdrawn)",
    x509.ReasonFlags.aa_compromise: "compromission de l'autorité d'attributs (aACompromise)",
    x509.ReasonFlags.remove_from_crl: "retiré de la LCR (removeFromCRL)",
}


@dataclass(frozen=True)
class CrlVerdict:
    """Enum-like: ``CrlVerdict.GOOD`` (constant), ``CrlVerdict.REVOKED(date, reason)``,
    ``CrlVerdict.UNAVAILABLE(reason)``, ``CrlVerdict.STALE(next_update)``. Compare ``.status``
    (``crl_verdict`` returns GOOD verdicts carrying the CRL's dates, which differ from the constant)."""

    status: CrlStatus
    revocation_date: dt.datetime | None = None
    reason: str | None = None  # REVOKED: reason text; UNAVAILABLE: why
    next_update: dt.datetime | None = None
    this_update: dt.datetime | None = None

    GOOD: ClassVar[CrlVerdict]

    @classmethod
    def REVOKED(cls, revocation_date: dt.datetime | None = None, reason: str | None = None) -> CrlVerdict:
        return cls(CrlStatus.REVOKED, revocation_date=revocation_date, reason=reason)

    @classmethod
    def UNAVAILABLE(cls, reason: str) -> CrlVerdict:
        return cls(CrlStatus.UNAVAILABLE, reason=reason)

    @classmethod
    def STALE(cls, next_update: dt.datetime | None, this_update: dt.datetime | None = None) -> CrlVerdict:
        return cls(CrlStatus.STALE, next_update=next_update, this_update=this_update)

    @classmethod
    def good(cls, *, this_update: dt.datetime | None = None, next_update: dt.datetime | None = None) -> CrlVerdict:
        return cls(CrlStatus.GOOD, this_update=this_update, next_update=next_update)


CrlVerdict.GOOD = CrlVerdict(CrlStatus.GOOD)


@dataclass
class _CrlFacts:
    signatures: dict  # issuer certificate SHA-256 fingerprint -> signature valid
    serials: dict | None = None  # serial -> RevokedCertificate


_crl_facts_cache: dict[int, tuple[x509.CertificateRevocationList, _CrlFacts]] = {}
_CRL_FACTS_MAX = 16


def _crl_facts(crl: x509.CertificateRevocationList) -> _CrlFacts:
    """Per-CRL-object memo: cryptography re-encodes a CRL on every ``is_signature_valid`` and does a linear
    scan per serial lookup (≈1 ms and ≈0.2 ms for 2,000 entries), so a caller that keeps its parsed CRL
    object pays them once. CRL objects are unhashable: keyed by ``id()``, with a strong reference kept so
    that the id cannot be reused while the entry lives."""
    slot = _crl_facts_cache.get(id(crl))
    if slot is not None and slot[0] is crl:
        return slot[1]
    if len(_crl_facts_cache) >= _CRL_FACTS_MAX:
        _crl_facts_cache.clear()
    facts = _CrlFacts(signatures={})
    _crl_facts_cache[id(crl)] = (crl, facts)
    return facts


def crl_verdict(cert: x509.Certificate, issuer: x509.Certificate, crl: x509.CertificateRevocationList, *,
                at: dt.datetime) -> CrlVerdict:
    """Judge ``cert`` against ``crl`` published by ``issuer``: issuer name, CRL signature (issuer's key,
    ``cRLSign`` if the issuer has a keyUsage), scope (delta and partial CRLs are not used alone), serial
    lookup, then freshness. A listed serial gives REVOKED even in a stale CRL (revocation is final); an
    unlisted one in a stale CRL gives STALE, never GOOD. Never raises."""
    try:
        at = _aware(at)
        if crl.issuer != issuer.subject:
            return CrlVerdict.UNAVAILABLE(
                f"la LCR est émise par « {crl.issuer.rfc4514_string()} » et non par l'autorité du certificat "
                f"« {issuer.subject.rfc4514_string()} »")
        if cert.issuer != issuer.subject:
            return CrlVerdict.UNAVAILABLE("l'autorité fournie n'est pas l'émetteur du certificat")
        usage = _key_usage(issuer)
        if usage is not None and not usage.crl_sign:
            return CrlVerdict.UNAVAILABLE(f"l'autorité {_short(issuer)} n'a pas l'usage cRLSign")
        facts = _crl_facts(crl)
        issuer_fingerprint = issuer.fingerprint(hashes.SHA256())
        signature_ok = facts.signatures.get(issuer_fingerprint)
        if signature_ok is None:
            signature_ok = facts.signatures[issuer_fingerprint] = crl.is_signature_valid(issuer.public_key())
        if not signature_ok:
            return CrlVerdict.UNAVAILABLE(f"la signature de la LCR n'est pas vérifiée par la clé de {_short(issuer)}")
        for extension in crl.extensions:
            if isinstance(extension.value, x509.DeltaCRLIndicator):
                return CrlVerdict.UNAVAILABLE("la LCR fournie est une LCR delta, inutilisable seule")
            if isinstance(extension.value, x509.IssuingDistributionPoint):
                idp = extension.value
                if idp.only_contains_ca_certs or idp.only_contains_attribute_certs or idp.only_some_reasons \
                        or idp.indirect_crl:
                    return CrlVerdict.UNAVAILABLE("la LCR fournie ne couvre qu'une partie des certificats "
                                                  "(périmètre partiel non pris en charge)")
            elif extension.critical:
                return CrlVerdict.UNAVAILABLE(f"la LCR contient une extension critique non prise en charge "
                                              f"({extension.oid.dotted_string})")
        this_update, next_update = crl.last_update_utc, crl.next_update_utc
        if this_update > at + dt.timedelta(minutes=5):
            return CrlVerdict.UNAVAILABLE(f"la LCR n'est publiée qu'à partir du {_fmt_date(this_update)}")
        if facts.serials is None:
            facts.serials = {entry.serial_number: entry for entry in crl}
        entry = facts.serials.get(cert.serial_number)
        if entry is not None:
            try:
                flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                flag = None
            if flag is not x509.ReasonFlags.remove_from_crl:
                reason = _REASONS_FR.get(flag, flag.value) if flag is not None else None
                return CrlVerdict.REVOKED(entry.revocation_date_utc, reason)
        if next_update is None:
            return CrlVerdict.STALE(None, this_update)
        if next_update < at:
            return CrlVerdict.STALE(next_update, this_update)
        return CrlVerdict.good(this_update=this_update, next_update=next_update)
    except Exception:  # noqa: BLE001
        return CrlVerdict.UNAVAILABLE("la LCR n'a pas pu être exploitée (contenu inattendu)")


def _revocation_rule(leaf, issuer, crl_status) -> RuleResult:
    code = "revocation"
    if issuer is None:
        return RuleResult(code, None, "Révocation non vérifiée : l'autorité émettrice n'a pas pu être établie "
                                      "(voir la chaîne). L'état de révocation est inconnu.")
    if crl_status is None:
        return RuleResult(code, None, "Révocation non vérifiée : aucune liste de certificats révoqués (LCR) "
                                      "n'est disponible. L'état de révocation est inconnu.")
    try:
        verdict = crl_status(leaf, issuer)
    except Exception:  # noqa: BLE001
        verdict = CrlVerdict.UNAVAILABLE("erreur lors de la consultation de la LCR")
    status = getattr(verdict, "status", None)
    if status is CrlStatus.GOOD:
        detail = ""
        if verdict.this_update or verdict.next_update:
            detail = (f" (LCR publiée le {_fmt_date(verdict.this_update)}, prochaine mise à jour le "
                      f"{_fmt_date(verdict.next_update)})")
        return RuleResult(code, True, f"Le certificat ne figure pas dans la LCR à jour de l'autorité "
                                      f"{_short(issuer)}{detail}.")
    if status is CrlStatus.REVOKED:
        reason = f", motif : {verdict.reason}" if verdict.reason else ""
        when = f" le {_fmt_date(verdict.revocation_date)}" if verdict.revocation_date else ""
        return RuleResult(code, False, f"Le certificat est révoqué{when}{reason} (LCR de l'autorité {_short(issuer)}).")
    if status is CrlStatus.STALE:
        when = (f"sa prochaine mise à jour était prévue le {_fmt_date(verdict.next_update)}"
                if verdict.next_update else "elle n'indique pas de prochaine mise à jour")
        return RuleResult(code, None, f"Révocation non vérifiée : la LCR disponible est périmée ({when}). "
                                      "L'état de révocation est inconnu.")
    if status is CrlStatus.UNAVAILABLE:
        return RuleResult(code, None, f"Révocation non vérifiée : LCR indisponible ({verdict.reason}). L'état de "
                                      "révocation est inconnu.")
    return RuleResult(code, None, "Révocation non vérifiée : réponse inattendue du service des LCR. L'état de "
                                  "révocation est inconnu.")


# =========================================================================== individual rules

def _subject_values(name: x509.Name, oid) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _san_names(extensions: x509.Extensions) -> tuple[list[str], list[str]]:
    """(DNS names, other names as text) of a SAN extension, ([], []) if absent."""
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns, others = [], []
    for general_name in san:
        if isinstance(general_name, x509.DNSName):
            dns.append(general_name.value)
        else:
            others.append(_general_name_text(general_name))
    return dns, others


def _general_name_text(general_name) -> str:
    prefixes = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.RFC822Name: "email",
                x509.UniformResourceIdentifier: "URI", x509.DirectoryName: "DirName",
                x509.RegisteredID: "RID", x509.OtherName: "othername"}
    prefix = prefixes.get(type(general_name), type(general_name).__name__)
    value = general_name.value
    if isinstance(value, x509.Name):
        value = value.rfc4514_string()
    elif isinstance(value, x509.ObjectIdentifier):
        value = value.dotted_string
    elif isinstance(value, bytes):
        value = value.hex()
    return f"{prefix}:{value}"


def _validity_rule(cert: x509.Certificate, at: dt.datetime) -> RuleResult:
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    window = f"valide du {_fmt_date(nb)} au {_fmt_date(na)}"
    if at < nb:
        return RuleResult("validity", False, f"Le certificat n'est pas encore valide : il l'est à partir du "
                                             f"{_fmt_date(nb)} ({window}).")
    if at > na:
        return RuleResult("validity", False, f"Le certificat a expiré le {_fmt_date(na)} ({window}).")
    days = (na - at).days
    return RuleResult("validity", True, f"Le certificat est en cours de validité ({window}, encore {days} jour(s)).")


def _signature_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


def _sha256_rule(signature_oid: x509.ObjectIdentifier, code: str = "signature_hash",
                 what: str = "Le certificat") -> RuleResult:
    """The hash only: the key type is judged by its own rule (public_key / chain)."""
    name = _signature_name(signature_oid)
    accepted = SHA256_SIGNATURES
    expected = " ou ".join(accepted.values())
    if signature_oid in accepted:
        return RuleResult(code, True, f"{what} est signé en SHA-256 ({name}).")
    if signature_oid in SHA1_SIGNATURES:
        return RuleResult(code, False, f"{what} est signé en SHA-1 ({name}) : SHA-1 n'est plus sûr et est refusé ; "
                                       f"signature attendue : {expected}.")
    return RuleResult(code, False, f"Algorithme de signature {name} non accepté : signature attendue : {expected}.")


_KU_NAMES = (("digital_signature", "digitalSignature"), ("content_commitment", "nonRepudiation"),
             ("key_encipherment", "keyEncipherment"), ("data_encipherment", "dataEncipherment"),
             ("key_agreement", "keyAgreement"), ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign"))


def _key_usage_names(usage: x509.KeyUsage) -> list[str]:
    names = [label for attribute, label in _KU_NAMES if getattr(usage, attribute)]
    if usage.key_agreement:
        names += [label for attribute, label in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
                  if getattr(usage, attribute)]
    return names


_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _eku_names(cert_or_extensions) -> list[str] | None:
    extensions = getattr(cert_or_extensions, "extensions", cert_or_extensions)
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]


def _db_key_usage_rule(cert: x509.Certificate) -> RuleResult:
    code = "key_usage"
    problems = []
    constraints = _basic_constraints(cert)
    if constraints is not None and constraints.ca:
        problems.append("c'est un certificat d'autorité (basicConstraints CA:TRUE), pas un certificat serveur")
    usage = _key_usage(cert)
    usage_names = _key_usage_names(usage) if usage is not None else []
    if usage is None:
        problems.append("l'extension keyUsage est absente (attendu : digitalSignature)")
    else:
        if not usage.digital_signature:
            problems.append(f"keyUsage ne contient pas digitalSignature (valeur : {', '.join(usage_names) or 'vide'})")
        forbidden = [n for n in ("keyCertSign", "cRLSign") if n in usage_names]
        if forbidden:
            problems.append(f"keyUsage contient {', '.join(forbidden)}, réservé(s) aux autorités")
        if usage.key_encipherment and not isinstance(cert.public_key(), rsa.RSAPublicKey):
            problems.append("keyUsage contient keyEncipherment, qui n'a de sens que pour une clé RSA")
    eku = _eku_names(cert)
    if eku is None:
        problems.append("l'extension extendedKeyUsage est absente (attendu : serverAuth et clientAuth)")
    else:
        missing = [n for n in ("serverAuth", "clientAuth") if n not in eku]
        if missing:
            problems.append(f"extendedKeyUsage ne contient pas {' ni '.join(missing)} (attendu : serverAuth et "
                            f"clientAuth ; valeur : {', '.join(eku) or 'vide'})")
    if problems:
        return RuleResult(code, False, "Usages de la clé inadaptés à l'authentification TLS serveur et client : "
                                       + " ; ".join(problems) + ".")
    return RuleResult(code, True, f"Usages adaptés à TLS serveur et client (keyUsage : {', '.join(usage_names)} ; "
                                  f"extendedKeyUsage : {', '.join(eku)}).")


def _safe_rule(code: str, function: Callable[[], RuleResult]) -> RuleResult:
    try:
        return function()
    except Exception:  # noqa: BLE001
        return RuleResult(code, None, "Cette règle n'a pas pu être évaluée : le certificat contient une donnée "
                                      "inattendue.")


# =========================================================================== db certificate

def check_db_certificate(leaf: x509.Certificate, *, extra_chain: Sequence[x509.Certificate] = (),
                         anchors: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate] = (),
                         expected_cn: str, expected_ou: str, at: dt.datetime,
                         crl_status: Callable[[x509.Certificate, x509.Certificate], CrlVerdict] | None = None,
                         ) -> list[RuleResult]:
    """Every DESIGN §6 rule for an IGC-Santé ``db`` certificate, in a fixed order:
    chain, cn, ou, validity, signature_hash, key_usage, revocation. Each rule judges one thing, so a
    certificate with a single defect fails a single rule (revocation is ``None`` when the chain fails,
    since the issuer is unknown)."""
    at = _aware(at)
    chain = build_chain(leaf, anchors=anchors, intermediates=intermediates, extra_chain=extra_chain, at=at)
    results = [RuleResult("chain", chain.ok, chain.message)]
    results.append(_safe_rule("cn", lambda: _db_cn_rule(leaf, expected_cn)))
    results.append(_safe_rule("ou", lambda: _db_ou_rule(leaf, expected_ou)))
    results.append(_safe_rule("validity", lambda: _validity_rule(leaf, at)))
    results.append(_safe_rule("signature_hash", lambda: _sha256_rule(leaf.signature_algorithm_oid)))
    results.append(_safe_rule("key_usage", lambda: _db_key_usage_rule(leaf)))
    results.append(_safe_rule("revocation", lambda: _revocation_rule(leaf, chain.issuer, crl_status)))
    return results


def _db_cn_rule(cert: x509.Certificate, expected: str) -> RuleResult:
    cns = _subject_values(cert.subject, NameOID.COMMON_NAME)
    if len(cns) != 1:
        return RuleResult("cn", False, f"Le sujet doit contenir exactement un CN égal à « {expected} » ; "
                                       f"CN trouvés : {_list_fr(cns)}.")
    cn = cns[0]
    if cn != expected:
        hint = " (seule la casse diffère)" if cn.lower() == expected.lower() else ""
        return RuleResult("cn", False, f"Le CN du certificat est « {cn} » alors que le FQDN db de la DRIMbox est "
                                       f"« {expected} »{hint}.")
    dns, _others = _san_names(cert.extensions)
    if dns and expected.lower() not in [d.lower() for d in dns]:
        return RuleResult("cn", False, f"Le CN est bien « {cn} », mais l'extension subjectAltName ne contient pas "
                                       f"ce nom (noms : {_list_fr(dns)}) : les clients TLS refuseraient la "
                                       "connexion.")
    return RuleResult("cn", True, f"Le CN est le FQDN db de la DRIMbox : « {cn} ».")


def _db_ou_rule(cert: x509.Certificate, expected: str) -> RuleResult:
    ous = _subject_values(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if expected in ous:
        others = [o for o in ous if o != expected]
        extra = f" (autres OU : {_list_fr(others)})" if others else ""
        return RuleResult("ou", True, f"L'OU du certificat contient l'idNat_Struct de l'opérateur : "
                                      f"« {expected} »{extra}.")
    return RuleResult("ou", False, f"L'OU du certificat devrait contenir l'idNat_Struct de l'opérateur "
                                   f"« {expected} » ; OU trouvé(s) : {_list_fr(ous)}.")


# =========================================================================== vi CSR and certificate

def _is_wildcard(name: str) -> bool:
    return "*" in name


def _names_rules(cn_values: list[str], dns: list[str], others: list[str], expected_fqdn: str, what: str,
                 ) -> list[RuleResult]:
    results = []
    problems = []
    if len(dns) != 1:
        problems.append(f"l'extension subjectAltName doit contenir exactement un nom DNS ; noms trouvés : "
                        f"{_list_fr(dns)}")
    if others:
        problems.append(f"l'extension subjectAltName contient d'autres types de noms : {_list_fr(others)}")
    if len(cn_values) > 1:
        problems.append(f"le sujet contient plusieurs CN : {_list_fr(cn_values)}")
    elif cn_values and len(dns) == 1 and cn_values[0].lower() != dns[0].lower():
        problems.append(f"le CN « {cn_values[0]} » diffère du nom DNS « {dns[0]} »")
    if problems:
        results.append(RuleResult("names", False, f"{what} doit porter un seul nom : " + " ; ".join(problems) + "."))
    else:
        cn_note = " (CN identique)" if cn_values else " (pas de CN)"
        results.append(RuleResult("names", True, f"{what} porte un seul nom DNS : « {dns[0]} »{cn_note}."))
    all_names = list(dict.fromkeys(dns + cn_values))
    wrong = [n for n in all_names if n.lower() != expected_fqdn.lower()]
    if not all_names:
        results.append(RuleResult("fqdn", False, f"{what} ne porte aucun nom ; attendu : « {expected_fqdn} »."))
    elif wrong:
        results.append(RuleResult("fqdn", False, f"{what} porte {_list_fr(wrong)} alors que le FQDN vi de la "
                                                 f"DRIMbox est « {expected_fqdn} »."))
    else:
        results.append(RuleResult("fqdn", True, f"Le nom est le FQDN vi de la DRIMbox : « {expected_fqdn} »."))
    wildcards = [n for n in all_names if _is_wildcard(n)]
    if wildcards:
        results.append(RuleResult("wildcard", False, f"Les noms génériques (wildcard) sont refusés : "
                                                     f"{_list_fr(wildcards)}."))
    else:
        results.append(RuleResult("wildcard", True, "Aucun nom générique (wildcard)."))
    return results


def _public_key_rule(key, *, allow_ecdsa: bool) -> RuleResult:
    code = "public_key"
    if isinstance(key, rsa.RSAPublicKey):
        size = key.key_size
        if size < VI_RSA_MIN_BITS:
            return RuleResult(code, False, f"La clé RSA fait {size} bits : {VI_RSA_MIN_BITS} bits au minimum sont "
                                           "exigés.")
        if size > VI_RSA_MAX_BITS:
            return RuleResult(code, False, f"La clé RSA fait {size} bits : l'autorité de certification n'accepte "
                                           f"pas plus de {VI_RSA_MAX_BITS} bits.")
        if key.public_numbers().e != 65537:
            return RuleResult(code, False, f"La clé RSA utilise l'exposant public {key.public_numbers().e} : "
                                           "65537 est attendu.")
        return RuleResult(code, True, f"Clé RSA de {size} bits.")
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384"}.get(key.curve.name)
        if not allow_ecdsa:
            return RuleResult(code, False, f"La clé est une clé ECDSA ({curve or key.curve.name}) : une clé RSA "
                                           f"d'au moins {VI_RSA_MIN_BITS} bits est exigée.")
        if curve is None:
            return RuleResult(code, False, f"Courbe elliptique {key.curve.name} refusée : P-256 ou P-384 attendue.")
        return RuleResult(code, True, f"Clé ECDSA {curve}.")
    kind = type(key).__name__.replace("PublicKey", "").lstrip("_")
    return RuleResult(code, False, f"Type de clé {kind} refusé : une clé RSA d'au moins {VI_RSA_MIN_BITS} bits "
                                   "est exigée.")


def _csr_signature_rule(csr: x509.CertificateSigningRequest) -> RuleResult:
    # ``csr.is_signature_valid`` answers False for SHA-1 CSRs even when the signature is right; verify by
    # hand so that a SHA-1 CSR fails the hash rule only.
    try:
        ok = _signature_ok(csr.tbs_certrequest_bytes, csr.signature, csr.signature_algorithm_parameters,
                           csr.signature_hash_algorithm, csr.public_key())
    except Exception:  # noqa: BLE001
        ok = False
    if ok:
        return RuleResult("csr_signature", True, "La signature de la demande par sa propre clé est valide.")
    return RuleResult("csr_signature", False, "La signature de la demande (CSR) par sa propre clé est invalide : "
                                              "la demande a été altérée ou mal générée.")


def check_vi_csr(csr: x509.CertificateSigningRequest, *, expected_fqdn: str,
                 allow_ecdsa: bool = VI_ALLOW_ECDSA) -> list[RuleResult]:
    """Rules for a ``vi`` CSR: csr_signature, names (exactly one DNS name in the SAN, the CN if present equal
    to it, no other name type), fqdn (= ``expected_fqdn``), wildcard, public_key, signature_hash.

    Key policy: RSA 2048–4096 bits, exponent 65537 (DESIGN §6 says "RSA with SHA-256 signature", the issue
    says "RSA ≥ 2048"; 4096 is Let's Encrypt's maximum). ECDSA is refused by default; ``allow_ecdsa=True``
    accepts P-256/P-384 with ecdsa-with-SHA256 should ANS relax the policy."""
    results = [_safe_rule("csr_signature", lambda: _csr_signature_rule(csr))]
    try:
        cn_values = _subject_values(csr.subject, NameOID.COMMON_NAME)
        dns, others = _san_names(csr.extensions)
        results += _names_rules(cn_values, dns, others, expected_fqdn, "La demande")
    except Exception:  # noqa: BLE001
        results += [RuleResult(code, None, "Les noms de la demande n'ont pas pu être lus.")
                    for code in ("names", "fqdn", "wildcard")]
    results.append(_safe_rule("public_key", lambda: _public_key_rule(csr.public_key(), allow_ecdsa=allow_ecdsa)))
    results.append(_safe_rule("signature_hash", lambda: _sha256_rule(csr.signature_algorithm_oid,
                                                                      what="La demande")))
    return results


def check_vi_certificate(leaf: x509.Certificate, *, expected_fqdn: str, at: dt.datetime,
                         allow_ecdsa: bool = VI_ALLOW_ECDSA) -> list[RuleResult]:
    """Rules for a market ``vi`` certificate: names, fqdn, wildcard, public_key, signature_hash (the CA's
    signature: sha256WithRSAEncryption or ecdsa-with-SHA256), key_usage (serverAuth), validity. A missing
    CN is accepted (Let's Encrypt's newer profiles omit it); when present it must equal the SAN."""
    at = _aware(at)
    results = []
    try:
        cn_values = _subject_values(leaf.subject, NameOID.COMMON_NAME)
        dns, others = _san_names(leaf.extensions)
        results += _names_rules(cn_values, dns, others, expected_fqdn, "Le certificat")
    except Exception:  # noqa: BLE001
        results += [RuleResult(code, None, "Les noms du certificat n'ont pas pu être lus.")
                    for code in ("names", "fqdn", "wildcard")]
    results.append(_safe_rule("public_key", lambda: _public_key_rule(leaf.public_key(), allow_ecdsa=allow_ecdsa)))
    results.append(_safe_rule("signature_hash", lambda: _sha256_rule(leaf.signature_algorithm_oid)))
    results.append(_safe_rule("key_usage", lambda: _vi_key_usage_rule(leaf)))
    results.append(_safe_rule("validity", lambda: _validity_rule(leaf, at)))
    return results


def _vi_key_usage_rule(cert: x509.Certificate) -> RuleResult:
    eku = _eku_names(cert)
    if eku is None or "serverAuth" not in eku:
        return RuleResult("key_usage", False, f"extendedKeyUsage doit contenir serverAuth ; valeur : "
                                              f"{', '.join(eku) if eku else 'absente'}.")
    constraints = _basic_constraints(cert)
    if constraints is not None and constraints.ca:
        return RuleResult("key_usage", False, "C'est un certificat d'autorité (CA:TRUE), pas un certificat serveur.")
    return RuleResult("key_usage", True, f"Usage TLS serveur (extendedKeyUsage : {', '.join(eku)}).")


# =========================================================================== description

def _key_description(key) -> tuple[str, int | None, str]:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, f"RSA {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(key.curve.name, key.curve.name)
        return "ECDSA", key.key_size, f"ECDSA {curve}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, f"DSA {key.key_size} bits"
    return type(key).__name__, None, type(key).__name__


def _extension_text(value) -> str:
    if isinstance(value, x509.BasicConstraints):
        text = "CA:TRUE" if value.ca else "CA:FALSE"
        return text + (f", pathlen:{value.path_length}" if value.path_length is not None else "")
    if isinstance(value, x509.KeyUsage):
        return ", ".join(_key_usage_names(value))
    if isinstance(value, x509.ExtendedKeyUsage):
        return ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in value)
    if isinstance(value, x509.SubjectAlternativeName | x509.IssuerAlternativeName):
        return ", ".join(_general_name_text(n) for n in value)
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest.hex(":").upper()
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return f"keyid:{value.key_identifier.hex(':').upper()}" if value.key_identifier else "(sans keyid)"
    if isinstance(value, x509.CRLDistributionPoints | x509.FreshestCRL):
        return ", ".join(_distribution_point_urls(value)) or "(aucune URL)"
    if isinstance(value, x509.AuthorityInformationAccess):
        labels = {x509.oid.AuthorityInformationAccessOID.OCSP: "OCSP",
                  x509.oid.AuthorityInformationAccessOID.CA_ISSUERS: "caIssuers"}
        return ", ".join(f"{labels.get(d.access_method, d.access_method.dotted_string)}: "
                         f"{_general_name_text(d.access_location).split(':', 1)[1]}" for d in value)
    if isinstance(value, x509.CertificatePolicies):
        return ", ".join(p.policy_identifier.dotted_string for p in value)
    if type(value).__name__ == "PrivateKeyUsagePeriod":  # cryptography ≥ 45
        return f"du {_fmt_date(value.not_before)} au {_fmt_date(value.not_after)}"
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value[:32].hex() + ("…" if len(value.value) > 32 else "")
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _distribution_point_urls(points) -> list[str]:
    urls = []
    for point in points:
        for general_name in point.full_name or ():
            if isinstance(general_name, x509.UniformResourceIdentifier):
                urls.append(general_name.value)
    return urls


def describe_certificate(cert: x509.Certificate) -> dict:
    """What the certificate page shows. ``subject`` is the RFC 4514 string the whitelist uses (DESIGN §4)."""
    key_type, key_size, key_text = _key_description(cert.public_key())
    extensions, sans, crl_urls = [], [], []
    try:
        for extension in cert.extensions:
            name = _signature_name(extension.oid)
            try:
                text = _extension_text(extension.value)
            except Exception:  # noqa: BLE001
                text = "(valeur illisible)"
            extensions.append({"oid": extension.oid.dotted_string, "name": name, "critical": extension.critical,
                               "value": text})
            if isinstance(extension.value, x509.SubjectAlternativeName):
                sans = [_general_name_text(n).split(":", 1)[1] if isinstance(n, x509.DNSName)
                        else _general_name_text(n) for n in extension.value]
            if isinstance(extension.value, x509.CRLDistributionPoints):
                crl_urls = _distribution_point_urls(extension.value)
    except Exception:  # noqa: BLE001
        extensions.append({"oid": "", "name": "(extensions illisibles)", "critical": False, "value": ""})
    try:
        constraints = _basic_constraints(cert)
    except Exception:  # noqa: BLE001 — a malformed extension is described as such above
        constraints = None
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "common_name": (_subject_values(cert.subject, NameOID.COMMON_NAME) or [None])[0],
        "organizational_units": _subject_values(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "fingerprint_sha256": fingerprint(cert, hashes.SHA256()),
        "fingerprint_sha1": fingerprint(cert, hashes.SHA1()),
        "key_type": key_type,
        "key_size": key_size,
        "key": key_text,
        "signature_algorithm": _signature_name(cert.signature_algorithm_oid),
        "is_ca": bool(constraints and constraints.ca),
        "self_signed": cert.subject == cert.issuer,
        "extensions": extensions,
        "san": sans,
        "crl_urls": crl_urls,
    }

"""Reading what people upload: PEM or DER, certificates and CSRs (CRLs share the PEM reader, see ``crl``).

Every parser raises only ``CertificateInputError``, whatever the bytes. Private keys (PEM ``… PRIVATE KEY``
blocks, DER private keys, PKCS#12 blobs) are refused and nothing is kept from them.
"""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from .common import MAX_PEM_BLOCKS, MAX_PEM_CERTIFICATES, MAX_UPLOAD_BYTES, CertificateInputError, fmt_size

Parsed = TypeVar("Parsed")

_BEGIN_RE = re.compile(rb"-----BEGIN ([^\r\n-]{1,80})-----")
PRIVATE_KEY_MESSAGE = (
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


# =========================================================================== shared guards

def only_input_errors(parse: Callable[[bytes, int], Parsed], data: bytes, max_bytes: int,
                      unreadable: str) -> Parsed:
    """Run a parser so that nothing but ``CertificateInputError`` gets out (``unreadable`` otherwise)."""
    try:
        return parse(data, max_bytes)
    except CertificateInputError:
        raise
    except Exception:  # noqa: BLE001 — defensive: never let an unexpected error out
        raise CertificateInputError(unreadable) from None


def check_size(data: object, max_bytes: int, what: str) -> bytes:
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise CertificateInputError(f"Le {what} doit être transmis sous forme de fichier.")
    if not data.strip():
        raise CertificateInputError(f"Le fichier est vide : aucun {what} n'a été reçu.")
    if len(data) > max_bytes:
        raise CertificateInputError(
            f"Le fichier est trop volumineux ({fmt_size(len(data))}) : la taille maximale d'un {what} "
            f"est de {fmt_size(max_bytes)}.")
    return data


def readable(touch: Callable[[], Parsed], message: str) -> Parsed:
    """cryptography parses some fields lazily: ``touch`` reads them now, so that a malformed object is refused
    at upload (with ``message``) rather than failing later in the rules or on a page."""
    try:
        return touch()
    except Exception:  # noqa: BLE001
        raise CertificateInputError(message) from None


def loaded(loader: Callable[[bytes], Parsed], der: bytes) -> Parsed | None:
    """``loader(der)``, or None when the bytes are not that kind of object."""
    try:
        return loader(der)
    except Exception:  # noqa: BLE001
        return None


# =========================================================================== PEM

def pem_blocks(data: bytes, *, expected: str | None) -> list[tuple[str, bytes]] | None:
    """(label, DER) of each PEM block of ``data``, or None when it holds no PEM block (DER then). A private key
    block anywhere refuses the whole file; so does a block of another kind than ``expected`` (None: the caller
    checks the labels itself)."""
    markers = list(_BEGIN_RE.finditer(data))
    if not markers:
        return None
    labels = [m.group(1).decode("ascii", "replace").strip() for m in markers]
    _refuse_private_key_labels(labels)  # even among too many blocks, a private key is named as such
    if len(markers) > MAX_PEM_BLOCKS:
        raise CertificateInputError(f"Le fichier contient {len(markers)} blocs PEM : au plus {MAX_PEM_BLOCKS} "
                                    "sont acceptés.")
    blocks = _split_blocks(data, markers)
    if expected is not None:
        for label, _der in blocks:
            refuse_unexpected_block(label, expected=expected)
    return blocks


def _refuse_private_key_labels(labels: list[str]) -> None:
    if any("PRIVATE KEY" in label.upper() for label in labels):
        raise CertificateInputError(PRIVATE_KEY_MESSAGE)
    if any("PKCS12" in label.upper() or "PFX" in label.upper() for label in labels):
        raise CertificateInputError(_PKCS12_MESSAGE)


def _split_blocks(data: bytes, markers: list[re.Match[bytes]]) -> list[tuple[str, bytes]]:
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


def refuse_unexpected_block(label: str, *, expected: str) -> None:
    normalized = "CERTIFICATE REQUEST" if label == "NEW CERTIFICATE REQUEST" else label
    if normalized == expected:
        return
    found = _LABEL_NAMES.get(label, f"un bloc « {label} »")
    raise CertificateInputError(f"Le fichier contient {found} alors que le portail attend "
                                f"{_EXPECTED_NAMES[expected]} : il est refusé.")


# =========================================================================== DER sniffing

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


def refuse_pkcs12(data: bytes) -> None:
    """A whole DER file that is a PKCS#12 container is refused before anything else is tried."""
    if _looks_like_pkcs12(data):
        raise CertificateInputError(_PKCS12_MESSAGE)


def refuse_private_key(der: bytes) -> None:
    """DER that is a private key (or a PKCS#12 container of one), however it was labelled, is refused."""
    if _looks_like_pkcs12(der) or _is_der_private_key(der):
        raise CertificateInputError(PRIVATE_KEY_MESSAGE)


# =========================================================================== certificates

def _ordinal(index: int) -> str:
    return "Le certificat" if index == 0 else f"Le certificat n°{index + 1} du fichier"


def _force_certificate(cert: x509.Certificate, label: str) -> x509.Certificate:
    def fields() -> object:
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        return (cert.serial_number, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.version,
                cert.signature_algorithm_oid, cert.tbs_certificate_bytes, cert.signature)

    readable(fields, f"{label} est illisible (champ mal formé).")
    try:
        for extension in cert.extensions:
            _ = extension.value
    except x509.DuplicateExtension:
        raise CertificateInputError(f"{label} contient deux fois la même extension : il est refusé.") from None
    except Exception:  # noqa: BLE001
        raise CertificateInputError(f"{label} contient une extension illisible : il est refusé.") from None
    key = readable(cert.public_key, f"{label} contient une clé publique illisible ou d'un type non pris en "
                                    "charge.")
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                      | ed448.Ed448PublicKey | dsa.DSAPublicKey):
        raise CertificateInputError(f"{label} utilise un type de clé non pris en charge.")
    return cert


def parse_certificate_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> list[x509.Certificate]:
    """PEM (one or several ``CERTIFICATE`` blocks, the leaf first, then optional intermediates) or DER.
    Raises only ``CertificateInputError``."""
    return only_input_errors(_parse_certificate_upload, data, max_bytes,
                             "Le fichier n'a pas pu être lu comme un certificat.")


def _parse_certificate_upload(data: bytes, max_bytes: int) -> list[x509.Certificate]:
    data = check_size(data, max_bytes, "certificat")
    blocks = pem_blocks(data, expected="CERTIFICATE")
    if blocks is not None:
        if len(blocks) > MAX_PEM_CERTIFICATES:
            raise CertificateInputError(f"Le fichier contient {len(blocks)} certificats : au plus "
                                        f"{MAX_PEM_CERTIFICATES} sont acceptés (le certificat et sa chaîne).")
        certs = []
        for index, (_label, der) in enumerate(blocks):
            cert = loaded(x509.load_der_x509_certificate, der)
            if cert is None:
                refuse_private_key(der)  # a key mislabelled CERTIFICATE
                raise CertificateInputError(f"{_ordinal(index)} est illisible : ce n'est pas un certificat X.509 "
                                            "valide.")
            certs.append(_force_certificate(cert, _ordinal(index)))
        return certs
    refuse_pkcs12(data)
    cert = loaded(x509.load_der_x509_certificate, data)
    if cert is not None:
        return [_force_certificate(cert, "Le certificat")]
    refuse_private_key(data)
    if loaded(x509.load_der_x509_csr, data) is not None:
        raise CertificateInputError("Le fichier est une demande de certificat (CSR), pas un certificat : déposez "
                                    "le certificat délivré par l'IGC-Santé.")
    if loaded(x509.load_der_x509_crl, data) is not None:
        raise CertificateInputError("Le fichier est une liste de certificats révoqués (LCR), pas un certificat.")
    if _looks_like_pkcs7(data):
        raise CertificateInputError("Les fichiers PKCS#7 (.p7b/.p7c) ne sont pas acceptés : déposez le "
                                    "certificat au format PEM ou DER.")
    raise CertificateInputError("Le fichier n'est pas un certificat lisible : formats acceptés PEM "
                                "(« -----BEGIN CERTIFICATE----- ») ou DER.")


# =========================================================================== CSRs

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


def parse_csr_upload(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> x509.CertificateSigningRequest:
    """One PEM ``CERTIFICATE REQUEST`` block or a DER CSR. Raises only ``CertificateInputError``."""
    return only_input_errors(_parse_csr_upload, data, max_bytes,
                             "Le fichier n'a pas pu être lu comme une demande de certificat (CSR).")


def _parse_csr_upload(data: bytes, max_bytes: int) -> x509.CertificateSigningRequest:
    data = check_size(data, max_bytes, "demande de certificat (CSR)")
    blocks = pem_blocks(data, expected="CERTIFICATE REQUEST")
    if blocks is not None:
        if len(blocks) != 1:
            raise CertificateInputError(f"Le fichier contient {len(blocks)} demandes de certificat : déposez-en "
                                        "une seule.")
        der = blocks[0][1]
        csr = loaded(x509.load_der_x509_csr, der)
        if csr is None:
            refuse_private_key(der)  # a key mislabelled CERTIFICATE REQUEST
            raise CertificateInputError("La demande de certificat (CSR) est illisible.")
        return _force_csr(csr)
    refuse_pkcs12(data)
    csr = loaded(x509.load_der_x509_csr, data)
    if csr is not None:
        return _force_csr(csr)
    refuse_private_key(data)
    if loaded(x509.load_der_x509_certificate, data) is not None:
        raise CertificateInputError("Le fichier est un certificat, pas une demande de certificat (CSR) : "
                                    "générez une CSR sur la DRIMbox et déposez-la.")
    raise CertificateInputError("Le fichier n'est pas une demande de certificat lisible : formats acceptés PEM "
                                "(« -----BEGIN CERTIFICATE REQUEST----- ») ou DER.")

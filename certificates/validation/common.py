"""What every part of the validation shares: limits, the error and result types, French formatting, and the
small readers of certificate fields (extensions, names) that never raise on an absent extension."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")  # every time shown to a person is in Paris time (the portal's TIME_ZONE)
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
    "validation_level": "Niveau de validation (DV ou OV)",
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


# =========================================================================== formatting

def fmt_date(value: dt.datetime | None) -> str:
    if value is None:
        return "date inconnue"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M:%S (heure de Paris)")


def fmt_size(n: int) -> str:
    return f"{n / 1_000_000:g} Mo" if n >= 1_000_000 else f"{n / 1000:g} ko"


def aware(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError("at must be a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fingerprint(cert: x509.Certificate, algorithm: hashes.HashAlgorithm | None = None) -> str:
    """Uppercase hex, colon-separated (``AB:CD:…``); SHA-256 by default."""
    return cert.fingerprint(algorithm or hashes.SHA256()).hex(":").upper()


def short(cert: x509.Certificate) -> str:
    """The CN if any, else the RFC 4514 subject, for messages."""
    try:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if cns:
            return f"« {cns[0].value!s} »"
        return f"« {cert.subject.rfc4514_string()} »"
    except Exception:  # noqa: BLE001
        return "« (nom illisible) »"


def list_fr(values: Iterable[str]) -> str:
    quoted = [f"« {v} »" for v in values]
    return ", ".join(quoted) if quoted else "aucun"


def signature_name(oid: x509.ObjectIdentifier) -> str:
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


# =========================================================================== reading fields

ExtensionT = TypeVar("ExtensionT", bound=x509.ExtensionType)


def extension_value(extensions: x509.Extensions, kind: type[ExtensionT]) -> ExtensionT | None:
    """The value of the extension of type ``kind``, or None when absent."""
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    return extension_value(cert.extensions, x509.BasicConstraints)


def key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    return extension_value(cert.extensions, x509.KeyUsage)


_KU_NAMES = (("digital_signature", "digitalSignature"), ("content_commitment", "nonRepudiation"),
             ("key_encipherment", "keyEncipherment"), ("data_encipherment", "dataEncipherment"),
             ("key_agreement", "keyAgreement"), ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign"))


def key_usage_names(usage: x509.KeyUsage) -> list[str]:
    names = [label for attribute, label in _KU_NAMES if getattr(usage, attribute)]
    if usage.key_agreement:
        names += [label for attribute, label in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
                  if getattr(usage, attribute)]
    return names


EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def eku_names(cert: x509.Certificate) -> list[str] | None:
    eku = extension_value(cert.extensions, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    return [EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]


def subject_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def general_name_text(general_name: x509.GeneralName) -> str:
    prefixes: dict[type, str] = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.RFC822Name: "email",
                                 x509.UniformResourceIdentifier: "URI", x509.DirectoryName: "DirName",
                                 x509.RegisteredID: "RID", x509.OtherName: "othername"}
    prefix = prefixes.get(type(general_name), type(general_name).__name__)
    value: object = general_name.value
    if isinstance(value, x509.Name):
        value = value.rfc4514_string()
    elif isinstance(value, x509.ObjectIdentifier):
        value = value.dotted_string
    elif isinstance(value, bytes):
        value = value.hex()
    return f"{prefix}:{value}"


def san_names(extensions: x509.Extensions) -> tuple[list[str], list[str]]:
    """(DNS names, other names as text) of a SAN extension, ([], []) if absent."""
    san = extension_value(extensions, x509.SubjectAlternativeName)
    dns: list[str] = []
    others: list[str] = []
    for general_name in san or ():
        if isinstance(general_name, x509.DNSName):
            dns.append(general_name.value)
        else:
            others.append(general_name_text(general_name))
    return dns, others


def distribution_point_urls(points: Iterable[x509.DistributionPoint]) -> list[str]:
    urls = []
    for point in points:
        for general_name in point.full_name or ():
            if isinstance(general_name, x509.UniformResourceIdentifier):
                urls.append(general_name.value)
    return urls

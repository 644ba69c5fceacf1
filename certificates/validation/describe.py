"""What the certificate pages and the API show of a certificate."""
from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from .common import (
    EKU_NAMES,
    basic_constraints,
    distribution_point_urls,
    fingerprint,
    fmt_date,
    general_name_text,
    key_usage_names,
    signature_name,
    subject_values,
)


def _key_description(key: PublicKeyTypes) -> tuple[str, int | None, str]:
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


def _extension_text(value: x509.ExtensionType) -> str:
    if isinstance(value, x509.BasicConstraints):
        text = "CA:TRUE" if value.ca else "CA:FALSE"
        return text + (f", pathlen:{value.path_length}" if value.path_length is not None else "")
    if isinstance(value, x509.KeyUsage):
        return ", ".join(key_usage_names(value))
    if isinstance(value, x509.ExtendedKeyUsage):
        return ", ".join(EKU_NAMES.get(oid, oid.dotted_string) for oid in value)
    if isinstance(value, x509.SubjectAlternativeName | x509.IssuerAlternativeName):
        return ", ".join(general_name_text(n) for n in value)
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest.hex(":").upper()
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return f"keyid:{value.key_identifier.hex(':').upper()}" if value.key_identifier else "(sans keyid)"
    if isinstance(value, x509.CRLDistributionPoints | x509.FreshestCRL):
        return ", ".join(distribution_point_urls(value)) or "(aucune URL)"
    if isinstance(value, x509.AuthorityInformationAccess):
        labels = {x509.oid.AuthorityInformationAccessOID.OCSP: "OCSP",
                  x509.oid.AuthorityInformationAccessOID.CA_ISSUERS: "caIssuers"}
        return ", ".join(f"{labels.get(d.access_method, d.access_method.dotted_string)}: "
                         f"{general_name_text(d.access_location).split(':', 1)[1]}" for d in value)
    if isinstance(value, x509.CertificatePolicies):
        return ", ".join(p.policy_identifier.dotted_string for p in value)
    if type(value).__name__ == "PrivateKeyUsagePeriod":  # cryptography ≥ 45
        return f"du {fmt_date(value.not_before)} au {fmt_date(value.not_after)}"  # type: ignore[attr-defined]
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value[:32].hex() + ("…" if len(value.value) > 32 else "")
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def describe_certificate(cert: x509.Certificate) -> dict[str, Any]:
    """What the certificate page shows. ``subject`` is the RFC 4514 string the whitelist uses (DESIGN §4)."""
    key_type, key_size, key_text = _key_description(cert.public_key())
    extensions: list[dict[str, Any]] = []
    sans: list[str] = []
    crl_urls: list[str] = []
    try:
        for extension in cert.extensions:
            name = signature_name(extension.oid)
            try:
                text = _extension_text(extension.value)
            except Exception:  # noqa: BLE001
                text = "(valeur illisible)"
            extensions.append({"oid": extension.oid.dotted_string, "name": name, "critical": extension.critical,
                               "value": text})
            if isinstance(extension.value, x509.SubjectAlternativeName):
                sans = [general_name_text(n).split(":", 1)[1] if isinstance(n, x509.DNSName)
                        else general_name_text(n) for n in extension.value]
            if isinstance(extension.value, x509.CRLDistributionPoints):
                crl_urls = distribution_point_urls(extension.value)
    except Exception:  # noqa: BLE001
        extensions.append({"oid": "", "name": "(extensions illisibles)", "critical": False, "value": ""})
    try:
        constraints = basic_constraints(cert)
    except Exception:  # noqa: BLE001 — a malformed extension is described as such above
        constraints = None
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "common_name": next(iter(subject_values(cert.subject, NameOID.COMMON_NAME)), None),
        "organizational_units": subject_values(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "fingerprint_sha256": fingerprint(cert, hashes.SHA256()),
        "fingerprint_sha1": fingerprint(cert, hashes.SHA1()),  # noqa: S303 - an identifier shown beside SHA-256
        "key_type": key_type,
        "key_size": key_size,
        "key": key_text,
        "signature_algorithm": signature_name(cert.signature_algorithm_oid),
        "is_ca": bool(constraints and constraints.ca),
        "self_signed": cert.subject == cert.issuer,
        "extensions": extensions,
        "san": sans,
        "crl_urls": crl_urls,
    }

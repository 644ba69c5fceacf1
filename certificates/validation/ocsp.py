"""OCSP (RFC 6960): the request for one certificate and the verdict of a response, as ``CrlVerdict`` values.

The response must be signed by the issuer itself or by a responder certificate the issuer delegated
(``OCSPSigning``); it must be about this certificate and be current. Never raises: anything unusable is
``UNAVAILABLE`` with a French reason, never « not revoked ».
"""
from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from .chain import signature_ok
from .common import aware, eku_names, extension_value, fmt_date
from .crl import CrlVerdict

MAX_OCSP_BYTES = 64_000
_REASONS = {x509.ReasonFlags.key_compromise: "compromission de la clé (keyCompromise)",
            x509.ReasonFlags.superseded: "remplacé (superseded)",
            x509.ReasonFlags.cessation_of_operation: "cessation d'activité (cessationOfOperation)",
            x509.ReasonFlags.affiliation_changed: "changement d'affiliation (affiliationChanged)"}


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    access = extension_value(cert.extensions, x509.AuthorityInformationAccess)
    return [d.access_location.value for d in access or ()
            if d.access_method == AuthorityInformationAccessOID.OCSP
            and isinstance(d.access_location, x509.UniformResourceIdentifier)
            and d.access_location.value.startswith(("http://", "https://"))]


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    # SHA-1 in the CertID is what RFC 6960 responders are required to understand (an identifier, not a signature).
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303
    return request.public_bytes(Encoding.DER)


def _signed_by(response: ocsp.OCSPResponse, key: object) -> bool:
    hash_algorithm = response.signature_hash_algorithm
    if isinstance(key, rsa.RSAPublicKey):
        parameters: object = padding.PKCS1v15()
    elif isinstance(key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
        parameters = ec.ECDSA(hash_algorithm)
    else:
        parameters = None
    return signature_ok(response.tbs_response_bytes, response.signature, parameters,  # type: ignore[arg-type]
                        hash_algorithm, key)  # type: ignore[arg-type]


def _responder_ok(response: ocsp.OCSPResponse, issuer: x509.Certificate, at: dt.datetime) -> bool:
    if _signed_by(response, issuer.public_key()):
        return True
    for responder in response.certificates:
        delegated = (responder.issuer == issuer.subject
                     and "OCSPSigning" in (eku_names(responder) or [])
                     and responder.not_valid_before_utc <= at <= responder.not_valid_after_utc
                     and signature_ok(responder.tbs_certificate_bytes, responder.signature,
                                      responder.signature_algorithm_parameters, responder.signature_hash_algorithm,
                                      issuer.public_key()))
        if delegated and _signed_by(response, responder.public_key()):
            return True
    return False


def ocsp_verdict(cert: x509.Certificate, issuer: x509.Certificate, der: bytes, *, at: dt.datetime) -> CrlVerdict:
    """``cert``'s status in an OCSP response ``der`` about it from ``issuer``'s responder."""
    try:
        at = aware(at)
        if len(der) > MAX_OCSP_BYTES:
            return CrlVerdict.UNAVAILABLE("réponse OCSP trop volumineuse")
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return CrlVerdict.UNAVAILABLE(f"réponse OCSP « {response.response_status.name} »")
        if not _responder_ok(response, issuer, at):
            return CrlVerdict.UNAVAILABLE("la réponse OCSP n'est signée ni par l'autorité ni par un répondeur "
                                          "qu'elle a délégué")
        expected = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, response.hash_algorithm).build()
        if (response.serial_number != cert.serial_number or response.issuer_key_hash != expected.issuer_key_hash
                or response.issuer_name_hash != expected.issuer_name_hash):
            return CrlVerdict.UNAVAILABLE("la réponse OCSP concerne un autre certificat")
        this_update, next_update = response.this_update_utc, response.next_update_utc
        if this_update > at + dt.timedelta(minutes=5):
            return CrlVerdict.UNAVAILABLE(f"réponse OCSP datée du {fmt_date(this_update)}, dans le futur")
        if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            flag = response.revocation_reason
            return CrlVerdict.REVOKED(response.revocation_time_utc,
                                      _REASONS.get(flag, flag.value) if flag is not None else None)
        if response.certificate_status != ocsp.OCSPCertStatus.GOOD:
            return CrlVerdict.UNAVAILABLE("le répondeur OCSP ne connaît pas ce certificat")
        if next_update is not None and next_update < at:
            return CrlVerdict.STALE(next_update, this_update)
        return CrlVerdict.good(this_update=this_update, next_update=next_update)
    except Exception:  # noqa: BLE001
        return CrlVerdict.UNAVAILABLE("la réponse OCSP est illisible")


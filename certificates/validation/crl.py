"""CRLs: reading one (PEM or DER) and judging a certificate against it.

A stale or unusable CRL is reported as such (``CrlStatus.STALE`` / ``UNAVAILABLE``), never as « not revoked ».
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .common import MAX_CRL_BYTES, CertificateInputError, aware, fmt_date, key_usage, short
from .uploads import check_size, loaded, only_input_errors, pem_blocks, readable, refuse_unexpected_block


def parse_crl(data: bytes, *, max_bytes: int = MAX_CRL_BYTES) -> x509.CertificateRevocationList:
    """A CRL in PEM (``X509 CRL``) or DER. Raises only ``CertificateInputError``."""
    return only_input_errors(_parse_crl, data, max_bytes,
                             "Le fichier n'a pas pu être lu comme une liste de certificats révoqués.")


def _parse_crl(data: bytes, max_bytes: int) -> x509.CertificateRevocationList:
    data = check_size(data, max_bytes, "liste de certificats révoqués (LCR)")
    blocks = pem_blocks(data, expected=None)
    if blocks is not None:
        if len(blocks) != 1:
            raise CertificateInputError("Le fichier PEM doit contenir exactement une liste de certificats "
                                        "révoqués (« -----BEGIN X509 CRL----- »).")
        refuse_unexpected_block(blocks[0][0], expected="X509 CRL")
        der = blocks[0][1]
    else:
        der = data
    crl = loaded(x509.load_der_x509_crl, der)
    if crl is None:
        raise CertificateInputError("La liste de certificats révoqués (LCR) est illisible.")

    def fields() -> None:
        crl.issuer.rfc4514_string()
        _ = crl.last_update_utc, crl.next_update_utc, crl.signature_algorithm_oid, crl.tbs_certlist_bytes
        for extension in crl.extensions:
            _ = extension.value
        for entry in crl:
            _ = entry.serial_number, entry.revocation_date_utc
            for entry_extension in entry.extensions:
                _ = entry_extension.value

    readable(fields, "La liste de certificats révoqués (LCR) contient un champ mal formé.")
    return crl


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
    signatures: dict[bytes, bool]  # issuer certificate SHA-256 fingerprint -> signature valid
    serials: dict[int, x509.RevokedCertificate] | None = None


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


def _scope_problem(crl: x509.CertificateRevocationList) -> str | None:
    """Why this CRL cannot be used alone (delta, partial scope, unknown critical extension), or None."""
    for extension in crl.extensions:
        if isinstance(extension.value, x509.DeltaCRLIndicator):
            return "la LCR fournie est une LCR delta, inutilisable seule"
        if isinstance(extension.value, x509.IssuingDistributionPoint):
            idp = extension.value
            if idp.only_contains_ca_certs or idp.only_contains_attribute_certs or idp.only_some_reasons \
                    or idp.indirect_crl:
                return "la LCR fournie ne couvre qu'une partie des certificats (périmètre partiel non pris en charge)"
        elif extension.critical:
            return f"la LCR contient une extension critique non prise en charge ({extension.oid.dotted_string})"
    return None


def crl_verdict(cert: x509.Certificate, issuer: x509.Certificate, crl: x509.CertificateRevocationList, *,
                at: dt.datetime) -> CrlVerdict:
    """Judge ``cert`` against ``crl`` published by ``issuer``: issuer name, CRL signature (issuer's key,
    ``cRLSign`` if the issuer has a keyUsage), scope (delta and partial CRLs are not used alone), serial
    lookup, then freshness. A listed serial gives REVOKED even in a stale CRL (revocation is final); an
    unlisted one in a stale CRL gives STALE, never GOOD. Never raises."""
    try:
        at = aware(at)
        if crl.issuer != issuer.subject:
            return CrlVerdict.UNAVAILABLE(
                f"la LCR est émise par « {crl.issuer.rfc4514_string()} » et non par l'autorité du certificat "
                f"« {issuer.subject.rfc4514_string()} »")
        if cert.issuer != issuer.subject:
            return CrlVerdict.UNAVAILABLE("l'autorité fournie n'est pas l'émetteur du certificat")
        usage = key_usage(issuer)
        if usage is not None and not usage.crl_sign:
            return CrlVerdict.UNAVAILABLE(f"l'autorité {short(issuer)} n'a pas l'usage cRLSign")
        facts = _crl_facts(crl)
        issuer_fingerprint = issuer.fingerprint(hashes.SHA256())
        signature_ok = facts.signatures.get(issuer_fingerprint)
        if signature_ok is None:
            signature_ok = facts.signatures[issuer_fingerprint] = crl.is_signature_valid(
                issuer.public_key())  # type: ignore[arg-type]
        if not signature_ok:
            return CrlVerdict.UNAVAILABLE(f"la signature de la LCR n'est pas vérifiée par la clé de {short(issuer)}")
        problem = _scope_problem(crl)
        if problem:
            return CrlVerdict.UNAVAILABLE(problem)
        this_update, next_update = crl.last_update_utc, crl.next_update_utc
        if this_update > at + dt.timedelta(minutes=5):
            return CrlVerdict.UNAVAILABLE(f"la LCR n'est publiée qu'à partir du {fmt_date(this_update)}")
        if facts.serials is None:
            facts.serials = {entry.serial_number: entry for entry in crl}
        entry = facts.serials.get(cert.serial_number)
        if entry is not None:
            try:
                flag: x509.ReasonFlags | None = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
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

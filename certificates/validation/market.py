"""The rules of a market ``vi`` certificate uploaded by the operator (any public CA of its choice, DESIGN §6).

``check_vi_market_certificate`` returns ``RuleResult`` lists like ``check_db_certificate``, in a fixed order:
chain (to the public web PKI: the Mozilla root store, a setting), names (exactly one DNS name, the CN if any
equal to it), fqdn (= the DRIMbox's `vi` FQDN), wildcard, public_key (RSA ≥ 2048 bits or ECDSA P-256/P-384),
signature_hash (SHA-256 or better), key_usage (serverAuth), validity, revocation (CRL or OCSP, where the
certificate gives one), validation_level (DV or OV, from the CA/Browser Forum policy OIDs).

``validation_level`` never refuses a certificate: it records what the CA vouched for (``level_of``).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import SignatureAlgorithmOID

from .chain import build_chain
from .common import RuleResult, aware, extension_value, fmt_date, short, signature_name
from .crl import CrlStatus, CrlVerdict
from .rules import _names_or_undecided, _public_key_rule, _safe_rule, _validity_rule, _vi_key_usage_rule

MARKET_TRUST_NAME = "du web public (magasin de racines Mozilla)"
POLICY_DV = x509.ObjectIdentifier("2.23.140.1.2.1")
POLICY_OV = x509.ObjectIdentifier("2.23.140.1.2.2")
POLICY_EV = x509.ObjectIdentifier("2.23.140.1.1")
STRONG_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512WithRSAEncryption",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
}
WEAK_HASH_SIGNATURES = {SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.ECDSA_WITH_SHA1,
                        SignatureAlgorithmOID.DSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_MD5,
                        x509.ObjectIdentifier("1.3.14.3.2.29")}


@dataclass(frozen=True)
class RevocationAnswer:
    """What a CRL or an OCSP responder said: the verdict and where it came from (« la LCR http://… »)."""

    verdict: CrlVerdict
    source: str


RevocationCallback = Callable[[x509.Certificate, x509.Certificate], RevocationAnswer]


def level_of(cert: x509.Certificate) -> str:
    """« DV », « OV » (an EV certificate is organisation-validated too) or « » from the certificate's policies."""
    policies = extension_value(cert.extensions, x509.CertificatePolicies)
    oids = {policy.policy_identifier for policy in policies or ()}
    if POLICY_OV in oids or POLICY_EV in oids:
        return "OV"
    if POLICY_DV in oids:
        return "DV"
    return ""


def check_vi_market_certificate(leaf: x509.Certificate, *, extra_chain: Sequence[x509.Certificate] = (),
                                anchors: Sequence[x509.Certificate], expected_fqdn: str, at: dt.datetime,
                                revocation_status: RevocationCallback | None = None) -> list[RuleResult]:
    """Every rule for a market ``vi`` certificate (see the module docstring). Each rule judges one thing, so
    a certificate with a single defect fails a single rule (revocation is undecided when the chain fails)."""
    at = aware(at)
    chain = build_chain(leaf, anchors=anchors, extra_chain=extra_chain, at=at, trust_name=MARKET_TRUST_NAME)
    message = chain.message
    if not chain.ok and not extra_chain:
        message += (" Joignez au certificat ses autorités intermédiaires (la chaîne fournie par l'autorité), "
                    "dans le même fichier PEM.")
    results = [RuleResult("chain", chain.ok, message)]
    results += _names_or_undecided(leaf, expected_fqdn, "Le certificat",
                                   "Les noms du certificat n'ont pas pu être lus.")
    results.append(_safe_rule("public_key", lambda: _public_key_rule(leaf.public_key(), allow_ecdsa=True,
                                                                      max_rsa_bits=None)))
    results.append(_safe_rule("signature_hash", lambda: _strong_hash_rule(leaf.signature_algorithm_oid)))
    results.append(_safe_rule("key_usage", lambda: _vi_key_usage_rule(leaf)))
    results.append(_safe_rule("validity", lambda: _validity_rule(leaf, at)))
    results.append(_safe_rule("revocation", lambda: _revocation_rule(leaf, chain.issuer, revocation_status)))
    results.append(_safe_rule("validation_level", lambda: _level_rule(leaf)))
    return results


def _strong_hash_rule(oid: x509.ObjectIdentifier) -> RuleResult:
    code = "signature_hash"
    name = signature_name(oid)
    if oid in STRONG_SIGNATURES:
        return RuleResult(code, True, f"Le certificat est signé avec {name} (SHA-256 ou plus fort).")
    if oid in WEAK_HASH_SIGNATURES:
        return RuleResult(code, False, f"Le certificat est signé avec {name} : cet algorithme n'est plus sûr et est "
                                       "refusé ; SHA-256 ou plus fort est exigé.")
    return RuleResult(code, False, f"Algorithme de signature {name} non accepté : RSA ou ECDSA avec SHA-256, "
                                   "SHA-384 ou SHA-512 est exigé.")


def _revocation_rule(leaf: x509.Certificate, issuer: x509.Certificate | None,
                     revocation_status: RevocationCallback | None) -> RuleResult:
    code = "revocation"
    if issuer is None:
        return RuleResult(code, None, "Révocation non vérifiée : l'autorité émettrice n'a pas pu être établie "
                                      "(voir la chaîne). L'état de révocation est inconnu.")
    if revocation_status is None:
        return RuleResult(code, None, "Révocation non vérifiée. L'état de révocation est inconnu.")
    try:
        answer = revocation_status(leaf, issuer)
    except Exception:  # noqa: BLE001
        answer = RevocationAnswer(CrlVerdict.UNAVAILABLE("erreur lors de la consultation"), "l'autorité")
    verdict, source = answer.verdict, answer.source
    if verdict.status is CrlStatus.GOOD:
        detail = f" (à jour jusqu'au {fmt_date(verdict.next_update)})" if verdict.next_update else ""
        return RuleResult(code, True, f"Le certificat n'est pas révoqué selon {source}{detail}.")
    if verdict.status is CrlStatus.REVOKED:
        reason = f", motif : {verdict.reason}" if verdict.reason else ""
        when = f" le {fmt_date(verdict.revocation_date)}" if verdict.revocation_date else ""
        return RuleResult(code, False, f"Le certificat est révoqué{when}{reason} (selon {source} de l'autorité "
                                       f"{short(issuer)}).")
    if verdict.status is CrlStatus.STALE:
        return RuleResult(code, None, f"Révocation non vérifiée : la réponse de {source} n'est plus à jour. "
                                      "L'état de révocation est inconnu.")
    reason = f" ({verdict.reason})" if verdict.reason else ""
    return RuleResult(code, None, f"Révocation non vérifiée : la consultation de {source} a échoué{reason}. "
                                  "L'état de révocation est inconnu.")


def _level_rule(cert: x509.Certificate) -> RuleResult:
    level = level_of(cert)
    if level == "OV":
        return RuleResult("validation_level", True, "Certificat à validation d'organisation (OV) : politique "
                                                    "2.23.140.1.2.2 (ou EV 2.23.140.1.1).")
    if level == "DV":
        return RuleResult("validation_level", True, "Certificat à validation de domaine (DV) : politique "
                                                    "2.23.140.1.2.1.")
    return RuleResult("validation_level", None, "Niveau de validation non déterminé : le certificat ne porte ni la "
                                                "politique DV (2.23.140.1.2.1) ni la politique OV (2.23.140.1.2.2).")

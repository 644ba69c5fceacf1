"""The DESIGN §6 rules: ``check_db_certificate`` (IGC-Santé *SERV SSL* ``db`` certificate), ``check_vi_csr``
and ``check_vi_certificate`` (market ``vi`` certificate), each a list of ``RuleResult(code, ok, message)``.

Each rule judges one thing, so a certificate with a single defect fails a single rule. ``ok is None`` means
"could not be decided" (e.g. CRL stale or unavailable): it must never be shown as a success, in particular
never as "not revoked".
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from .chain import build_chain, signature_ok
from .common import (
    SHA1_SIGNATURES,
    SHA256_SIGNATURES,
    VI_ALLOW_ECDSA,
    VI_RSA_MAX_BITS,
    VI_RSA_MIN_BITS,
    RuleResult,
    aware,
    basic_constraints,
    eku_names,
    fmt_date,
    key_usage,
    key_usage_names,
    list_fr,
    san_names,
    short,
    signature_name,
    subject_values,
)
from .crl import CrlStatus, CrlVerdict

CrlStatusCallback = Callable[[x509.Certificate, x509.Certificate], CrlVerdict]


def _safe_rule(code: str, function: Callable[[], RuleResult]) -> RuleResult:
    try:
        return function()
    except Exception:  # noqa: BLE001
        return RuleResult(code, None, "Cette règle n'a pas pu être évaluée : le certificat contient une donnée "
                                      "inattendue.")


# =========================================================================== shared rules

def _revocation_rule(leaf: x509.Certificate, issuer: x509.Certificate | None,
                     crl_status: CrlStatusCallback | None) -> RuleResult:
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
            detail = (f" (LCR publiée le {fmt_date(verdict.this_update)}, prochaine mise à jour le "
                      f"{fmt_date(verdict.next_update)})")
        return RuleResult(code, True, f"Le certificat ne figure pas dans la LCR à jour de l'autorité "
                                      f"{short(issuer)}{detail}.")
    if status is CrlStatus.REVOKED:
        reason = f", motif : {verdict.reason}" if verdict.reason else ""
        when = f" le {fmt_date(verdict.revocation_date)}" if verdict.revocation_date else ""
        return RuleResult(code, False, f"Le certificat est révoqué{when}{reason} (LCR de l'autorité {short(issuer)}).")
    if status is CrlStatus.STALE:
        when = (f"sa prochaine mise à jour était prévue le {fmt_date(verdict.next_update)}"
                if verdict.next_update else "elle n'indique pas de prochaine mise à jour")
        return RuleResult(code, None, f"Révocation non vérifiée : la LCR disponible est périmée ({when}). "
                                      "L'état de révocation est inconnu.")
    if status is CrlStatus.UNAVAILABLE:
        return RuleResult(code, None, f"Révocation non vérifiée : LCR indisponible ({verdict.reason}). L'état de "
                                      "révocation est inconnu.")
    return RuleResult(code, None, "Révocation non vérifiée : réponse inattendue du service des LCR. L'état de "
                                  "révocation est inconnu.")


def _validity_rule(cert: x509.Certificate, at: dt.datetime) -> RuleResult:
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    window = f"valide du {fmt_date(nb)} au {fmt_date(na)}"
    if at < nb:
        return RuleResult("validity", False, f"Le certificat n'est pas encore valide : il l'est à partir du "
                                             f"{fmt_date(nb)} ({window}).")
    if at > na:
        return RuleResult("validity", False, f"Le certificat a expiré le {fmt_date(na)} ({window}).")
    days = (na - at).days
    return RuleResult("validity", True, f"Le certificat est en cours de validité ({window}, encore {days} jour(s)).")


def _sha256_rule(signature_oid: x509.ObjectIdentifier, code: str = "signature_hash",
                 what: str = "Le certificat") -> RuleResult:
    """The hash only: the key type is judged by its own rule (public_key / chain)."""
    name = signature_name(signature_oid)
    accepted = SHA256_SIGNATURES
    expected = " ou ".join(accepted.values())
    if signature_oid in accepted:
        return RuleResult(code, True, f"{what} est signé en SHA-256 ({name}).")
    if signature_oid in SHA1_SIGNATURES:
        return RuleResult(code, False, f"{what} est signé en SHA-1 ({name}) : SHA-1 n'est plus sûr et est refusé ; "
                                       f"signature attendue : {expected}.")
    return RuleResult(code, False, f"Algorithme de signature {name} non accepté : signature attendue : {expected}.")


# =========================================================================== db certificate

def check_db_certificate(leaf: x509.Certificate, *, extra_chain: Sequence[x509.Certificate] = (),
                         anchors: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate] = (),
                         expected_cn: str, expected_ou: str, at: dt.datetime,
                         crl_status: CrlStatusCallback | None = None) -> list[RuleResult]:
    """Every DESIGN §6 rule for an IGC-Santé ``db`` certificate, in a fixed order:
    chain, cn, ou, validity, signature_hash, key_usage, revocation. Each rule judges one thing, so a
    certificate with a single defect fails a single rule (revocation is ``None`` when the chain fails,
    since the issuer is unknown)."""
    at = aware(at)
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
    cns = subject_values(cert.subject, NameOID.COMMON_NAME)
    if len(cns) != 1:
        return RuleResult("cn", False, f"Le sujet doit contenir exactement un CN égal à « {expected} » ; "
                                       f"CN trouvés : {list_fr(cns)}.")
    cn = cns[0]
    if cn != expected:
        hint = " (seule la casse diffère)" if cn.lower() == expected.lower() else ""
        return RuleResult("cn", False, f"Le CN du certificat est « {cn} » alors que le FQDN db de la DRIMbox est "
                                       f"« {expected} »{hint}.")
    dns, _others = san_names(cert.extensions)
    if dns and expected.lower() not in [d.lower() for d in dns]:
        return RuleResult("cn", False, f"Le CN est bien « {cn} », mais l'extension subjectAltName ne contient pas "
                                       f"ce nom (noms : {list_fr(dns)}) : les clients TLS refuseraient la "
                                       "connexion.")
    return RuleResult("cn", True, f"Le CN est le FQDN db de la DRIMbox : « {cn} ».")


def _db_ou_rule(cert: x509.Certificate, expected: str) -> RuleResult:
    ous = subject_values(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if expected in ous:
        others = [o for o in ous if o != expected]
        extra = f" (autres OU : {list_fr(others)})" if others else ""
        return RuleResult("ou", True, f"L'OU du certificat contient l'idNat_Struct de l'opérateur : "
                                      f"« {expected} »{extra}.")
    return RuleResult("ou", False, f"L'OU du certificat devrait contenir l'idNat_Struct de l'opérateur "
                                   f"« {expected} » ; OU trouvé(s) : {list_fr(ous)}.")


def _db_key_usage_rule(cert: x509.Certificate) -> RuleResult:
    code = "key_usage"
    problems = []
    constraints = basic_constraints(cert)
    if constraints is not None and constraints.ca:
        problems.append("c'est un certificat d'autorité (basicConstraints CA:TRUE), pas un certificat serveur")
    usage = key_usage(cert)
    usage_names = key_usage_names(usage) if usage is not None else []
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
    eku = eku_names(cert)
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
                                  f"extendedKeyUsage : {', '.join(eku or [])}).")


# =========================================================================== vi CSR and certificate

def _names_rules(cn_values: list[str], dns: list[str], others: list[str], expected_fqdn: str, what: str,
                 ) -> list[RuleResult]:
    results = []
    problems = []
    if len(dns) != 1:
        problems.append(f"l'extension subjectAltName doit contenir exactement un nom DNS ; noms trouvés : "
                        f"{list_fr(dns)}")
    if others:
        problems.append(f"l'extension subjectAltName contient d'autres types de noms : {list_fr(others)}")
    if len(cn_values) > 1:
        problems.append(f"le sujet contient plusieurs CN : {list_fr(cn_values)}")
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
        results.append(RuleResult("fqdn", False, f"{what} porte {list_fr(wrong)} alors que le FQDN vi de la "
                                                 f"DRIMbox est « {expected_fqdn} »."))
    else:
        results.append(RuleResult("fqdn", True, f"Le nom est le FQDN vi de la DRIMbox : « {expected_fqdn} »."))
    wildcards = [n for n in all_names if "*" in n]
    if wildcards:
        results.append(RuleResult("wildcard", False, f"Les noms génériques (wildcard) sont refusés : "
                                                     f"{list_fr(wildcards)}."))
    else:
        results.append(RuleResult("wildcard", True, "Aucun nom générique (wildcard)."))
    return results


def _names_or_undecided(named: x509.Certificate | x509.CertificateSigningRequest, expected_fqdn: str, what: str,
                        unreadable: str) -> list[RuleResult]:
    """The names, fqdn and wildcard rules; all three undecided when the names cannot be read."""
    try:
        cn_values = subject_values(named.subject, NameOID.COMMON_NAME)
        dns, others = san_names(named.extensions)
        return _names_rules(cn_values, dns, others, expected_fqdn, what)
    except Exception:  # noqa: BLE001
        return [RuleResult(code, None, unreadable) for code in ("names", "fqdn", "wildcard")]


def _public_key_rule(key: PublicKeyTypes, *, allow_ecdsa: bool, max_rsa_bits: int | None = VI_RSA_MAX_BITS,
                     ) -> RuleResult:
    code = "public_key"
    if isinstance(key, rsa.RSAPublicKey):
        size = key.key_size
        if size < VI_RSA_MIN_BITS:
            return RuleResult(code, False, f"La clé RSA fait {size} bits : {VI_RSA_MIN_BITS} bits au minimum sont "
                                           "exigés.")
        if max_rsa_bits is not None and size > max_rsa_bits:
            return RuleResult(code, False, f"La clé RSA fait {size} bits : l'autorité de certification n'accepte "
                                           f"pas plus de {max_rsa_bits} bits.")
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
        ok = signature_ok(csr.tbs_certrequest_bytes, csr.signature, csr.signature_algorithm_parameters,
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
    results += _names_or_undecided(csr, expected_fqdn, "La demande",
                                   "Les noms de la demande n'ont pas pu être lus.")
    results.append(_safe_rule("public_key", lambda: _public_key_rule(csr.public_key(), allow_ecdsa=allow_ecdsa)))
    results.append(_safe_rule("signature_hash", lambda: _sha256_rule(csr.signature_algorithm_oid,
                                                                      what="La demande")))
    return results


def check_vi_certificate(leaf: x509.Certificate, *, expected_fqdn: str, at: dt.datetime,
                         allow_ecdsa: bool = VI_ALLOW_ECDSA) -> list[RuleResult]:
    """Rules for a market ``vi`` certificate: names, fqdn, wildcard, public_key, signature_hash (the CA's
    signature: sha256WithRSAEncryption or ecdsa-with-SHA256), key_usage (serverAuth), validity. A missing
    CN is accepted (Let's Encrypt's newer profiles omit it); when present it must equal the SAN."""
    at = aware(at)
    results = _names_or_undecided(leaf, expected_fqdn, "Le certificat",
                                  "Les noms du certificat n'ont pas pu être lus.")
    results.append(_safe_rule("public_key", lambda: _public_key_rule(leaf.public_key(), allow_ecdsa=allow_ecdsa)))
    results.append(_safe_rule("signature_hash", lambda: _sha256_rule(leaf.signature_algorithm_oid)))
    results.append(_safe_rule("key_usage", lambda: _vi_key_usage_rule(leaf)))
    results.append(_safe_rule("validity", lambda: _validity_rule(leaf, at)))
    return results


def _vi_key_usage_rule(cert: x509.Certificate) -> RuleResult:
    eku = eku_names(cert)
    if eku is None or "serverAuth" not in eku:
        return RuleResult("key_usage", False, f"extendedKeyUsage doit contenir serverAuth ; valeur : "
                                              f"{', '.join(eku) if eku else 'absente'}.")
    constraints = basic_constraints(cert)
    if constraints is not None and constraints.ca:
        return RuleResult("key_usage", False, "C'est un certificat d'autorité (CA:TRUE), pas un certificat serveur.")
    return RuleResult("key_usage", True, f"Usage TLS serveur (extendedKeyUsage : {', '.join(eku)}).")

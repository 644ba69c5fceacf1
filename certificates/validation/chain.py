"""Chain building by hand: leaf → intermediates (uploaded extra chain + configured) → configured anchor.

Each link is checked for issuer/subject names, signature (``public_key().verify``), CA basic constraints,
``keyCertSign``, path length, validity, and SHA-256 or stronger for intermediates.
``cryptography.x509.verification`` can verify the real IGC-Santé TEST hierarchy (with a custom end-entity
extension policy), but it folds the leaf's validity period and signature hash into one opaque English error
and refuses SHA-1 outright, whereas the portal must report each rule alone, in French. The tests use the Rust
verifier as an oracle on the good chains.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .common import (
    CA_SIGNATURES,
    MAX_CHAIN_DEPTH,
    MAX_PATH_STEPS,
    aware,
    basic_constraints,
    fmt_date,
    key_usage,
    short,
    signature_name,
)

SignatureParameters = padding.PSS | padding.PKCS1v15 | ec.ECDSA | None


def signature_ok(child_tbs: bytes, signature: bytes, algorithm_parameters: SignatureParameters,
                 hash_algorithm: hashes.HashAlgorithm | None, public_key: PublicKeyTypes) -> bool:
    """Whether ``signature`` over ``child_tbs`` verifies with ``public_key``; never raises."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, child_tbs, algorithm_parameters, hash_algorithm)  # type: ignore[arg-type]
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, child_tbs, algorithm_parameters)  # type: ignore[arg-type]
        elif isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, child_tbs)
        elif isinstance(public_key, dsa.DSAPublicKey):
            public_key.verify(signature, child_tbs, hash_algorithm)  # type: ignore[arg-type]
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
        result = signature_ok(child.tbs_certificate_bytes, child.signature, child.signature_algorithm_parameters,
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


def _ca_problem(ca: x509.Certificate, *, intermediates_below: int, at: dt.datetime, is_anchor: bool) -> str | None:
    """Why ``ca`` cannot issue at this position, or None. Anchors are trusted by configuration but must
    still be valid at ``at`` and respect their own path length."""
    try:
        constraints = basic_constraints(ca)
        if not is_anchor:
            if constraints is None or not constraints.ca:
                return f"le certificat {short(ca)} n'est pas un certificat d'autorité (basicConstraints CA:TRUE absent)"
            usage = key_usage(ca)
            if usage is not None and not usage.key_cert_sign:
                return f"l'autorité {short(ca)} n'a pas l'usage keyCertSign"
        if constraints is not None and constraints.path_length is not None \
                and intermediates_below > constraints.path_length:
            return (f"l'autorité {short(ca)} limite la chaîne à {constraints.path_length} autorité(s) "
                    f"intermédiaire(s) en dessous d'elle, {intermediates_below} trouvée(s)")
        if at < ca.not_valid_before_utc:
            return f"l'autorité {short(ca)} n'est valide qu'à partir du {fmt_date(ca.not_valid_before_utc)}"
        if at > ca.not_valid_after_utc:
            return f"l'autorité {short(ca)} a expiré le {fmt_date(ca.not_valid_after_utc)}"
    except Exception:  # noqa: BLE001
        return f"le certificat d'autorité {short(ca)} est illisible"
    return None


def _index_by_subject(certs: Iterable[x509.Certificate]) -> dict[bytes, list[x509.Certificate]]:
    index: dict[bytes, list[x509.Certificate]] = {}
    for cert in certs:
        index.setdefault(cert.subject.public_bytes(), []).append(cert)
    return index


def build_chain(leaf: x509.Certificate, *, anchors: Sequence[x509.Certificate],
                intermediates: Sequence[x509.Certificate] = (), extra_chain: Sequence[x509.Certificate] = (),
                at: dt.datetime, max_depth: int = MAX_CHAIN_DEPTH, trust_name: str = "IGC-Santé") -> ChainResult:
    """Depth-first path building with backtracking: leaf → intermediates (uploaded ``extra_chain`` and
    configured ``intermediates``) → one of ``anchors``. Anchors are tried first at every step, so a
    configured anchor is preferred to an uploaded copy of it. The leaf's own validity, key usage and
    signature hash are *not* judged here (separate rules; a SHA-1 leaf signature is still verified);
    intermediates must be signed with SHA-256 or stronger, be CAs (keyCertSign if keyUsage is present),
    respect path lengths and be valid at ``at``. At most ``MAX_PATH_STEPS`` candidate links are tried.
    ``trust_name`` names the anchors in the messages (« IGC-Santé », « du web public »…)."""
    at = aware(at)
    if not anchors:
        return ChainResult(False, (), f"Aucune autorité de confiance {trust_name} n'est configurée : la chaîne ne "
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
                            f"{short(current)} (« {current.issuer.rfc4514_string()} »)")
            return None
        if len(path) > 1 and current.signature_algorithm_oid not in CA_SIGNATURES:
            # the leaf's own hash is the signature_hash rule; an intermediate signed with SHA-1 (or worse)
            # could be forged by a collision, so the chain does not go through it
            problems.append(f"l'autorité intermédiaire {short(current)} est signée avec "
                            f"{signature_name(current.signature_algorithm_oid)} (SHA-256 ou plus fort attendu)")
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
                    problems.append(f"la signature de {short(current)} n'est pas vérifiée par la clé de "
                                    f"l'autorité {short(candidate)} (même nom, autre clé ?)")
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
        names = " → ".join(short(c) for c in path)
        return ChainResult(True, tuple(path), f"Le certificat est rattaché à une autorité de confiance "
                                              f"{trust_name} configurée : {names}.")
    distinct = list(dict.fromkeys(problems))
    detail = " ; ".join(distinct[:3]) if distinct else "aucun chemin trouvé"
    return ChainResult(False, (), f"Le certificat n'est pas rattaché à une autorité de confiance {trust_name} "
                                  f"configurée : {detail}.")

"""What the prober needs to tell a new `vi` certificate from one the portal already knows (read only).

A *presentation* is what a `vi` endpoint sends in its TLS handshake: the DER of its certificate, then of the
chain it sends. The prober compares, for each DRIMbox, the presented certificate's SHA-256 fingerprint with every
`vi` certificate of the inventory (current, superseded or revoked: a DRIMbox still serving the certificate the
portal has just replaced is nothing new), and the presentation's digest with the presentations already refused.
Only what is new goes to ``certificates.services.record_presented_vi_certificate``, which applies the rules.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .models import Certificate, CertificateKind, RefusedViCertificate


def leaf_fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, as the inventory writes it (``AB:CD:…``)."""
    return hashlib.sha256(der).digest().hex(":").upper()


def presentation_digest(presented: Sequence[bytes]) -> str:
    """One digest for a certificate and the chain sent with it (hex): the key of a refused presentation."""
    digest = hashlib.sha256()
    for der in presented:
        digest.update(hashlib.sha256(der).digest())
    return digest.hexdigest()


def known_vi_presentations(drimbox_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """{DRIMbox id: the leaf fingerprints of its inventory's `vi` certificates and the digests of its refused
    presentations}, in two queries whatever the number of DRIMboxes (read once per probe batch)."""
    ids = {int(pk) for pk in drimbox_ids}
    known: dict[int, set[str]] = {pk: set() for pk in ids}
    for drimbox_id, fingerprint in Certificate.objects.filter(drimbox_id__in=ids, kind=CertificateKind.VI) \
            .values_list("drimbox_id", "fingerprint_sha256"):
        known[drimbox_id].add(fingerprint)
    for drimbox_id, digest in RefusedViCertificate.objects.filter(drimbox_id__in=ids) \
            .values_list("drimbox_id", "presented_sha256"):
        known[drimbox_id].add(digest)
    return {pk: frozenset(values) for pk, values in known.items()}


def is_known(presented: Sequence[bytes], known: frozenset[str]) -> bool:
    return bool(presented) and (leaf_fingerprint(presented[0]) in known or presentation_digest(presented) in known)

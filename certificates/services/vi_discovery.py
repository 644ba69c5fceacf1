"""`vi` certificates discovered by the prober on the `vi` endpoint (issue 14, item 2): what a DRIMbox really
presents, recorded without any upload when it passes the market rules — the same rules and French messages as an
upload (``vi_market.evaluate_vi_market_certificate``). Typically a certificate the operator obtained with its own
ACME client (certbot, lego…) through the portal's acme-dns API.

The prober (``weather``) calls ``record_presented_vi_certificate`` only for a presentation it does not know
(``certificates.discovery``). A certificate that passes becomes the DRIMbox's current `vi` certificate, source
« Découvert » (the operator renews it, expiry notices remind it, as for an upload); one that fails is kept as a
``RefusedViCertificate`` with its rules (the DRIMbox's certificate page shows it) and is not evaluated again.
"""
from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from certificates.discovery import leaf_fingerprint, presentation_digest
from certificates.models import Certificate, CertificateKind, CertificateSource, RefusedViCertificate
from certificates.services.inventory import Check, checks_json, refuse_hidden_characters, store_certificate
from certificates.services.notices import notify_technical
from certificates.services.vi_market import evaluate_vi_market_certificate
from certificates.validation import CertificateInputError, describe_certificate, level_of, parse_certificate_upload
from operators.models import Drimbox, DrimboxStatus
from trustspace import audit
from trustspace.errors import Conflict

PROBE = "sonde météo (découverte vi)"
RECORDED, REFUSED, KNOWN, IGNORED = "enregistre", "refuse", "deja_connu", "ignore"


@dataclass(frozen=True)
class Discovery:
    """What became of a presentation: ``status`` is RECORDED, REFUSED, KNOWN or IGNORED (no `vi` name, withdrawn)."""

    status: str
    certificate: Certificate | None = None
    refusal: RefusedViCertificate | None = None


def record_presented_vi_certificate(drimbox_id: int, presented: Sequence[bytes], *,
                                    seen_at: datetime | None = None) -> Discovery:
    """Record (or refuse, once) the certificate and chain (DER, the certificate first) that the DRIMbox's `vi`
    endpoint presented. Called by the prober's tasks with no user: the rules decide, as for an upload."""
    presented = [bytes(der) for der in presented]
    drimbox = Drimbox.objects.select_related("operator").filter(pk=drimbox_id).first()
    if drimbox is None or not presented or not drimbox.has_viewer or not drimbox.vi_fqdn \
            or drimbox.status == DrimboxStatus.WITHDRAWN:
        return Discovery(IGNORED)
    fingerprint, digest = leaf_fingerprint(presented[0]), presentation_digest(presented)
    if Certificate.objects.filter(drimbox=drimbox, kind=CertificateKind.VI, fingerprint_sha256=fingerprint).exists() \
            or RefusedViCertificate.objects.filter(drimbox=drimbox, presented_sha256=digest).exists():
        return Discovery(KNOWN)
    pem = "".join(ssl.DER_cert_to_PEM_cert(der) for der in presented)
    try:
        # The same reader as an upload: at most the certificate and its chain, no private key, readable fields,
        # names without bidi or control characters (a refused presentation is then shown without its names).
        leaf, *extra_chain = refuse_hidden_characters(
            parse_certificate_upload(pem.encode(), max_bytes=settings.CERTIFICATE_MAX_BYTES))
    except CertificateInputError as exc:
        return _refuse(drimbox, pem, fingerprint, digest, None,
                       [{"code": "lecture", "ok": False, "message": exc.message}], seen_at)
    checks = checks_json(evaluate_vi_market_certificate(drimbox, leaf, extra_chain))
    if any(check["ok"] is False for check in checks):
        return _refuse(drimbox, pem, fingerprint, digest, describe_certificate(leaf), checks, seen_at)
    try:
        with transaction.atomic():
            certificate = store_certificate(
                drimbox=drimbox, kind=CertificateKind.VI, source=CertificateSource.DISCOVERED, leaf=leaf,
                chain=extra_chain, checks=checks, acting_user=None, validation_level=level_of(leaf),
                reason=f"découvert sur {drimbox.vi_fqdn} par la sonde")
            notify_technical(drimbox.operator_id, f"Certificat vi découvert et enregistré — {drimbox.vi_fqdn}",
                             "certificates/email/vi_discovered.txt", {"certificate": certificate})
    except Conflict:  # another probe location recorded it first
        return Discovery(KNOWN)
    return Discovery(RECORDED, certificate=certificate)


def _refuse(drimbox: Drimbox, pem: str, fingerprint: str, digest: str, info: dict | None, checks: list[Check],
            seen_at: datetime | None) -> Discovery:
    info = info or {}
    refusal = RefusedViCertificate(
        drimbox=drimbox, operator=drimbox.operator, presented_sha256=digest, fingerprint_sha256=fingerprint, pem=pem,
        subject=info.get("subject", "")[:1000], issuer=info.get("issuer", "")[:1000],
        not_after=info.get("not_after"), checks=checks, seen_at=seen_at or timezone.now())
    with transaction.atomic():
        try:
            with transaction.atomic():
                refusal.save()
        except IntegrityError:  # another probe location refused it first
            return Discovery(KNOWN)
        audit.record(actor=PROBE, action="certificate.vi.discovery_refused", obj=refusal,
                     operator_id=drimbox.operator_id,
                     after={"drimbox": drimbox.identifiant, "fingerprint_sha256": fingerprint,
                            "subject": refusal.subject, "failed": [c["code"] for c in refusal.failed_checks]})
        notify_technical(drimbox.operator_id, f"Certificat vi présenté refusé — {drimbox.vi_fqdn}",
                         "certificates/email/vi_discovery_refused.txt",
                         {"certificate": refusal, "refusal": refusal, "drimbox": drimbox})
    return Discovery(REFUSED, refusal=refusal)

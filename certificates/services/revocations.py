"""Revocations: through ACME for ACME-issued `vi`, by the technical administrator at IGC-Santé for `db` (no public
API) or at its CA for a market `vi`, confirmed when the serial appears in the CRL (or OCSP for a market `vi`); and
those an operator switch or a withdrawal calls for."""
from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from certificates import acme_client, trust
from certificates.models import (
    CLOSED_REVOCATION_STATUSES,
    MARKET_SOURCES,
    SETTLED_REVOCATION_STATUSES,
    AcmeDnsCredential,
    Certificate,
    CertificateKind,
    Revocation,
    RevocationStatus,
)
from certificates.services.acme import acme_account, acme_settings
from certificates.services.inventory import TASK, schedule
from certificates.services.notices import notify_technical
from certificates.validation import CrlStatus, CrlVerdict
from operators import permissions
from operators import services as operator_services
from operators.models import PendingRevocation, PendingRevocationKind, PendingRevocationStatus
from trustspace import audit
from trustspace.backoff import backoff
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import User
from trustspace.paris_time import paris_date
from trustspace.technical_detail import error_text, split_detail
from trustspace.text import validate_display_text

OPEN_STATUSES = (RevocationStatus.PENDING, RevocationStatus.FAILED)
# « Clore sans révocation »: the reason ANS writes, long enough to say why (it is kept and sent to the operator).
CLOSE_REASON_MIN_LENGTH = 15
CLOSE_REASON_MAX_LENGTH = 2000

# RFC 5280 reason codes used by the portal.
REASONS = {
    "bascule": (acme_client.REASON_OPERATOR_SWITCH, "Changement d'opérateur (superseded)"),
    "retrait": (acme_client.REASON_WITHDRAWAL, "Retrait de la DRIMbox (cessationOfOperation)"),
    "compromission": (acme_client.REASON_KEY_COMPROMISE, "Compromission de la clé (keyCompromise)"),
    "remplacement": (acme_client.RevocationReason.SUPERSEDED, "Remplacé (superseded)"),
}


def revoke_certificate(certificate: Certificate, *, acting_user: User | None, reason: str,
                       pending_revocation: PendingRevocation | None = None) -> Revocation:
    """Open a revocation: ACME for `vi` (done by a task), a task with a deadline for IGC-Santé `db`."""
    # « bascule » and « retrait » follow from an approved request: only the portal's own task uses them.
    allowed = set(REASONS) if acting_user is None else {"compromission", "remplacement", "retrait"}
    if reason not in allowed:
        raise InvalidData("Motif de révocation inconnu.", field_errors={"reason": ["Motif de révocation inconnu."]})
    if acting_user is not None:
        permissions.require(acting_user, "certificate.manage", certificate.operator)
    code, _label = REASONS[reason]
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if certificate.revoked_at:
            raise Conflict("Ce certificat est déjà révoqué.", code="invalid_transition")
        by_owner = certificate.kind == CertificateKind.DB or certificate.source in MARKET_SOURCES
        days = settings.DB_REVOCATION_DEADLINE_DAYS if by_owner else 1
        try:
            with transaction.atomic():
                revocation = Revocation.objects.create(
                    certificate=certificate, reason=reason, reason_code=code, requested_by=acting_user,
                    deadline=timezone.now() + timedelta(days=days), pending_revocation=pending_revocation)
        except IntegrityError as exc:
            raise Conflict("Une révocation de ce certificat est déjà en cours.", code="invalid_transition") from exc
        audit.record(actor=acting_user or TASK, action="certificate.revocation_opened", obj=certificate,
                     operator_id=certificate.operator_id, after={"reason": reason, "code": code,
                                                                 "deadline": revocation.deadline})
        if certificate.source in MARKET_SOURCES:
            notify_technical(certificate.operator_id, f"Certificat vi à révoquer avant le "
                             f"{paris_date(revocation.deadline)}",
                             "certificates/email/market_revocation_task.txt",
                             {"certificate": certificate, "revocation": revocation})
        elif certificate.kind == CertificateKind.DB:
            notify_technical(certificate.operator_id, f"Certificat db à révoquer avant le "
                             f"{paris_date(revocation.deadline)}",
                             "certificates/email/db_revocation_task.txt",
                             {"certificate": certificate, "revocation": revocation})
        else:
            schedule("process_revocations")
    return revocation


def _mark_revoked(revocation: Revocation, *, when: datetime, actor: str) -> None:
    certificate = revocation.certificate
    certificate.revoked_at = when
    certificate.revocation_reason = REASONS.get(revocation.reason, (0, revocation.reason))[1]
    certificate.save(update_fields=["revoked_at", "revocation_reason"])
    revocation.transition_to(RevocationStatus.DONE)
    revocation.done_at = when
    revocation.save(update_fields=["status", "done_at"])
    audit.record(actor=actor, action="certificate.revoked", obj=certificate, operator_id=certificate.operator_id,
                 after={"reason": revocation.reason, "at": when})
    _complete_pending(revocation.pending_revocation_id)


def process_revocations(*, now: datetime | None = None) -> int:
    """Revoke `vi` certificates through ACME; confirm `db` ones when their serial is in the CRL."""
    now = now or timezone.now()
    done = 0
    for revocation in Revocation.objects.filter(status__in=OPEN_STATUSES).select_related("certificate"):
        certificate = revocation.certificate
        if certificate.source in MARKET_SOURCES:
            verdict = _market_verdict_of(certificate, now=now)
            if verdict is None or verdict.status != CrlStatus.REVOKED:
                continue
        elif certificate.kind == CertificateKind.VI:
            if revocation.status == RevocationStatus.FAILED and revocation.created_at + backoff(
                    revocation.attempts + 1, base_seconds=15 * 60, max_seconds=15 * 60 * 2 ** 8) > now:
                continue  # backoff: 30 min, 1 h, 2 h… up to about 2.6 days
            try:
                acme_client.revoke_certificate(acme_settings(), acme_account(), certificate.pem.encode(),
                                               revocation.reason_code)
            except (acme_client.AcmeError, ValueError) as exc:
                _attempt_failed(revocation, exc)
                continue
        else:
            verdict = _crl_verdict_of(certificate, now=now)
            if verdict is None or verdict.status != CrlStatus.REVOKED:
                continue
        with transaction.atomic():
            revocation = Revocation.objects.select_for_update().select_related("certificate").get(pk=revocation.pk)
            if revocation.status in OPEN_STATUSES:
                _mark_revoked(revocation, when=now, actor=TASK)
                done += 1
    return done


def _attempt_failed(revocation: Revocation, exc: Exception) -> None:
    """An ACME revocation attempt failed: counted, its error kept, retried later with backoff — or, when the
    answer cannot change (the CA does not know the certificate), ended as impossible and the technical
    administrators told; the ANS sees it on its certificate dashboard."""
    permanent = getattr(exc, "permanent", False)
    with transaction.atomic():
        revocation = Revocation.objects.select_for_update().select_related("certificate").get(pk=revocation.pk)
        if revocation.status in CLOSED_REVOCATION_STATUSES:
            return  # confirmed meanwhile (another worker, or the CRL)
        target = RevocationStatus.IMPOSSIBLE if permanent else RevocationStatus.FAILED
        if revocation.status != target:
            revocation.transition_to(target)
        revocation.attempts += 1
        revocation.last_error = error_text(exc, "Configuration ACME du portail invalide : l'ANS doit la corriger.")
        revocation.save(update_fields=["status", "attempts", "last_error"])
        if not permanent:
            return
        certificate = revocation.certificate
        message, _detail = split_detail(revocation.last_error)
        audit.record(actor=TASK, action="certificate.revocation_impossible", obj=certificate,
                     operator_id=certificate.operator_id, after={"error": message, "attempts": revocation.attempts})
        notify_technical(certificate.operator_id, f"Révocation impossible du certificat vi {certificate.serial}",
                         "certificates/email/revocation_impossible.txt",
                         {"certificate": certificate, "revocation": revocation, "message": message})


def _crl_verdict_of(certificate: Certificate, *, now: datetime) -> CrlVerdict | None:
    leaf = x509.load_pem_x509_certificate(certificate.pem.encode())
    anchors, intermediates = trust.hierarchy()
    uploaded = x509.load_pem_x509_certificates(certificate.chain_pem.encode()) if certificate.chain_pem else []
    issuer = next((c for c in (*intermediates, *uploaded, *anchors) if c.subject == leaf.issuer), None)
    if issuer is None:
        return None
    return trust.crl_status_for(now=now)(leaf, issuer)


def _market_verdict_of(certificate: Certificate, *, now: datetime) -> CrlVerdict | None:
    """A market `vi` certificate's status at its CA (CRL, else OCSP), its issuer taken from the uploaded chain."""
    leaf = x509.load_pem_x509_certificate(certificate.pem.encode())
    uploaded = x509.load_pem_x509_certificates(certificate.chain_pem.encode()) if certificate.chain_pem else []
    issuer = next((c for c in uploaded if c.subject == leaf.issuer), None)
    if issuer is None:
        return None
    return trust.market_revocation_status(now=now)(leaf, issuer).verdict


def recheck_db_certificates(*, now: datetime | None = None) -> int:
    """After a CRL refresh: a current `db` certificate whose serial appears in its CRL is marked revoked."""
    now = now or timezone.now()
    revoked = 0
    for certificate in Certificate.objects.filter(kind=CertificateKind.DB, revoked_at__isnull=True,
                                                  not_after__gt=now):
        verdict = _crl_verdict_of(certificate, now=now)
        if verdict is None or verdict.status != CrlStatus.REVOKED:
            continue
        with transaction.atomic():
            certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
            if certificate.revoked_at:
                continue
            open_revocation = Revocation.objects.filter(certificate=certificate, status__in=OPEN_STATUSES).first()
            if open_revocation is not None:
                _mark_revoked(open_revocation, when=now, actor=TASK)
            else:
                certificate.revoked_at = now
                certificate.revocation_reason = "Révoqué (CRL)"
                certificate.save(update_fields=["revoked_at", "revocation_reason"])
                audit.record(actor=TASK, action="certificate.revoked", obj=certificate,
                             operator_id=certificate.operator_id, after={"source": "CRL"})
            revoked += 1
    return revoked


def close_reason(reason: str | None) -> str:
    """The reason ANS gives to close a revocation without revoking: required, at least
    ``CLOSE_REASON_MIN_LENGTH`` characters, shown to the operator as written."""
    reason = (reason or "").strip()
    if not reason:
        message = "Indiquez pourquoi la révocation est close sans révocation."
        raise InvalidData(message, field_errors={"reason": [message]})
    if len(reason) < CLOSE_REASON_MIN_LENGTH:
        message = (f"Le motif doit compter au moins {CLOSE_REASON_MIN_LENGTH} caractères : dites pourquoi le "
                   "certificat peut rester non révoqué.")
        raise InvalidData(message, field_errors={"reason": [message]})
    if len(reason) > CLOSE_REASON_MAX_LENGTH:
        message = f"Le motif ne doit pas dépasser {CLOSE_REASON_MAX_LENGTH} caractères."
        raise InvalidData(message, field_errors={"reason": [message]})
    validate_display_text({"reason": reason}, multiline={"reason"}, labels={"reason": "motif"})
    return reason


def close_impossible_revocation(revocation: Revocation, *, acting_user: User, reason: str) -> Revocation:
    """An ANS administrator closes a revocation the CA cannot do (« impossible »: it does not know the
    certificate) without revoking, with a reason: audited, the operator's technical administrators told, and
    the switch or withdrawal that called for it completes once nothing else is left to revoke."""
    if not getattr(acting_user, "is_ans_admin", False):
        raise NotAllowed("Réservé aux administrateurs ANS.")
    reason = close_reason(reason)
    with transaction.atomic():
        # Only the revocation is locked (PostgreSQL refuses to lock the nullable side of an outer join).
        revocation = Revocation.objects.select_for_update(of=("self",)).select_related(
            "certificate", "certificate__drimbox", "pending_revocation").get(pk=revocation.pk)
        if revocation.status != RevocationStatus.IMPOSSIBLE:
            status = revocation.get_status_display()
            raise Conflict(f"Seule une révocation impossible peut être close sans révocation : celle du certificat "
                           f"n° {revocation.certificate.serial} est « {status[:1].lower()}{status[1:]} ».",
                           code="invalid_transition")
        before = {"status": revocation.status}
        revocation.transition_to(RevocationStatus.CLOSED)
        revocation.closed_at = timezone.now()
        revocation.closed_by = acting_user
        revocation.closed_reason = reason
        revocation.save(update_fields=["status", "closed_at", "closed_by", "closed_reason"])
        certificate = revocation.certificate
        pending = revocation.pending_revocation
        audit.record(actor=acting_user, action="certificate.revocation_closed", obj=certificate,
                     operator_id=certificate.operator_id, before=before,
                     after={"status": revocation.status, "pending_revocation": pending.reason if pending else None},
                     reason=reason)
        notify_technical(certificate.operator_id,
                         f"Révocation du certificat {certificate.kind} {certificate.serial} close par l'ANS",
                         "certificates/email/revocation_closed.txt",
                         {"certificate": certificate, "revocation": revocation, "pending": pending,
                          "reason": reason})
        _complete_pending(revocation.pending_revocation_id, actor=acting_user)
    return revocation


def _complete_pending(pending_id: int | None, *, actor: User | str = TASK) -> None:
    if pending_id is None:
        return
    # An impossible revocation keeps the switch or withdrawal open until ANS closes it: its certificate is still
    # to be revoked.
    if not Revocation.objects.filter(pending_revocation_id=pending_id).exclude(
            status__in=SETTLED_REVOCATION_STATUSES).exists():
        operator_services.complete_pending_revocation(pending_id, actor=actor)


def process_pending_revocations() -> int:
    """Operator switch and withdrawal (recorded by the operators app): open the revocations they call for."""
    opened = 0
    for pending in PendingRevocation.objects.filter(status=PendingRevocationStatus.OPEN).select_related("drimbox"):
        reason = "bascule" if pending.kind == PendingRevocationKind.SWITCH else "retrait"
        current = Certificate.objects.filter(drimbox=pending.drimbox, operator=pending.previous_operator,
                                             created_at__lte=pending.created_at,
                                             revoked_at__isnull=True, not_after__gt=timezone.now())
        _end_acme_dns_credentials(pending)
        for certificate in current:
            if Revocation.objects.filter(certificate=certificate).exists():
                continue
            revoke_certificate(certificate, acting_user=None, reason=reason, pending_revocation=pending)
            opened += 1
        if not current.exists():
            _complete_pending(pending.pk)
    return opened


def _end_acme_dns_credentials(pending: PendingRevocation) -> None:
    """After a switch or a withdrawal, the former credentials may no longer answer a DNS-01 challenge."""
    with transaction.atomic():
        for credential in AcmeDnsCredential.objects.select_for_update().filter(
                drimbox=pending.drimbox, revoked_at__isnull=True, created_at__lte=pending.created_at):
            credential.revoked_at = timezone.now()
            credential.save(update_fields=["revoked_at"])
            audit.record(actor=TASK, action="acme_dns.revoked", obj=credential,
                         operator_id=pending.previous_operator_id, reason=pending.reason)

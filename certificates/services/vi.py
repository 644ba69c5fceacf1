"""`vi` certificates (market DV): an order from the operator's CSR, issued by the ACME client in a task,
retried with backoff within the CA's limits, renewed before expiry."""
from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from certificates import acme_client
from certificates.models import Certificate, CertificateKind, CertificateSource, ViOrder, ViOrderStatus
from certificates.services.acme import acme_account, acme_settings
from certificates.services.inventory import (
    TASK,
    CertificateRejected,
    checks_json,
    manageable,
    read_upload,
    require_viewer,
    schedule,
    store_certificate,
)
from certificates.services.notices import notify_technical
from certificates.validation import check_vi_certificate, check_vi_csr, parse_csr_upload
from operators import permissions
from operators.models import Drimbox, DrimboxStatus
from trustspace import audit
from trustspace.backoff import backoff
from trustspace.dnszone import DnsError, ZoneClient
from trustspace.errors import Conflict, NotFound
from trustspace.models import User
from trustspace.technical_detail import error_text

# Longest wait before retrying a `vi` order (also caps the CA's Retry-After).
ACME_MAX_DELAY_SECONDS = 24 * 3600
# How long a worker holds an order it took: longer than one issuance can take.
CLAIM_SECONDS = 600


def request_vi_certificate(drimbox: Drimbox, *, acting_user: User, uploaded_csr: UploadedFile | bytes | None,
                           ) -> ViOrder:
    """Queue an ACME order for the DRIMbox's `vi` name from the operator's CSR (the key stays on the DRIMbox)."""
    drimbox = manageable(drimbox, acting_user)
    require_viewer(drimbox)
    csr = read_upload(uploaded_csr, parse_csr_upload)
    checks = checks_json(check_vi_csr(csr, expected_fqdn=drimbox.vi_fqdn))
    if any(check["ok"] is False for check in checks):
        raise CertificateRejected("La demande de certificat (CSR) ne respecte pas les règles du nom vi.", checks)
    with transaction.atomic():
        order = ViOrder(drimbox=drimbox, operator=drimbox.operator, csr_pem=csr.public_bytes(Encoding.PEM).decode(),
                        requested_by=acting_user)
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as exc:
            raise Conflict("Une demande de certificat vi est déjà en cours pour cette DRIMbox.") from exc
        audit.record(actor=acting_user, action="certificate.vi.requested", obj=order,
                     operator_id=drimbox.operator_id, after={"drimbox": drimbox.identifiant})
        schedule("process_vi_orders")
    return order


def process_vi_orders(*, now: datetime | None = None, dns: ZoneClient | None = None) -> tuple[int, int]:
    """Issue every due pending `vi` order (Celery task; retried with backoff within the CA's limits)."""
    now = now or timezone.now()
    issued = failed = 0
    due = ViOrder.objects.filter(status=ViOrderStatus.PENDING, next_attempt_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)):
        if not _claim(pk, now):
            continue  # another worker has it
        order = ViOrder.objects.select_related("drimbox", "drimbox__operator").get(pk=pk)
        if order.operator_id != order.drimbox.operator_id:
            _cancel_stale_order(order)
            continue
        try:
            key = acme_account()
            result = acme_client.issue_certificate(acme_settings(), key, order.csr_pem.encode(),
                                                   dns=dns or ZoneClient.from_settings())
        except (acme_client.AcmeError, DnsError, ImproperlyConfigured, ValueError) as exc:
            _order_failed(order, exc)
            failed += 1
            continue
        record_issued_vi_certificate(order, result.chain_pem)
        issued += 1
    return issued, failed


def _claim(pk: int, now: datetime) -> bool:
    """Take an order for one worker: its next attempt moves past the time one issuance can take."""
    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    with transaction.atomic():
        order = ViOrder.objects.select_for_update(**lock).filter(
            pk=pk, status=ViOrderStatus.PENDING, next_attempt_at__lte=now).first()
        if order is None:
            return False
        order.next_attempt_at = timezone.now() + timedelta(seconds=CLAIM_SECONDS)
        order.save(update_fields=["next_attempt_at"])
    return True


def _order_failed(order: ViOrder, exc: Exception) -> None:
    with transaction.atomic():
        order = ViOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != ViOrderStatus.PENDING:
            return
        order.attempts += 1
        order.last_error = error_text(exc, "Configuration ACME ou DNS du portail invalide : l'ANS doit la corriger.")
        retry_after = getattr(exc, "retry_after", None)
        order.next_attempt_at = timezone.now() + (
            timedelta(seconds=min(retry_after, ACME_MAX_DELAY_SECONDS)) if retry_after else
            backoff(order.attempts, base_seconds=settings.ACME_RETRY_BASE_SECONDS, max_seconds=ACME_MAX_DELAY_SECONDS))
        if order.attempts >= settings.ACME_MAX_ATTEMPTS:
            order.transition_to(ViOrderStatus.FAILED)
            notify_technical(order.operator_id, f"Échec de l'émission du certificat vi — DRIMbox "
                             f"{order.drimbox.identifiant}", "certificates/email/vi_failed.txt", {"order": order})
        order.save(update_fields=["attempts", "last_error", "next_attempt_at", "status"])
        audit.record(actor=TASK, action="certificate.vi.attempt_failed", obj=order, operator_id=order.operator_id,
                     after={"attempts": order.attempts, "error": order.last_error, "status": order.status})


def record_issued_vi_certificate(order: ViOrder, chain_pem: str | bytes) -> Certificate | None:
    """Store the chain the CA issued for ``order`` as the DRIMbox's current `vi` certificate."""
    chain = x509.load_pem_x509_certificates(chain_pem.encode() if isinstance(chain_pem, str) else chain_pem)
    leaf, rest = chain[0], chain[1:]
    with transaction.atomic():
        order = ViOrder.objects.select_for_update().select_related("drimbox").get(pk=order.pk)
        if order.status != ViOrderStatus.PENDING:
            return None
        if order.operator_id != order.drimbox.operator_id:
            # Asked by the former operator (its key is on its DRIMbox): never the new operator's certificate.
            _cancel_stale_order(order)
            return None
        checks = checks_json(check_vi_certificate(leaf, expected_fqdn=order.drimbox.vi_fqdn, at=timezone.now()))
        certificate = store_certificate(drimbox=order.drimbox, kind=CertificateKind.VI, source=CertificateSource.ACME,
                                        leaf=leaf, chain=rest, checks=checks, acting_user=None,
                                        reason="renouvellement" if order.renewal_of_id else "émission ACME")
        order.certificate = certificate
        order.attempts += 1
        order.last_error = ""
        order.transition_to(ViOrderStatus.ISSUED)
        order.save(update_fields=["certificate", "attempts", "last_error", "status"])
        notify_technical(order.operator_id, f"Certificat vi émis — {order.drimbox.vi_fqdn}",
                         "certificates/email/vi_issued.txt", {"order": order, "certificate": certificate})
    return certificate


def _cancel_stale_order(order: ViOrder) -> None:
    with transaction.atomic():
        order = ViOrder.objects.select_for_update().get(pk=order.pk)
        if order.status != ViOrderStatus.PENDING:
            return
        order.transition_to(ViOrderStatus.CANCELLED)
        order.last_error = "Annulée : la DRIMbox a changé d'opérateur."
        order.save(update_fields=["status", "last_error"])
        audit.record(actor=TASK, action="certificate.vi.order_cancelled", obj=order, operator_id=order.operator_id,
                     after={"status": order.status}, reason="changement d'opérateur")


def renew_vi_certificates(*, now: datetime | None = None) -> int:
    """Queue a renewal for each current ACME certificate with a third (a setting) of its lifetime left."""
    now = now or timezone.now()
    queued = 0
    current = Certificate.objects.filter(kind=CertificateKind.VI, source=CertificateSource.ACME,
                                         operator=F("drimbox__operator"),
                                         superseded_at__isnull=True, revoked_at__isnull=True,
                                         drimbox__status__in=[DrimboxStatus.DECLARED, DrimboxStatus.INTEGRATING,
                                                              DrimboxStatus.ACTIVE])
    for certificate in current.select_related("drimbox"):
        if not acme_client.renewal_due(certificate.not_before, certificate.not_after, now,
                                       fraction=settings.ACME_RENEWAL_FRACTION):
            continue
        source = ViOrder.objects.filter(certificate=certificate).first()
        if source is None or ViOrder.objects.filter(drimbox=certificate.drimbox,
                                                    status=ViOrderStatus.PENDING).exists():
            continue
        if ViOrder.objects.filter(renewal_of=certificate, status=ViOrderStatus.FAILED).exists():
            continue  # its renewal failed and was notified: a new CSR from the operator starts again
        with transaction.atomic():
            try:
                with transaction.atomic():
                    order = ViOrder.objects.create(drimbox=certificate.drimbox, operator=certificate.drimbox.operator,
                                                   csr_pem=source.csr_pem, renewal_of=certificate)
            except IntegrityError:
                continue
            audit.record(actor=TASK, action="certificate.vi.renewal_queued", obj=order,
                         operator_id=order.operator_id, after={"renewal_of": certificate.serial})
        queued += 1
    return queued


def current_vi_chain(drimbox: Drimbox, *, acting_user: User) -> Certificate:
    """What a DRIMbox downloads: the current `vi` certificate and its chain (PEM)."""
    permissions.require(acting_user, "certificate.view", drimbox.operator)
    # The current operator's certificate only: after a switch, the former one's is on its way to revocation.
    certificate = Certificate.objects.filter(drimbox=drimbox, operator=drimbox.operator, kind=CertificateKind.VI,
                                             superseded_at__isnull=True, revoked_at__isnull=True,
                                             not_after__gt=timezone.now()).first()
    if certificate is None:
        raise NotFound(f"La DRIMbox {drimbox.identifiant} n'a pas de certificat vi en cours.")
    return certificate

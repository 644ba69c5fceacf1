"""What every certificate service shares: the rules' rejection, who may manage a DRIMbox's certificates,
reading an upload, storing a certificate (superseding the current one), scheduling a task."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from certificates.models import Certificate
from certificates.validation import CertificateInputError, RuleResult, describe_certificate
from operators import permissions
from operators.models import OPEN_STATUSES, Drimbox, DrimboxRequest, DrimboxStatus, RequestKind
from trustspace import audit
from trustspace.errors import Conflict, InvalidData
from trustspace.models import User
from trustspace.outbox import enqueue_task
from trustspace.text import find_forbidden_character, forbidden_character_message

TASK = "tâche certificats"

Parsed = TypeVar("Parsed")
Check = dict[str, Any]


class CertificateRejected(InvalidData):
    """Rules failed: the certificate (or CSR) is not stored; ``checks`` says which and why."""

    def __init__(self, message: str, checks: list[Check]):
        super().__init__(message, code="certificate_rejected", field_errors={
            "file": [check["message"] for check in checks if check["ok"] is False]})
        self.checks = checks


def checks_json(results: Sequence[RuleResult]) -> list[Check]:
    return [{"code": r.code, "ok": r.ok, "message": r.message} for r in results]


def manageable(drimbox: Drimbox, acting_user: User) -> Drimbox:
    """The DRIMbox, fresh, once ``acting_user`` may manage its certificates and it may receive some."""
    drimbox = Drimbox.objects.select_related("operator").get(pk=drimbox.pk)
    permissions.require(acting_user, "certificate.manage", drimbox.operator)
    if drimbox.status == DrimboxStatus.WITHDRAWN and not DrimboxRequest.objects.filter(
            drimbox=drimbox, operator=drimbox.operator, kind=RequestKind.REINTEGRATION,
            status__in=OPEN_STATUSES).exists():
        # A withdrawn DRIMbox gets certificates again only for its reintegration.
        raise Conflict(f"La DRIMbox {drimbox.identifiant} est retirée : elle ne reçoit de certificat que pour une "
                       "demande de réintégration en cours.")
    return drimbox


def require_viewer(drimbox: Drimbox) -> None:
    """A DRIMbox without viewer has no vi name: no vi certificate, ACME order nor acme-dns credentials."""
    if not drimbox.has_viewer:
        raise Conflict(f"La DRIMbox {drimbox.identifiant} n'a pas de visionneuse : elle n'a ni nom vi ni "
                       "certificat vi.", code="no_viewer")


def refuse_hidden_characters(parsed: Parsed) -> Parsed:
    """``parsed`` (certificates, the leaf first, or a CSR) unless a value of a subject or issuer holds a bidi or
    control character (``trustspace.text``): those names are shown as they are (certificate pages, e-mails, the
    export, the whitelist's DN) and would read otherwise. Raises ``CertificateInputError`` (French)."""
    items = parsed if isinstance(parsed, list) else [parsed]
    for index, item in enumerate(items):
        if isinstance(item, x509.CertificateSigningRequest):
            label, refused, names = "La demande de certificat (CSR)", "refusée", {"son sujet": item.subject}
        else:
            label = "Le certificat" if index == 0 else f"Le certificat n°{index + 1} du fichier"
            refused, names = "refusé", {"son sujet": item.subject, "son émetteur": item.issuer}
        for where, name in names.items():
            for attribute in name:
                ch = find_forbidden_character(attribute.value) if isinstance(attribute.value, str) else None
                if ch is not None:
                    raise CertificateInputError(f"{label} est {refused} : {where} contient un caractère qui ne "
                                                f"s'affiche pas tel quel. {forbidden_character_message(ch)}")
    return parsed


def read_upload(uploaded: UploadedFile | bytes | None, parser: Callable[..., Parsed]) -> Parsed:
    """The parsed upload, within the size limit; a French InvalidData on the ``file`` field otherwise."""
    if uploaded is None:
        raise InvalidData("Choisissez un fichier.", field_errors={"file": ["Choisissez un fichier."]})
    if getattr(uploaded, "size", 0) > settings.CERTIFICATE_MAX_BYTES:
        message = f"Le fichier dépasse la taille maximale ({settings.CERTIFICATE_MAX_BYTES // 1024} Ko)."
        raise InvalidData(message, code="file_too_large", field_errors={"file": [message]})
    data = uploaded.read(settings.CERTIFICATE_MAX_BYTES + 1) if hasattr(uploaded, "read") else bytes(uploaded)
    try:
        return refuse_hidden_characters(parser(data, max_bytes=settings.CERTIFICATE_MAX_BYTES))
    except CertificateInputError as exc:
        raise InvalidData(exc.message, code="invalid_certificate", field_errors={"file": [exc.message]}) from exc


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(Encoding.PEM).decode()


def store_certificate(*, drimbox: Drimbox, kind: str, source: str, leaf: x509.Certificate,
                      chain: Sequence[x509.Certificate], checks: list[Check], acting_user: User | None,
                      reason: str, validation_level: str = "") -> Certificate:
    """Insert a certificate and supersede the DRIMbox's current one of that kind (inside a transaction)."""
    info = describe_certificate(leaf)
    now = timezone.now()
    previous = Certificate.objects.select_for_update().filter(
        drimbox=drimbox, kind=kind, superseded_at__isnull=True, revoked_at__isnull=True).first()
    if previous is not None:
        if previous.fingerprint_sha256 == info["fingerprint_sha256"]:
            raise Conflict("Ce certificat est déjà le certificat en cours de cette DRIMbox.", code="duplicate")
        previous.superseded_at = now
        previous.save(update_fields=["superseded_at"])
    certificate = Certificate(
        drimbox=drimbox, operator=drimbox.operator, kind=kind, source=source, pem=_pem(leaf),
        chain_pem="".join(_pem(c) for c in chain), serial=info["serial"],
        fingerprint_sha256=info["fingerprint_sha256"], subject=info["subject"], issuer=info["issuer"],
        not_before=info["not_before"], not_after=info["not_after"], checks=checks, uploaded_by=acting_user,
        validation_level=validation_level,
    )
    try:
        with transaction.atomic():
            certificate.save()
    except IntegrityError as exc:
        raise Conflict("Ce certificat est déjà enregistré pour cette DRIMbox.", code="duplicate") from exc
    audit.record(actor=acting_user or TASK, action=f"certificate.{kind}.stored", obj=certificate,
                 operator_id=drimbox.operator_id, after=audit.snapshot(certificate, Certificate.AUDITED_FIELDS),
                 reason=reason)
    return certificate


def schedule(task_name: str) -> None:
    """Through the outbox: the task is published once the caller's transaction has committed."""
    enqueue_task(f"certificates.tasks.{task_name}")

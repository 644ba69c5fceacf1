"""Attestations de délégation and VA documents (DESIGN §5)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operators import permissions
from operators.attestation_pdf import render_attestation
from operators.models import Attestation, Drimbox, DrimboxRequest, VaDocument, VaStatus
from operators.models.documents import OPEN_VA_STATUSES
from operators.models.requests import file_sha256
from operators.notify import notify_operator
from operators.recipients import ans_emails
from operators.services.common import refusal_reason, require_ans_admin
from trustspace import audit
from trustspace.errors import NotAllowed
from trustspace.notifications import send_email_on_commit
from trustspace.uploads import validate_pdf

if TYPE_CHECKING:
    from trustspace.models import User

# --- Attestations ------------------------------------------------------------------------------


def attestation_check_url() -> str:
    return settings.SITE_URL + reverse("attestation_check")


def issue_attestation(req: DrimboxRequest, drimbox: Drimbox) -> Attestation:
    """Called inside the approving transaction of a declaration or an operator switch."""
    structure = drimbox.health_structure
    attestation = Attestation(
        drimbox=drimbox, operator=req.operator, request=req, operator_name=req.operator.name,
        operator_siren=req.operator.siren, structure_name=structure.name, structure_siren=structure.siren,
        structure_finess=structure.finess_geographique, identifiant=drimbox.identifiant, db_fqdn=drimbox.db_fqdn,
        vi_fqdn=drimbox.vi_fqdn or "",  # "": a DRIMbox without viewer
    )
    content = render_attestation(attestation, check_url=attestation_check_url())
    attestation.sha256 = hashlib.sha256(content).hexdigest()
    attestation.pdf.save(f"{attestation.code}.pdf", ContentFile(content), save=False)
    attestation.save()
    audit.record(actor="système", action="attestation.issued", obj=attestation, operator_id=req.operator_id,
                 after={"code": attestation.code, "drimbox": drimbox.identifiant, "sha256": attestation.sha256},
                 reason=req.reference)
    return attestation


def supersede_attestations(drimbox: Drimbox) -> None:
    now = timezone.now()
    for attestation in Attestation.objects.select_for_update().filter(drimbox=drimbox, superseded_at__isnull=True):
        attestation.superseded_at = now
        attestation.save(update_fields=["superseded_at"])
        audit.record(actor="système", action="attestation.superseded", obj=attestation,
                     operator_id=attestation.operator_id, after={"superseded_at": now})


def normalise_code(code: str | None) -> str | None:
    """Accept the code as people type it: any case, spaces, missing dashes."""
    raw = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    if raw.startswith("ATT"):
        raw = raw[3:]
    if len(raw) != 12:
        return None
    return f"ATT-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def find_attestation(code: str | None) -> Attestation | None:
    normalised = normalise_code(code)
    if normalised is None:
        return None
    return Attestation.objects.filter(code=normalised).select_related("request", "drimbox").first()


# --- VA documents ------------------------------------------------------------------------------


def open_va_document(req: DrimboxRequest, drimbox: Drimbox) -> VaDocument:
    """A VA document falls due after an integration or a reintegration (CGI deadline, a setting)."""
    due_at = timezone.now() + timedelta(days=settings.VA_DEADLINE_DAYS)
    va = VaDocument.objects.create(drimbox=drimbox, operator=drimbox.operator, request=req, due_at=due_at)
    audit.record(actor="système", action="va.due", obj=va, operator_id=drimbox.operator_id,
                 after={"due_at": due_at, "drimbox": drimbox.identifiant}, reason=req.reference)
    return va


def close_open_va_documents(drimbox: Drimbox, *, actor: User | str, reason: str) -> None:
    """A withdrawn or switched DRIMbox owes no VA document any more (called in the approving transaction)."""
    for va in VaDocument.objects.select_for_update().filter(drimbox=drimbox, status__in=OPEN_VA_STATUSES):
        before = {"status": va.status}
        va.transition_to(VaStatus.CLOSED)
        va.save(update_fields=["status"])
        audit.record(actor=actor, action="va.closed", obj=va, operator_id=va.operator_id, before=before,
                     after={"status": va.status}, reason=reason)


def _lock(va: VaDocument) -> VaDocument:
    return VaDocument.objects.select_for_update().select_related("drimbox", "operator").get(pk=va.pk)


def upload_va(va: VaDocument, *, acting_user: User, uploaded_file: UploadedFile) -> VaDocument:
    permissions.require(acting_user, "va.upload", va.operator)
    validate_pdf(uploaded_file, field="file", label="Le document VA")
    with transaction.atomic():
        va = _lock(va)
        if va.drimbox.operator_id != va.operator_id:
            raise NotAllowed("Cette DRIMbox a changé d'opérateur : ce document VA ne vous concerne plus.")
        before = audit.snapshot(va, VaDocument.AUDITED_FIELDS)
        va.transition_to(VaStatus.SUBMITTED)
        va.original_name = (uploaded_file.name or "va.pdf")[:200]
        va.sha256 = file_sha256(uploaded_file)
        va.file.save("va.pdf", uploaded_file, save=False)
        va.uploaded_by, va.uploaded_at = acting_user, timezone.now()
        va.refusal_reason = ""
        va.save()
        audit.record(actor=acting_user, action="va.uploaded", obj=va, operator_id=va.operator_id, before=before,
                     after=audit.snapshot(va, VaDocument.AUDITED_FIELDS))
        send_email_on_commit(
            to=ans_emails(), subject=f"Document VA déposé — DRIMbox {va.drimbox.identifiant} ({va.operator.name})",
            template="operators/email/va_uploaded.txt",
            context={"va": va, "url": settings.SITE_URL + reverse("ans_va")})
    return va


def validate_va(va: VaDocument, *, acting_user: User) -> VaDocument:
    require_ans_admin(acting_user)
    with transaction.atomic():
        va = _lock(va)
        before = {"status": va.status}
        va.transition_to(VaStatus.VALIDATED)
        va.decided_by, va.decided_at = acting_user, timezone.now()
        va.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(actor=acting_user, action="va.validated", obj=va, operator_id=va.operator_id, before=before,
                     after={"status": va.status})
        notify_operator(
            va.operator_id, subject=f"Document VA validé — DRIMbox "
            f"{va.drimbox.identifiant}", template="operators/email/va_decision.txt", context={"va": va},
            event_type="va.validated", drimbox=va.drimbox)
    return va


def refuse_va(va: VaDocument, *, acting_user: User, reason: str) -> VaDocument:
    require_ans_admin(acting_user)
    reason = refusal_reason(reason)
    with transaction.atomic():
        va = _lock(va)
        before = {"status": va.status}
        va.transition_to(VaStatus.REFUSED)
        va.refusal_reason = reason
        va.decided_by, va.decided_at = acting_user, timezone.now()
        va.save(update_fields=["status", "refusal_reason", "decided_by", "decided_at"])
        audit.record(actor=acting_user, action="va.refused", obj=va, operator_id=va.operator_id, before=before,
                     after={"status": va.status}, reason=reason)
        notify_operator(
            va.operator_id, subject=f"Document VA refusé — DRIMbox "
            f"{va.drimbox.identifiant}", template="operators/email/va_decision.txt", context={"va": va},
            event_type="va.refused", drimbox=va.drimbox)
    return va


def send_va_reminders(now: datetime | None = None) -> int:
    """Remind operators before the VA deadline: once per threshold, even after a missed run."""
    now = now or timezone.now()
    thresholds = sorted(set(settings.VA_REMINDER_DAYS), reverse=True)
    if not thresholds:
        return 0
    horizon = now + timedelta(days=max(thresholds))
    sent = 0
    pending = VaDocument.objects.filter(status__in=[VaStatus.DUE, VaStatus.REFUSED], due_at__lte=horizon,
                                        due_at__gt=now)
    for pk in pending.values_list("pk", flat=True):
        with transaction.atomic():
            va = _lock(va=VaDocument(pk=pk))
            days_left = (va.due_at - now).total_seconds() / 86400
            crossed = [days for days in thresholds if days_left <= days and days not in va.reminders_sent]
            if not crossed or va.status not in {VaStatus.DUE, VaStatus.REFUSED}:
                continue
            # One e-mail for every threshold crossed since the last run; the smallest one names it.
            va.reminders_sent = sorted(set(va.reminders_sent) | set(crossed), reverse=True)
            va.save(update_fields=["reminders_sent"])
            audit.record(actor="tâche rappels VA", action="va.reminded", obj=va, operator_id=va.operator_id,
                         after={"thresholds": crossed})
            notify_operator(
                va.operator_id,
                subject=f"Rappel : document VA attendu avant le {timezone.localtime(va.due_at):%d/%m/%Y} — "
                f"DRIMbox {va.drimbox.identifiant}",
                template="operators/email/va_reminder.txt", context={"va": va, "days": min(crossed)},
                event_type="va.reminder", drimbox=va.drimbox,
            )
            sent += 1
    return sent

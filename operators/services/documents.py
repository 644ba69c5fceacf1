"""Attestations de délégation and VA documents (DESIGN §5)."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operators import permissions
from operators.attestation_pdf import render_attestation
from operators.models import Attestation, Drimbox, DrimboxRequest, VaDocument, VaStatus
from operators.models.documents import OPEN_VA_STATUSES, RESERVATIONS_OVERDUE_REMINDER
from operators.models.requests import file_sha256
from operators.notify import notify_operator
from operators.recipients import ans_emails
from operators.services.common import refusal_reason, require_ans_admin
from trustspace import audit
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.notifications import send_email_on_commit
from trustspace.paris_time import paris_date
from trustspace.uploads import shown_file_name, validate_pdf

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


def _lock_for_its_operator(va: VaDocument) -> VaDocument:
    """Lock the VA; refused once the DRIMbox has changed operator (the VA is the previous operator's)."""
    va = _lock(va)
    if va.drimbox.operator_id != va.operator_id:
        raise NotAllowed("Cette DRIMbox a changé d'opérateur : ce document VA ne vous concerne plus.")
    return va


def _attach_pdf(va: VaDocument, uploaded_file: UploadedFile, *, prefix: str, default_name: str,
                acting_user: User) -> None:
    """Store a deposited PDF in the VA's ``<prefix>file`` fields (the VA itself, or the lifting document)."""
    setattr(va, f"{prefix}original_name", shown_file_name(uploaded_file, default_name))
    setattr(va, f"{prefix}sha256", file_sha256(uploaded_file))
    getattr(va, f"{prefix}file").save(default_name, uploaded_file, save=False)
    setattr(va, f"{prefix}uploaded_by", acting_user)
    setattr(va, f"{prefix}uploaded_at", timezone.now())


def _require_status(va: VaDocument, expected: str, new_status: str) -> None:
    """Two paths lead to the same status (VA validated, reservations lifted): each acts on its own step only."""
    if va.status != expected:
        raise Conflict(va.transition_refused_message(new_status), code=VaDocument.TRANSITION_ERROR_CODE)


def upload_va(va: VaDocument, *, acting_user: User, uploaded_file: UploadedFile,
              with_reservations: bool = False) -> VaDocument:
    """Deposit the VA; ``with_reservations``: signed « avec réserves », the client's RIS not yet in Vague 2."""
    permissions.require(acting_user, "va.upload", va.operator)
    validate_pdf(uploaded_file, field="file", label="Le document VA")
    with transaction.atomic():
        va = _lock_for_its_operator(va)
        before = audit.snapshot(va, VaDocument.AUDITED_FIELDS)
        va.transition_to(VaStatus.SUBMITTED)
        _attach_pdf(va, uploaded_file, prefix="", default_name="va.pdf", acting_user=acting_user)
        va.refusal_reason = ""
        va.with_reservations = bool(with_reservations)
        va.save()
        audit.record(actor=acting_user, action="va.uploaded", obj=va, operator_id=va.operator_id, before=before,
                     after=audit.snapshot(va, VaDocument.AUDITED_FIELDS))
        send_email_on_commit(
            to=ans_emails(), subject=f"Document VA déposé{' avec réserves' if va.with_reservations else ''} — DRIMbox "
            f"{va.drimbox.identifiant} ({va.operator.name})",
            template="operators/email/va_uploaded.txt",
            context={"va": va, "url": settings.SITE_URL + reverse("ans_va")})
    return va


def validate_va(va: VaDocument, *, acting_user: User) -> VaDocument:
    require_ans_admin(acting_user)
    with transaction.atomic():
        va = _lock(va)
        before = {"status": va.status}
        # A VA signed with reservations is validated as such: the reservations remain to be lifted.
        target = VaStatus.VALIDATED_RESERVATIONS if va.with_reservations else VaStatus.VALIDATED
        _require_status(va, VaStatus.SUBMITTED, target)
        va.transition_to(target)
        va.decided_by, va.decided_at = acting_user, timezone.now()
        va.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(actor=acting_user, action="va.validated", obj=va, operator_id=va.operator_id, before=before,
                     after={"status": va.status, "with_reservations": va.with_reservations})
        notify_operator(
            va.operator_id, subject=f"Document VA {va.status_label().lower()} — DRIMbox "
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


# --- VA « avec réserves » -----------------------------------------------------------------------


def reservations_deadline(signalled_on: date) -> datetime:
    """The end of the day, in local time, two calendar months after the client signalled the RIS update."""
    last_day = signalled_on + relativedelta(months=settings.VA_RESERVATIONS_MONTHS)
    return timezone.make_aware(datetime.combine(last_day, time(23, 59, 59)))


def record_ris_update(va: VaDocument, *, acting_user: User, signalled_on: date | None) -> VaDocument:
    """Record the date the client signalled its RIS in Vague 2: the two months to lift the reservations start.

    By a member of the operator who deposits the VA, or by ANS; correctable until the lifting document is
    deposited (the deadline and its reminders then start again from the new date).
    """
    if not getattr(acting_user, "is_ans_admin", False):
        permissions.require(acting_user, "va.upload", va.operator)
    field = "ris_signalled_on"
    if signalled_on is None:
        raise InvalidData("Indiquez la date à laquelle le client a signalé la mise à jour du RIS en Vague 2.",
                          field_errors={field: ["Ce champ est obligatoire."]})
    if signalled_on > timezone.localdate():
        message = "La date de mise à jour du RIS ne peut pas être dans le futur."
        raise InvalidData(message, field_errors={field: [message]})
    with transaction.atomic():
        va = _lock(va)
        if va.status != VaStatus.VALIDATED_RESERVATIONS:
            raise Conflict("La date de mise à jour du RIS s'enregistre pour un document VA validé avec réserves, "
                           "tant que la levée des réserves n'est pas déposée.", code="invalid_transition")
        if va.drimbox.operator_id != va.operator_id:
            raise NotAllowed("Cette DRIMbox a changé d'opérateur : ce document VA ne vous concerne plus.")
        deposited_on = timezone.localdate(va.uploaded_at) if va.uploaded_at else None
        if deposited_on and signalled_on < deposited_on:
            message = (f"La mise à jour du RIS ne peut pas précéder le dépôt du document VA "
                       f"({paris_date(deposited_on)}).")
            raise InvalidData(message, field_errors={field: [message]})
        before = audit.snapshot(va, VaDocument.AUDITED_FIELDS)
        va.ris_signalled_on = signalled_on
        va.ris_signalled_by = acting_user
        va.reservations_due_at = reservations_deadline(signalled_on)
        va.reservations_reminders_sent = []
        va.save(update_fields=["ris_signalled_on", "ris_signalled_by", "reservations_due_at",
                               "reservations_reminders_sent"])
        audit.record(actor=acting_user, action="va.ris_signalled", obj=va, operator_id=va.operator_id,
                     before=before, after=audit.snapshot(va, VaDocument.AUDITED_FIELDS))
    return va


def upload_va_lifting(va: VaDocument, *, acting_user: User, uploaded_file: UploadedFile) -> VaDocument:
    """Deposit the document by which the client lifts the reservations (PDF, same checks as the VA)."""
    permissions.require(acting_user, "va.upload", va.operator)
    validate_pdf(uploaded_file, field="file", label="Le document de levée des réserves")
    with transaction.atomic():
        va = _lock_for_its_operator(va)
        before = audit.snapshot(va, VaDocument.AUDITED_FIELDS)
        va.transition_to(VaStatus.LIFTING_SUBMITTED)
        _attach_pdf(va, uploaded_file, prefix="lifting_", default_name="levee-reserves.pdf", acting_user=acting_user)
        va.lifting_refusal_reason = ""
        va.save()
        audit.record(actor=acting_user, action="va.lifting_uploaded", obj=va, operator_id=va.operator_id,
                     before=before, after=audit.snapshot(va, VaDocument.AUDITED_FIELDS))
        send_email_on_commit(
            to=ans_emails(), subject=f"Levée des réserves VA déposée — DRIMbox {va.drimbox.identifiant} "
            f"({va.operator.name})", template="operators/email/va_lifting_uploaded.txt",
            context={"va": va, "url": settings.SITE_URL + reverse("ans_va")})
    return va


def validate_va_lifting(va: VaDocument, *, acting_user: User) -> VaDocument:
    """ANS validates the lifting document: the VA is validated without reservation."""
    require_ans_admin(acting_user)
    with transaction.atomic():
        va = _lock(va)
        before = {"status": va.status}
        _require_status(va, VaStatus.LIFTING_SUBMITTED, VaStatus.VALIDATED)
        va.transition_to(VaStatus.VALIDATED)
        va.decided_by, va.decided_at = acting_user, timezone.now()
        va.save(update_fields=["status", "decided_by", "decided_at"])
        audit.record(actor=acting_user, action="va.reservations_lifted", obj=va, operator_id=va.operator_id,
                     before=before, after={"status": va.status})
        notify_operator(
            va.operator_id, subject=f"Réserves du VA levées — DRIMbox {va.drimbox.identifiant}",
            template="operators/email/va_reservations_decision.txt", context={"va": va},
            event_type="va.validated", drimbox=va.drimbox)
    return va


def refuse_va_lifting(va: VaDocument, *, acting_user: User, reason: str) -> VaDocument:
    """ANS refuses the lifting document, with a reason: the operator deposits a new one."""
    require_ans_admin(acting_user)
    reason = refusal_reason(reason)
    with transaction.atomic():
        va = _lock(va)
        before = {"status": va.status}
        _require_status(va, VaStatus.LIFTING_SUBMITTED, VaStatus.VALIDATED_RESERVATIONS)
        va.transition_to(VaStatus.VALIDATED_RESERVATIONS)
        va.lifting_refusal_reason = reason
        va.decided_by, va.decided_at = acting_user, timezone.now()
        va.save(update_fields=["status", "lifting_refusal_reason", "decided_by", "decided_at"])
        audit.record(actor=acting_user, action="va.lifting_refused", obj=va, operator_id=va.operator_id,
                     before=before, after={"status": va.status}, reason=reason)
        notify_operator(
            va.operator_id, subject=f"Levée des réserves VA refusée — DRIMbox {va.drimbox.identifiant}",
            template="operators/email/va_reservations_decision.txt", context={"va": va},
            event_type="va.refused", drimbox=va.drimbox)
    return va


def send_va_reservations_reminders(now: datetime | None = None) -> int:
    """Remind operators before the reservations deadline, then once when it is overdue; once per threshold."""
    now = now or timezone.now()
    thresholds = sorted(set(settings.VA_RESERVATIONS_REMINDER_DAYS), reverse=True)
    horizon = now + timedelta(days=max(thresholds, default=0))
    sent = 0
    pending = VaDocument.objects.filter(status=VaStatus.VALIDATED_RESERVATIONS, reservations_due_at__lte=horizon)
    for pk in pending.values_list("pk", flat=True):
        with transaction.atomic():
            va = _lock(va=VaDocument(pk=pk))
            if va.status != VaStatus.VALIDATED_RESERVATIONS or va.reservations_due_at is None:
                continue
            days_left = (va.reservations_due_at - now).total_seconds() / 86400
            overdue = days_left < 0
            crossed = [days for days in thresholds if days_left <= days]
            if overdue:
                crossed.append(RESERVATIONS_OVERDUE_REMINDER)
            crossed = [days for days in crossed if days not in va.reservations_reminders_sent]
            if not crossed:
                continue
            va.reservations_reminders_sent = sorted(set(va.reservations_reminders_sent) | set(crossed), reverse=True)
            va.save(update_fields=["reservations_reminders_sent"])
            audit.record(actor="tâche rappels VA", action="va.reservations_reminded", obj=va,
                         operator_id=va.operator_id, after={"thresholds": crossed})
            due = paris_date(va.reservations_due_at)
            subject = (f"Réserves du VA non levées au {due}" if overdue
                       else f"Rappel : réserves du VA à lever avant le {due}")
            notify_operator(
                va.operator_id, subject=f"{subject} — DRIMbox {va.drimbox.identifiant}",
                template="operators/email/va_reservations_reminder.txt",
                context={"va": va, "days": min(crossed), "overdue": overdue},
                event_type="va.reminder", drimbox=va.drimbox,
            )
            sent += 1
    return sent


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
                subject=f"Rappel : document VA attendu avant le {paris_date(va.due_at)} — "
                f"DRIMbox {va.drimbox.identifiant}",
                template="operators/email/va_reminder.txt", context={"va": va, "days": min(crossed)},
                event_type="va.reminder", drimbox=va.drimbox,
            )
            sent += 1
    return sent

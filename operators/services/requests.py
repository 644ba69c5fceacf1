"""Operators' requests to ANS, on the operator's side (DESIGN §3, §5): create, edit, attach, submit, cancel,
comment. ANS's side (assign, request changes, approve, reject) is in ``review``.

Every request has the same state machine; each step is a line of its timeline (``timeline``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from operators import onboarding, permissions
from operators.models import (
    DECLARATION_KINDS,
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    STARTING_STATUSES,
    AttachmentKind,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    Operator,
    RequestAttachment,
    RequestEventKind,
    RequestKind,
    RequestStatus,
)
from operators.models.requests import file_sha256
from operators.request_data import LABELS, MISSING_PIECE, REQUIRED_PIECES, clean_data
from operators.services.admission import hand_over
from operators.services.contracts import ensure_contract_accepted
from operators.services.drimboxes import release_drimbox, require_integration_checks, set_drimbox_status
from operators.services.timeline import (
    add_event,
    ans_recipients,
    audit_request,
    change_status,
    notify,
    notify_operator_side,
)
from operators.validators import all_field_errors
from trustspace import audit
from trustspace.errors import Conflict, DomainError, InvalidData, NotAllowed
from trustspace.text import validate_display_text
from trustspace.uploads import shown_file_name, validate_pdf

if TYPE_CHECKING:
    from trustspace.models import User


def _require_operator_action(user: User, req_or_kind: DrimboxRequest | str, operator: Operator | None) -> None:
    kind = req_or_kind.kind if isinstance(req_or_kind, DrimboxRequest) else req_or_kind
    if kind in ONBOARDING_KINDS:
        if not isinstance(req_or_kind, DrimboxRequest):
            raise NotAllowed("Une demande d'adhésion se dépose depuis « Enregistrer mon opérateur ».")
        onboarding.require_applicant(user, req_or_kind)
        return
    permissions.require(user, f"request.{kind}", operator)


def require_request_action(user: User, req: DrimboxRequest) -> None:
    """May ``user`` act on ``req`` for its operator (or, for an application, as its applicant)?"""
    _require_operator_action(user, req, req.operator)


def lock_request(req: DrimboxRequest) -> DrimboxRequest:
    """``req`` read again under a row lock (for an application, after the others of its SIREN)."""
    if req.kind in ONBOARDING_KINDS:  # deciding one application rewrites the others of its SIREN: same lock order
        onboarding.lock_applications_of_siren(req)
    return DrimboxRequest.objects.select_for_update(of=("self",)).select_related("operator", "drimbox").get(pk=req.pk)


def check_drimbox_for(kind: str, drimbox: Drimbox | None, operator: Operator) -> None:
    if kind == RequestKind.DECLARATION:
        if drimbox is not None:
            raise InvalidData("Une déclaration crée une nouvelle DRIMbox : n'en désignez pas une existante.")
        return
    if drimbox is None:
        raise InvalidData("Désignez la DRIMbox concernée par la demande.", field_errors={
            "drimbox": ["Désignez la DRIMbox concernée par la demande."]})
    if kind == RequestKind.SWITCH:
        if drimbox.operator_id == operator.pk:
            raise Conflict(f"La DRIMbox {drimbox.identifiant} est déjà exploitée par votre opérateur.")
    elif drimbox.operator_id != operator.pk:
        raise NotAllowed("Cette DRIMbox n'est pas exploitée par votre opérateur.")
    if drimbox.status not in STARTING_STATUSES[kind]:
        raise Conflict(
            f"La DRIMbox {drimbox.identifiant} est « {drimbox.get_status_display().lower()} » : une demande de "
            f"{RequestKind(kind).label.lower()} n'est pas possible."
        )


def open_request_message(reference: str = "") -> str:
    named = f" ({reference})" if reference else ""
    return f"Une demande est déjà en cours pour cette DRIMbox{named} : complétez-la ou annulez-la."


# The requests about an existing DRIMbox of the operator, in the order the DRIMbox page offers them (a switch is
# about another operator's DRIMbox: it starts from the requests page, with the DRIMbox's identifiant or name).
DRIMBOX_REQUEST_KINDS = (RequestKind.INTEGRATION, RequestKind.UPDATE, RequestKind.WITHDRAWAL,
                         RequestKind.REINTEGRATION)


@dataclass(frozen=True)
class RequestKindOption:
    """May a user start a request of ``kind`` about a DRIMbox now; if not, ``reason`` (French) says why."""

    kind: RequestKind
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return not self.reason

    @property
    def label(self) -> str:
        return self.kind.label


def request_kinds_for(user: User, drimbox: Drimbox) -> list[RequestKindOption]:
    """The requests about ``drimbox`` that ``user`` could start now for its operator, and why not the others.

    The checks :func:`create_request` makes (the role, the DRIMbox's status, the contract in force accepted, and
    what the database's one-open-request-per-DRIMbox constraint refuses), made without writing: the DRIMbox page
    offers its actions with it and the API lists it, so neither offers what the service would refuse.
    """
    operator = drimbox.operator
    try:
        ensure_contract_accepted(operator)
        contract_refusal = ""
    except DomainError as exc:
        contract_refusal = exc.message
    pending = (DrimboxRequest.objects.filter(drimbox=drimbox, operator=operator, status__in=OPEN_STATUSES)
               .order_by("created_at", "pk").values_list("reference", flat=True).first())
    options = []
    for kind in DRIMBOX_REQUEST_KINDS:
        try:
            _require_operator_action(user, kind, operator)
            check_drimbox_for(kind, drimbox, operator)
        except DomainError as exc:
            reason = exc.message
        else:
            reason = contract_refusal or (open_request_message(pending) if pending else "")
        options.append(RequestKindOption(kind, reason))
    return options


def initial_data(kind: str, drimbox: Drimbox | None, operator: Operator) -> dict[str, str]:
    """Prefill: the DRIMbox's current values for updates and reintegrations, the support contact otherwise."""
    if kind in {RequestKind.UPDATE, RequestKind.REINTEGRATION} and drimbox is not None:
        data = {
            "db_addresses": ", ".join(value for _, value in drimbox.db_records),
            "vi_addresses": ", ".join(value for _, value in drimbox.vi_records),
            "responsable_contact": drimbox.responsable_contact, "support_contact": drimbox.support_contact,
        }
        return data
    if kind in DECLARATION_KINDS:
        return {"support_contact": operator.support_contact}
    return {}


def create_request(*, acting_user: User, operator: Operator, kind: str, drimbox: Drimbox | None = None,
                   data: dict[str, Any] | None = None) -> DrimboxRequest:
    """A new draft request of ``operator``."""
    try:
        kind = RequestKind(kind)
    except ValueError:
        raise InvalidData("Type de demande inconnu.", field_errors={"kind": ["Type de demande inconnu."]}) from None
    _require_operator_action(acting_user, kind, operator)
    if drimbox is not None:
        drimbox = Drimbox.objects.get(pk=drimbox.pk)  # decide on its current state, not the caller's copy
    check_drimbox_for(kind, drimbox, operator)
    values = {**initial_data(kind, drimbox, operator), **(data or {})}
    cleaned = clean_data(kind, values, operator=operator, for_submit=False, drimbox=drimbox)
    with transaction.atomic():
        ensure_contract_accepted(operator)
        req = DrimboxRequest(kind=kind, operator=operator, drimbox=drimbox, data=cleaned, created_by=acting_user)
        try:
            with transaction.atomic():
                req.save()
        except IntegrityError as exc:
            raise Conflict(open_request_message()) from exc
        add_event(req, kind=RequestEventKind.CREATED, actor=acting_user)
        audit_request(req, acting_user, "request.created", after=audit.snapshot(req, DrimboxRequest.AUDITED_FIELDS))
    return req


def update_request(req: DrimboxRequest, *, acting_user: User, data: dict[str, Any]) -> DrimboxRequest:
    """Edit a draft, or a request ANS sent back for changes."""
    _require_operator_action(acting_user, req, req.operator)
    with transaction.atomic():
        req = lock_request(req)
        if not req.is_editable:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle n'est "
                           "plus modifiable.", code="not_editable")
        cleaned = clean_data(req.kind, {**req.data, **(data or {})}, operator=req.operator, for_submit=False,
                             drimbox=req.drimbox)
        if req.is_onboarding and cleaned.get("siren") != req.data.get("siren"):
            message = "Le SIREN d'une demande déposée ne se modifie pas : annulez-la et déposez-en une nouvelle."
            raise InvalidData(message, field_errors={"siren": [message]})
        if cleaned == req.data:
            return req
        before = req.data
        req.data = cleaned
        req.updated_at = timezone.now()
        req.save(update_fields=["data", "updated_at"])
        changed = sorted(k for k in cleaned if cleaned.get(k) != before.get(k))
        add_event(req, kind=RequestEventKind.EDIT, actor=acting_user,
                  text="Champs modifiés : " + ", ".join(LABELS.get(field, field) for field in changed))
        audit_request(req, acting_user, "request.updated", before={k: before.get(k) for k in changed},
                      after={k: cleaned[k] for k in changed})
    return req


def add_attachment(req: DrimboxRequest, *, acting_user: User, kind: str,
                   uploaded_file: UploadedFile) -> RequestAttachment:
    """Attach a PDF (the signed CGI for declarations); only while the request is editable."""
    if getattr(acting_user, "is_ans_admin", False) and not permissions.roles_of(acting_user, req.operator):
        raise NotAllowed("Les pièces d'une demande sont déposées par l'opérateur.")
    _require_operator_action(acting_user, req, req.operator)
    try:
        kind = AttachmentKind(kind)
    except ValueError:
        raise InvalidData("Nature de pièce inconnue.", field_errors={"kind": ["Nature de pièce inconnue."]}) from None
    if (kind in {AttachmentKind.CONTRACT, AttachmentKind.POWER}) != req.is_onboarding and kind != AttachmentKind.OTHER:
        message = f"« {kind.label} » ne se joint pas à une demande de ce type."
        raise InvalidData(message, field_errors={"kind": [message]})
    if not req.is_editable:
        raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : on ne peut plus "
                       "y joindre de pièce.", code="not_editable")
    validate_pdf(uploaded_file, field="file", label="La pièce jointe")
    with transaction.atomic():
        req = lock_request(req)
        if not req.is_editable:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : on ne peut plus "
                           "y joindre de pièce.", code="not_editable")
        if req.attachments.count() >= settings.REQUEST_MAX_ATTACHMENTS:
            message = f"Une demande compte au plus {settings.REQUEST_MAX_ATTACHMENTS} pièces jointes."
            raise InvalidData(message, code="too_many_files", field_errors={"file": [message]})
        attachment = RequestAttachment(
            request=req, kind=kind, original_name=shown_file_name(uploaded_file, "piece.pdf"),
            size=uploaded_file.size, sha256=file_sha256(uploaded_file), uploaded_by=acting_user,
        )
        attachment.file.save("piece.pdf", uploaded_file, save=False)
        attachment.save()
        add_event(req, kind=RequestEventKind.ATTACHMENT, actor=acting_user,
                  text=f"{attachment.get_kind_display()} : {attachment.original_name}")
        audit_request(req, acting_user, "request.attachment_added",
                      after={"kind": kind, "name": attachment.original_name, "sha256": attachment.sha256})
    return attachment


def submittable_data(req: DrimboxRequest) -> dict[str, str]:
    """``req``'s data checked for submission, or InvalidData naming every problem at once (missing and malformed
    fields, missing pieces, an application's documents): the operator corrects everything in one go."""
    errors: dict[str, list[str]] = {}
    data = None
    try:
        data = clean_data(req.kind, req.data, operator=req.operator, for_submit=True, drimbox=req.drimbox)
    except InvalidData as exc:
        if not exc.field_errors:
            raise
        errors.update(exc.field_errors)
    attached = set(req.attachments.values_list("kind", flat=True))
    for field, piece in REQUIRED_PIECES.get(RequestKind(req.kind), {}).items():
        if piece not in attached:
            errors[field] = [MISSING_PIECE[piece]]
    if req.is_onboarding:
        try:
            onboarding.check_submittable(req)
        except InvalidData as exc:
            for field, messages in exc.field_errors.items():
                errors.setdefault(field, []).extend(messages)
    if errors or data is None:
        raise all_field_errors(errors)
    return data


def submit_request(req: DrimboxRequest, *, acting_user: User) -> DrimboxRequest:
    _require_operator_action(acting_user, req, req.operator)
    with transaction.atomic():
        req = lock_request(req)
        if not req.is_onboarding:
            ensure_contract_accepted(req.operator)
        if not req.is_editable:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle ne peut "
                           "pas être soumise à nouveau.", code="invalid_transition")
        req.data = submittable_data(req)
        if req.drimbox_id:
            drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
            if req.status == RequestStatus.DRAFT:
                check_drimbox_for(req.kind, drimbox, req.operator)
            if req.kind == RequestKind.INTEGRATION:
                require_integration_checks(drimbox)
            if req.kind == RequestKind.INTEGRATION and drimbox.status == DrimboxStatus.DECLARED:
                set_drimbox_status(drimbox, DrimboxStatus.INTEGRATING, actor=acting_user, reason=req.reference)
        old = change_status(req, RequestStatus.SUBMITTED, actor=acting_user)
        req.submitted_at = req.submitted_at or timezone.now()
        req.save(update_fields=["status", "data", "submitted_at", "updated_at"])
        audit_request(req, acting_user, "request.submitted", before={"status": old}, after={"status": req.status})
        notify(req, ans_recipients(req),
               f"{'Nouvelle soumission' if old == RequestStatus.DRAFT else 'Demande complétée'} : "
               f"{req.get_kind_display()} — {req.party_name}")
        if req.kind == RequestKind.ATTACHMENT and old == RequestStatus.DRAFT:
            # The operator's legal representatives hear that someone asks to represent their company.
            notify(req, [email for email in onboarding.addressees(req) if email != req.created_by.email],
                   f"{req.created_by.display_name} demande à devenir représentant légal de {req.party_name}")
    return req


def cancel_request(req: DrimboxRequest, *, acting_user: User, reason: str = "") -> DrimboxRequest:
    _require_operator_action(acting_user, req, req.operator)
    validate_display_text({"reason": reason or ""}, multiline={"reason"}, labels={"reason": "motif"})
    with transaction.atomic():
        req = lock_request(req)
        old = change_status(req, RequestStatus.CANCELLED, actor=acting_user, text=reason)
        req.save(update_fields=["status", "updated_at"])
        release_drimbox(req, actor=acting_user)
        hand_over(req, acting_user)
        audit_request(req, acting_user, "request.cancelled", before={"status": old}, after={"status": req.status},
                      reason=reason)
        if old != RequestStatus.DRAFT:
            notify(req, ans_recipients(req), "Demande annulée par l'opérateur", reason)
    return req


def comment_request(req: DrimboxRequest, *, acting_user: User, text: str) -> DrimboxRequest:
    text = (text or "").strip()
    if not text:
        raise InvalidData("Le commentaire est vide.", field_errors={"text": ["Le commentaire est vide."]})
    if len(text) > 5000:
        raise InvalidData("Le commentaire est trop long (5 000 caractères au plus).",
                          field_errors={"text": ["Le commentaire est trop long (5 000 caractères au plus)."]})
    validate_display_text({"text": text}, multiline={"text"}, labels={"text": "commentaire"})
    from_ans = getattr(acting_user, "is_ans_admin", False)
    if not from_ans and req.is_onboarding:
        if not onboarding.is_party(acting_user, req):
            raise NotAllowed("Seuls le demandeur, l'opérateur concerné et l'ANS commentent cette demande.")
    elif not from_ans:
        permissions.require(acting_user, "request.comment", req.operator)
    with transaction.atomic():
        req = lock_request(req)
        if req.status == RequestStatus.DRAFT and from_ans:
            raise Conflict("Ce brouillon n'a pas encore été soumis à l'ANS.")
        add_event(req, kind=RequestEventKind.COMMENT, actor=acting_user, text=text)
        audit_request(req, acting_user, "request.commented", after={"text": text})
        if from_ans:
            notify_operator_side(req, "Nouveau commentaire de l'ANS", text)
        elif req.status != RequestStatus.DRAFT:
            notify(req, ans_recipients(req), f"Nouveau commentaire de {req.party_name}", text)
            if req.is_onboarding:  # the applicant and the legal representatives hear each other
                notify(req, [email for email in onboarding.addressees(req) if email != acting_user.email],
                       f"Nouveau commentaire de {acting_user.display_name}", text)
    return req

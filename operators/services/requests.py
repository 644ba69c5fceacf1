"""The one write path for DRIMbox requests and their review (DESIGN §3, §5).

Operators create, edit, submit, comment and cancel requests; ANS administrators assign, request
changes, approve and reject them. Approval applies the request to the DRIMbox and the registry in
the same transaction; e-mails and DNS updates run after commit.
"""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from operators import integration, onboarding, permissions, registry
from operators.addresses import parse_addresses
from operators.models import (
    DECLARATION_KINDS,
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    AttachmentKind,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    FinancingOrder,
    FinancingOrderSite,
    HealthStructure,
    PendingRevocation,
    RequestAttachment,
    RequestEvent,
    RequestEventKind,
    RequestKind,
    RequestStatus,
    Role,
)
from operators.models.requests import file_sha256
from operators.notify import notify_operator
from operators.recipients import ans_emails, member_emails
from operators.request_data import LABELS, clean_data, eligibility_problems, order_of
from operators.services.documents import (
    close_open_va_documents,
    issue_attestation,
    open_va_document,
    supersede_attestations,
)
from operators.services.people import ensure_contract_accepted
from operators.validators import compact_digits
from trustspace import audit
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.notifications import send_email_on_commit
from trustspace.text import validate_display_text
from trustspace.uploads import validate_pdf

# Which DRIMbox statuses each kind of request may start from.
STARTING_STATUSES = {
    RequestKind.INTEGRATION: {DrimboxStatus.DECLARED},
    RequestKind.UPDATE: {DrimboxStatus.DECLARED, DrimboxStatus.INTEGRATING, DrimboxStatus.ACTIVE},
    RequestKind.WITHDRAWAL: {DrimboxStatus.DECLARED, DrimboxStatus.INTEGRATING, DrimboxStatus.ACTIVE},
    RequestKind.REINTEGRATION: {DrimboxStatus.WITHDRAWN},
    RequestKind.SWITCH: set(DrimboxStatus),
}


def _require_ans(user):
    if not getattr(user, "is_ans_admin", False):
        raise NotAllowed("Réservé aux administrateurs ANS.")


def _require_operator_action(user, req_or_kind, operator):
    kind = req_or_kind.kind if isinstance(req_or_kind, DrimboxRequest) else req_or_kind
    if kind in ONBOARDING_KINDS:
        if not isinstance(req_or_kind, DrimboxRequest):
            raise NotAllowed("Une demande d'adhésion se dépose depuis « Enregistrer mon opérateur ».")
        onboarding.require_applicant(user, req_or_kind)
        return
    permissions.require(user, f"request.{kind}", operator)


def require_request_action(user, req):
    """May ``user`` act on ``req`` for its operator (or, for an application, as its applicant)?"""
    _require_operator_action(user, req, req.operator)


def _lock(req):
    if req.kind in ONBOARDING_KINDS:  # deciding one application rewrites the others of its SIREN: same lock order
        onboarding.lock_applications_of_siren(req)
    return DrimboxRequest.objects.select_for_update(of=("self",)).select_related("operator", "drimbox").get(pk=req.pk)


def _event(req, *, kind, actor, text="", from_status="", to_status=""):
    return RequestEvent.objects.create(
        request=req, kind=kind, actor=actor if not isinstance(actor, str) else None, text=text,
        from_status=from_status, to_status=to_status, by_ans=bool(getattr(actor, "is_ans_admin", False)),
    )


def _transition(req, new_status, *, actor, text=""):
    old = req.status
    req.transition_to(new_status)
    req.updated_at = timezone.now()
    _event(req, kind=RequestEventKind.STATUS, actor=actor, text=text, from_status=old, to_status=new_status)
    return old


def _audit(req, actor, action, *, before=None, after=None, reason=""):
    audit.record(actor=actor, action=action, obj=req, operator_id=req.operator_id, before=before, after=after,
                 reason=reason)


# --- Notifications ------------------------------------------------------------------------------


def _operator_recipients(req):
    """The operator's managers, and the request's author while still a member of the operator."""
    if req.is_onboarding:
        return onboarding.addressees(req)
    return member_emails(req.operator_id, [Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE], include_user=req.created_by)


def _notify_operator(req, subject, text=""):
    """To the operator's managers and the author (``_operator_recipients``), and to its own channels."""
    if req.is_onboarding:  # an application: its addressees only, the operator's channels are not set yet
        return _notify(req, _operator_recipients(req), subject, text)
    notify_operator(req.operator_id, to=_operator_recipients(req), subject=f"[{req.reference}] {subject}",
                    template="operators/email/request_event.txt", event_type="request.event", drimbox=req.drimbox,
                    context={"req": req, "subject": subject, "text": text,
                             "url": settings.SITE_URL + reverse("request_detail", args=[req.pk])})


def _ans_recipients(req):
    if req.assigned_to_id:
        return [req.assigned_to.email] if req.assigned_to.email else []
    return ans_emails()


def _notify(req, recipients, subject, text=""):
    if not recipients:
        return
    send_email_on_commit(
        to=recipients, subject=f"[{req.reference}] {subject}", template="operators/email/request_event.txt",
        context={"req": req, "subject": subject, "text": text,
                 "url": settings.SITE_URL + reverse("request_detail", args=[req.pk])},
    )


# --- Operator side ------------------------------------------------------------------------------


def _check_drimbox_for(kind, drimbox, operator):
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


def initial_data(kind, drimbox, operator):
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


def create_request(*, acting_user, operator, kind, drimbox=None, data=None):
    """A new draft request of ``operator``."""
    try:
        kind = RequestKind(kind)
    except ValueError:
        raise InvalidData("Type de demande inconnu.", field_errors={"kind": ["Type de demande inconnu."]}) from None
    _require_operator_action(acting_user, kind, operator)
    if drimbox is not None:
        drimbox = Drimbox.objects.get(pk=drimbox.pk)  # decide on its current state, not the caller's copy
    _check_drimbox_for(kind, drimbox, operator)
    values = {**initial_data(kind, drimbox, operator), **(data or {})}
    cleaned = clean_data(kind, values, operator=operator, for_submit=False, drimbox=drimbox)
    with transaction.atomic():
        ensure_contract_accepted(operator)
        req = DrimboxRequest(kind=kind, operator=operator, drimbox=drimbox, data=cleaned, created_by=acting_user)
        try:
            with transaction.atomic():
                req.save()
        except IntegrityError as exc:
            raise Conflict("Une demande est déjà en cours pour cette DRIMbox : complétez-la ou annulez-la.") from exc
        _event(req, kind=RequestEventKind.CREATED, actor=acting_user)
        _audit(req, acting_user, "request.created", after=audit.snapshot(req, DrimboxRequest.AUDITED_FIELDS))
    return req


def update_request(req, *, acting_user, data):
    """Edit a draft, or a request ANS sent back for changes."""
    _require_operator_action(acting_user, req, req.operator)
    with transaction.atomic():
        req = _lock(req)
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
        _event(req, kind=RequestEventKind.EDIT, actor=acting_user,
               text="Champs modifiés : " + ", ".join(LABELS.get(field, field) for field in changed))
        _audit(req, acting_user, "request.updated", before={k: before.get(k) for k in changed},
               after={k: cleaned[k] for k in changed})
    return req


def add_attachment(req, *, acting_user, kind, uploaded_file):
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
        req = _lock(req)
        if not req.is_editable:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : on ne peut plus "
                           "y joindre de pièce.", code="not_editable")
        if req.attachments.count() >= settings.REQUEST_MAX_ATTACHMENTS:
            message = f"Une demande compte au plus {settings.REQUEST_MAX_ATTACHMENTS} pièces jointes."
            raise InvalidData(message, code="too_many_files", field_errors={"file": [message]})
        attachment = RequestAttachment(
            request=req, kind=kind, original_name=(uploaded_file.name or "piece.pdf")[:200],
            size=uploaded_file.size, sha256=file_sha256(uploaded_file), uploaded_by=acting_user,
        )
        attachment.file.save("piece.pdf", uploaded_file, save=False)
        attachment.save()
        _event(req, kind=RequestEventKind.ATTACHMENT, actor=acting_user,
               text=f"{attachment.get_kind_display()} : {attachment.original_name}")
        _audit(req, acting_user, "request.attachment_added",
               after={"kind": kind, "name": attachment.original_name, "sha256": attachment.sha256})
    return attachment


def submit_request(req, *, acting_user):
    _require_operator_action(acting_user, req, req.operator)
    with transaction.atomic():
        req = _lock(req)
        if not req.is_onboarding:
            ensure_contract_accepted(req.operator)
        if not req.is_editable:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle ne peut "
                           "pas être soumise à nouveau.", code="invalid_transition")
        req.data = clean_data(req.kind, req.data, operator=req.operator, for_submit=True, drimbox=req.drimbox)
        if req.kind in DECLARATION_KINDS and not req.attachments.filter(kind=AttachmentKind.CGI).exists():
            message = "Joignez les Conditions Générales d'Intégration signées pour cette installation (PDF)."
            raise InvalidData(message, field_errors={"cgi": [message]})
        if req.is_onboarding:
            onboarding.check_submittable(req)
        if req.drimbox_id:
            drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
            if req.status == RequestStatus.DRAFT:
                _check_drimbox_for(req.kind, drimbox, req.operator)
            if req.kind == RequestKind.INTEGRATION:
                _require_integration_checks(drimbox)
            if req.kind == RequestKind.INTEGRATION and drimbox.status == DrimboxStatus.DECLARED:
                _set_drimbox_status(drimbox, DrimboxStatus.INTEGRATING, actor=acting_user, reason=req.reference)
        old = _transition(req, RequestStatus.SUBMITTED, actor=acting_user)
        req.submitted_at = req.submitted_at or timezone.now()
        req.save(update_fields=["status", "data", "submitted_at", "updated_at"])
        _audit(req, acting_user, "request.submitted", before={"status": old}, after={"status": req.status})
        _notify(req, _ans_recipients(req),
                f"{'Nouvelle soumission' if old == RequestStatus.DRAFT else 'Demande complétée'} : "
                f"{req.get_kind_display()} — {req.party_name}")
        if req.kind == RequestKind.ATTACHMENT and old == RequestStatus.DRAFT:
            # The operator's legal representatives hear that someone asks to represent their company.
            _notify(req, [email for email in onboarding.addressees(req) if email != req.created_by.email],
                    f"{req.created_by.display_name} demande à devenir représentant légal de {req.party_name}")
    return req


def cancel_request(req, *, acting_user, reason=""):
    _require_operator_action(acting_user, req, req.operator)
    validate_display_text({"reason": reason or ""}, multiline={"reason"}, labels={"reason": "motif"})
    with transaction.atomic():
        req = _lock(req)
        old = _transition(req, RequestStatus.CANCELLED, actor=acting_user, text=reason)
        req.save(update_fields=["status", "updated_at"])
        _release_drimbox(req, actor=acting_user)
        onboarding.hand_over(req, acting_user)
        _audit(req, acting_user, "request.cancelled", before={"status": old}, after={"status": req.status},
               reason=reason)
        if old != RequestStatus.DRAFT:
            _notify(req, _ans_recipients(req), "Demande annulée par l'opérateur", reason)
    return req


def comment_request(req, *, acting_user, text):
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
        req = _lock(req)
        if req.status == RequestStatus.DRAFT and from_ans:
            raise Conflict("Ce brouillon n'a pas encore été soumis à l'ANS.")
        _event(req, kind=RequestEventKind.COMMENT, actor=acting_user, text=text)
        _audit(req, acting_user, "request.commented", after={"text": text})
        if from_ans:
            _notify_operator(req, "Nouveau commentaire de l'ANS", text)
        elif req.status != RequestStatus.DRAFT:
            _notify(req, _ans_recipients(req), f"Nouveau commentaire de {req.party_name}", text)
            if req.is_onboarding:  # the applicant and the legal representatives hear each other
                _notify(req, [email for email in onboarding.addressees(req) if email != acting_user.email],
                        f"Nouveau commentaire de {acting_user.display_name}", text)
    return req


# --- ANS side -----------------------------------------------------------------------------------


def assign_request(req, *, acting_user, reviewer=None):
    """Assign to a reviewer (the acting administrator by default); a submitted request enters review."""
    _require_ans(acting_user)
    reviewer = reviewer or acting_user
    if not reviewer.is_ans_admin or not reviewer.is_active:
        raise InvalidData("Le relecteur doit être un administrateur ANS actif.",
                          field_errors={"reviewer": ["Le relecteur doit être un administrateur ANS actif."]})
    with transaction.atomic():
        req = _lock(req)
        if req.status not in {RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW, RequestStatus.CHANGES_REQUESTED}:
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle ne peut "
                           "pas être affectée.", code="invalid_transition")
        before = {"assigned_to": req.assigned_to_id, "status": req.status}
        req.assigned_to = reviewer
        _event(req, kind=RequestEventKind.ASSIGNMENT, actor=acting_user, text=f"Affectée à {reviewer.display_name}")
        if req.status == RequestStatus.SUBMITTED:
            _transition(req, RequestStatus.IN_REVIEW, actor=acting_user)
        req.updated_at = timezone.now()
        req.save(update_fields=["assigned_to", "status", "updated_at"])
        _audit(req, acting_user, "request.assigned", before=before,
               after={"assigned_to": reviewer.pk, "status": req.status})
        if reviewer != acting_user and reviewer.email:
            _notify(req, [reviewer.email], "Demande qui vous est affectée")
    return req


def _in_review(req):
    if req.status == RequestStatus.SUBMITTED:
        raise Conflict(f"Prenez d'abord en charge la demande {req.reference} (elle n'est pas encore en instruction).",
                       code="invalid_transition")


def request_changes(req, *, acting_user, comment):
    _require_ans(acting_user)
    comment = (comment or "").strip()
    if not comment:
        raise InvalidData("Indiquez à l'opérateur ce qu'il doit modifier.",
                          field_errors={"comment": ["Indiquez à l'opérateur ce qu'il doit modifier."]})
    validate_display_text({"comment": comment}, multiline={"comment"}, labels={"comment": "commentaire"})
    with transaction.atomic():
        req = _lock(req)
        _in_review(req)
        old = _transition(req, RequestStatus.CHANGES_REQUESTED, actor=acting_user, text=comment)
        req.save(update_fields=["status", "updated_at"])
        _audit(req, acting_user, "request.changes_requested", before={"status": old}, after={"status": req.status},
               reason=comment)
        _notify_operator(req, "Modifications demandées par l'ANS", comment)
    return req


def reject_request(req, *, acting_user, reason):
    _require_ans(acting_user)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData("Le motif du refus est obligatoire.", field_errors={"reason": ["Le motif du refus est obligatoire."]})
    validate_display_text({"reason": reason}, multiline={"reason"}, labels={"reason": "motif du refus"})
    with transaction.atomic():
        req = _lock(req)
        _in_review(req)
        old = _transition(req, RequestStatus.REJECTED, actor=acting_user, text=reason)
        req.decided_by, req.decided_at, req.decision_reason = acting_user, timezone.now(), reason
        req.save(update_fields=["status", "updated_at", "decided_by", "decided_at", "decision_reason"])
        _release_drimbox(req, actor=acting_user)
        onboarding.hand_over(req, acting_user)
        _audit(req, acting_user, "request.rejected", before={"status": old}, after={"status": req.status},
               reason=reason)
        _notify_operator(req, "Demande refusée", reason)
    return req


def approve_request(req, *, acting_user, override_reason="", comment="", expected_kind=None):
    """Approve and apply. An unfunded declaration needs ``override_reason`` (DESIGN §5).

    ``expected_kind``: the kind the reviewer read (default: ``req``'s). An application can turn from adhesion
    into rattachement while a reviewer reads it; approving what was not read is refused.
    """
    _require_ans(acting_user)
    expected_kind = expected_kind or req.kind
    override_reason = (override_reason or "").strip()
    validate_display_text({"override_reason": override_reason, "comment": comment or ""},
                          multiline={"override_reason", "comment"},
                          labels={"override_reason": "motif de dérogation", "comment": "commentaire"})
    with transaction.atomic():
        req = _lock(req)
        if req.is_onboarding and req.created_by_id == acting_user.pk:
            # Approval makes the applicant a legal representative: never on its own word.
            raise NotAllowed("Vous ne pouvez pas approuver votre propre demande : un autre administrateur ANS "
                             "l'instruit.")
        if req.kind != expected_kind:
            raise Conflict(f"La demande {req.reference} est devenue « {req.get_kind_display().lower()} » pendant "
                           "que vous la lisiez : relisez-la avant de décider.", code="kind_changed")
        if req.status != RequestStatus.IN_REVIEW:
            if req.status == RequestStatus.SUBMITTED:
                _in_review(req)
            raise Conflict(f"La demande {req.reference} est « {req.get_status_display().lower()} » : elle ne peut "
                           "pas être approuvée.", code="invalid_transition")
        data = clean_data(req.kind, req.data, operator=req.operator, for_submit=True, drimbox=req.drimbox)
        if req.kind in DECLARATION_KINDS:
            problems = eligibility_problems(data)
            if problems and not override_reason:
                message = (" ".join(problems) + " Une DRIMbox non financée n'entre dans l'Espace de Confiance que "
                           "sur dérogation motivée d'un administrateur ANS.")
                raise Conflict(message, code="not_funded", field_errors={"override_reason": [message]})
            if problems:
                req.eligibility_override_reason = override_reason
        old = _transition(req, RequestStatus.APPROVED, actor=acting_user, text=comment)
        req.decided_by, req.decided_at = acting_user, timezone.now()
        APPLY[req.kind](req, data, acting_user)
        req.save(update_fields=["status", "updated_at", "decided_by", "decided_at", "drimbox", "operator",
                                "eligibility_override_reason"])
        _audit(req, acting_user, "request.approved", before={"status": old},
               after={"status": req.status, "drimbox": req.drimbox_id,
                      "eligibility_override_reason": req.eligibility_override_reason},
               reason=req.eligibility_override_reason)
        if req.eligibility_override_reason:
            audit.record(actor=acting_user, action="drimbox.eligibility_overridden", obj=req.drimbox,
                         operator_id=req.operator_id, after={"request": req.reference},
                         reason=req.eligibility_override_reason)
        _notify_operator(req, f"Demande approuvée : {req.get_kind_display()}", comment)
    return req


# --- What approval does -------------------------------------------------------------------------


def _set_drimbox_status(drimbox, new_status, *, actor, reason):
    old = drimbox.status
    drimbox.transition_to(new_status)
    drimbox.updated_at = timezone.now()
    drimbox.save(update_fields=["status", "updated_at"])
    audit.record(actor=actor, action="drimbox.status_changed", obj=drimbox, operator_id=drimbox.operator_id,
                 before={"status": old}, after={"status": new_status}, reason=reason)


def _release_drimbox(req, *, actor):
    """An integration that stops (cancelled, rejected) returns its DRIMbox to « déclarée »."""
    if req.kind == RequestKind.INTEGRATION and req.drimbox_id:
        drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
        if drimbox.status == DrimboxStatus.INTEGRATING:
            _set_drimbox_status(drimbox, DrimboxStatus.DECLARED, actor=actor, reason=req.reference)


def _structure_for(data):
    """The structure (SIREN, FINESS géographique) a declaration names, created on first use.

    A structure is shared by every operator that serves it: one operator's declaration never renames it.
    """
    structure, _created = HealthStructure.objects.get_or_create(
        siren=data["structure_siren"], finess_geographique=data.get("structure_finess_geographique", ""),
        defaults={"name": data["structure_name"], "finess_juridique": data.get("structure_finess_juridique", "")},
    )
    return structure


def _records(data, field, *, required):
    return [list(record) for record in parse_addresses(data.get(field, ""), label="adresse " + field[:2],
                                                        required=required)]


def _drimbox_records(drimbox):
    return {drimbox.db_fqdn: drimbox.db_records, drimbox.vi_fqdn: drimbox.vi_records}


def _apply_declaration(req, data, actor):
    identifiant = registry.next_identifiant()
    db_fqdn, vi_fqdn = registry.fqdns_for(identifiant)
    drimbox = Drimbox.objects.create(
        identifiant=identifiant, site_label=settings.FQDN_SITE_LABEL, db_fqdn=db_fqdn, vi_fqdn=vi_fqdn,
        operator=req.operator, health_structure=_structure_for(data), financing_order=order_of(data),
        eligibility_override_reason=req.eligibility_override_reason, pacs=data["pacs"],
        db_records=_records(data, "db_addresses", required=True),
        vi_records=_records(data, "vi_addresses", required=False),
        responsable_contact=data.get("responsable_contact", ""), support_contact=data["support_contact"],
    )
    req.drimbox = drimbox
    audit.record(actor=actor, action="drimbox.declared", obj=drimbox, operator_id=drimbox.operator_id,
                 after=audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS), reason=req.reference)
    registry.queue_drimbox_dns(drimbox, reason=f"déclaration {req.reference}")
    issue_attestation(req, drimbox)


def _apply_switch(req, data, actor):
    # Requests before the DRIMbox: the order every other path takes its locks in (no deadlock).
    previous_id = Drimbox.objects.values_list("operator_id", flat=True).get(pk=req.drimbox_id)
    stale_requests = list(DrimboxRequest.objects.select_for_update().filter(
        drimbox_id=req.drimbox_id, operator_id=previous_id, status__in=OPEN_STATUSES).order_by("pk"))
    drimbox = Drimbox.objects.select_for_update().select_related("operator").get(pk=req.drimbox_id)
    if drimbox.operator_id != previous_id:
        raise Conflict("La DRIMbox vient de changer d'opérateur : rechargez la demande et recommencez.")
    previous = drimbox.operator
    was_withdrawn = drimbox.status == DrimboxStatus.WITHDRAWN
    before = audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS)
    old_records = _drimbox_records(drimbox)
    # The former operator's open requests on this DRIMbox no longer make sense.
    for stale in stale_requests:
        stale_old = _transition(stale, RequestStatus.CANCELLED, actor=actor,
                                text=f"Annulée : la DRIMbox est reprise par {req.operator.name} ({req.reference}).")
        stale.save(update_fields=["status", "updated_at"])
        _audit(stale, actor, "request.cancelled", before={"status": stale_old}, after={"status": stale.status},
               reason=f"bascule {req.reference}")
    drimbox.operator = req.operator
    drimbox.health_structure = _structure_for(data)
    drimbox.financing_order = order_of(data)
    _transfer_order(drimbox.financing_order, previous, req, actor)
    drimbox.eligibility_override_reason = req.eligibility_override_reason
    drimbox.pacs = data["pacs"]
    drimbox.db_records = _records(data, "db_addresses", required=True)
    drimbox.vi_records = _records(data, "vi_addresses", required=False)
    drimbox.responsable_contact = data.get("responsable_contact", "")
    drimbox.support_contact = data["support_contact"]
    # The new operator goes through integration again (DESIGN §5).
    drimbox.status = DrimboxStatus.DECLARED
    drimbox.integrated_at = None
    drimbox.withdrawn_at = None
    drimbox.updated_at = timezone.now()
    drimbox.save()
    audit.record(actor=actor, action="drimbox.switched", obj=drimbox, operator_id=drimbox.operator_id,
                 before=before, after=audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS), reason=req.reference)
    audit.record(actor=actor, action="drimbox.switched_away", obj=drimbox, operator_id=previous.pk,
                 after={"new_operator": req.operator.name}, reason=req.reference)
    close_open_va_documents(drimbox, actor=actor, reason=f"bascule {req.reference}")
    PendingRevocation.objects.create(drimbox=drimbox, previous_operator=previous,
                                     reason=f"Bascule vers {req.operator.name} ({req.reference})")
    # A withdrawn DRIMbox's names are out of the zone: they all come back, whatever the records.
    registry.queue_drimbox_dns(drimbox, reason=f"bascule {req.reference}",
                               only_changed_from=None if was_withdrawn else old_records)
    supersede_attestations(drimbox)
    issue_attestation(req, drimbox)
    notify_operator(
        previous.pk, subject=f"DRIMbox {drimbox.identifiant} reprise par un autre opérateur",
        template="operators/email/drimbox_switched_away.txt",
        context={"drimbox": drimbox, "previous": previous, "req": req}, event_type="drimbox.switched_away",
        drimbox=drimbox,
    )


def _transfer_order(order, previous, req, actor):
    """The order follows the DRIMbox when the former operator has no other DRIMbox under it."""
    if order is None or order.operator_id != previous.pk:
        return
    if Drimbox.objects.filter(financing_order=order, operator=previous).exclude(pk=req.drimbox_id).exists():
        return
    order.operator = req.operator
    order.save(update_fields=["operator"])
    audit.record(actor=actor, action="financing_order.transferred", obj=order, operator_id=req.operator_id,
                 before={"operator": previous.pk}, after={"operator": req.operator_id}, reason=req.reference)


def _require_integration_checks(drimbox):
    failed = integration.failures(drimbox)
    if failed:
        message = "La DRIMbox ne peut pas entrer dans l'Espace de Confiance : " + " ; ".join(
            f"{item.label} — {item.detail}" for item in failed) + "."
        raise Conflict(message, code="integration_checks_failed")


def _apply_integration(req, data, actor):
    drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
    _require_integration_checks(drimbox)
    if drimbox.status == DrimboxStatus.DECLARED:
        _set_drimbox_status(drimbox, DrimboxStatus.INTEGRATING, actor=actor, reason=req.reference)
    _set_drimbox_status(drimbox, DrimboxStatus.ACTIVE, actor=actor, reason=req.reference)
    drimbox.integrated_at = timezone.now()
    drimbox.save(update_fields=["integrated_at"])
    open_va_document(req, drimbox)


def _apply_update(req, data, actor):
    drimbox = Drimbox.objects.select_for_update().select_related("health_structure").get(pk=req.drimbox_id)
    if drimbox.status not in STARTING_STATUSES[RequestKind.UPDATE]:
        raise Conflict(f"La DRIMbox {drimbox.identifiant} est retirée : ses données ne peuvent plus être mises à jour.")
    before = audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS)
    old_records = _drimbox_records(drimbox)
    drimbox.db_records = _records(data, "db_addresses", required=True)
    drimbox.vi_records = _records(data, "vi_addresses", required=False)
    drimbox.responsable_contact = data.get("responsable_contact", "")
    drimbox.support_contact = data["support_contact"]
    drimbox.updated_at = timezone.now()
    drimbox.save()
    after = audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS)
    audit.record(actor=actor, action="drimbox.updated", obj=drimbox, operator_id=drimbox.operator_id,
                 before={k: v for k, v in before.items() if after[k] != v},
                 after={k: v for k, v in after.items() if before[k] != v}, reason=req.reference)
    registry.queue_drimbox_dns(drimbox, reason=f"mise à jour {req.reference}", only_changed_from=old_records)


def _apply_withdrawal(req, data, actor):
    drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
    _set_drimbox_status(drimbox, DrimboxStatus.WITHDRAWN, actor=actor, reason=data.get("reason") or req.reference)
    drimbox.withdrawn_at = timezone.now()
    drimbox.save(update_fields=["withdrawn_at"])
    close_open_va_documents(drimbox, actor=actor, reason=f"retrait {req.reference}")
    # The FQDNs stay reserved forever (the row stays); only the zone forgets them.
    registry.queue_drimbox_dns(drimbox, reason=f"retrait {req.reference}")
    PendingRevocation.objects.create(drimbox=drimbox, previous_operator=drimbox.operator,
                                     reason=f"Retrait ({req.reference})")


def _apply_reintegration(req, data, actor):
    drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
    drimbox.db_records = _records(data, "db_addresses", required=True)
    drimbox.vi_records = _records(data, "vi_addresses", required=False)
    drimbox.responsable_contact = data.get("responsable_contact", "")
    drimbox.support_contact = data["support_contact"]
    drimbox.withdrawn_at = None
    # Only a DRIMbox its operator had integrated goes straight back to the trust space; one withdrawn
    # before its integration (or taken over since) is declared again and goes through integration.
    integrated = drimbox.integrated_at is not None
    if integrated:
        _require_integration_checks(drimbox)
        drimbox.integrated_at = timezone.now()
    drimbox.save(update_fields=["db_records", "vi_records", "responsable_contact", "support_contact",
                                "integrated_at", "withdrawn_at"])
    _set_drimbox_status(drimbox, DrimboxStatus.ACTIVE if integrated else DrimboxStatus.DECLARED, actor=actor,
                        reason=req.reference)
    registry.queue_drimbox_dns(drimbox, reason=f"réintégration {req.reference}")
    if integrated:
        open_va_document(req, drimbox)


APPLY = {
    RequestKind.DECLARATION: _apply_declaration,
    RequestKind.SWITCH: _apply_switch,
    RequestKind.INTEGRATION: _apply_integration,
    RequestKind.UPDATE: _apply_update,
    RequestKind.WITHDRAWAL: _apply_withdrawal,
    RequestKind.REINTEGRATION: _apply_reintegration,
    **onboarding.APPLY,
}


# --- Financing orders ---------------------------------------------------------------------------


def create_financing_order(*, acting_user, operator, reference, client_siren, pacs_identifier, finess_geographiques):
    """Record a financing order; the database keeps one order per client, per PACS and per FINESS (DESIGN §5)."""
    permissions.require(acting_user, "order.manage", operator)
    if isinstance(finess_geographiques, str):
        finess_geographiques = finess_geographiques.replace(",", " ").replace(";", " ").split()
    finess_list = sorted({compact_digits(value).upper() for value in finess_geographiques or [] if value.strip()})
    order = FinancingOrder(operator=operator, reference=(reference or "").strip(),
                           client_siren=compact_digits(client_siren or ""),
                           pacs_identifier=(pacs_identifier or "").strip(), created_by=acting_user)
    errors = {}
    try:
        order.full_clean(exclude=["operator", "created_by"])
    except ValidationError as exc:
        errors.update({field: list(messages) for field, messages in exc.message_dict.items()})
    sites = [FinancingOrderSite(finess_geographique=finess) for finess in finess_list]
    finess_errors = []
    for site in sites:
        try:
            site.full_clean(exclude=["order"])
        except ValidationError as exc:
            finess_errors.extend(exc.messages)
    if finess_errors:
        errors["finess_geographiques"] = finess_errors
    if errors:
        raise InvalidData(" ".join(m for ms in errors.values() for m in ms), field_errors=errors)
    with transaction.atomic():
        ensure_contract_accepted(operator)
        try:
            with transaction.atomic():
                order.save()
                for site in sites:
                    site.order = order
                    site.save()
        except IntegrityError as exc:
            raise InvalidData("Un bon de commande existe déjà pour ce client, ce PACS, cette référence ou l'un de "
                              "ces FINESS géographiques.") from exc
        audit.record(actor=acting_user, action="financing_order.created", obj=order, operator_id=operator.pk,
                     after={**audit.snapshot(order, FinancingOrder.AUDITED_FIELDS), "finess": finess_list})
    return order

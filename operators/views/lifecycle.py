"""DRIMboxes, requests, financing orders, attestations and VA documents: operator side and pages shared with ANS.

Shared pages (a request, a DRIMbox) are reachable by ANS administrators and by the members of the
operator concerned; anyone else gets a 404, so existence does not leak.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from operators import integration, onboarding, permissions, services, tables
from operators.context import active_operator
from operators.forms.lifecycle import (
    ApproveForm,
    AssignForm,
    AttachmentForm,
    AttestationCheckForm,
    CancelForm,
    ChangesForm,
    CommentForm,
    RejectForm,
    SubmitForm,
    VaLiftingUploadForm,
    VaRisUpdateForm,
    VaUploadForm,
    request_form_class,
)
from operators.forms.lists import OPEN as OPEN_FILTER
from operators.forms.lists import RequestFilterForm
from operators.models import (
    DECLARATION_KINDS,
    ONBOARDING_KINDS,
    OPEN_STATUSES,
    AttachmentKind,
    Attestation,
    Drimbox,
    RequestAttachment,
    RequestKind,
    VaDocument,
)
from operators.queries import dns_history, dns_pending, visible_drimboxes, visible_requests
from operators.request_data import FIELDS, LABELS, REQUIRED_PIECES, eligibility_problems, order_of
from operators.validators import as_small_int
from operators.views.ans import va_decision_form, va_review_page
from operators.views.onboarding import application_edit, review_context
from trustspace.access import ANS_ADMIN, AUTHENTICATED, OPERATOR_MEMBER, PUBLIC, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error, field_errors_for
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once
from trustspace.paris_time import paris_date
from trustspace.tables import SortedTable, table_export
from trustspace.throttling import client_ip, throttle


def _fail(request, exc):
    messages.error(request, exc.message)


# --- DRIMboxes ----------------------------------------------------------------------------------


@access(OPERATOR_MEMBER)
def drimbox_list(request):
    operator = active_operator(request)
    drimboxes = (operator.drimboxes.select_related("health_structure").annotate(dns_pending=dns_pending())
                 .order_by("identifiant"))
    return render(request, "operators/drimbox_list.html", {
        "operator": operator, "drimboxes": drimboxes,
        "can_declare": permissions.can(request.user, "request.declaration", operator),
    })


@access(AUTHENTICATED)
def drimbox_detail(request, pk):
    drimbox = get_object_or_404(
        visible_drimboxes(request.user).select_related("operator", "health_structure", "financing_order")
        .annotate(dns_pending=dns_pending()), pk=pk)
    return _drimbox_page(request, drimbox)


# The VA forms of a DRIMbox page, one set per VA document: {attribute of the VA: (form class, its ids' pattern)}.
VA_FORMS = {"upload_form": (VaUploadForm, "va-{}-%s"), "ris_form": (VaRisUpdateForm, "ris-{}-%s"),
            "lifting_form": (VaLiftingUploadForm, "levee-{}-%s")}


def _va_form(name, va, *args, **kwargs):
    form_class, ids = VA_FORMS[name]
    return form_class(*args, auto_id=ids.format(va.pk), **kwargs)


def _drimbox_page(request, drimbox, *, failed=None):
    """The DRIMbox page; ``failed``: (VA document, form attribute, form) of a VA form sent with errors, shown again
    with them next to its fields and summed up at the top."""
    is_member = bool(permissions.roles_of(request.user, drimbox.operator))
    # The requests the member could start now: the service's own rule (also GET /api/v1/drimboxes/<N>/request-kinds/).
    actions = ([(option.kind, option.label) for option in services.request_kinds_for(request.user, drimbox)
                if option.allowed] if is_member else [])
    va_documents = list(drimbox.va_documents.filter(operator=drimbox.operator).select_related("uploaded_by"))
    for va in va_documents:
        for name in VA_FORMS:
            setattr(va, name, _va_form(name, va, initial={"signalled_on": va.ris_signalled_on}
                                       if name == "ris_form" else None))
        if failed and failed[0].pk == va.pk:
            setattr(va, failed[1], failed[2])
    can_upload_va = is_member and permissions.can(request.user, "va.upload", drimbox.operator)
    return render(request, "operators/drimbox_detail.html", {
        "drimbox": drimbox, "is_member": is_member, "actions": actions,
        "requests": drimbox.requests.select_related("operator").order_by("-created_at")
        if request.user.is_ans_admin else drimbox.requests.filter(operator=drimbox.operator),
        "attestations": drimbox.attestations.filter(operator=drimbox.operator) if not request.user.is_ans_admin
        else drimbox.attestations.all(),
        "dns_changes": dns_history(request.user, drimbox)[:DNS_HISTORY_ROWS],
        "va_documents": va_documents, "failed_form": failed[2] if failed else None,
        "can_upload_va": can_upload_va,
        # The RIS update is recorded by the operator's members who deposit the VA, or by ANS.
        "can_record_ris": can_upload_va or request.user.is_ans_admin,
    })


DNS_HISTORY_ROWS = 10  # the latest; the API gives the whole history (GET /api/v1/drimboxes/<N>/dns-changes/)


# --- Requests -----------------------------------------------------------------------------------


@access(OPERATOR_MEMBER)
def request_list(request):
    operator = active_operator(request)
    # What this user may see of its operator's requests (an application: its legal representatives only).
    requests_ = (visible_requests(request.user).filter(operator=operator)
                 .select_related("operator", "drimbox", "created_by", "assigned_to"))
    form = RequestFilterForm(request.GET or None)
    if form.is_valid():
        requests_ = filter_requests(requests_, **form.cleaned_data)
    table = SortedTable(request, tables.OPERATOR_REQUEST_COLUMNS, "-creee")
    if exported := table_export(request, table, requests_, filename=f"demandes-{operator.siren}", title="Demandes",
                                row=tables.request_row, columns=tables.REQUEST_EXPORT):
        return exported
    return render(request, "operators/request_list.html", {
        "operator": operator, "form": form, "table": table, "query": table.query_without_page(),
        "page": Paginator(table.order(requests_), 50).get_page(request.GET.get("page")),
        "filtered": any(request.GET.get(name) for name in form.fields),
        "can_declare": permissions.can(request.user, "request.declaration", operator),
        "can_switch": permissions.can(request.user, "request.bascule", operator),
    })


def filter_requests(requests_, *, q="", kind="", status=""):
    """« Mes demandes » filtered: a reference (or its start), a DRIMbox (identifiant or db name), a type, a status
    (« en cours »: not decided yet)."""
    text = (q or "").strip()
    if text:
        match = Q(reference__istartswith=text) | Q(drimbox__db_fqdn__istartswith=text.rstrip("."))
        if as_small_int(text):
            match |= Q(drimbox__identifiant=as_small_int(text))
        requests_ = requests_.filter(match)
    if kind:
        requests_ = requests_.filter(kind=kind)
    if status == OPEN_FILTER:
        requests_ = requests_.filter(status__in=OPEN_STATUSES)
    elif status:
        requests_ = requests_.filter(status=status)
    return requests_


def _find_drimbox_for_switch(reference):
    reference = (reference or "").strip().lower().rstrip(".")
    if not reference:
        return None
    query = Q(db_fqdn=reference) | Q(vi_fqdn=reference)
    if as_small_int(reference):
        query |= Q(identifiant=as_small_int(reference))
    return Drimbox.objects.filter(query).first()


@access(OPERATOR_MEMBER)
def request_create(request, kind):
    operator = active_operator(request)
    try:
        kind = RequestKind(kind)
    except ValueError:
        raise Http404 from None
    if kind in ONBOARDING_KINDS:  # filed by an applicant, through « Enregistrer mon opérateur »
        return redirect("operator_register")
    if not permissions.can(request.user, f"request.{kind}", operator):
        messages.error(request, permissions.DENIED_MESSAGES.get(f"request.{kind}", permissions.DEFAULT_DENIED))
        return redirect("request_list")
    drimbox = None
    if kind not in DECLARATION_KINDS:
        wanted = request.GET.get("drimbox") or request.POST.get("drimbox") or ""
        drimbox = get_object_or_404(operator.drimboxes, pk=as_small_int(wanted) or 0)
    form_class = request_form_class(kind, operator)
    initial = services.initial_data(kind, drimbox, operator)
    form = form_class(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and (repeated := repeat_response(request, form, "request_list")):
        return repeated
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data.get(name, "") for name in FIELDS[kind]}
        try:
            if kind == RequestKind.SWITCH:
                drimbox = _find_drimbox_for_switch(form.cleaned_data["drimbox_ref"])
                if drimbox is None:
                    raise _missing_drimbox()
            # The draft and its CGI are one change: a refused file leaves no draft behind; the form's submission
            # token is part of it, so the same form sent twice makes one draft.
            with submitted_once(request, form) as submission:
                req = services.create_request(acting_user=request.user, operator=operator, kind=kind, drimbox=drimbox,
                                              data=data)
                if form.cleaned_data.get("cgi"):
                    services.add_attachment(req, acting_user=request.user, kind=AttachmentKind.CGI,
                                            uploaded_file=form.cleaned_data["cgi"])
                submission.created(reverse("request_detail", args=[req.pk]))
        except AlreadySubmitted as repeat:
            return repeat.response(request, "request_list")
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Brouillon {req.reference} enregistré. Vérifiez-le puis soumettez-le à l'ANS.")
            return redirect("request_detail", req.pk)
    return render(request, "operators/request_form.html", {
        "form": form, "kind": kind, "drimbox": drimbox, "title": f"{kind.label} — nouvelle demande",
        "action": reverse("request_create", args=[kind]) + (f"?drimbox={drimbox.pk}" if drimbox else ""),
    })


def _missing_drimbox():
    from trustspace.errors import InvalidData

    message = "Aucune DRIMbox de l'Espace de Confiance ne porte cet identifiant ou ce nom."
    return InvalidData(message, field_errors={"drimbox_ref": [message]})


def _request_or_404(request, pk):
    return get_object_or_404(
        visible_requests(request.user).select_related("operator", "drimbox", "created_by", "assigned_to",
                                                       "decided_by"), pk=pk)


VIEWERLESS = "Sans visionneuse"


def _shown(name, value):
    if name == "has_viewer":
        return VIEWERLESS if value == "non" else "Oui"
    return value


def _attachment_form(req, *args):
    form = AttachmentForm(*args)
    # Only the pieces this kind of request takes (an application: its contract, its proof of power).
    allowed = ({AttachmentKind.CONTRACT, AttachmentKind.POWER} if req.is_onboarding else {AttachmentKind.CGI})
    form.fields["kind"].choices = [
        choice for choice in AttachmentKind.choices if choice[0] in allowed | {AttachmentKind.OTHER}]
    return form


def _approve_form(req, *args, order_problems=None):
    if order_problems is None:
        order_problems = eligibility_problems(req.data) if req.kind in DECLARATION_KINDS else []
    return ApproveForm(*args, needs_override=bool(order_problems))


# Where each submission problem is shown on the request page: the fields next to their value (``#champ-<name>``),
# next to their value (``#champ-<name>``). A missing piece: on the attachment form's file, its kind chosen.
PIECES = {**{field: piece for pieces in REQUIRED_PIECES.values() for field, piece in pieces.items()},
          "power_document": AttachmentKind.POWER}


def _submission_problems(req, field_errors):
    """[(label, message, anchor)] of a refused submission, in the order of the page."""
    order = [*FIELDS[req.kind], *PIECES]
    problems = []
    for name in sorted(field_errors, key=lambda name: order.index(name) if name in order else len(order)):
        label = PIECES[name].label if name in PIECES else LABELS.get(name, "")
        anchor = "id_attach-file" if name in PIECES else (f"champ-{name}" if name in FIELDS[req.kind] else "")
        problems.extend((label, message, anchor) for message in field_errors[name])
    return problems


def _missing_pieces_on(attachment_form, field_errors):
    """A refused submission's missing pieces as errors of the (unbound) attachment form's file, next to it, with
    the kind of the first one chosen."""
    missing = [name for name in PIECES if name in field_errors]
    if missing:
        attachment_form.cleaned_data = {}  # add_error() expects it; an unbound form has none
        attachment_form.initial["kind"] = PIECES[missing[0]].value
        for name in missing:
            for message in field_errors[name]:
                attachment_form.add_error("file", message)


@access(AUTHENTICATED)
def request_detail(request, pk):
    return _request_page(request, _request_or_404(request, pk))


def _request_page(request, req, *, bound=None, submit_errors=None):
    """The request page; ``bound``: {context name: form} of an action form sent with errors, shown again with
    them next to its fields (and summed up at the top); ``submit_errors``: the problems a submission met."""
    if req.is_onboarding:
        # An application: its applicant acts on it; the operator it is addressed to follows and comments.
        is_member = onboarding.is_party(request.user, req)
        can_act = req.created_by_id == request.user.pk
    else:
        is_member = bool(permissions.roles_of(request.user, req.operator))
        can_act = is_member and permissions.can(request.user, f"request.{req.kind}", req.operator)
    is_ans = request.user.is_ans_admin
    submit_errors = submit_errors or {}
    fields = [(name, LABELS[name], _shown(name, req.data.get(name, "")), submit_errors.get(name, []))
              for name in FIELDS[req.kind]]
    if req.drimbox is not None and not req.drimbox.has_viewer and "has_viewer" not in FIELDS[req.kind]:
        fields.insert(0, ("visionneuse", "visionneuse", VIEWERLESS, []))  # the reviewer sees there is no vi to check
    is_declaration = req.kind in DECLARATION_KINDS
    order = order_of(req.data) if is_declaration else None
    order_problems = eligibility_problems(req.data, order=order) if is_declaration else []
    forms = {
        "attachment_form": _attachment_form(req), "comment_form": CommentForm(), "cancel_form": CancelForm(),
        "assign_form": AssignForm(), "changes_form": ChangesForm(), "reject_form": RejectForm(),
        "approve_form": _approve_form(req, order_problems=order_problems), "submit_form": SubmitForm(),
        **(bound or {}),
    }
    _missing_pieces_on(forms["attachment_form"], submit_errors)
    failed = next((form for form in (bound or {}).values() if form.errors), None)
    return render(request, "operators/request_detail.html", {
        **review_context(request, req), **forms,
        "req": req, "fields": fields, "is_member": is_member, "can_act": can_act, "is_ans": is_ans,
        "events": req.events.select_related("actor"),
        "attachments": req.attachments.select_related("uploaded_by"),
        "order_problems": order_problems, "is_declaration": is_declaration, "order": order,
        "failed_form": failed,
        "submit_problems": _submission_problems(req, submit_errors),
        "attestation": Attestation.objects.filter(request=req).first(),
        "checklist": integration.checklist(req.drimbox)
        if req.drimbox and req.kind in {RequestKind.INTEGRATION, RequestKind.REINTEGRATION} and req.is_open else [],
    })


@access(AUTHENTICATED)
def request_edit(request, pk):
    req = _request_or_404(request, pk)
    if req.is_onboarding:
        return application_edit(request, req)
    if not permissions.roles_of(request.user, req.operator):
        raise Http404
    if not permissions.can(request.user, f"request.{req.kind}", req.operator) or not req.is_editable:
        messages.error(request, "Vous ne pouvez pas modifier cette demande." if req.is_editable else
                       f"La demande est « {req.get_status_display().lower()} » : elle n'est plus modifiable.")
        return redirect("request_detail", req.pk)
    form_class = request_form_class(req.kind, req.operator, req.drimbox)
    initial = dict(req.data)
    if req.kind == RequestKind.SWITCH and req.drimbox:
        initial["drimbox_ref"] = str(req.drimbox.identifiant)
    form = form_class(request.POST or None, request.FILES or None, initial=initial)
    if req.kind == RequestKind.SWITCH:
        form.fields["drimbox_ref"].disabled = True
    if "cgi" in form.fields and req.attachments.filter(kind=AttachmentKind.CGI).exists():
        form.fields["cgi"].required = False  # already attached: a new version only if needed
        form.fields["cgi"].help_text = "Déjà jointes à la demande ; seulement pour en joindre une nouvelle version."
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data.get(name, "") for name in FIELDS[req.kind]}
        try:
            with transaction.atomic():
                services.update_request(req, acting_user=request.user, data=data)
                if form.cleaned_data.get("cgi"):
                    services.add_attachment(req, acting_user=request.user, kind=AttachmentKind.CGI,
                                            uploaded_file=form.cleaned_data["cgi"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, "Demande mise à jour.")
            return redirect("request_detail", req.pk)
    return render(request, "operators/request_form.html", {
        "form": form, "kind": RequestKind(req.kind), "drimbox": req.drimbox, "req": req,
        "title": f"Modifier la demande {req.reference}", "action": reverse("request_edit", args=[req.pk]),
    })


def _post_action(request, pk, name, make_form, run, success, repeated_what="voici la demande"):
    """A POST of the action form ``name`` (its context name) of a request page. Sent twice (its submission token),
    it acts once. Refused, the page is shown again with the form as sent and each error next to its field (a
    submission: each problem next to the value it is about); an error about the request as a whole (it changed
    meanwhile) is a message on the page, which shows the request as it now is."""
    req = _request_or_404(request, pk)
    detail = reverse("request_detail", args=[req.pk])
    form = make_form(req, request.POST, request.FILES)
    if repeated := repeat_response(request, form, detail):
        return repeated
    if not form.is_valid():
        return _request_page(request, req, bound={name: form})
    try:
        with submitted_once(request, form) as submission:
            run(req, form.cleaned_data)
            submission.created(detail, repeated_what)
    except AlreadySubmitted as repeat:
        return repeat.response(request, detail)
    except DomainError as exc:
        fresh = _request_or_404(request, pk)
        if name == "submit_form" and exc.field_errors:
            return _request_page(request, fresh, submit_errors=exc.field_errors)
        if field_errors_for(form, exc):
            apply_domain_error(form, exc)
            return _request_page(request, fresh, bound={name: form})
        _fail(request, exc)
    else:
        messages.success(request, success)
    return redirect("request_detail", req.pk)


def _form(form_class):
    return lambda req, data, files: form_class(data, files)


@access(AUTHENTICATED)
@require_POST
def request_submit(request, pk):
    return _post_action(request, pk, "submit_form", _form(SubmitForm),
                        lambda req, _: services.submit_request(req, acting_user=request.user),
                        "Demande soumise à l'ANS.", "la demande est déjà soumise à l'ANS")


@access(AUTHENTICATED)
@require_POST
def request_cancel(request, pk):
    return _post_action(request, pk, "cancel_form", _form(CancelForm), lambda req, d: services.cancel_request(
        req, acting_user=request.user, reason=d["reason"]), "Demande annulée.", "la demande est déjà annulée")


@access(AUTHENTICATED)
@require_POST
def request_comment(request, pk):
    return _post_action(request, pk, "comment_form", _form(CommentForm), lambda req, d: services.comment_request(
        req, acting_user=request.user, text=d["text"]), "Commentaire ajouté.",
        "votre commentaire est déjà ajouté à la demande")


@access(AUTHENTICATED)
@require_POST
def request_attach(request, pk):
    return _post_action(request, pk, "attachment_form", _attachment_form, lambda req, d: services.add_attachment(
        req, acting_user=request.user, kind=d["kind"], uploaded_file=d["file"]), "Pièce jointe ajoutée.",
        "la pièce jointe est déjà ajoutée à la demande")


@access(AUTHENTICATED)
def attachment_download(request, pk, attachment_pk):
    req = _request_or_404(request, pk)
    attachment = get_object_or_404(RequestAttachment, pk=attachment_pk, request=req)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, content_type="application/pdf",
                        filename=f"{req.reference}-{attachment.kind}-{attachment.pk}.pdf")


@access(ANS_ADMIN)
@require_POST
def request_assign(request, pk):
    return _post_action(request, pk, "assign_form", _form(AssignForm), lambda req, d: services.assign_request(
        req, acting_user=request.user, reviewer=d["reviewer"]), "Demande prise en charge.",
        "la demande est prise en charge")


@access(ANS_ADMIN)
@require_POST
def request_changes(request, pk):
    return _post_action(request, pk, "changes_form", _form(ChangesForm), lambda req, d: services.request_changes(
        req, acting_user=request.user, comment=d["comment"]), "Modifications demandées à l'opérateur.",
        "les modifications sont déjà demandées à l'opérateur")


@access(ANS_ADMIN)
@require_POST
def request_approve(request, pk):
    # ``kind``: what the reviewer read; an application may have become a rattachement meanwhile (409 then).
    return _post_action(request, pk, "approve_form", _approve_form, lambda req, d: services.approve_request(
        req, acting_user=request.user, override_reason=d["override_reason"], comment=d["comment"],
        expected_kind=request.POST.get("kind") or None), "Demande approuvée.", "la demande est déjà approuvée")


@access(ANS_ADMIN)
@require_POST
def request_reject(request, pk):
    return _post_action(request, pk, "reject_form", _form(RejectForm), lambda req, d: services.reject_request(
        req, acting_user=request.user, reason=d["reason"]), "Demande refusée.", "la demande est déjà refusée")


# --- Attestations -------------------------------------------------------------------------------


@access(AUTHENTICATED)
def attestation_download(request, pk):
    attestation = get_object_or_404(Attestation.objects.select_related("operator"), pk=pk)
    if not permissions.can(request.user, "attestation.download", attestation.operator):
        raise Http404
    return FileResponse(attestation.pdf.open("rb"), as_attachment=True, content_type="application/pdf",
                        filename=f"attestation-delegation-{attestation.code}.pdf")


@access(PUBLIC)
# Codes are guessed one request each: per IP, shared with the API's attestation check (THROTTLE_ATTESTATION_RATE).
@throttle("attestation", lambda request: client_ip(request) if request.GET.get("code") else None)
def attestation_check(request):
    form = AttestationCheckForm(request.GET or None)
    attestation = None
    searched = False
    if form.is_bound and form.is_valid():
        searched = True
        attestation = services.find_attestation(form.cleaned_data["code"])
    return render(request, "operators/attestation_check.html", {
        "form": form, "attestation": attestation, "searched": searched,
    }, status=404 if searched and attestation is None else 200)


# --- VA documents -------------------------------------------------------------------------------


def _va_form_post(request, va, name, run, success, repeated_what, aliases=None):
    """A VA form of the DRIMbox page sent by a member (or ANS for the RIS date): once per submission token; refused,
    the page again with the form as sent and each error next to its field."""
    drimbox_page = reverse("drimbox_detail", args=[va.drimbox_id])
    form = _va_form(name, va, request.POST, request.FILES)
    if repeated := repeat_response(request, form, drimbox_page):
        return repeated
    if form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                result = run(va, form.cleaned_data)
                submission.created(drimbox_page, repeated_what)
        except AlreadySubmitted as repeat:
            return repeat.response(request, drimbox_page)
        except DomainError as exc:
            if not field_errors_for(form, exc, aliases):
                _fail(request, exc)
                return redirect(drimbox_page)
            apply_domain_error(form, exc, aliases)
        else:
            messages.success(request, success(result) if callable(success) else success)
            return redirect(drimbox_page)
    drimbox = get_object_or_404(visible_drimboxes(request.user).select_related(
        "operator", "health_structure", "financing_order").annotate(dns_pending=dns_pending()), pk=va.drimbox_id)
    return _drimbox_page(request, drimbox, failed=(va, name, form))


def _va_deposit(request, pk, name, deposit, success, repeated_what):
    """A member of the VA's operator deposits a PDF (the VA, or the document lifting its reservations)."""
    va = get_object_or_404(VaDocument.objects.select_related("drimbox", "operator"), pk=pk)
    if not permissions.roles_of(request.user, va.operator):
        raise Http404
    return _va_form_post(request, va, name, deposit, success, repeated_what)


def _va_pdf(request, pk, field, filename):
    va = get_object_or_404(VaDocument.objects.select_related("operator"), pk=pk)
    document = getattr(va, field)
    if not document or not permissions.can(request.user, "va.download", va.operator):
        raise Http404
    return FileResponse(document.open("rb"), as_attachment=True, content_type="application/pdf",
                        filename=f"{filename}-drimbox-{va.drimbox_id}-{va.pk}.pdf")


@access(AUTHENTICATED)
@require_POST
def va_upload(request, pk):
    return _va_deposit(request, pk, "upload_form",
                       lambda va, data: services.upload_va(va, acting_user=request.user, uploaded_file=data["file"],
                                                           with_reservations=data["with_reservations"]),
                       "Document VA déposé : l'ANS va le vérifier.", "le document VA est déjà déposé")


@access(AUTHENTICATED)
def va_download(request, pk):
    return _va_pdf(request, pk, "file", "va")


def _va_decision(request, pk, name, run, success, repeated_what):
    """ANS decides on a VA (or on the lifting of its reservations) from its VA page: once per submission token;
    a refusal without reason is shown again next to its field."""
    va = get_object_or_404(VaDocument, pk=pk)
    page = reverse("ans_va")
    form = va_decision_form(name, va, request.POST)
    if repeated := repeat_response(request, form, page):
        return repeated
    if not form.is_valid():
        return va_review_page(request, failed=(va, name, form))
    try:
        with submitted_once(request, form) as submission:
            run(va, form.cleaned_data)
            submission.created(page, repeated_what)
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        if field_errors_for(form, exc):
            apply_domain_error(form, exc)
            return va_review_page(request, failed=(va, name, form))
        _fail(request, exc)
    else:
        messages.success(request, success)
    return redirect(page)


@access(ANS_ADMIN)
@require_POST
def va_validate(request, pk):
    return _va_decision(request, pk, "validate_form", lambda va, _: services.validate_va(va, acting_user=request.user),
                        "Document VA validé.", "le document VA est déjà validé")


@access(ANS_ADMIN)
@require_POST
def va_refuse(request, pk):
    return _va_decision(request, pk, "refuse_form", lambda va, data: services.refuse_va(
        va, acting_user=request.user, reason=data["reason"]), "Document VA refusé ; l'opérateur est prévenu.",
        "le document VA est déjà refusé")


# --- VA « avec réserves » -----------------------------------------------------------------------


@access(AUTHENTICATED)
@require_POST
def va_ris_update(request, pk):
    """The date the client signalled its RIS in Vague 2 (a member of the operator, or ANS)."""
    va = get_object_or_404(VaDocument.objects.select_related("drimbox", "operator"), pk=pk)
    if not request.user.is_ans_admin and not permissions.roles_of(request.user, va.operator):
        raise Http404
    return _va_form_post(
        request, va, "ris_form",
        lambda va, data: services.record_ris_update(va, acting_user=request.user, signalled_on=data["signalled_on"]),
        lambda va: "Date de mise à jour du RIS enregistrée : les réserves sont à lever avant le "
                   f"{paris_date(va.reservations_due_at)}.",
        "la date de mise à jour du RIS est déjà enregistrée", aliases={"ris_signalled_on": "signalled_on"})


@access(AUTHENTICATED)
@require_POST
def va_lifting_upload(request, pk):
    return _va_deposit(request, pk, "lifting_form",
                       lambda va, data: services.upload_va_lifting(va, acting_user=request.user,
                                                                   uploaded_file=data["file"]),
                       "Document de levée des réserves déposé : l'ANS va le vérifier.",
                       "le document de levée des réserves est déjà déposé")


@access(AUTHENTICATED)
def va_lifting_download(request, pk):
    return _va_pdf(request, pk, "lifting_file", "va-levee-reserves")


@access(ANS_ADMIN)
@require_POST
def va_lifting_validate(request, pk):
    return _va_decision(request, pk, "lifting_validate_form",
                        lambda va, _: services.validate_va_lifting(va, acting_user=request.user),
                        "Levée des réserves validée : le document VA est validé sans réserve.",
                        "la levée des réserves est déjà validée")


@access(ANS_ADMIN)
@require_POST
def va_lifting_refuse(request, pk):
    return _va_decision(request, pk, "lifting_refuse_form", lambda va, data: services.refuse_va_lifting(
        va, acting_user=request.user, reason=data["reason"]), "Levée des réserves refusée ; l'opérateur est prévenu.",
        "la levée des réserves est déjà refusée")

"""Authorization matrix of the DRIMbox lifecycle API, merged into ``tests/test_authorization_matrix.MATRIX``.

Same format: name -> (method, kwargs builder(w), data builder(w), {role: expectation}, [post-conditions]).
Objects belong to operator A and are built lazily through the services (tests/support/lifecycle.py)
and kept on the world ``w``. Multipart endpoints are called with a JSON body by the matrix: a caller
who may act then gets 400 (no file), one who may not gets 403/404 before the body is read.
"""
from django.utils import timezone

from operators import services
from operators.models import (
    ONBOARDING_KINDS,
    AttachmentKind,
    DrimboxRequest,
    FinancingOrder,
    RequestKind,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from tests.conftest import pdf_upload
from tests.support.lifecycle import (
    active_drimbox,
    cgi_upload,
    client_fields,
    declaration_data,
    declared_drimbox,
    make_order,
    signed_order_upload,
    siren,
    submitted_declaration,
)

ANS_ONLY = {"anonymous": 401, "other": 403, "technical": 403, "legal": 403, "ans": 200}
READ_A = {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}
# On a draft of A: ANS does not see drafts (404), only submitted requests.
MANAGERS_ON_DRAFT = {"anonymous": 401, "other": 404, "technical": 403, "legal": 200, "ans": 404}


def _operator(w):
    return {"pk": w.operator.pk}


def _draft(w):
    """A complete draft declaration of A, its signed CGI attached: ready to submit."""
    if not hasattr(w, "draft"):
        data = declaration_data(order=make_order(w.operator, w.legal))
        w.draft = services.create_request(acting_user=w.legal, operator=w.operator, kind=RequestKind.DECLARATION,
                                          data=data)
        services.add_attachment(w.draft, acting_user=w.legal, kind=AttachmentKind.CGI, uploaded_file=cgi_upload())
    return {"pk": w.draft.pk}


def _submitted(w):
    if not hasattr(w, "submitted"):
        w.submitted = submitted_declaration(w.operator, w.legal)
    return {"pk": w.submitted.pk}


def _in_review(w):
    """A funded declaration of A, submitted and taken in charge by ANS."""
    if not hasattr(w, "in_review"):
        w.in_review = services.assign_request(submitted_declaration(w.operator, w.legal), acting_user=w.ans)
    return {"pk": w.in_review.pk}


def _drimbox(w):
    """A declared DRIMbox of A, addressed by its public identifiant."""
    if not hasattr(w, "drimbox"):
        w.drimbox = declared_drimbox(w.operator, w.legal, w.ans)
    return {"identifiant": w.drimbox.identifiant}


def _attestation(w):
    _drimbox(w)
    return {"code": w.drimbox.attestations.get().code}


def _va_due(w):
    if not hasattr(w, "va"):
        w.va = VaDocument.objects.get(drimbox=active_drimbox(w.operator, w.legal, w.ans))
    return {"pk": w.va.pk}


def _va_uploaded(w):
    _va_due(w)
    services.upload_va(w.va, acting_user=w.technical, uploaded_file=pdf_upload("va.pdf"))
    return {"pk": w.va.pk}


def _va_file(w):
    """A VA of A with its document deposited (once, whatever the number of entries built on this world)."""
    _va_due(w)
    w.va.refresh_from_db()
    if not w.va.file:
        services.upload_va(w.va, acting_user=w.technical, uploaded_file=pdf_upload("va.pdf"))
    return {"pk": w.va.pk}


def _va_lifting_file(w):
    """A VA of A validated « avec réserves » with its lifting document deposited (once)."""
    if not hasattr(w, "lifting_va"):
        w.lifting_va = VaDocument.objects.get(drimbox=active_drimbox(w.operator, w.legal, w.ans))
        services.upload_va(w.lifting_va, acting_user=w.technical, uploaded_file=pdf_upload("va.pdf"),
                           with_reservations=True)
        services.validate_va(w.lifting_va, acting_user=w.ans)
        services.upload_va_lifting(w.lifting_va, acting_user=w.technical, uploaded_file=pdf_upload("levee.pdf"))
    return {"pk": w.lifting_va.pk}


def _attachment(w):
    _draft(w)
    return {"pk": w.draft.pk, "attachment_pk": w.draft.attachments.get().pk}


def _mandate(w):
    return {"pk": w.mandataire_membership.pk}


def _signed_order(w):
    _order(w)
    return {"pk": w.order.pk, "kind": "bon-signe"}


def _signature_page(w):
    _order(w)
    client = w.order.clients.get()
    if not client.signature_sha256:
        services.attach_order_document(w.order, acting_user=w.legal, kind=services.DocumentKind.SIGNATURE_PAGE,
                                       uploaded_file=signed_order_upload(), client=client)
    return {"pk": w.order.pk, "kind": "signature", "client_pk": client.pk}


def _va_reserved(w):
    """A's VA deposited « avec réserves » and validated as such."""
    _va_due(w)
    services.upload_va(w.va, acting_user=w.technical, uploaded_file=pdf_upload("va.pdf"), with_reservations=True)
    services.validate_va(w.va, acting_user=w.ans)
    return {"pk": w.va.pk}


def _va_lifting(w):
    _va_reserved(w)
    services.upload_va_lifting(w.va, acting_user=w.technical, uploaded_file=pdf_upload("levee.pdf"))
    return {"pk": w.va.pk}


def _ris_recorded(recorded):
    return lambda w: (VaDocument.objects.get(pk=w.va.pk).ris_signalled_on is not None) == recorded


def _status(attr, expected):
    def check(w):
        return DrimboxRequest.objects.get(pk=getattr(w, attr).pk).status == expected
    return check


def _va_status(expected):
    return lambda w: VaDocument.objects.get(pk=w.va.pk).status == expected


def _requests_of_a(count):
    # Onboarding applications (the operator's approved adhesion) are requests too: count DRIMbox requests only.
    return lambda w: (DrimboxRequest.objects.filter(operator=w.operator).exclude(kind__in=ONBOARDING_KINDS).count()
                      == count)


def _order_data(w):
    return {"reference": "BC-MATRICE", "pacs_identifiers": ["PACS-MATRICE"],
            **client_fields(9001, siren_value=siren(49990001))}


def _order(w):
    """A complete order of A that funds no DRIMbox (ANS may close it)."""
    if not hasattr(w, "order"):
        w.order = make_order(w.operator, w.legal)
    return {"pk": w.order.pk}


def _order_client(w):
    _order(w)
    return {"pk": w.order.pk, "client_pk": w.order.clients.get().pk}


def _order_clients(count):
    return lambda w: w.order.clients.count() == count


def _order_pacs(count):
    return lambda w: w.order.pacs.count() == count


def _order_status(expected):
    return lambda w: FinancingOrder.objects.get(pk=w.order.pk).status == expected


def _client_named(name):
    return lambda w: w.order.clients.get().name == name


def _orders_named(count):
    return lambda w: FinancingOrder.objects.filter(reference="BC-MATRICE").count() == count


def _unchanged(attr, status):
    check = _status(attr, status)
    return {role: check for role in ("anonymous", "other", "technical", "legal", "ans")}


LIFECYCLE_API_MATRIX = {
    # Requests (operator side; detail shared with ANS)
    "api_operator_requests": ("get", _operator, None, READ_A),
    "api_operator_requests POST": (
        "post", _operator, lambda w: {"kind": "declaration", "data": {"structure_name": "Clinique du Parc"}},
        {"anonymous": 401, "other": 404, "technical": 403, "legal": 201, "ans": 403},
        {"anonymous": _requests_of_a(0), "other": _requests_of_a(0), "technical": _requests_of_a(0),
         "legal": _requests_of_a(1), "ans": _requests_of_a(0)}),
    "api_request": ("get", _submitted, None, READ_A),
    "api_request PATCH": (
        "patch", _draft, lambda w: {"data": {"responsable_contact": "nouveau@example.fr"}}, MANAGERS_ON_DRAFT,
        {role: (lambda w, r=role: (DrimboxRequest.objects.get(pk=w.draft.pk).data["responsable_contact"]
                                   == "nouveau@example.fr") == (r == "legal"))
         for role in ("anonymous", "other", "technical", "legal", "ans")}),
    "api_request_attachments": ("post", _draft, lambda w: {"kind": "cgi"},
                                {"anonymous": 401, "other": 404, "technical": 403, "legal": 400, "ans": 404}),
    "api_request_submit": ("post", _draft, None, MANAGERS_ON_DRAFT,
                           {**_unchanged("draft", RequestStatus.DRAFT),
                            "legal": _status("draft", RequestStatus.SUBMITTED)}),
    "api_request_cancel": ("post", _draft, lambda w: {"reason": "Doublon"}, MANAGERS_ON_DRAFT,
                           {**_unchanged("draft", RequestStatus.DRAFT),
                            "legal": _status("draft", RequestStatus.CANCELLED)}),
    "api_request_comments": ("post", _submitted, lambda w: {"text": "Où en est la demande ?"},
                             {"anonymous": 401, "other": 404, "technical": 201, "legal": 201, "ans": 201}),
    # Review (ANS)
    "api_request_assign": ("post", _submitted, lambda w: {}, ANS_ONLY,
                           {**_unchanged("submitted", RequestStatus.SUBMITTED),
                            "ans": _status("submitted", RequestStatus.IN_REVIEW)}),
    "api_request_changes": ("post", _in_review, lambda w: {"comment": "Précisez l'adresse vi."}, ANS_ONLY,
                            {**_unchanged("in_review", RequestStatus.IN_REVIEW),
                             "ans": _status("in_review", RequestStatus.CHANGES_REQUESTED)}),
    "api_request_approve": ("post", _in_review, lambda w: {}, ANS_ONLY,
                            {**_unchanged("in_review", RequestStatus.IN_REVIEW),
                             "ans": _status("in_review", RequestStatus.APPROVED)}),
    "api_request_reject": ("post", _in_review, lambda w: {"reason": "Structure inconnue."}, ANS_ONLY,
                           {**_unchanged("in_review", RequestStatus.IN_REVIEW),
                            "ans": _status("in_review", RequestStatus.REJECTED)}),
    "api_review_queue": ("get", None, None, ANS_ONLY),
    # DRIMboxes and the registry
    "api_operator_drimboxes": ("get", _operator, None, READ_A),
    "api_drimbox": ("get", _drimbox, None, READ_A),
    "api_drimbox_dns_changes": ("get", _drimbox, None, READ_A),
    "api_drimbox_request_kinds": ("get", _drimbox, None, READ_A),
    "api_registry": ("get", None, None, ANS_ONLY),
    # Financing orders
    "api_financing_orders": ("get", _operator, None, READ_A),
    "api_financing_orders POST": (
        "post", _operator, _order_data, {"anonymous": 401, "other": 404, "technical": 403, "legal": 201, "ans": 403},
        {"anonymous": _orders_named(0), "other": _orders_named(0), "technical": _orders_named(0),
         "legal": _orders_named(1), "ans": _orders_named(0)}),
    "api_financing_order": ("get", _order, None, READ_A),
    "api_financing_order_clients": (
        "post", _order, lambda w: client_fields(9002),
        {"anonymous": 401, "other": 404, "technical": 403, "legal": 201, "ans": 201},
        {"anonymous": _order_clients(1), "other": _order_clients(1), "technical": _order_clients(1),
         "legal": _order_clients(2), "ans": _order_clients(2)}),
    "api_financing_order_client": (
        "put", _order_client, lambda w: client_fields(9003, siren_value=w.order.clients.get().siren,
                                                      sites=w.order.finess_list, ams=w.order.am_list,
                                                      client_name="Nouveau nom"),
        {"anonymous": 401, "other": 404, "technical": 403, "legal": 200, "ans": 200},
        {role: _client_named("Nouveau nom") if role in ("legal", "ans") else (lambda w: w.order.clients.get().name
                                                                                 != "Nouveau nom")
         for role in READ_A}),
    "api_financing_order_pacs": (
        "post", _order, lambda w: {"pacs_identifiers": ["PACS-MATRICE-2"]},
        {"anonymous": 401, "other": 404, "technical": 403, "legal": 201, "ans": 201},
        {role: _order_pacs(2 if role in ("legal", "ans") else 1) for role in READ_A}),
    "api_financing_order_documents": ("post", _order, lambda w: {"kind": "bon_signe"},
                                      {"anonymous": 401, "other": 404, "technical": 403, "legal": 400, "ans": 400}),
    "api_financing_order_close": (
        "post", _order, lambda w: {"reason": "Structure fermée."}, {**ANS_ONLY, "other": 403},
        {role: _order_status("clos" if role == "ans" else "actif") for role in READ_A}),
    # Attestations: the public check
    "api_attestation": ("get", _attestation, None, {role: 200 for role in READ_A}),
    # Files, with a token (same permissions as the pages)
    "api_attestation_document": ("get", _attestation, None, READ_A),
    "api_request_attachment_document": ("get", _attachment, None,
                                        {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 404}),
    "api_va_document_file": ("get", _va_file, None, READ_A),
    "api_va_lifting_file": ("get", _va_lifting_file, None, READ_A),
    "api_mandate_document": ("get", _mandate, None,
                             {"anonymous": 401, "other": 404, "technical": 404, "legal": 200, "ans": 200}),
    "api_financing_order_document_file": ("get", _signed_order, None, READ_A),
    "api_financing_order_client_document_file": ("get", _signature_page, None, READ_A),
    # VA documents: the lists (operator B's legal representative sees none of A's), then each document.
    "api_va_list": ("get", lambda w: (_va_due(w), {})[1], None,
                    {"anonymous": 401, "other": "own", "technical": 200, "legal": 200, "ans": 200}),
    "api_va_document": ("post", _va_due, None,
                        {"anonymous": 401, "other": 404, "technical": 400, "legal": 400, "ans": 404},
                        {role: _va_status(VaStatus.DUE) for role in READ_A}),
    "api_va_validate": ("post", _va_uploaded, None, ANS_ONLY,
                        {**{role: _va_status(VaStatus.SUBMITTED) for role in ("anonymous", "other", "technical",
                                                                             "legal")},
                         "ans": _va_status(VaStatus.VALIDATED)}),
    "api_va_refuse": ("post", _va_uploaded, lambda w: {"reason": "Signature manquante."}, ANS_ONLY,
                      {**{role: _va_status(VaStatus.SUBMITTED) for role in ("anonymous", "other", "technical",
                                                                           "legal")},
                       "ans": _va_status(VaStatus.REFUSED)}),
    # VA « avec réserves »
    "api_va_ris_update": ("post", _va_reserved, lambda w: {"signalled_on": timezone.localdate().isoformat()},
                          READ_A, {**{role: _ris_recorded(False) for role in ("anonymous", "other")},
                                   **{role: _ris_recorded(True) for role in ("technical", "legal", "ans")}}),
    "api_va_lifting_document": ("post", _va_reserved, None,
                                {"anonymous": 401, "other": 404, "technical": 400, "legal": 400, "ans": 404},
                                {role: _va_status(VaStatus.VALIDATED_RESERVATIONS) for role in READ_A}),
    "api_va_lifting_validate": ("post", _va_lifting, None, ANS_ONLY,
                                {**{role: _va_status(VaStatus.LIFTING_SUBMITTED)
                                    for role in ("anonymous", "other", "technical", "legal")},
                                 "ans": _va_status(VaStatus.VALIDATED)}),
    "api_va_lifting_refuse": ("post", _va_lifting, lambda w: {"reason": "Non signé par le client."}, ANS_ONLY,
                              {**{role: _va_status(VaStatus.LIFTING_SUBMITTED)
                                  for role in ("anonymous", "other", "technical", "legal")},
                               "ans": _va_status(VaStatus.VALIDATED_RESERVATIONS)}),
}

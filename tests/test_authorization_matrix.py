"""Every URL pattern and API endpoint × every kind of caller → allowed or denied, as declared here.

A URL added without an entry in MATRIX makes ``test_every_url_pattern_is_declared`` fail.
Callers: anonymous, a user of another operator (legal representative of B), the technical
administrator of A, the legal representative of A, an ANS administrator.
Objects in URLs always belong to operator A.
"""
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from certificates.models import AcmeDnsCredential, Certificate, Revocation, ViOrder
from operators import services
from operators.models import (
    ContractVersion,
    FinancingOrder,
    InvitationStatus,
    Membership,
    Operator,
    RequestKind,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from tests.api_matrix_certificates import CERTIFICATES_API_MATRIX
from tests.api_matrix_lifecycle import LIFECYCLE_API_MATRIX
from tests.api_matrix_whitelist import WHITELIST_API_MATRIX
from tests.conftest import WorldState, forget_request_state, pdf_upload
from tests.matrix_weather import WEATHER_MATRIX
from tests.matrix_weather_reports import WEATHER_REPORTS_MATRIX
from tests.matrix_whitelist import WHITELIST_MATRIX
from tests.support import lifecycle as lc
from tests.support import pki
from tests.support.db_snapshot import RecordedBuilds
from tests.support.security_headers import check_headers
from trustspace.models import ApiToken
from trustspace.services import create_api_token
from whitelist import services as whitelist_services

pytestmark = pytest.mark.access

ROLES = ["anonymous", "other", "technical", "legal", "ans"]
LOGIN = ("redirect", "/connexion/")
HOME = ("redirect", "/")


def _kwargs_pk(attr):
    return lambda w: {"pk": getattr(w, attr).pk}


def _token_of_legal(w):
    token, _raw = create_api_token(acting_user=w.legal, name="ci")
    w.legal_token = token
    return {"pk": token.pk}


def _new_contract(w):
    w.new_contract = services.publish_contract_version(acting_user=w.ans, version="2026-02", title="V2",
                                                       body="Nouveau.")
    return {}


def _ta_active(w):
    return Membership.objects.get(pk=w.technical_membership.pk).ended_at is None


def _invitation_status(w):
    w.pending_invitation.refresh_from_db()
    return w.pending_invitation.status


def _application_of_a(w):
    """A JSON application for operator A's SIREN (no files: the service answers with structured errors)."""
    from tests.conftest import application_data

    w.operator_count = Operator.objects.count()
    return {**application_data(12345678, "Opérateur A bis"), "contract_accepted": True}


def _operators_unchanged(w):
    return Operator.objects.count() == w.operator_count


# --- DRIMbox lifecycle objects of operator A, built on demand --------------------------------------


def _submitted(w):
    if not hasattr(w, "submitted_request"):
        w.submitted_request = lc.submitted_declaration(w.operator, w.legal)
    return w.submitted_request


def _draft(w):
    if not hasattr(w, "draft_request"):
        w.draft_request = services.create_request(acting_user=w.legal, operator=w.operator,
                                                  kind=RequestKind.DECLARATION, data=lc.declaration_data())
        services.add_attachment(w.draft_request, acting_user=w.legal, kind="cgi", uploaded_file=lc.cgi_upload())
    return w.draft_request


def _in_review(w):
    if not hasattr(w, "review_request"):
        w.review_request = services.assign_request(lc.submitted_declaration(
            w.operator, w.legal, data=lc.declaration_data(order=lc.make_order(w.operator, w.legal))),
            acting_user=w.ans)
    return w.review_request


def _active(w):
    if not hasattr(w, "drimbox"):
        w.drimbox = lc.active_drimbox(w.operator, w.legal, w.ans)
        w.va = VaDocument.objects.get(drimbox=w.drimbox)
    return w.drimbox


def _order(w):
    """A complete order of A that funds no DRIMbox, its first client's signature page attached."""
    if not hasattr(w, "order"):
        w.order = lc.make_order(w.operator, w.legal)
        services.attach_order_document(w.order, acting_user=w.legal, kind=services.DocumentKind.SIGNATURE_PAGE,
                                       uploaded_file=lc.signed_order_upload(), client=w.order.clients.get())
    return w.order


def _order_clients(count):
    return lambda w: w.order.clients.count() == count


def _submitted_va(w):
    _active(w)
    if w.va.status != VaStatus.SUBMITTED:
        w.va = services.upload_va(w.va, acting_user=w.technical, uploaded_file=pdf_upload("va.pdf"))
    return w.va


def _reserved_va(w):
    """The VA of another active DRIMbox of A, deposited « avec réserves » and validated as such by ANS (its own
    DRIMbox: pages walking the whole matrix on one world move ``w.va`` through the other path)."""
    if not hasattr(w, "reserved_va"):
        va = VaDocument.objects.get(drimbox=lc.active_drimbox(w.operator, w.legal, w.ans))
        services.upload_va(va, acting_user=w.technical, uploaded_file=pdf_upload("va.pdf"), with_reservations=True)
        w.reserved_va = services.validate_va(va, acting_user=w.ans)
    return w.reserved_va


def _lifting_va(w):
    """The same, its reservations' lifting document deposited."""
    _reserved_va(w).refresh_from_db()
    if w.reserved_va.status == VaStatus.VALIDATED_RESERVATIONS:
        w.reserved_va = services.upload_va_lifting(w.reserved_va, acting_user=w.technical,
                                                   uploaded_file=pdf_upload("levee.pdf"))
    return w.reserved_va


def _ris_recorded(recorded):
    return lambda w: (VaDocument.objects.get(pk=w.reserved_va.pk).ris_signalled_on is not None) == recorded


def _status(attr, expected):
    def check(w):
        obj = getattr(w, attr)
        obj.refresh_from_db()
        return obj.status == expected
    return check


def _events(attr, kind):
    return lambda w: getattr(w, attr).events.filter(kind=kind).exists()


def _no_events(attr, kind):
    return lambda w: not getattr(w, attr).events.filter(kind=kind).exists()


def _db_certificate(w):
    return Certificate.objects.get(drimbox=_active(w), kind="db", superseded_at__isnull=True)


def _fresh_db_upload(w):
    issued = lc.shared_pki().db_certificate(_active(w).db_fqdn, id_nat_struct=w.operator.id_nat_struct)
    return {"db-file": SimpleUploadedFile("db.pem", issued.chain_pem)}


def _csr_upload(w):
    csr, _key = pki.build_csr(_active(w).vi_fqdn)
    return {"vi-file": SimpleUploadedFile("vi.csr", pki.csr_pem(csr))}


def _market_upload(w):
    # Issued by the test IGC-Santé hierarchy, not a public root: refused by the chain rule (never stored).
    issued = lc.shared_pki().vi_certificate(_active(w).vi_fqdn)
    return {"market-file": SimpleUploadedFile("vi.pem", issued.chain_pem)}


def _market_count(expected):
    return lambda w: Certificate.objects.filter(drimbox=w.drimbox, source="marche").count() == expected


def _db_count(expected):
    return lambda w: Certificate.objects.filter(drimbox=w.drimbox, kind="db").count() == expected


def _vi_orders(expected):
    return lambda w: ViOrder.objects.filter(drimbox=w.drimbox).count() == expected


def _revocations(expected):
    return lambda w: Revocation.objects.filter(certificate__drimbox=w.drimbox).count() == expected


def _impossible_revocation(w):
    """A revocation of A's vi certificate that the CA could not do (« impossible »), which ANS may close."""
    if not hasattr(w, "impossible_revocation"):
        vi = Certificate.objects.get(drimbox=_active(w), kind="vi", superseded_at__isnull=True)
        w.impossible_revocation = Revocation.objects.create(
            certificate=vi, reason="compromission", reason_code=1, status="impossible", deadline=timezone.now(),
            attempts=1, last_error="L'autorité de certification ne connaît pas ce certificat.")
    return {"pk": w.impossible_revocation.pk}


def _revocation_status(expected):
    return lambda w: Revocation.objects.get(pk=w.impossible_revocation.pk).status == expected


def _acme_dns(expected):
    return lambda w: AcmeDnsCredential.objects.filter(drimbox=w.drimbox).count() == expected


def _failed_outbox_message(w):
    """An outbox message given up (« en échec »), which an ANS « Relancer » sends (trustspace/views/outbox.py)."""
    from trustspace.models import OutboxKind, OutboxMessage, OutboxStatus

    if not hasattr(w, "failed_outbox"):
        w.failed_outbox = OutboxMessage.objects.create(
            kind=OutboxKind.EMAIL, status=OutboxStatus.FAILED, label="E-mail : matrice", attempts=10,
            payload={"to": ["matrice@example.fr"], "subject": "Matrice", "body": "Corps"})
    return w.failed_outbox


ANS_ONLY_GET = {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": 200}


def ans_only_post(success_prefix):
    return {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": ("redirect", success_prefix)}


# name -> (method, kwargs builder or None, data builder or None, {role: expectation}, [post-condition per role])
# expectation: int status, ("redirect", prefix), or "own" (200 and nothing of operator A in the page).
MATRIX = {
    "home": ("get", None, None, {"anonymous": 200, "other": "own", "technical": 200, "legal": 200,
                                 "ans": ("redirect", "/ans/")}),
    # Dashboards: ANS's work waiting, ANS's page of a DRIMbox, a DRIMbox's weather and performance
    "ans_home": ("get", None, None, ANS_ONLY_GET),
    "ans_drimbox": ("get", lambda w: {"pk": _active(w).pk}, None, ANS_ONLY_GET),
    "drimbox_weather": ("get", lambda w: {"pk": _active(w).pk}, None,
                        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "switch_operator": ("post", None, lambda w: {"operator": w.operator.pk},
                        {"anonymous": LOGIN, "other": 404, "technical": HOME, "legal": HOME, "ans": 404}),
    "operator_register": ("get", None, None, {"anonymous": LOGIN, "other": 200, "technical": 200, "legal": 200,
                                              "ans": 200}),
    "operator_detail": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200,
                                            "ans": HOME}),
    "operator_update": ("get", None, None, {"anonymous": LOGIN, "other": "own",
                                            "technical": ("redirect", "/espace/operateur/"),
                                            "legal": 200, "ans": HOME}),
    "support_contact_update": ("get", None, None, {"anonymous": LOGIN, "other": ("redirect", "/espace/operateur/"),
                                                   "technical": 200, "legal": ("redirect", "/espace/operateur/"),
                                                   "ans": HOME}),
    "contract": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200, "ans": HOME}),
    "contract_pdf": ("get", lambda w: {"pk": ContractVersion.current().pk}, None,
                     {"anonymous": LOGIN, "other": 200, "technical": 200, "legal": 200, "ans": HOME}),
    "people": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200, "ans": HOME}),
    "person_invite": ("get", None, None, {"anonymous": LOGIN, "other": "own",
                                          "technical": ("redirect", "/espace/personnes/"),
                                          "legal": 200, "ans": HOME}),
    "person_remove": ("post", _kwargs_pk("technical_membership"), None,
                      {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/espace/personnes/"),
                       "legal": ("redirect", "/espace/personnes/"), "ans": HOME},
                      {"anonymous": lambda w: _ta_active(w), "other": _ta_active, "technical": _ta_active,
                       "legal": lambda w: not _ta_active(w), "ans": _ta_active}),
    "mandate_download": ("get", _kwargs_pk("mandataire_membership"), None,
                         {"anonymous": LOGIN, "other": 404, "technical": 404, "legal": 200, "ans": HOME}),
    "invitation_revoke": ("post", _kwargs_pk("pending_invitation"), None,
                          {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/espace/personnes/"),
                           "legal": ("redirect", "/espace/personnes/"), "ans": HOME},
                          {"technical": lambda w: _invitation_status(w) == InvitationStatus.PENDING,
                           "legal": lambda w: _invitation_status(w) == InvitationStatus.REVOKED}),
    "operator_history": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200,
                                             "ans": HOME}),
    "invitation_accept": ("get", lambda w: {"token": w.pending_token}, None,
                          {"anonymous": LOGIN, "other": 200, "technical": 200, "legal": 200, "ans": 200}),
    "ans_operators": ("get", None, None, {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403,
                                          "ans": 200}),
    "ans_operator": ("get", _kwargs_pk("operator"), None, {"anonymous": LOGIN, "other": 403, "technical": 403,
                                                           "legal": 403, "ans": 200}),
    "ans_mandate_download": ("get", _kwargs_pk("mandataire_membership"), None,
                             {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": 200}),
    "ans_contracts": ("get", None, None, {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403,
                                          "ans": 200}),
    "login": ("get", None, None, {"anonymous": 200, "other": HOME, "technical": HOME, "legal": HOME, "ans": HOME}),
    "logout": ("post", None, None, {role: HOME for role in ROLES}),
    # Public; the tests' issuer is a closed loopback port, so every role gets the French « iSC indisponible » page.
    "oidc_authentication_init": ("get", None, None, {role: 503 for role in ROLES}),
    "oidc_authentication_callback": ("get", None, None, {role: ("redirect", "/connexion/?echec=1") for role in ROLES}),
    "api_tokens": ("get", None, None, {"anonymous": LOGIN, "other": 200, "technical": 200, "legal": 200, "ans": 200}),
    "api_token_revoke": ("post", _token_of_legal, None,
                         {"anonymous": LOGIN, "other": 404, "technical": 404, "legal": ("redirect", "/compte/jetons/"),
                          "ans": 404},
                         {"other": lambda w: ApiToken.objects.get(pk=w.legal_token.pk).revoked_at is None,
                          "legal": lambda w: ApiToken.objects.get(pk=w.legal_token.pk).revoked_at is not None}),
    # DRIMbox lifecycle
    "drimbox_list": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200,
                                         "ans": HOME}),
    "request_list": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200,
                                         "ans": HOME}),
    "request_create": ("get", lambda w: {"kind": "declaration"}, None,
                       {"anonymous": LOGIN, "other": "own", "technical": ("redirect", "/espace/demandes/"),
                        "legal": 200, "ans": HOME}),
    "financing_orders": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200,
                                             "ans": HOME}),
    "financing_order": ("get", lambda w: {"pk": _order(w).pk}, None,
                        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    # A technical administrator sees the order and is told, on the page, that only managers change it.
    "financing_order_client_add": (
        "post", lambda w: {"pk": _order(w).pk}, lambda w: {
            f"client-{k}": ("oui" if k == "activity_2023" else " ".join(v) if isinstance(v, list) else v)
            for k, v in lc.client_fields(9801).items()},
        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": ("redirect", "/bons-de-commande/"),
         "ans": ("redirect", "/bons-de-commande/")},
        {"technical": _order_clients(1), "legal": _order_clients(2), "ans": _order_clients(2)}),
    "financing_order_client_edit": (
        "post", lambda w: {"pk": _order(w).pk, "client_pk": w.order.clients.get().pk}, lambda w: {
            "edit-client_siren": w.order.clients.get().siren, "edit-client_name": "Nom corrigé",
            "edit-activity_2023": "oui", "edit-finess_geographiques": " ".join(w.order.finess_list)},
        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": ("redirect", "/bons-de-commande/"),
         "ans": ("redirect", "/bons-de-commande/")},
        {"technical": lambda w: w.order.clients.get().name != "Nom corrigé",
         "legal": lambda w: w.order.clients.get().name == "Nom corrigé"}),
    "financing_order_pacs_add": (
        "post", lambda w: {"pk": _order(w).pk}, lambda w: {"pacs-pacs_identifiers": "PACS-MATRICE-PAGE"},
        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": ("redirect", "/bons-de-commande/"),
         "ans": ("redirect", "/bons-de-commande/")},
        {"technical": lambda w: w.order.pacs.count() == 1, "legal": lambda w: w.order.pacs.count() == 2}),
    "financing_order_document": (
        "post", lambda w: {"pk": _order(w).pk}, lambda w: {"document-kind": "bon_signe",
                                                           "document-file": lc.signed_order_upload()},
        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": ("redirect", "/bons-de-commande/"),
         "ans": ("redirect", "/bons-de-commande/")}),
    "financing_order_document_download": (
        "get", lambda w: {"pk": _order(w).pk, "kind": "bon-signe"}, None,
        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "financing_order_client_document_download": (
        "get", lambda w: {"pk": _order(w).pk, "kind": "signature", "client_pk": w.order.clients.get().pk}, None,
        {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "financing_order_close": (
        "post", lambda w: {"pk": _order(w).pk}, lambda w: {"close-reason": "Structure fermée."},
        ans_only_post("/bons-de-commande/"),
        {"legal": lambda w: FinancingOrder.objects.get(pk=w.order.pk).is_active,
         "ans": lambda w: not FinancingOrder.objects.get(pk=w.order.pk).is_active}),
    "ans_financing_orders": ("get", None, None, ANS_ONLY_GET),
    "drimbox_detail": ("get", lambda w: {"pk": _active(w).pk}, None,
                       {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "request_detail": ("get", lambda w: {"pk": _submitted(w).pk}, None,
                       {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "request_edit": ("get", lambda w: {"pk": _draft(w).pk}, None,
                     {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/demandes/"), "legal": 200,
                      "ans": 404}),
    "request_submit": ("post", lambda w: {"pk": _draft(w).pk}, None,
                       {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/demandes/"),
                        "legal": ("redirect", "/demandes/"), "ans": 404},
                       {"technical": _status("draft_request", RequestStatus.DRAFT),
                        "legal": _status("draft_request", RequestStatus.SUBMITTED)}),
    "request_cancel": ("post", lambda w: {"pk": _submitted(w).pk}, None,
                       {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/demandes/"),
                        "legal": ("redirect", "/demandes/"), "ans": ("redirect", "/demandes/")},
                       {"technical": _status("submitted_request", RequestStatus.SUBMITTED),
                        "legal": _status("submitted_request", RequestStatus.CANCELLED),
                        "ans": _status("submitted_request", RequestStatus.SUBMITTED)}),
    "request_comment": ("post", lambda w: {"pk": _submitted(w).pk}, lambda w: {"comment-text": "Une question."},
                        {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/demandes/"),
                         "legal": ("redirect", "/demandes/"), "ans": ("redirect", "/demandes/")},
                        {role: _events("submitted_request", "commentaire") for role in ("technical", "legal", "ans")}),
    "request_attach": ("post", lambda w: {"pk": _draft(w).pk},
                       lambda w: {"attach-kind": "autre", "attach-file": pdf_upload("annexe.pdf")},
                       {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/demandes/"),
                        "legal": ("redirect", "/demandes/"), "ans": 404},
                       {"technical": lambda w: w.draft_request.attachments.count() == 1,
                        "legal": lambda w: w.draft_request.attachments.count() == 2}),
    "attachment_download": ("get", lambda w: {"pk": _submitted(w).pk,
                                              "attachment_pk": w.submitted_request.attachments.get().pk}, None,
                            {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "request_assign": ("post", lambda w: {"pk": _submitted(w).pk}, None, ans_only_post("/demandes/"),
                       {"legal": _status("submitted_request", RequestStatus.SUBMITTED),
                        "ans": _status("submitted_request", RequestStatus.IN_REVIEW)}),
    "request_changes": ("post", lambda w: {"pk": _in_review(w).pk}, lambda w: {"changes-comment": "Précisez le PACS."},
                        ans_only_post("/demandes/"),
                        {"legal": _status("review_request", RequestStatus.IN_REVIEW),
                         "ans": _status("review_request", RequestStatus.CHANGES_REQUESTED)}),
    "request_approve": ("post", lambda w: {"pk": _in_review(w).pk}, None, ans_only_post("/demandes/"),
                        {"legal": _status("review_request", RequestStatus.IN_REVIEW),
                         "ans": _status("review_request", RequestStatus.APPROVED)}),
    "request_reject": ("post", lambda w: {"pk": _in_review(w).pk}, lambda w: {"reject-reason": "Hors périmètre."},
                       ans_only_post("/demandes/"),
                       {"legal": _status("review_request", RequestStatus.IN_REVIEW),
                        "ans": _status("review_request", RequestStatus.REJECTED)}),
    "attestation_download": ("get", lambda w: {"pk": _active(w).attestations.get().pk}, None,
                             {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "attestation_check": ("get", None, None, {role: 200 for role in ROLES}),
    "va_upload": ("post", lambda w: {"pk": (_active(w), w.va)[1].pk}, lambda w: {"file": pdf_upload("va.pdf")},
                  {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/drimbox/"),
                   "legal": ("redirect", "/drimbox/"), "ans": 404},
                  {"technical": _status("va", VaStatus.SUBMITTED), "legal": _status("va", VaStatus.SUBMITTED),
                   "ans": _status("va", VaStatus.DUE)}),
    "va_download": ("get", lambda w: {"pk": _submitted_va(w).pk}, None,
                    {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "va_validate": ("post", lambda w: {"pk": _submitted_va(w).pk}, None, ans_only_post("/ans/va/"),
                    {"legal": _status("va", VaStatus.SUBMITTED), "ans": _status("va", VaStatus.VALIDATED)}),
    "va_refuse": ("post", lambda w: {"pk": _submitted_va(w).pk}, lambda w: {"reason": "Illisible"},
                  ans_only_post("/ans/va/"),
                  {"legal": _status("va", VaStatus.SUBMITTED), "ans": _status("va", VaStatus.REFUSED)}),
    "va_ris_update": ("post", lambda w: {"pk": _reserved_va(w).pk},
                      lambda w: {"signalled_on": timezone.localdate().isoformat()},
                      {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/drimbox/"),
                       "legal": ("redirect", "/drimbox/"), "ans": ("redirect", "/drimbox/")},
                      {"anonymous": _ris_recorded(False), "other": _ris_recorded(False),
                       "technical": _ris_recorded(True), "legal": _ris_recorded(True), "ans": _ris_recorded(True)}),
    "va_lifting_upload": ("post", lambda w: {"pk": _reserved_va(w).pk}, lambda w: {"file": pdf_upload("levee.pdf")},
                          {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/drimbox/"),
                           "legal": ("redirect", "/drimbox/"), "ans": 404},
                          {"technical": _status("reserved_va", VaStatus.LIFTING_SUBMITTED),
                           "legal": _status("reserved_va", VaStatus.LIFTING_SUBMITTED),
                           "ans": _status("reserved_va", VaStatus.VALIDATED_RESERVATIONS)}),
    "va_lifting_download": ("get", lambda w: {"pk": _lifting_va(w).pk}, None,
                            {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "va_lifting_validate": ("post", lambda w: {"pk": _lifting_va(w).pk}, None, ans_only_post("/ans/va/"),
                            {"legal": _status("reserved_va", VaStatus.LIFTING_SUBMITTED),
                             "ans": _status("reserved_va", VaStatus.VALIDATED)}),
    "va_lifting_refuse": ("post", lambda w: {"pk": _lifting_va(w).pk}, lambda w: {"reason": "Non signé"},
                          ans_only_post("/ans/va/"),
                          {"legal": _status("reserved_va", VaStatus.LIFTING_SUBMITTED),
                           "ans": _status("reserved_va", VaStatus.VALIDATED_RESERVATIONS)}),
    "ans_review_queue": ("get", None, None, ANS_ONLY_GET),
    "ans_registry": ("get", None, None, ANS_ONLY_GET),
    "ans_history": ("get", None, None, ANS_ONLY_GET),
    "ans_va": ("get", None, None, ANS_ONLY_GET),
    "ans_alerts": ("get", None, None, ANS_ONLY_GET),  # trustspace/views/alerts.py
    "ans_outbox": ("get", None, None, ANS_ONLY_GET),  # trustspace/views/outbox.py
    "ans_outbox_retry": ("post", lambda w: {"pk": _failed_outbox_message(w).pk}, None,  # trustspace/views/outbox.py
                         ans_only_post("/ans/envois/"), {"legal": _status("failed_outbox", "failed"),
                                                         "ans": _status("failed_outbox", "pending")}),
    "operator_channels": ("get", _kwargs_pk("operator"), None,  # operators/views_channels.py
                          {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": HOME}),
    # Certificates
    "drimbox_certificates": ("get", lambda w: {"pk": _active(w).pk}, None,
                             {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "certificate_db_upload": ("post", lambda w: {"pk": _active(w).pk}, _fresh_db_upload,
                              {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/certificats/"),
                               "legal": 200, "ans": 200},
                              {"technical": _db_count(2), "legal": _db_count(1), "ans": _db_count(1)}),
    "certificate_vi_request": ("post", lambda w: {"pk": _active(w).pk}, _csr_upload,
                               {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/drimbox/"),
                                "legal": 200, "ans": 200},
                               {"technical": _vi_orders(2), "legal": _vi_orders(1), "ans": _vi_orders(1)}),
    "certificate_vi_market_upload": ("post", lambda w: {"pk": _active(w).pk}, _market_upload,
                                     {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200},
                                     {role: _market_count(0) for role in ("technical", "legal", "ans")}),
    "certificate_acme_dns_register": ("post", lambda w: {"pk": _active(w).pk}, None,
                                      {"anonymous": LOGIN, "other": 404, "technical": 200,
                                       "legal": ("redirect", "/drimbox/"), "ans": ("redirect", "/drimbox/")},
                                      {"technical": _acme_dns(1), "legal": _acme_dns(0), "ans": _acme_dns(0)}),
    "certificate_detail": ("get", lambda w: {"pk": _db_certificate(w).pk}, None,
                           {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "certificate_revoke": ("post", lambda w: {"pk": _db_certificate(w).pk},
                           lambda w: {"revoke-reason": "compromission"},
                           {"anonymous": LOGIN, "other": 404, "technical": ("redirect", "/certificats/"),
                            "legal": ("redirect", "/certificats/"), "ans": ("redirect", "/certificats/")},
                           {"technical": _revocations(1), "legal": _revocations(0), "ans": _revocations(0)}),
    "certificate_dashboard": ("get", None, None,
                              {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200, "ans": HOME}),
    "certificate_export": ("get", lambda w: {"fmt": "csv"}, None,
                           {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200, "ans": HOME}),
    "ans_certificates": ("get", None, None, ANS_ONLY_GET),
    "ans_revocation_close": ("get", _impossible_revocation, None, ANS_ONLY_GET),
    "ans_revocation_close post": ("post", _impossible_revocation,
                                  lambda w: {"close-reason": "Certificat inconnu de l'autorité, hors service."},
                                  ans_only_post("/ans/certificats/"),
                                  {"other": _revocation_status("impossible"), "technical": _revocation_status(
                                      "impossible"), "legal": _revocation_status("impossible"),
                                   "ans": _revocation_status("close")}),
    # The signed whitelist: public files (nothing published in this world → 404), ANS pages.
    "whitelist_xml": ("get", None, None, {role: 404 for role in ROLES}),
    "whitelist_checksum": ("get", None, None, {role: 404 for role in ROLES}),
    "whitelist_version_xml": ("get", lambda w: {"number": 1}, None, {role: 404 for role in ROLES}),
    # The conformance kit for DRIMbox vendors: a public page and its ZIP, for everyone.
    "whitelist_conformance_kit": ("get", None, None, {role: 200 for role in ROLES}),
    "whitelist_conformance_kit_zip": ("get", None, None, {role: 200 for role in ROLES}),
    # The footer's pages (trustspace/views/pages.py): public, the site map lists what each visitor can reach.
    "legal_notice": ("get", None, None, {role: 200 for role in ROLES}),
    "personal_data": ("get", None, None, {role: 200 for role in ROLES}),
    "accessibility": ("get", None, None, {role: 200 for role in ROLES}),
    "sitemap": ("get", None, None, {role: 200 for role in ROLES}),
    "ans_whitelist": ("get", None, None, ANS_ONLY_GET),
    "ans_whitelist_prepare": ("post", None, lambda w: {"comment": "Matrice"}, ans_only_post("/ans/liste-blanche/")),
    "ans_whitelist_version": ("get", lambda w: {"number": whitelist_services.prepare_version(acting_user=w.ans).number},
                              None, ANS_ONLY_GET),
    "ans_whitelist_publish": ("post",
                              lambda w: {"number": whitelist_services.prepare_version(acting_user=w.ans).number},
                              None, ans_only_post("/ans/liste-blanche/")),
    # API
    "api_me": ("get", None, None, {"anonymous": 401, "other": 200, "technical": 200, "legal": 200, "ans": 200}),
    "api_operators": ("get", None, None, {"anonymous": 401, "other": "own", "technical": 200, "legal": 200,
                                          "ans": 200}),
    # Registering files an application (multipart, 202 in tests/operators/test_onboarding.py), never an operator:
    # here as JSON, without the signed contract, a structured 400 for every authenticated caller.
    "api_operators POST": ("post", None, _application_of_a,
                           {"anonymous": 401, "other": 400, "technical": 400, "legal": 400, "ans": 400},
                           {"anonymous": lambda w: _operators_unchanged(w), "other": _operators_unchanged,
                            "technical": _operators_unchanged, "legal": _operators_unchanged,
                            "ans": _operators_unchanged}),
    "api_applications": ("get", None, None, {"anonymous": 401, "other": 200, "technical": 200, "legal": 200,
                                             "ans": 200}),
    # Registering an operator (multipart, 201 in tests/operators/test_api_automation.py): as above, a JSON body
    # without the signed contract is a structured 400 for every authenticated caller, and files nothing.
    "api_applications POST": ("post", None, _application_of_a,
                              {"anonymous": 401, "other": 400, "technical": 400, "legal": 400, "ans": 400},
                              {role: _operators_unchanged for role in ROLES}),
    # Contract versions (ANS): list, publish.
    "api_contract_versions": ("get", None, None, {"anonymous": 401, "other": 403, "technical": 403, "legal": 403,
                                                  "ans": 200}),
    "api_contract_versions POST": ("post", None, lambda w: {"version": "2026-07", "title": "Contrat V2",
                                                            "body": "Texte de la version 2."},
                                   {"anonymous": 401, "other": 403, "technical": 403, "legal": 403, "ans": 201},
                                   {role: (lambda w, r=role: ContractVersion.objects.filter(version="2026-07").exists()
                                           == (r == "ans")) for role in ROLES}),
    "api_operator": ("get", _kwargs_pk("operator"), None, {"anonymous": 401, "other": 404, "technical": 200,
                                                           "legal": 200, "ans": 200}),
    "api_operator PATCH": ("patch", _kwargs_pk("operator"), lambda w: {"city": "Lille"},
                           {"anonymous": 401, "other": 404, "technical": 403, "legal": 200, "ans": 403}),
    "api_support_contact": ("put", _kwargs_pk("operator"), lambda w: {"support_contact": "support@a.fr"},
                            {"anonymous": 401, "other": 404, "technical": 200, "legal": 403, "ans": 403}),
    "api_people": ("get", _kwargs_pk("operator"), None, {"anonymous": 401, "other": 404, "technical": 200,
                                                         "legal": 200, "ans": 200}),
    "api_person": ("delete", lambda w: {"pk": w.operator.pk, "membership_pk": w.technical_membership.pk}, None,
                   {"anonymous": 401, "other": 404, "technical": 403, "legal": 204, "ans": 403},
                   {"technical": _ta_active, "legal": lambda w: not _ta_active(w), "ans": _ta_active}),
    "api_invitations": ("get", _kwargs_pk("operator"), None,
                        {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "api_invitations POST": ("post", _kwargs_pk("operator"),
                             lambda w: {"email": "new@a.fr", "role": "administrateur_technique"},
                             {"anonymous": 401, "other": 404, "technical": 403, "legal": 201, "ans": 403}),
    "api_invitation": ("delete", lambda w: {"pk": w.operator.pk, "invitation_pk": w.pending_invitation.pk}, None,
                       {"anonymous": 401, "other": 404, "technical": 403, "legal": 204, "ans": 403}),
    "api_contract": ("get", _kwargs_pk("operator"), None, {"anonymous": 401, "other": 404, "technical": 200,
                                                           "legal": 200, "ans": 200}),
    "api_contract_accept": ("post", lambda w: {"pk": w.operator.pk, **_new_contract(w)},
                            lambda w: {"version": "2026-02"},
                            {"anonymous": 401, "other": 404, "technical": 403, "legal": 201, "ans": 403}),
    "api_history": ("get", _kwargs_pk("operator"), None, {"anonymous": 401, "other": 404, "technical": 200,
                                                          "legal": 200, "ans": 200}),
    "api_invitation_accept": ("post", None, lambda w: {"token": w.pending_token, "card_reference": "8001234567"},
                              {"anonymous": 401, "other": 201, "technical": 409, "legal": 201, "ans": 201}),
    "api_schema": ("get", None, None, {role: 200 for role in ROLES}),
    "api_docs": ("get", None, None, {role: 200 for role in ROLES}),
    "api_redoc": ("get", None, None, {role: 200 for role in ROLES}),
    # Readiness answers the same to everyone; 503 here since no beat ever ticked in the test database.
    "api_health": ("get", None, None, {role: 503 for role in ROLES}),
    "api_health_ready": ("get", None, None, {role: 503 for role in ROLES}),
    "api_health_live": ("get", None, None, {role: 200 for role in ROLES}),
    # Restricted by client address (the test client is 127.0.0.1, in METRICS_ALLOWED_IPS), not by login.
    "metrics": ("get", None, None, {role: 200 for role in ROLES}),
    # One's own API tokens (tests/test_token_scope_matrix.py checks them per scope)
    "api_token_list": ("get", None, None, {"anonymous": 401, "other": 200, "technical": 200, "legal": 200, "ans": 200}),
    "api_token_list POST": ("post", None, lambda w: {"name": "matrice", "scopes": ["read"]},
                            {"anonymous": 401, "other": 201, "technical": 201, "legal": 201, "ans": 201}),
    "api_token_detail GET": ("get", _token_of_legal, None,
                             {"anonymous": 401, "other": 404, "technical": 404, "legal": 200, "ans": 404}),
    "api_token_detail": ("delete", _token_of_legal, None,
                         {"anonymous": 401, "other": 404, "technical": 404, "legal": 204, "ans": 404},
                         {"other": lambda w: ApiToken.objects.get(pk=w.legal_token.pk).revoked_at is None,
                          "legal": lambda w: ApiToken.objects.get(pk=w.legal_token.pk).revoked_at is not None}),
}
MATRIX.update(LIFECYCLE_API_MATRIX)
MATRIX.update(CERTIFICATES_API_MATRIX)
MATRIX.update(WHITELIST_MATRIX)
MATRIX.update(WHITELIST_API_MATRIX)
MATRIX.update(WEATHER_MATRIX)
MATRIX.update(WEATHER_REPORTS_MATRIX)
# The Django admin (every pattern of the "admin" namespace) is for superusers only.
ADMIN_EXPECTATIONS = {"anonymous": ("redirect", "/connexion/"), "other": 403, "technical": 403, "legal": 403,
                      "ans": 403}


def _all_patterns(resolver, namespace=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _all_patterns(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
        elif isinstance(pattern, URLPattern):
            yield namespace, pattern


def _access_rule(callback):
    for holder in (callback, getattr(callback, "cls", None), getattr(callback, "view_class", None)):
        if holder is not None and getattr(holder, "access_rule", None):
            return holder.access_rule
    return None


def test_every_url_pattern_is_declared():
    declared = {key.split(" ")[0] for key in MATRIX}
    undeclared = []
    for namespace, pattern in _all_patterns(get_resolver()):
        if namespace.startswith("admin:"):
            continue
        if pattern.name is None or pattern.name not in declared:
            undeclared.append(f"{namespace}{pattern.name or pattern.pattern}")
        elif _access_rule(pattern.callback) is None:
            undeclared.append(f"{pattern.name} (view without access_rule)")
    assert undeclared == [], f"URL patterns without a declared access rule: {undeclared}"


def _client_for(role, world, client):
    user = {"other": world.other, "technical": world.technical, "legal": world.legal, "ans": world.ans}.get(role)
    if user is not None:
        client.force_login(user)
    return client


def _check(response, expectation, world, key):
    if expectation == "own":
        assert response.status_code == 200, key
        body = response.content.decode()
        assert world.operator.name not in body and world.operator.siren not in body, f"{key}: leaks operator A"
        return
    if isinstance(expectation, tuple):
        assert response.status_code == 302, f"{key}: {response.status_code}"
        assert response["Location"].startswith(expectation[1]), f"{key}: {response['Location']}"
        if expectation[1] == "/":
            assert not response["Location"].startswith("/connexion/"), key
        return
    assert response.status_code == expectation, f"{key}: {response.status_code} {response.content[:300]!r}"


@pytest.fixture(scope="session")
def recorded_builds(tmp_path_factory):
    """The objects each entry's URL names, built through the services for the first entry that asks, written back
    as rows for later entries with the same builder (the same objects, the same world before them)."""
    return RecordedBuilds(tmp_path_factory.mktemp("matrix-builds"))


@pytest.mark.parametrize("key", list(MATRIX))
def test_access(key, world, recorded_builds, settings):
    """Each kind of caller in turn, from the same state: the objects the URL names are built once, and each
    caller's request, with whatever it changed in the database, is rolled back before the next caller's. Every
    answer to a GET carries the portal's security headers (tests/support/security_headers.py)."""
    method, kwargs_builder, data_builder, expectations, *post = MATRIX[key]
    name = key.split(" ")[0]
    kwargs = None
    if kwargs_builder:
        kwargs = recorded_builds.run(kwargs_builder, kwargs_builder, world, Path(settings.MEDIA_ROOT))
    url = reverse(name, kwargs=kwargs)
    before_callers = WorldState(world)
    failures = []
    for role in ROLES:
        label = f"{key}/{role}"
        forget_request_state()  # as before each test
        try:
            with transaction.atomic():
                w = before_callers.make()
                data = data_builder(w) if data_builder else None
                client = _client_for(role, w, Client())
                if method in {"get", "post"} and not name.startswith("api_"):
                    response = getattr(client, method)(url, data or {})
                else:
                    response = getattr(client, method)(url, data, content_type="application/json")
                _check(response, expectations[role], w, label)
                if method == "get":
                    nonce = check_headers(response, label)
                    page = response.status_code == 200 and "text/html" in response.get("Content-Type", "")
                    if page and response.content:
                        assert nonce, f"{label}: an HTML page without the policy's nonce"
                if post and role in post[0]:
                    assert post[0][role](w), f"{label}: post-condition failed"
                transaction.set_rollback(True)
        except AssertionError as failure:
            failures.append(str(failure))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_admin_is_for_superusers_only(role, world, client, make_user):
    client = _client_for(role, world, client)
    _check(client.get("/admin/"), ADMIN_EXPECTATIONS[role], world, f"admin/{role}")
    _check(client.get("/admin/operators/operator/"), ADMIN_EXPECTATIONS[role], world, f"admin-changelist/{role}")


def test_admin_superuser_reads_but_cannot_write(world, client, make_user):
    root = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/operators/operator/").status_code == 200
    assert client.get(f"/admin/operators/operator/{world.operator.pk}/change/").status_code == 200
    response = client.post(f"/admin/operators/operator/{world.operator.pk}/change/", {"name": "Piraté"})
    assert response.status_code == 403
    assert client.get("/admin/operators/operator/add/").status_code == 403

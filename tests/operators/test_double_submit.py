"""Double submits of the portal's creating forms: the submission token makes a form create once.

Every form that creates rows carries a hidden, single-use ``submission_token``; the same form sent again (double
click, back then resubmit, twenty at once) creates nothing and is sent to what the first one created.
"""
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from certificates.models import AcmeDnsCredential, Certificate, CertificateKind, Revocation, ViOrder
from operators import services
from operators.models import (
    ContractAcceptance,
    ContractVersion,
    DrimboxRequest,
    FinancingOrder,
    FinancingOrderClient,
    FinancingOrderPacs,
    Invitation,
    RequestAttachment,
    RequestEvent,
    RequestEventKind,
    RequestKind,
)
from tests.conftest import application_data, pdf_upload
from tests.support import pki
from tests.support.concurrency import in_parallel
from tests.support.lifecycle import (
    active_drimbox,
    declaration_data,
    declared_drimbox,
    finess,
    make_order,
    shared_pki,
    siren,
    submitted_declaration,
)
from tests.support.weather import make_drimboxes
from trustspace.models import ApiToken, AuditEntry, FormSubmission
from weather.clock import PARIS
from weather.models import MaintenanceWindow, MeasurementPolicy
from whitelist.models import WhitelistVersion

REPEATED = "Ce formulaire a déjà été envoyé : "
TOKEN_INPUT = re.compile(r'name="(?:[\w]+-)?submission_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="'
                         r'(?:[\w]+-)?submission_token"')


def token_in(response):
    """The submission token the page rendered (the hidden field of its form)."""
    match = TOKEN_INPUT.search(response.content.decode())
    assert match, "no submission token in the page"
    return match.group(1) or match.group(2)


def token_of_field(response, field):
    """The token of one form of the page (a page may hold several forms)."""
    match = re.search(rf'name="{field}"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="{field}"',
                      response.content.decode())
    assert match, f"no {field} in the page"
    return match.group(1) or match.group(2)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def declaration_url():
    return reverse("request_create", args=["declaration"])


@pytest.fixture
def legal(client, world):
    client.force_login(world.legal)
    return client


# --- « Nouvelle déclaration » --------------------------------------------------------------------


@pytest.mark.django_db
def test_each_rendering_of_the_form_has_its_own_token(legal):
    first, second = token_in(legal.get(declaration_url())), token_in(legal.get(declaration_url()))
    assert first != second and len(first) >= 16


@pytest.mark.django_db
def test_the_same_form_sent_twice_makes_one_draft_and_leads_to_it(legal, world):
    data = declaration_data(order=make_order(world.operator, world.legal))
    token = token_in(legal.get(declaration_url()))

    first = legal.post(declaration_url(), {**data, "submission_token": token})
    assert first.status_code == 302
    draft = DrimboxRequest.objects.get(kind=RequestKind.DECLARATION, operator=world.operator)
    assert first["Location"] == reverse("request_detail", args=[draft.pk])

    second = legal.post(declaration_url(), {**data, "submission_token": token})  # back, then « Enregistrer »
    assert second.status_code == 302 and second["Location"] == reverse("request_detail", args=[draft.pk])
    assert messages_of(second)[-1] == "Ce formulaire a déjà été envoyé : voici la demande créée."
    assert DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).count() == 1
    assert FormSubmission.objects.filter(user=world.legal, token=token).count() == 1


@pytest.mark.django_db
def test_a_refused_submission_records_nothing_and_the_corrected_form_creates(legal, world):
    data = declaration_data(order=make_order(world.operator, world.legal))
    token = token_in(legal.get(declaration_url()))
    refused = legal.post(declaration_url(), {**data, "structure_siren": "123", "submission_token": token})
    assert refused.status_code == 200 and "SIREN" in refused.content.decode()
    assert token_in(refused) == token  # shown again with its errors, same form
    assert not FormSubmission.objects.exists() and not DrimboxRequest.objects.filter(
        kind=RequestKind.DECLARATION).exists()

    assert legal.post(declaration_url(), {**data, "submission_token": token}).status_code == 302
    assert DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).count() == 1


@pytest.mark.django_db
def test_a_post_without_token_still_creates_once(legal, world):
    """A tab opened before tokens existed: accepted as one submission (unprotected, as before)."""
    data = declaration_data(order=make_order(world.operator, world.legal))
    assert legal.post(declaration_url(), data).status_code == 302
    assert DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).count() == 1
    assert not FormSubmission.objects.exists()


@pytest.mark.django_db
def test_a_malformed_token_is_a_french_form_error_and_creates_nothing(legal, world):
    data = declaration_data(order=make_order(world.operator, world.legal))
    response = legal.post(declaration_url(), {**data, "submission_token": "<script>"})
    assert response.status_code == 200
    assert "Jeton d&#x27;envoi du formulaire invalide" in response.content.decode()
    assert not DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).exists()


@pytest.mark.django_db
def test_a_token_is_per_user(client, world):
    """Another person posting the same token string gets its own draft (and never a link to someone else's)."""
    token = "x" * 32
    for user in (world.legal, world.mandataire):
        client.force_login(user)
        data = declaration_data(order=make_order(world.operator, world.legal))
        response = client.post(declaration_url(), {**data, "submission_token": token})
        assert response.status_code == 302 and not any(REPEATED in m for m in messages_of(response))
    assert DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).count() == 2


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_submits_of_one_form_make_one_draft_and_no_500(world):
    data = declaration_data(order=make_order(world.operator, world.legal))
    opener = Client()
    opener.force_login(world.legal)
    token = token_in(opener.get(declaration_url()))

    def submit():
        client = Client()
        client.force_login(world.legal)
        response = client.post(declaration_url(), {**data, "submission_token": token})
        return response.status_code, response.get("Location"), messages_of(response)

    results, errors = in_parallel(20, submit)

    assert errors == [] and len(results) == 20
    draft = DrimboxRequest.objects.get(kind=RequestKind.DECLARATION)
    assert {(status, location) for status, location, _ in results} == {
        (302, reverse("request_detail", args=[draft.pk]))}
    repeated = [m for _, _, messages in results for m in messages if m.startswith(REPEATED)]
    assert len(repeated) == 19  # one created, nineteen told


# --- Every creating form ---------------------------------------------------------------------------


@dataclass
class Case:
    """One creating form: who sends it, its page and target, what it posts, and how many rows it made."""

    user: Callable
    page: Callable  # (world, context) -> URL of the page that renders the form
    target: Callable  # (world, context) -> URL the form posts to
    data: Callable  # (world, context) -> POST data (files rebuilt for each sending)
    count: Callable  # () -> rows created so far
    setup: Callable = lambda world: {}


def _drimbox_kind_case(kind, status_builder):
    def setup(world):
        return {"drimbox": status_builder(world.operator, world.legal, world.ans)}

    def url(world, context):
        return reverse("request_create", args=[kind]) + f"?drimbox={context['drimbox'].pk}"

    def data(world, context):
        initial = services.initial_data(kind, context["drimbox"], world.operator)
        return {name: "" if value is None else value for name, value in initial.items()} | {
            "reason": "Changement de salle serveur."}

    return Case(user=lambda w: w.legal, page=url, target=url, data=data, setup=setup,
                count=lambda: DrimboxRequest.objects.filter(kind=kind).count())


CASES = {
    "declaration": Case(
        user=lambda w: w.legal, page=lambda w, c: declaration_url(), target=lambda w, c: declaration_url(),
        setup=lambda w: {"order": make_order(w.operator, w.legal)},
        data=lambda w, c: declaration_data(order=c["order"]),
        count=lambda: DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).count()),
    "integration": _drimbox_kind_case(RequestKind.INTEGRATION, declared_drimbox),
    "update": _drimbox_kind_case(RequestKind.UPDATE, active_drimbox),
    "withdrawal": _drimbox_kind_case(RequestKind.WITHDRAWAL, active_drimbox),
    "financing_order": Case(
        user=lambda w: w.legal, page=lambda w, c: reverse("financing_orders"),
        target=lambda w, c: reverse("financing_orders"),
        data=lambda w, c: {"reference": "BC-DOUBLE-1", "client_siren": siren(41000077), "client_name": "Centre",
                           "activity_2023": "oui", "pacs_identifiers": "PACS-DOUBLE",
                           "finess_geographiques": finess(7077), "am_numbers": "751000001"},
        count=lambda: FinancingOrder.objects.filter(reference="BC-DOUBLE-1").count()),
    "application": Case(
        user=lambda w: w.newcomer, page=lambda w, c: reverse("operator_register"),
        target=lambda w, c: reverse("operator_register"),
        setup=lambda w: {},
        data=lambda w, c: {**application_data(55501234, "Nouvel Opérateur"), "contract_accepted": "on",
                           "contract_document": pdf_upload("contrat.pdf")},
        count=lambda: DrimboxRequest.objects.filter(created_by__username="newcomer").count()),
    "invitation": Case(
        user=lambda w: w.legal, page=lambda w, c: reverse("person_invite"), target=lambda w, c: reverse(
            "person_invite"),
        data=lambda w, c: {"email": "double@example.fr", "role": "administrateur_technique"},
        count=lambda: Invitation.objects.filter(email="double@example.fr").count()),
    "api_token": Case(
        user=lambda w: w.legal, page=lambda w, c: reverse("api_tokens"), target=lambda w, c: reverse("api_tokens"),
        data=lambda w, c: {"name": "double", "scopes": ["read"]},
        count=lambda: ApiToken.objects.filter(name="double").count()),
    "db_certificate": Case(
        user=lambda w: w.technical, setup=lambda w: {"drimbox": declared_drimbox(w.operator, w.legal, w.ans)},
        page=lambda w, c: reverse("drimbox_certificates", args=[c["drimbox"].pk]),
        target=lambda w, c: reverse("certificate_db_upload", args=[c["drimbox"].pk]),
        data=lambda w, c: {"db-file": SimpleUploadedFile("db.pem", shared_pki().db_certificate(
            c["drimbox"].db_fqdn, id_nat_struct=w.operator.id_nat_struct).chain_pem)},
        count=lambda: Certificate.objects.count()),
    "vi_csr": Case(
        user=lambda w: w.technical, setup=lambda w: {"drimbox": declared_drimbox(w.operator, w.legal, w.ans)},
        page=lambda w, c: reverse("drimbox_certificates", args=[c["drimbox"].pk]),
        target=lambda w, c: reverse("certificate_vi_request", args=[c["drimbox"].pk]),
        data=lambda w, c: {"vi-file": SimpleUploadedFile("vi.csr", _csr_for(c["drimbox"]))},
        count=lambda: ViOrder.objects.count()),
    "comment": Case(
        user=lambda w: w.legal, setup=lambda w: {"req": submitted_declaration(w.operator, w.legal)},
        page=lambda w, c: reverse("request_detail", args=[c["req"].pk]),
        target=lambda w, c: reverse("request_comment", args=[c["req"].pk]),
        data=lambda w, c: {"comment-text": "Un seul commentaire."},
        count=lambda: RequestEvent.objects.filter(kind=RequestEventKind.COMMENT).count()),
    "attachment": Case(  # pieces are added while the request is a draft
        user=lambda w: w.legal, setup=lambda w: {"req": services.create_request(
            acting_user=w.legal, operator=w.operator, kind=RequestKind.DECLARATION, data=declaration_data())},
        page=lambda w, c: reverse("request_detail", args=[c["req"].pk]),
        target=lambda w, c: reverse("request_attach", args=[c["req"].pk]),
        data=lambda w, c: {"attach-kind": "autre", "attach-file": pdf_upload("piece.pdf")},
        count=lambda: RequestAttachment.objects.count()),
    "contract_version": Case(
        user=lambda w: w.ans, page=lambda w, c: reverse("ans_contracts"), target=lambda w, c: reverse("ans_contracts"),
        data=lambda w, c: {"version": "2027-01", "title": "Contrat 2027", "body": "Nouveau texte."},
        count=lambda: ContractVersion.objects.count()),
    "whitelist_prepare": Case(
        user=lambda w: w.ans, setup=lambda w: {"drimbox": active_drimbox(w.operator, w.legal, w.ans)},
        page=lambda w, c: reverse("ans_whitelist"), target=lambda w, c: reverse("ans_whitelist_prepare"),
        data=lambda w, c: {"comment": "Double clic"},
        count=lambda: WhitelistVersion.objects.count()),
    # Adding to a financing order: a client, PACS, a document (it replaces the order's file: counted by its audit).
    "order_client": Case(
        user=lambda w: w.legal, setup=lambda w: {"order": make_order(w.operator, w.legal)},
        page=lambda w, c: reverse("financing_order", args=[c["order"].pk]),
        target=lambda w, c: reverse("financing_order_client_add", args=[c["order"].pk]),
        data=lambda w, c: {"client-client_siren": siren(41000078), "client-client_name": "Second centre",
                           "client-activity_2023": "oui", "client-finess_geographiques": finess(7078),
                           "client-am_numbers": "751000002"},
        count=lambda: FinancingOrderClient.objects.count()),
    "order_pacs": Case(
        user=lambda w: w.legal, setup=lambda w: {"order": make_order(w.operator, w.legal)},
        page=lambda w, c: reverse("financing_order", args=[c["order"].pk]),
        target=lambda w, c: reverse("financing_order_pacs_add", args=[c["order"].pk]),
        data=lambda w, c: {"pacs-pacs_identifiers": "PACS-DOUBLE-AJOUT"},
        count=lambda: FinancingOrderPacs.objects.count()),
    "order_document": Case(
        user=lambda w: w.legal, setup=lambda w: {"order": make_order(w.operator, w.legal, signed=False)},
        page=lambda w, c: reverse("financing_order", args=[c["order"].pk]),
        target=lambda w, c: reverse("financing_order_document", args=[c["order"].pk]),
        data=lambda w, c: {"document-kind": "bon_signe", "document-file": pdf_upload("bon-signe.pdf")},
        count=lambda: AuditEntry.objects.filter(action="financing_order.document_attached").count()),
    "maintenance": Case(
        user=lambda w: w.technical, setup=lambda w: {"drimbox": make_drimboxes(w.operator, 1)[0]},
        page=lambda w, c: reverse("operator_weather_maintenance", args=[c["drimbox"].pk]),
        target=lambda w, c: reverse("operator_weather_maintenance", args=[c["drimbox"].pk]),
        data=lambda w, c: _maintenance_period(),
        count=lambda: MaintenanceWindow.objects.count()),
    "measurement_policy": Case(
        user=lambda w: w.ans, page=lambda w, c: reverse("ans_measurement_policy"),
        target=lambda w, c: reverse("ans_measurement_policy"),
        data=lambda w, c: {"reference_period": "month", "effective_from": _next_month(), "comment": "Double clic"},
        count=lambda: MeasurementPolicy.objects.count()),
    "acme_dns": Case(  # answered by the page itself (the password, shown once), as the API token
        user=lambda w: w.technical, setup=lambda w: {"drimbox": declared_drimbox(w.operator, w.legal, w.ans)},
        page=lambda w, c: reverse("drimbox_certificates", args=[c["drimbox"].pk]),
        target=lambda w, c: reverse("certificate_acme_dns_register", args=[c["drimbox"].pk]),
        data=lambda w, c: {},
        count=lambda: AcmeDnsCredential.objects.count()),
    "revocation": Case(
        user=lambda w: w.technical, setup=lambda w: {"certificate": Certificate.objects.get(
            drimbox=active_drimbox(w.operator, w.legal, w.ans), kind=CertificateKind.DB)},
        page=lambda w, c: reverse("certificate_detail", args=[c["certificate"].pk]),
        target=lambda w, c: reverse("certificate_revoke", args=[c["certificate"].pk]),
        data=lambda w, c: {"revoke-reason": "compromission"},
        count=lambda: Revocation.objects.count()),
    "contract_acceptance": Case(
        user=lambda w: w.legal, setup=lambda w: {"contract": services.publish_contract_version(
            acting_user=w.ans, version="2027-02", title="Contrat 2027", body="Nouveau texte.")},
        page=lambda w, c: reverse("contract"), target=lambda w, c: reverse("contract"),
        data=lambda w, c: {"confirm": "on"},
        count=lambda: ContractAcceptance.objects.count()),
}

# The field prefix of the forms that share their page with others.
PREFIXES = {"db_certificate": "db-", "vi_csr": "vi-", "comment": "comment-", "attachment": "attach-",
            "order_client": "client-", "order_pacs": "pacs-", "order_document": "document-", "acme_dns": "acmedns-",
            "revocation": "revoke-"}
# Forms whose first POST is answered by the page itself (a secret shown once) rather than a redirect.
ANSWERED_IN_PLACE = {"api_token", "acme_dns"}


def _maintenance_period():
    start = timezone.localtime(timezone.now() + timedelta(days=3))
    return {"starts_at": f"{start:%Y-%m-%dT%H:%M}", "ends_at": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}",
            "reason": "Mise à jour du PACS"}


def _next_month():
    today = timezone.now().astimezone(PARIS)
    return f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}"


def _csr_for(drimbox):
    csr, _key = pki.build_csr(drimbox.vi_fqdn)
    return pki.csr_pem(csr)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_creating_form_creates_once_per_token(name, client, world, make_user, settings):
    settings.FQDN_SITE_LABEL = "test"
    settings.WHITELIST_SIGNER_REQUIRE_CRL = False
    world.newcomer = make_user("newcomer")
    case = CASES[name]
    context = case.setup(world)
    client.force_login(case.user(world))
    page = client.get(case.page(world, context))
    assert page.status_code == 200
    before = case.count()

    field = f"{PREFIXES.get(name, '')}submission_token"
    token = token_of_field(page, field)

    first = client.post(case.target(world, context), {**case.data(world, context), field: token})
    # The token and acme-dns pages answer the first POST themselves (the secret, shown once); the others redirect.
    assert first.status_code == (200 if name in ANSWERED_IN_PLACE else 302), first.content.decode()[:3000]
    assert case.count() == before + 1
    assert not any(m.startswith(REPEATED) for m in messages_of(first))
    second = client.post(case.target(world, context), {**case.data(world, context), field: token})
    assert second.status_code == 302
    assert case.count() == before + 1
    assert any(m.startswith(REPEATED) for m in messages_of(second)), messages_of(second)
    if name not in ANSWERED_IN_PLACE:
        assert second["Location"] == first["Location"]

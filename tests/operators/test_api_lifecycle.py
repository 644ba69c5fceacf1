"""The DRIMbox lifecycle through the REST API: the services' rules, as structured HTTP answers."""
import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from operators import services
from operators.models import (
    ONBOARDING_KINDS,
    Attestation,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    FinancingOrder,
    RequestAttachment,
    RequestKind,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from tests.conftest import pdf_upload
from tests.support.api import API, api, error_of
from tests.support.lifecycle import (
    active_drimbox,
    approve,
    cgi_upload,
    client_fields,
    declaration_data,
    declared_drimbox,
    finess,
    give_certificates,
    make_order,
    signed_order_upload,
    siren,
    submitted_declaration,
)
from trustspace.services import create_api_token

# --- The whole declaration, by API ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_full_declaration_by_api(world, settings):
    settings.FQDN_SITE_LABEL = "test"
    _token, raw = create_api_token(acting_user=world.legal, name="automate")
    legal, ans, anonymous = api(token=raw), api(world.ans), api()

    response = legal.post(f"{API}/operators/{world.operator.pk}/financing-orders/", {
        "reference": "BC-API-1", "pacs_identifiers": ["PACS-API-1"],
        **client_fields(7001, siren_value=siren(41000001), sites=[finess(7001)])}, format="json")
    assert response.status_code == 201, response.content
    order = FinancingOrder.objects.get(pk=response.json()["id"])
    assert response.json()["finess_geographiques"] == [finess(7001)]
    assert response.json()["problems"] == ["Le bon de commande BC-API-1 signé (PDF) n'est pas joint."]
    response = legal.post(f"{API}/financing-orders/{order.pk}/documents/", {
        "kind": "bon_signe", "file": signed_order_upload()}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["problems"] == [] and len(response.json()["signed_order_sha256"]) == 64

    data = declaration_data(order=order)
    data["vi_addresses"] = ""
    response = legal.post(f"{API}/operators/{world.operator.pk}/requests/", {"kind": "declaration", "data": data},
                          format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "brouillon" and created["kind"] == "declaration" and created["drimbox"] is None
    assert created["data"]["pacs"] == "PACS-API-1" and created["eligibility_problems"] == []
    url = f"{API}/requests/{created['id']}/"

    # Submitting without the signed CGI: a structured 400 naming the missing piece.
    assert error_of(legal.post(url + "submit/"), 400)["fields"].keys() == {"cgi"}
    response = legal.post(url + "attachments/", {"kind": "cgi", "file": cgi_upload()}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "cgi" and response.json()["original_name"] == "cgi-signees.pdf"
    mail.outbox.clear()
    response = legal.post(url + "submit/")
    assert response.status_code == 200 and response.json()["status"] == "soumise"
    assert any("Nouvelle soumission" in m.subject and "ans@example.fr" in m.to for m in mail.outbox)

    queue = ans.get(f"{API}/review-queue/").json()
    assert [item["reference"] for item in queue["results"]] == [created["reference"]]
    response = ans.post(url + "assign/", {}, format="json")
    assert response.json()["status"] == "en_instruction" and response.json()["assigned_to"] == "Ans Test"
    error = error_of(ans.post(url + "request-changes/", {"comment": "  "}, format="json"), 400)
    assert "comment" in error["fields"]
    mail.outbox.clear()
    response = ans.post(url + "request-changes/", {"comment": "Indiquez l'adresse vi."}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "a_completer"
    assert any("Modifications demandées" in m.subject and "legal@example.fr" in m.to for m in mail.outbox)

    response = legal.patch(url, {"data": {"vi_addresses": "2001:db8::11"}}, format="json")
    assert response.status_code == 200 and response.json()["data"]["vi_addresses"] == "2001:db8::11"
    assert legal.post(url + "submit/").json()["status"] == "soumise"
    assert ans.post(url + "assign/", {}, format="json").json()["status"] == "en_instruction"
    response = ans.post(url + "approve/", {"comment": "Conforme."}, format="json")
    assert response.status_code == 200, response.content
    approved = response.json()
    identifiant = approved["drimbox"]["identifiant"]
    assert approved["status"] == "approuvee"
    assert approved["drimbox"]["db_fqdn"] == f"db{identifiant}.test.mesimagesmedicales.fr"
    assert approved["drimbox"]["vi_fqdn"] == f"vi{identifiant}.test.mesimagesmedicales.fr"
    code = approved["attestation"]["code"]
    assert approved["attestation"]["download_url"].endswith(
        f"/attestations/{Attestation.objects.get(code=code).pk}/pdf/")

    # Approving twice: 409 with the service's code, nothing applied twice.
    error = error_of(ans.post(url + "approve/", {}, format="json"), 409)
    assert error["code"] == "invalid_transition" and "approuvée" in error["message"]
    assert Drimbox.objects.count() == 1

    detail = legal.get(url).json()
    assert [e["to_status"] for e in detail["events"] if e["kind"] == "statut"] == [
        "soumise", "en_instruction", "a_completer", "soumise", "en_instruction", "approuvee"]
    assert [a["kind"] for a in detail["attachments"]] == ["cgi"]

    drimbox = Drimbox.objects.get()
    response = legal.get(f"{API}/drimboxes/{drimbox.identifiant}/")
    assert response.status_code == 200
    body = response.json()
    assert body["identifiant"] == identifiant and body["status"] == "declaree"
    assert body["financing_order"] == "BC-API-1" and body["dns_pending"] is True
    assert body["vi_records"] == [["AAAA", "2001:db8::11"]]
    assert body["health_structure"]["siren"] == order.clients.get().siren
    assert [a["code"] for a in body["attestations"]] == [code] and body["va_documents"] == []
    listed = legal.get(f"{API}/operators/{world.operator.pk}/drimboxes/").json()
    assert [d["identifiant"] for d in listed["results"]] == [identifiant]

    # The public check: anonymous, forgiving about case and dashes; unknown codes are a structured 404.
    response = anonymous.get(f"{API}/attestations/{code.lower().replace('-', '')}/")
    assert response.status_code == 200
    public = response.json()
    assert public["code"] == code and public["valid"] is True and public["identifiant"] == identifiant
    assert public["operator_name"] == "Opérateur A" and public["operator_siren"] == world.operator.siren
    assert set(public) == {"code", "operator_name", "operator_siren", "structure_name", "identifiant", "db_fqdn",
                           "vi_fqdn", "issued_at", "sha256", "superseded_at", "valid", "drimbox_withdrawn"}
    assert error_of(anonymous.get(f"{API}/attestations/ATT-2222-3333-4444/"), 404)["code"] == "not_found"
    assert error_of(anonymous.get(f"{API}/attestations/n-importe-quoi/"), 404)["code"] == "not_found"


# --- The services' refusals, as structured answers ----------------------------------------------


def test_a_submitted_request_cannot_be_edited(world):
    req = submitted_declaration(world.operator, world.legal)
    error = error_of(api(world.legal).patch(f"{API}/requests/{req.pk}/", {"data": {"pacs": "AUTRE"}},
                                            format="json"), 409)
    assert error["code"] == "not_editable" and "plus modifiable" in error["message"]
    req.refresh_from_db()
    assert req.data["pacs"] != "AUTRE"


def test_unfunded_declaration_needs_an_override_reason(world):
    req = submitted_declaration(world.operator, world.legal, data=declaration_data())  # no financing order
    ans = api(world.ans)
    url = f"{API}/requests/{req.pk}/"
    error = error_of(ans.post(url + "approve/", {}, format="json"), 409)
    assert error["code"] == "invalid_transition" and "Prenez d'abord en charge" in error["message"]
    ans.post(url + "assign/", {}, format="json")
    assert ans.get(url).json()["eligibility_problems"]
    error = error_of(ans.post(url + "approve/", {"override_reason": ""}, format="json"), 409)
    assert error["code"] == "not_funded" and "non financée" in error["message"]
    assert "override_reason" in error["fields"]
    assert not Drimbox.objects.exists()
    response = ans.post(url + "approve/", {"override_reason": "Site pilote financé par l'ARS"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approuvee"
    assert response.json()["eligibility_override_reason"] == "Site pilote financé par l'ARS"
    drimbox = ans.get(f"{API}/drimboxes/{Drimbox.objects.get().identifiant}/").json()
    assert drimbox["eligibility_override_reason"] == "Site pilote financé par l'ARS"
    assert drimbox["financing_order"] is None


def test_a_second_financing_order_for_the_same_pacs_is_refused_in_french(world):
    first = make_order(world.operator, world.legal, pacs="PACS-UNIQUE")
    response = api(world.legal).post(f"{API}/operators/{world.operator.pk}/financing-orders/", {
        "reference": "BC-DEUX", "pacs_identifiers": ["PACS-UNIQUE"], **client_fields(7002)}, format="json")
    error = error_of(response, 400)
    message = f"Le PACS « PACS-UNIQUE » fait déjà l'objet du bon de commande {first.reference}."
    assert message in error["message"]
    assert error["fields"]["pacs_identifiers"] == [message]
    assert world.operator.financing_orders.count() == 1
    error = error_of(api(world.legal).post(f"{API}/operators/{world.operator.pk}/financing-orders/", {
        "reference": "BC-TROIS", "pacs_identifiers": ["PACS-3"],
        **client_fields(7003, siren_value="123456789"), "finess_geographiques": "pas une liste"}, format="json"), 400)
    assert "finess_geographiques" in error["fields"]
    error = error_of(api(world.technical).post(f"{API}/operators/{world.operator.pk}/financing-orders/", {
        "reference": "BC-QUATRE", "pacs_identifiers": ["PACS-4"], **client_fields(7004)}, format="json"), 403)
    assert "bons de commande" in error["message"]


def test_invalid_siren_and_finess_in_request_data_are_named(world):
    response = api(world.legal).post(f"{API}/operators/{world.operator.pk}/requests/", {
        "kind": "declaration", "data": {"structure_siren": "123456789", "structure_finess_geographique": "750000000",
                                        "db_addresses": "pas une adresse"}}, format="json")
    error = error_of(response, 400)
    assert {"structure_siren", "structure_finess_geographique", "db_addresses"} <= set(error["fields"])
    assert "SIREN" in error["message"]
    assert not DrimboxRequest.objects.exclude(kind__in=ONBOARDING_KINDS).exists()


def test_malformed_input_is_a_structured_400_never_a_500(world):
    legal = api(world.legal)
    url = f"{API}/operators/{world.operator.pk}/requests/"
    assert error_of(legal.post(url, "{pas du json", content_type="application/json"), 400)["code"] == "parse_error"
    assert "kind" in error_of(legal.post(url, {"kind": "inconnu"}, format="json"), 400)["fields"]
    assert "non_field_errors" in error_of(legal.post(url, ["declaration"], format="json"), 400)["fields"]
    assert "data" in error_of(legal.post(url, {"kind": "declaration", "data": ["x"]}, format="json"), 400)["fields"]
    error = error_of(legal.post(url, {"kind": "declaration", "data": {"pacs": {"x": 1}}}, format="json"), 400)
    assert error["fields"]["data"] == ["« pacs » : une chaîne de caractères est attendue."]
    assert "drimbox" in error_of(legal.post(url, {"kind": "retrait", "drimbox": "abc"}, format="json"), 400)["fields"]
    # Unknown Identifiant, missing DRIMbox, unknown field of the kind: the services' messages.
    error = error_of(legal.post(url, {"kind": "retrait", "drimbox": 999, "data": {"reason": "x"}}, format="json"), 400)
    assert "999" in error["fields"]["drimbox"][0]
    assert "drimbox" in error_of(legal.post(url, {"kind": "retrait", "data": {"reason": "x"}}, format="json"),
                                 400)["fields"]
    assert "inconnus" in error_of(legal.post(url, {"kind": "declaration", "data": {"couleur": "bleu"}},
                                             format="json"), 400)["message"]
    assert not DrimboxRequest.objects.exclude(kind__in=ONBOARDING_KINDS).exists()

    req = submitted_declaration(world.operator, world.legal)
    ans = api(world.ans)
    assert "data" in error_of(legal.patch(f"{API}/requests/{req.pk}/", {"data": "x"}, format="json"), 400)["fields"]
    assert "reviewer" in error_of(ans.post(f"{API}/requests/{req.pk}/assign/", {"reviewer": 424242},
                                           format="json"), 400)["fields"]
    assert "reviewer" in error_of(ans.post(f"{API}/requests/{req.pk}/assign/", {"reviewer": world.legal.pk},
                                           format="json"), 400)["fields"]
    assert "text" in error_of(legal.post(f"{API}/requests/{req.pk}/comments/", {"text": "   "}, format="json"),
                              400)["fields"]
    assert "status" in error_of(ans.get(f"{API}/review-queue/", {"status": "brouillon"}), 400)["fields"]
    assert "age" in error_of(ans.get(f"{API}/review-queue/", {"age": "vieux"}), 400)["fields"]
    assert "dns" in error_of(ans.get(f"{API}/registry/", {"dns": "oui"}), 400)["fields"]


def test_attachments_must_be_pdf_within_the_size_limit(world, settings):
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION)
    legal = api(world.legal)
    url = f"{API}/requests/{req.pk}/attachments/"
    error = error_of(legal.post(url, {"kind": "cgi", "file": pdf_upload("cgi.pdf", b"GIF89a pas un pdf")},
                                format="multipart"), 400)
    assert error["code"] == "not_pdf" and "PDF" in error["fields"]["file"][0]
    assert "file" in error_of(legal.post(url, {"kind": "cgi"}, format="multipart"), 400)["fields"]
    assert "kind" in error_of(legal.post(url, {"kind": "photo", "file": cgi_upload()}, format="multipart"),
                              400)["fields"]
    settings.MAX_UPLOAD_BYTES = 100
    error = error_of(legal.post(url, {"kind": "cgi", "file": cgi_upload()}, format="multipart"), 400)
    assert error["code"] == "file_too_large" and "taille maximale" in error["message"]
    settings.MAX_UPLOAD_BYTES = 5 * 1024 * 1024
    # Without the role: 403 whether or not the body is well formed (the role is told first).
    technical = api(world.technical)
    error = error_of(technical.post(url, {"kind": "cgi", "file": cgi_upload()}, format="multipart"), 403)
    assert "représentant légal et les mandataires" in error["message"]
    assert error_of(technical.post(url, {}, format="multipart"), 403)["code"] == "forbidden"
    submitted = submitted_declaration(world.operator, world.legal)
    error = error_of(api(world.ans).post(f"{API}/requests/{submitted.pk}/attachments/",
                                         {"kind": "autre", "file": cgi_upload()}, format="multipart"), 403)
    assert "déposées par l'opérateur" in error["message"]
    assert not RequestAttachment.objects.filter(request=req).exists()
    assert RequestAttachment.objects.filter(request=submitted).count() == 1  # the builder's CGI only


# --- Who sees what ------------------------------------------------------------------------------


def test_another_operators_user_gets_404_and_ans_does_not_see_drafts(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    req = DrimboxRequest.objects.get(drimbox=drimbox)
    draft = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION)
    other = api(world.other)
    for url in (f"{API}/requests/{req.pk}/", f"{API}/drimboxes/{drimbox.identifiant}/",
                f"{API}/operators/{world.operator.pk}/requests/", f"{API}/operators/{world.operator.pk}/drimboxes/"):
        assert error_of(other.get(url), 404)["code"] == "not_found"
    assert error_of(other.post(f"{API}/requests/{req.pk}/comments/", {"text": "Coucou"}, format="json"), 404)
    assert api(world.technical).get(f"{API}/requests/{req.pk}/").status_code == 200
    ans = api(world.ans)
    assert ans.get(f"{API}/drimboxes/{drimbox.identifiant}/").status_code == 200
    assert error_of(ans.get(f"{API}/requests/{draft.pk}/"), 404)
    listed = ans.get(f"{API}/operators/{world.operator.pk}/requests/").json()
    assert [item["id"] for item in listed["results"] if item["kind"] not in ONBOARDING_KINDS] == [req.pk]
    assert api().get(f"{API}/requests/{req.pk}/").status_code == 401


def test_technical_admin_cannot_declare_but_can_ask_for_integration(world):
    technical = api(world.technical)
    url = f"{API}/operators/{world.operator.pk}/requests/"
    error = error_of(technical.post(url, {"kind": "declaration", "data": {}}, format="json"), 403)
    assert error["code"] == "forbidden" and "représentant légal et les mandataires" in error["message"]
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox)
    response = technical.post(url, {"kind": "integration", "drimbox": drimbox.identifiant,
                                    "data": {"message": "Prête"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["drimbox"]["identifiant"] == drimbox.identifiant
    assert technical.post(f"{API}/requests/{response.json()['id']}/submit/").json()["status"] == "soumise"
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.INTEGRATING
    # One open request per DRIMbox: the service's conflict.
    assert error_of(technical.post(url, {"kind": "mise_a_jour", "drimbox": drimbox.identifiant}, format="json"), 409)
    # ANS-only actions.
    error = error_of(technical.post(f"{API}/requests/{response.json()['id']}/assign/", {}, format="json"), 403)
    assert error["message"] == "Réservé aux administrateurs ANS."
    assert error_of(api(world.legal).get(f"{API}/review-queue/"), 403)["code"] == "forbidden"


def test_switch_names_another_operators_drimbox_by_identifiant(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    url = f"{API}/operators/{world.other_operator.pk}/requests/"
    other = api(world.other)
    response = other.post(url, {"kind": "bascule", "drimbox": drimbox.identifiant,
                                "data": declaration_data()}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["drimbox"]["db_fqdn"] == drimbox.db_fqdn
    assert error_of(other.post(url, {"kind": "bascule", "drimbox": 999}, format="json"), 400)["fields"]["drimbox"]
    # A non-switch request may only name one's own DRIMbox.
    error = error_of(other.post(url, {"kind": "retrait", "drimbox": drimbox.identifiant, "data": {"reason": "x"}},
                                format="json"), 400)
    assert "drimbox" in error["fields"]
    # Operator A cannot take over its own DRIMbox.
    assert error_of(api(world.legal).post(f"{API}/operators/{world.operator.pk}/requests/", {
        "kind": "bascule", "drimbox": drimbox.identifiant}, format="json"), 409)


def test_cancel_and_reject_by_api(world):
    req = submitted_declaration(world.operator, world.legal)
    url = f"{API}/requests/{req.pk}/"
    ans = api(world.ans)
    ans.post(url + "assign/", {"reviewer": world.ans.pk}, format="json")
    assert "reason" in error_of(ans.post(url + "reject/", {"reason": " "}, format="json"), 400)["fields"]
    assert ans.post(url + "reject/", {"reason": "Hors périmètre."}, format="json").json()["status"] == "refusee"
    assert error_of(api(world.legal).post(url + "cancel/", {}, format="json"), 409)["code"] == "invalid_transition"
    other = submitted_declaration(world.operator, world.legal)
    response = api(world.legal).post(f"{API}/requests/{other.pk}/cancel/", {"reason": "Doublon"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "annulee"


def test_va_document_by_api(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    va = VaDocument.objects.get(drimbox=drimbox)
    url = f"{API}/va/{va.pk}/"
    technical, ans = api(world.technical), api(world.ans)
    error = error_of(technical.post(url + "document/", {"file": pdf_upload("va.pdf", b"pas un pdf")},
                                    format="multipart"), 400)
    assert error["code"] == "not_pdf"
    assert error_of(api(world.other).post(url + "document/", {"file": pdf_upload("va.pdf")}, format="multipart"), 404)
    assert error_of(ans.post(url + "document/", {"file": pdf_upload("va.pdf")}, format="multipart"), 404)
    response = technical.post(url + "document/", {"file": pdf_upload("va.pdf")}, format="multipart")
    assert response.status_code == 200 and response.json()["status"] == "depose"
    assert response.json()["download_url"].endswith(f"/va/{va.pk}/document/")
    assert error_of(api(world.legal).post(url + "validate/"), 403)
    assert "reason" in error_of(ans.post(url + "refuse/", {"reason": ""}, format="json"), 400)["fields"]
    response = ans.post(url + "refuse/", {"reason": "Signature manquante."}, format="json")
    assert response.json()["status"] == "refuse" and response.json()["refusal_reason"] == "Signature manquante."
    assert error_of(ans.post(url + "validate/"), 409)  # nothing deposited since the refusal
    technical.post(url + "document/", {"file": pdf_upload("va2.pdf")}, format="multipart")
    assert ans.post(url + "validate/").json()["status"] == "valide"
    va.refresh_from_db()
    assert va.status == VaStatus.VALIDATED
    body = technical.get(f"{API}/drimboxes/{drimbox.identifiant}/").json()
    assert [v["status"] for v in body["va_documents"]] == ["valide"] and body["status"] == "active"


# --- Filters and query counts -------------------------------------------------------------------


def test_review_queue_filters(world):
    first = submitted_declaration(world.operator, world.legal)
    second = submitted_declaration(world.other_operator, world.other)
    services.assign_request(second, acting_user=world.ans)
    ans = api(world.ans)

    def refs(**params):
        # The world's operators were approved through onboarding applications: only DRIMbox requests here.
        return [item["reference"] for item in ans.get(f"{API}/review-queue/", params).json()["results"]
                if item["kind"] not in ONBOARDING_KINDS]

    assert refs() == [first.reference, second.reference]  # oldest submission first
    assert refs(operator="érateur b") == [second.reference]
    assert refs(assigned="moi") == [second.reference]
    assert refs(assigned="aucune") == [first.reference]
    assert refs(status="en_instruction") == [second.reference]
    assert refs(kind="retrait") == []
    assert refs(age=3) == []
    approve(second, world.ans)
    assert refs() == [first.reference]
    assert refs(status="toutes") == [first.reference, second.reference]


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.json()


def test_review_queue_and_registry_queries_do_not_grow_with_rows(world):
    ans = api(world.ans)
    for _ in range(2):
        declared_drimbox(world.operator, world.legal, world.ans)
        services.assign_request(submitted_declaration(world.operator, world.legal), acting_user=world.ans)
    urls = [f"{API}/review-queue/", f"{API}/registry/", f"{API}/operators/{world.operator.pk}/drimboxes/",
            f"{API}/operators/{world.operator.pk}/requests/"]
    small = {url: _queries(ans, url) for url in urls}
    for _ in range(4):
        declared_drimbox(world.operator, world.legal, world.ans)
        services.assign_request(submitted_declaration(world.operator, world.legal), acting_user=world.ans)
    for url in urls:
        count, body = _queries(ans, url)
        assert body["count"] > small[url][1]["count"], url
        assert count == small[url][0], f"{url}: {small[url][0]} queries for fewer rows, {count} now"
    assert _queries(ans, f"{API}/registry/")[1]["count"] == 6
    assert _queries(ans, f"{API}/review-queue/")[1]["count"] == 6


def test_registry_filters(world):
    first = declared_drimbox(world.operator, world.legal, world.ans)
    second = declared_drimbox(world.other_operator, world.other, world.ans)
    withdrawal = services.create_request(acting_user=world.other, operator=world.other_operator,
                                         kind=RequestKind.WITHDRAWAL, drimbox=second,
                                         data={"reason": "Fin de contrat"})
    approve(services.submit_request(withdrawal, acting_user=world.other), world.ans)
    ans = api(world.ans)

    def ids(**params):
        return [item["identifiant"] for item in ans.get(f"{API}/registry/", params).json()["results"]]

    assert ids() == [first.identifiant, second.identifiant]
    assert ids(q=f"db{first.identifiant}.") == [first.identifiant]
    assert ids(q=str(second.identifiant)) == [second.identifiant]
    assert ids(q=second.vi_fqdn.upper() + ".") == [second.identifiant]
    assert ids(operator="opérateur a") == [first.identifiant]
    assert ids(structure=first.health_structure.siren) == [first.identifiant]
    assert ids(status="retiree") == [second.identifiant]
    assert ids(dns="en_attente") == [first.identifiant, second.identifiant]  # no DNS server in tests
    assert Drimbox.objects.get(pk=second.pk).status == DrimboxStatus.WITHDRAWN


def test_requests_list_shows_only_the_operators_requests(world):
    mine = submitted_declaration(world.operator, world.legal)
    submitted_declaration(world.other_operator, world.other)
    body = api(world.legal).get(f"{API}/operators/{world.operator.pk}/requests/").json()
    # The operator's own approved adhesion application stays in its history, after its DRIMbox requests (for its
    # legal representatives: it carries their card and proof of power; technical administrators do not see it).
    assert [item["kind"] for item in body["results"]] == [RequestKind.DECLARATION, RequestKind.ADHESION]
    assert [item["kind"] for item in api(world.technical).get(
        f"{API}/operators/{world.operator.pk}/requests/").json()["results"]] == [RequestKind.DECLARATION]
    assert body["count"] == 2 and body["results"][0]["reference"] == mine.reference
    assert body["results"][0]["status"] == RequestStatus.SUBMITTED and body["results"][0]["status_label"] == "Soumise"
    orders = api(world.technical).get(f"{API}/operators/{world.operator.pk}/financing-orders/").json()
    assert orders["count"] == 1 and orders["results"][0]["drimboxes"] == []


def test_superseded_attestation_is_reported_as_not_valid(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    attestation = drimbox.attestations.get()
    switch = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox)
    approve(switch, world.ans)
    body = api().get(f"{API}/attestations/{attestation.code}/").json()
    assert body["valid"] is False and body["superseded_at"]
    new = Attestation.objects.get(request=switch)
    assert api().get(f"{API}/attestations/{new.code}/").json()["valid"] is True
    assert services.find_attestation(new.code) == new

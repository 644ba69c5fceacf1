"""What an operator (or ANS) automates through the API beyond the requests themselves (issue 15, item 3):
DRIMboxes addressed by their public identifiant, DNS change history, the request kinds a DRIMbox may start,
registering an operator, contract versions, operator search and VA lists."""
import html
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from operators import services
from operators.models import (
    ContractVersion,
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxRequest,
    Operator,
    RequestKind,
    VaDocument,
)
from operators.permissions import DEFAULT_DENIED, DENIED_MESSAGES
from tests.conftest import application_data, make_siren, pdf_upload
from tests.support import weather as wx
from tests.support.api import API, api, error_of
from tests.support.lifecycle import active_drimbox, declared_drimbox, submitted_declaration
from trustspace.models import ApiScope, AuditEntry
from trustspace.services import create_api_token


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:500]
    return len(captured), response.json()


def _renumbered(drimbox, identifiant):
    """``drimbox`` given an identifiant far from its internal id, so that mixing them up cannot pass."""
    Drimbox.objects.filter(pk=drimbox.pk).update(identifiant=identifiant, db_fqdn=f"db{identifiant}.test.fr",
                                                 vi_fqdn=f"vi{identifiant}.test.fr")
    drimbox.refresh_from_db()
    return drimbox


# --- DRIMboxes by identifiant ------------------------------------------------------------------------------


def test_every_drimbox_route_takes_the_identifiant_never_the_internal_id(world):
    box = _renumbered(wx.make_drimboxes(world.operator, 1)[0], 7000)
    assert box.pk != box.identifiant and not Drimbox.objects.filter(identifiant=box.pk).exists()
    technical = api(world.technical)
    names = ["api_drimbox", "api_drimbox_certificates", "api_vi_orders", "api_drimbox_dns_changes",
             "api_drimbox_request_kinds"]
    for name in names:
        assert technical.get(reverse(name, args=[box.identifiant])).status_code == 200, name
        error_of(technical.get(reverse(name, args=[box.pk])), 404)
    assert reverse("api_vi_certificate", args=[box.identifiant]) == f"{API}/drimboxes/7000/vi-certificate/"
    body = technical.get(f"{API}/drimboxes/7000/").json()
    assert (body["identifiant"], body["id"], body["db_fqdn"]) == (7000, box.pk, "db7000.test.fr")
    # The operator's list gives the identifiant to address each DRIMbox with.
    listed = technical.get(f"{API}/operators/{world.operator.pk}/drimboxes/").json()["results"]
    assert [item["identifiant"] for item in listed] == [7000]
    # Another operator's member: 404, as for a DRIMbox that does not exist.
    error_of(api(world.other).get(f"{API}/drimboxes/7000/"), 404)


def test_a_token_limited_to_drimboxes_is_checked_on_the_identifiant_route(world):
    box, elsewhere = (_renumbered(b, 7100 + i) for i, b in enumerate(wx.make_drimboxes(world.operator, 2)))
    # A token stores its DRIMboxes by internal id (they are chosen in the portal or by `id` in the API).
    _token, raw = create_api_token(acting_user=world.technical, name="box", scopes=[ApiScope.CERTIFICATES],
                                   operator_id=world.operator.pk, drimbox_ids=[box.pk])
    client = api(token=raw)
    assert client.get(f"{API}/drimboxes/{box.identifiant}/vi-orders/").status_code == 200
    assert error_of(client.get(f"{API}/drimboxes/{elsewhere.identifiant}/vi-orders/"), 403)["code"] == "token_drimbox"
    # A DRIMbox the caller may not see is a 404 for a limited token too (existence does not leak).
    other_box = wx.make_drimboxes(world.other_operator, 1)[0]
    error_of(client.get(f"{API}/drimboxes/{other_box.identifiant}/vi-orders/"), 404)


# --- DNS change history ------------------------------------------------------------------------------------


def _dns_change(drimbox, *, minutes, status=DnsChangeStatus.APPLIED, **fields):
    at = timezone.now() + timedelta(minutes=minutes)
    return DnsChange.objects.create(drimbox=drimbox, name=fields.pop("name", drimbox.db_fqdn), status=status,
                                    created_at=at, applied_at=at if status == DnsChangeStatus.APPLIED else None,
                                    **{"records": [["A", "192.0.2.99"]], "reason": "essai", **fields})


def test_dns_change_history_newest_first_each_with_its_state_attempts_and_error(world):
    box = declared_drimbox(world.operator, world.legal, world.ans)  # approval queued its db and vi names
    queued = list(DnsChange.objects.filter(drimbox=box).values_list("name", flat=True))
    assert sorted(queued) == sorted([box.db_fqdn, box.vi_fqdn])
    # Made for the DRIMbox's previous operator, two days before this one took it over: ANS only.
    before = _dns_change(box, minutes=-2 * 24 * 60, reason="ancien opérateur")
    failing = _dns_change(box, minutes=5, status=DnsChangeStatus.PENDING, name=box.vi_fqdn, records=[],
                          attempts=3, last_error="SERVFAIL du serveur faisant autorité", reason="retrait")
    url = f"{API}/drimboxes/{box.identifiant}/dns-changes/"
    body = api(world.technical).get(url).json()
    assert body["count"] == 3 and before.pk not in [item["id"] for item in body["results"]]
    first = body["results"][0]
    assert first["id"] == failing.pk
    assert (first["name"], first["records"], first["status"], first["status_label"]) == (
        box.vi_fqdn, [], "en_attente", "DNS en attente")
    assert (first["attempts"], first["last_error"], first["applied_at"]) == (
        3, "SERVFAIL du serveur faisant autorité", None)
    assert first["next_attempt_at"] is not None and first["reason"] == "retrait"
    assert {item["name"] for item in body["results"][1:]} == {box.db_fqdn, box.vi_fqdn}
    ans = api(world.ans).get(url).json()
    assert ans["count"] == 4 and ans["results"][-1]["id"] == before.pk
    assert ans["results"][-1]["applied_at"] is not None and ans["results"][-1]["next_attempt_at"] is None
    # Paginated, validated.
    page = api(world.ans).get(url, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 4 and len(page["results"]) == 1
    assert "limit" in error_of(api(world.ans).get(url, {"limit": "beaucoup"}), 400)["fields"]
    # Another operator's member, and a DRIMbox that does not exist: the same 404.
    error_of(api(world.other).get(url), 404)
    error_of(api(world.technical).get(f"{API}/drimboxes/{box.identifiant + 1000}/dns-changes/"), 404)
    # The DRIMbox page shows the same history (its latest rows), without the previous operator's.
    client_page = _page_of(world.technical, box)
    assert "SERVFAIL du serveur faisant autorité" in client_page and "ancien opérateur" not in client_page


def test_dns_history_queries_do_not_grow_with_rows(world):
    box = declared_drimbox(world.operator, world.legal, world.ans)
    url = f"{API}/drimboxes/{box.identifiant}/dns-changes/"
    client = api(world.legal)
    few, small = _queries(client, url)
    for minutes in range(1, 8):
        _dns_change(box, minutes=minutes)
    many, large = _queries(client, url)
    assert large["count"] == small["count"] + 7 and many == few


# --- Request kinds a DRIMbox may start ------------------------------------------------------------------------


def _page_of(user, drimbox):
    from django.test import Client

    client = Client()
    client.force_login(user)
    response = client.get(reverse("drimbox_detail", args=[drimbox.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _kinds(user, drimbox):
    body = api(user).get(f"{API}/drimboxes/{drimbox.identifiant}/request-kinds/").json()
    return {item["kind"]: item for item in body["results"]}


def test_request_kinds_are_those_the_service_accepts_with_the_reason_for_the_others(world):
    box = declared_drimbox(world.operator, world.legal, world.ans)
    legal = _kinds(world.legal, box)
    assert list(legal) == ["integration", "mise_a_jour", "retrait", "reintegration"]
    assert [kind for kind, item in legal.items() if item["allowed"]] == ["integration", "mise_a_jour", "retrait"]
    assert all(item["reason"] is None for item in legal.values() if item["allowed"])
    assert legal["reintegration"]["reason"] == (f"La DRIMbox {box.identifiant} est « déclarée » : une demande de "
                                                 "réintégration n'est pas possible.")
    assert legal["mise_a_jour"]["kind_label"] == "Mise à jour des données d'installation"
    technical = _kinds(world.technical, box)
    assert technical["retrait"] == {"kind": "retrait", "kind_label": "Retrait", "allowed": False,
                                    "reason": DENIED_MESSAGES["request.retrait"]}
    assert technical["integration"]["allowed"] and technical["mise_a_jour"]["allowed"]
    # ANS reviews requests, never files them: the service's refusal for a caller without the role.
    ans = _kinds(world.ans, box)
    assert not any(item["allowed"] for item in ans.values())
    assert ans["integration"]["reason"] == DEFAULT_DENIED and ans["retrait"]["reason"] == DENIED_MESSAGES[
        "request.retrait"]
    # The DRIMbox page offers the allowed ones, and only them.
    page = _page_of(world.technical, box)
    assert "Demander : intégration" in page and "Demander : retrait" not in page

    # What the list allows, the service accepts; then nothing more while that request is open.
    created = api(world.technical).post(f"{API}/operators/{world.operator.pk}/requests/",
                                        {"kind": "mise_a_jour", "drimbox": box.identifiant}, format="json")
    assert created.status_code == 201, created.content[:500]
    reference = created.json()["reference"]
    after = _kinds(world.legal, box)
    assert not any(item["allowed"] for item in after.values())
    assert after["retrait"]["reason"] == (f"Une demande est déjà en cours pour cette DRIMbox ({reference}) : "
                                          "complétez-la ou annulez-la.")
    refused = api(world.legal).post(f"{API}/operators/{world.operator.pk}/requests/",
                                    {"kind": "retrait", "drimbox": box.identifiant}, format="json")
    assert error_of(refused, 409)["message"] == "Une demande est déjà en cours pour cette DRIMbox : complétez-la ou " \
                                                 "annulez-la."
    assert "Demander :" not in _page_of(world.legal, box)
    services.cancel_request(DrimboxRequest.objects.get(reference=reference), acting_user=world.technical)

    # A new contract version: nothing until the operator accepts it (the service's own words).
    services.publish_contract_version(acting_user=world.ans, version="2026-09", title="V2", body="Nouveau.")
    reasons = {item["reason"] for item in _kinds(world.legal, box).values() if item["kind"] != "reintegration"}
    assert len(reasons) == 1 and "2026-09" in reasons.pop()
    error_of(api(world.other).get(f"{API}/drimboxes/{box.identifiant}/request-kinds/"), 404)


def test_request_kinds_of_a_withdrawn_drimbox(world):
    box = wx.make_drimboxes(world.operator, 1, status="retiree")[0]
    kinds = _kinds(world.legal, box)
    assert [kind for kind, item in kinds.items() if item["allowed"]] == [RequestKind.REINTEGRATION]
    assert "« retirée »" in kinds["integration"]["reason"]


# --- Registering an operator ---------------------------------------------------------------------------------


def _application(seed=55555555, name="Imagerie Automatisée", **overrides):
    return {**application_data(seed, name), "contract_document": pdf_upload("contrat.pdf"),
            "contract_accepted": "true", **overrides}


def test_registering_an_operator_files_its_adhesion_as_the_page_does(world, make_user):
    applicant = api(make_user("automate"))
    requests_before = DrimboxRequest.objects.count()
    response = applicant.post(f"{API}/applications/", _application(), format="multipart")
    assert response.status_code == 201, response.content[:800]
    body = response.json()
    req = DrimboxRequest.objects.get(pk=body["id"])
    assert response["Location"] == f"{API}/requests/{req.pk}/"
    assert (body["kind"], body["status"], body["operator"], body["notice"]) == ("adhesion", "soumise", None, "")
    assert body["party_name"] == "Imagerie Automatisée" and body["data"]["siren"] == make_siren(55555555)
    assert body["data"]["contract_version"] == world.contract.version
    assert [a["kind"] for a in body["attachments"]] == ["contrat"]
    assert DrimboxRequest.objects.count() == requests_before + 1
    assert not Operator.objects.filter(siren=make_siren(55555555)).exists()  # only ANS's approval creates it
    listed = applicant.get(f"{API}/applications/").json()["results"]
    assert [item["reference"] for item in listed] == [body["reference"]]
    # The same SIREN again by the same applicant: 409, nothing more.
    again = applicant.post(f"{API}/applications/", _application(), format="multipart")
    assert error_of(again, 409)["code"] == "application_pending"
    assert DrimboxRequest.objects.count() == requests_before + 1

    # Without a card, a proof of the power to represent (PDF) instead.
    with_proof = api(make_user("kbis")).post(f"{API}/applications/", _application(
        seed=44444444, legal_rep_card="", power_document=pdf_upload("kbis.pdf")), format="multipart")
    assert with_proof.status_code == 201, with_proof.content[:800]
    assert sorted(a["kind"] for a in with_proof.json()["attachments"]) == ["contrat", "pouvoir"]


def test_a_second_registration_of_a_siren_becomes_a_rattachement(world, make_user):
    operators_before = Operator.objects.count()
    response = api(make_user("doublon")).post(f"{API}/applications/",
                                              _application(seed=12345678, name="Opérateur A bis"), format="multipart")
    assert response.status_code == 201, response.content[:800]
    body = response.json()
    assert body["kind"] == "rattachement" and body["operator"]["id"] == world.operator.pk
    assert "aucun second opérateur n'est créé" in body["notice"]
    assert Operator.objects.count() == operators_before
    # Its legal representative (already one) cannot file it.
    refused = api(world.legal).post(f"{API}/applications/", _application(seed=12345678), format="multipart")
    assert error_of(refused, 409)["code"] == "already_member"


def test_a_refused_registration_names_every_field_and_writes_nothing(world, make_user):
    applicant = api(make_user("fautes"))
    before = DrimboxRequest.objects.count()
    bad = _application(siren="123456789", legal_rep_card="12AB",
                       contract_document=pdf_upload("contrat.pdf", content=b"pas un pdf"))
    error = error_of(applicant.post(f"{API}/applications/", bad, format="multipart"), 400)
    assert {"siren", "legal_rep_card", "contract_document"} <= set(error["fields"])
    error = error_of(applicant.post(f"{API}/applications/", _application(legal_rep_card=""), format="multipart"), 400)
    assert "carte de représentant légal ou joignez un justificatif" in error["fields"]["legal_rep_card"][0]
    error = error_of(applicant.post(f"{API}/applications/", _application(contract_accepted="false"),
                                    format="multipart"), 400)
    assert error["fields"]["contract_accepted"] == [f"Acceptez la version {world.contract.version} du contrat "
                                                    "d'adhésion."]
    without_contract = {k: v for k, v in _application().items() if k != "contract_document"}
    assert "contract_document" in error_of(applicant.post(f"{API}/applications/", without_contract,
                                                          format="multipart"), 400)["fields"]
    assert DrimboxRequest.objects.count() == before
    # ANS instructs applications, it never files one.
    assert error_of(api(world.ans).post(f"{API}/applications/", _application(), format="multipart"), 403)
    assert DrimboxRequest.objects.count() == before


def test_a_registration_retried_with_its_idempotency_key_is_filed_once(world, make_user):
    applicant = api(make_user("rejeu"))
    first = applicant.post(f"{API}/applications/", _application(), format="multipart", HTTP_IDEMPOTENCY_KEY="inscr-1")
    assert first.status_code == 201, first.content[:500]
    again = applicant.post(f"{API}/applications/", _application(), format="multipart", HTTP_IDEMPOTENCY_KEY="inscr-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert DrimboxRequest.objects.filter(data__siren=make_siren(55555555)).count() == 1


# --- Contract versions (ANS) ---------------------------------------------------------------------------------


def test_ans_lists_and_publishes_contract_versions_through_the_service(world):
    ans = api(world.ans)
    listed = ans.get(f"{API}/contract-versions/").json()
    assert listed["count"] == 1
    current = listed["results"][0]
    assert (current["version"], current["in_force"], current["acceptance_count"]) == (
        world.contract.version, True, 2)  # operators A and B accepted it on admission
    assert current["published_by"] == world.ans.display_name

    created = ans.post(f"{API}/contract-versions/", {"version": "2026-08", "title": "Contrat V2",
                                                     "body": "Texte de la version 2."}, format="json")
    assert created.status_code == 201, created.content[:500]
    body = created.json()
    assert (body["version"], body["in_force"], body["acceptance_count"]) == ("2026-08", True, 0)
    assert AuditEntry.objects.filter(action="contract.published", object_id=str(body["id"])).exists()
    versions = ans.get(f"{API}/contract-versions/").json()["results"]
    assert [(v["version"], v["in_force"]) for v in versions] == [("2026-08", True), (world.contract.version, False)]
    # Every operator must now accept it.
    contract = api(world.legal).get(f"{API}/operators/{world.operator.pk}/contract/").json()
    assert contract["current"]["version"] == "2026-08" and contract["accepted"] is False

    taken = error_of(ans.post(f"{API}/contract-versions/", {"version": "2026-08", "title": "Encore",
                                                            "body": "Texte."}, format="json"), 400)
    assert taken["fields"] == {"version": ["La version « 2026-08 » du contrat existe déjà."]}
    assert {"title", "body"} <= set(error_of(ans.post(f"{API}/contract-versions/", {"version": "2026-09"},
                                                      format="json"), 400)["fields"])
    for user in (world.legal, world.technical):
        error_of(api(user).get(f"{API}/contract-versions/"), 403)
        error_of(api(user).post(f"{API}/contract-versions/", {"version": "2026-10", "title": "T", "body": "B"},
                                format="json"), 403)
    assert not ContractVersion.objects.filter(version="2026-10").exists()


# --- Operator search ------------------------------------------------------------------------------------------


def test_operator_search_ans_sees_all_a_member_only_its_own(world):
    ans = api(world.ans)
    everyone = ans.get(f"{API}/operators/").json()
    assert everyone["count"] == 2
    a = next(item for item in everyone["results"] if item["id"] == world.operator.pk)
    assert (a["contract_accepted"], a["technical_admin_count"], a["legal_representative_count"]) == (True, 1, 1)
    for q in ("opérateur a", world.operator.siren, world.operator.siren[:5], world.operator.siret,
              world.operator.id_nat_struct, f" {world.operator.siren[:3]} {world.operator.siren[3:]} "):
        found = ans.get(f"{API}/operators/", {"q": q}).json()["results"]
        assert [item["id"] for item in found] == [world.operator.pk], q
    assert ans.get(f"{API}/operators/", {"q": "introuvable"}).json()["count"] == 0
    # B has no technical administrator; a new contract version is accepted by nobody yet.
    without_technical = ans.get(f"{API}/operators/", {"technical_admin": "non"}).json()["results"]
    assert [item["id"] for item in without_technical] == [world.other_operator.pk]
    assert ans.get(f"{API}/operators/", {"contract": "a_accepter"}).json()["count"] == 0
    services.publish_contract_version(acting_user=world.ans, version="2026-09", title="V2", body="Nouveau.")
    assert ans.get(f"{API}/operators/", {"contract": "a_accepter"}).json()["count"] == 2
    assert ans.get(f"{API}/operators/", {"contract": "accepte"}).json()["count"] == 0
    assert "contract" in error_of(ans.get(f"{API}/operators/", {"contract": "peut-etre"}), 400)["fields"]
    # A member searches its own operators only: operator B is not found by its SIREN.
    legal = api(world.legal)
    assert legal.get(f"{API}/operators/", {"q": world.other_operator.siren}).json()["count"] == 0
    assert [item["id"] for item in legal.get(f"{API}/operators/").json()["results"]] == [world.operator.pk]
    # The ANS page searches the same way (the SIRET too).
    from django.test import Client

    page = Client()
    page.force_login(world.ans)
    listing = page.get("/ans/operateurs/", {"q": world.other_operator.siret}).content.decode()
    assert html.escape(world.other_operator.name) in listing and html.escape(world.operator.name) not in listing


def test_operator_list_queries_do_not_grow_with_rows(world, make_user):
    from tests.conftest import register

    ans = api(world.ans)
    few, small = _queries(ans, f"{API}/operators/")
    for seed in (31111111, 32222222, 33333333):
        register(make_user(f"rl{seed}"), seed, f"Opérateur {seed}", ans=world.ans)
    many, large = _queries(ans, f"{API}/operators/")
    assert large["count"] == small["count"] + 3 and many == few


# --- VA lists -------------------------------------------------------------------------------------------------


def _va(drimbox, request, *, days):
    return VaDocument.objects.create(drimbox=drimbox, operator=drimbox.operator, request=request,
                                     due_at=timezone.now() + timedelta(days=days))


def _va_ids(client, **params):
    body = client.get(f"{API}/va/", params).json()
    return [item["id"] for item in body["results"]]


def test_va_lists_by_state_ans_sees_all_an_operator_its_own(world):
    box = active_drimbox(world.operator, world.legal, world.ans)
    submitted = VaDocument.objects.get(drimbox=box)
    services.upload_va(submitted, acting_user=world.technical, uploaded_file=pdf_upload("va.pdf"))
    a_box, a_late_box = wx.make_drimboxes(world.operator, 2)
    a_due, a_overdue = _va(a_box, submitted.request, days=5), _va(a_late_box, submitted.request, days=-1)
    b_box = wx.make_drimboxes(world.other_operator, 1)[0]
    b_due = _va(b_box, submitted_declaration(world.other_operator, world.other), days=3)

    ans = api(world.ans)
    assert _va_ids(ans, state="due") == [b_due.pk, a_due.pk]  # by deadline
    assert _va_ids(ans, state="overdue") == [a_overdue.pk]
    assert _va_ids(ans, state="to_review") == [submitted.pk]
    assert _va_ids(ans, state="reservations_overdue") == []
    assert sorted(_va_ids(ans)) == sorted([submitted.pk, a_due.pk, a_overdue.pk, b_due.pk])
    item = ans.get(f"{API}/va/", {"state": "overdue"}).json()["results"][0]
    assert (item["drimbox"], item["drimbox_db_fqdn"], item["status"], item["is_overdue"]) == (
        a_late_box.identifiant, a_late_box.db_fqdn, "attendu", True)
    assert item["operator"] == {"id": world.operator.pk, "name": world.operator.name}
    assert item["due_at"] == a_overdue.due_at.astimezone(timezone.get_current_timezone()).isoformat()

    legal = api(world.legal)
    assert _va_ids(legal, state="due") == [a_due.pk]
    assert b_due.pk not in _va_ids(legal)
    assert _va_ids(api(world.other)) == [b_due.pk]
    assert _va_ids(api(world.technical), state="to_review") == [submitted.pk]
    assert "state" in error_of(ans.get(f"{API}/va/", {"state": "bientot"}), 400)["fields"]
    assert "offset" in error_of(ans.get(f"{API}/va/", {"offset": "-1"}), 400)["fields"]

    # Queries do not grow with rows.
    few, small = _queries(ans, f"{API}/va/")
    for days in (7, 8, 9):
        _va(wx.make_drimboxes(world.operator, 1)[0], submitted.request, days=days)
    many, large = _queries(ans, f"{API}/va/")
    assert large["count"] == small["count"] + 3 and many == few

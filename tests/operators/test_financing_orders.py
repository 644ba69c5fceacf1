"""Financing orders as the AF IMG DB Va2 defines them: uniqueness, shared orders, take-overs, eligibility."""
import threading

import pytest
from django.db import connection
from django.urls import reverse

from operators import services
from operators.eligibility import declaration_problems, order_problems
from operators.models import (
    FinancingOrder,
    FinancingOrderClient,
    FinancingOrderPhysician,
    FinancingOrderSite,
    FinancingOrderStatus,
)
from operators.request_data import eligibility_problems, usable_orders
from operators.services import financing_orders as financing
from tests.support.api import api, error_of
from tests.support.lifecycle import (
    am_number,
    approve,
    client_fields,
    declaration_data,
    finess,
    make_order,
    signed_order_upload,
    siren,
    submitted_declaration,
)
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _declaration_for(order, client_index=0):
    client = list(order.clients.all())[client_index]
    return {**declaration_data(), "structure_siren": client.siren,
            "structure_finess_geographique": client.sites.all()[0].finess_geographique,
            "pacs": order.pacs_list[0], "financing_order": str(order.pk)}


# --- Forms of the numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "message"), [
    ("am_numbers", ["21100001"], "Le numéro AM « 21100001 » n'est pas valide"),          # 8 digits
    ("am_numbers", ["2110000A1"], "Le numéro AM « 2110000A1 » n'est pas valide"),        # a letter
    ("am_numbers", ["001000011"], "Le numéro AM « 001000011 » n'est pas valide"),        # department 00
    ("am_numbers", ["961000011"], "Le numéro AM « 961000011 » n'est pas valide"),        # department 96
    ("finess_geographiques", ["750000011"], "Le numéro FINESS « 750000011 » n'est pas valide"),  # wrong key
    ("client_siren", "123456789", "Le SIREN « 123456789 » n'est pas valide"),
])
def test_am_finess_and_siren_are_checked_for_form(world, field, value, message):
    with pytest.raises(InvalidData) as excinfo:
        services.create_financing_order(acting_user=world.legal, operator=world.operator, reference="BC-FORME",
                                        pacs_identifiers=["PACS-FORME"],
                                        client={**client_fields(9001), field: value})
    assert any(message in text for text in excinfo.value.field_errors[field])
    assert not FinancingOrder.objects.filter(reference="BC-FORME").exists()


def test_a_corsican_finess_and_am_numbers_of_every_department_are_accepted(world):
    order = make_order(world.operator, world.legal, sites=["2A0000016"], ams=["201000011", "971000011"])
    assert order.finess_list == ["2A0000016"] and order.am_list == ["201000011", "971000011"]


def test_client_fields_that_go_together(world):
    with pytest.raises(InvalidData) as excinfo:
        services.create_financing_order(
            acting_user=world.legal, operator=world.operator, reference="BC-ENSEMBLE", pacs_identifiers=[],
            client={**client_fields(9002), "client_name": "", "ris_order_reference": "", "finess_geographiques": [],
                    "takeover_am_numbers": [am_number(9002) + ""], "am_numbers": []})
    errors = excinfo.value.field_errors
    assert errors["pacs_identifiers"] == ["Indiquez au moins un PACS."]
    assert errors["client_name"] == ["La raison sociale du client est obligatoire."]
    assert errors["ris_order_reference"] == ["Indiquez la référence de la commande de RIS Vague 2 du client."]
    assert errors["finess_geographiques"] == ["Indiquez au moins un FINESS géographique du client."]
    assert errors["takeover_siren"] == ["Indiquez le SIREN de la structure reprise."]


# --- Each identifier in one active order ----------------------------------------------------------


def test_each_identifier_is_in_one_active_order_and_the_conflict_is_named(world):
    first = make_order(world.operator, world.legal, pacs="PACS-A")
    client = first.clients.get()
    cases = {
        "client_siren": ({"structure_siren": client.siren},
                         f"Le client SIREN {client.siren} figure déjà dans le bon de commande {first.reference}."),
        "pacs_identifiers": ({"pacs": "PACS-A"},
                             f"Le PACS « PACS-A » fait déjà l'objet du bon de commande {first.reference}."),
        "finess_geographiques": ({"sites": first.finess_list},
                                 f"Le FINESS géographique {first.finess_list[0]} figure déjà dans le bon de commande "
                                 f"{first.reference}."),
        "am_numbers": ({"ams": first.am_list},
                       f"Le numéro AM {first.am_list[0]} figure déjà dans le bon de commande {first.reference}."),
    }
    for field, (kwargs, message) in cases.items():
        with pytest.raises(InvalidData) as excinfo:
            make_order(world.other_operator, world.other, **kwargs)
        assert excinfo.value.field_errors[field] == [message], field
    # An AM of the taken-over structure counts the same way.
    with pytest.raises(InvalidData, match=f"Le numéro AM {first.am_list[0]} figure déjà"):
        make_order(world.operator, world.legal, activity_2023=False, takeover_siren=siren(43000001),
                   takeover_am_numbers=first.am_list)
    assert FinancingOrder.objects.count() == 1 and FinancingOrderPhysician.objects.count() == 1
    with pytest.raises(NotAllowed):
        make_order(world.operator, world.technical)


def test_a_closed_order_frees_its_identifiers_and_is_closed_only_by_ans_when_nothing_uses_it(world):
    old = make_order(world.operator, world.legal, pacs="PACS-FERME")
    client = old.clients.get()
    drimbox = approve(submitted_declaration(world.operator, world.legal, data=declaration_data(order=old)),
                      world.ans).drimbox
    with pytest.raises(NotAllowed):
        services.close_financing_order(old, acting_user=world.legal, reason="Structure fermée")
    with pytest.raises(Conflict, match=f"finance encore les DRIMbox {drimbox.identifiant}"):
        services.close_financing_order(old, acting_user=world.ans, reason="Structure fermée")
    drimbox.financing_order = None
    drimbox.save(update_fields=["financing_order"])
    with pytest.raises(InvalidData, match="Le motif de clôture est obligatoire"):
        services.close_financing_order(old, acting_user=world.ans, reason=" ")
    services.close_financing_order(old, acting_user=world.ans, reason="Structure fermée en 2025")
    old.refresh_from_db()
    assert old.status == FinancingOrderStatus.CLOSED
    assert AuditEntry.objects.get(action="financing_order.closed").reason == "Structure fermée en 2025"
    assert old not in usable_orders(world.operator)
    assert "Le bon de commande " + old.reference + " est clos." in declaration_problems(
        old, siren=client.siren, finess=old.finess_list[0], pacs="PACS-FERME")
    with pytest.raises(Conflict, match="est clos"):
        services.add_order_pacs(old, acting_user=world.legal, pacs_identifiers=["PACS-AUTRE"])
    # The same client, PACS, FINESS and AM in a new order.
    new = make_order(world.operator, world.legal, structure_siren=client.siren, pacs="PACS-FERME",
                     sites=old.finess_list, ams=old.am_list)
    assert new.is_active and new.finess_list == old.finess_list


# --- Shared orders, take-overs and what funds a DRIMbox -------------------------------------------


def test_a_shared_order_is_signed_by_each_client_and_funds_the_drimboxes_of_both(world):
    order = make_order(world.operator, world.legal, 9101)
    second = services.add_order_client(order, acting_user=world.legal, client=client_fields(9102))
    order = FinancingOrder.objects.get(pk=order.pk)
    assert order.is_shared and len(order.finess_list) == 2 and len(order.am_list) == 2  # the ceiling counts both
    first = order.clients.exclude(pk=second.pk).get()
    data_b = _declaration_for(order, 1)
    assert eligibility_problems(data_b) == [
        f"La page de signature du client {second.label} n'est pas jointe au bon de commande partagé."]
    for client in (first, second):
        services.attach_order_document(order, acting_user=world.legal, kind=services.DocumentKind.SIGNATURE_PAGE,
                                       uploaded_file=signed_order_upload("Page de signature"), client=client)
    assert eligibility_problems(_declaration_for(order, 0)) == [] and eligibility_problems(data_b) == []
    # Several DRIMboxes under one order, for both clients, without any derogation.
    boxes = [approve(submitted_declaration(world.operator, world.legal, data=data), world.ans).drimbox
             for data in (_declaration_for(order, 0), _declaration_for(order, 0), data_b)]
    assert {box.financing_order_id for box in boxes} == {order.pk}
    assert not any(box.eligibility_override_reason for box in boxes)
    # The second client's FINESS is not the first client's.
    assert eligibility_problems({**data_b, "structure_siren": first.siren}) == [
        f"Le FINESS géographique {data_b['structure_finess_geographique']} ne figure pas parmi ceux du client "
        f"{first.label} dans le bon de commande {order.reference}."]


def test_a_structure_opened_after_2023_is_funded_through_the_structure_it_took_over(world):
    taken = {"takeover_siren": siren(43000002), "takeover_name": "Cabinet fermé",
             "takeover_finess_geographiques": [finess(9202)], "takeover_am_numbers": [am_number(9202)]}
    order = make_order(world.operator, world.legal, 9201, activity_2023=False)
    client = order.clients.get()
    data = _declaration_for(order)
    assert eligibility_problems(data) == [
        f"Le client {client.label} n'atteste pas d'activité de radiologie ou de médecine nucléaire en 2023, et aucune "
        "reprise d'une structure active en 2023 n'est indiquée."]
    services.update_order_client(client, acting_user=world.legal, client=client_fields(
        9201, siren_value=client.siren, activity_2023=False, **taken))
    assert eligibility_problems(data) == [
        f"La preuve de la reprise de la structure SIREN {siren(43000002)} par le client {client.label} n'est pas "
        "jointe."]
    services.attach_order_document(order, acting_user=world.legal, kind=services.DocumentKind.TAKEOVER_PROOF,
                                   uploaded_file=signed_order_upload("Acte de cession"), client=client)
    assert eligibility_problems(data) == []
    rows = FinancingOrderSite.objects.filter(client=client).order_by("finess_geographique")
    assert [(row.finess_geographique, row.from_takeover) for row in rows] == sorted(
        [(finess(9201), False), (finess(9202), True)])
    # A DRIMbox at the taken-over site is funded too.
    assert eligibility_problems({**data, "structure_finess_geographique": finess(9202)}) == []


def test_what_leaves_a_drimbox_unfunded(world):
    order = make_order(world.operator, world.legal, 9301, signed=False, ris_wave="", ris_order_reference="")
    client = order.clients.get()
    data = _declaration_for(order)
    assert eligibility_problems(data) == [
        f"Le bon de commande {order.reference} signé (PDF) n'est pas joint.",
        f"Le client {client.label} n'a pas de commande de RIS Vague 2 (ou Vague 1 + 2) : la DRIMbox n'est pas "
        "financée pour lui."]
    assert order_problems(order) == eligibility_problems(data)
    assert eligibility_problems({**data, "structure_siren": siren(43000003), "pacs": "AUTRE"})[1:] == [
        f"Le bon de commande {order.reference} ne compte pas le client SIREN {siren(43000003)} "
        f"(clients : {client.siren}).",
        f"Le PACS déclaré (AUTRE) ne figure pas dans le bon de commande {order.reference} ({order.pacs_list[0]})."]
    # ANS may still let it in, with a reason that is audited.
    req = approve(submitted_declaration(world.operator, world.legal, data=data), world.ans,
                  override_reason="Commande de RIS signée, en cours d'enregistrement")
    assert req.drimbox.eligibility_override_reason.startswith("Commande de RIS")
    assert AuditEntry.objects.filter(action="drimbox.eligibility_overridden").count() == 1


def test_a_documents_content_is_checked(world):
    order = make_order(world.operator, world.legal, signed=False)
    from django.core.files.uploadedfile import SimpleUploadedFile
    with pytest.raises(InvalidData, match="Le bon de commande signé doit être un fichier PDF"):
        services.attach_order_document(order, acting_user=world.legal, kind=services.DocumentKind.SIGNED_ORDER,
                                       uploaded_file=SimpleUploadedFile("bon.pdf", b"MZ not a pdf"))
    with pytest.raises(InvalidData, match="Indiquez d'abord la structure reprise"):
        services.attach_order_document(order, acting_user=world.legal, kind=services.DocumentKind.TAKEOVER_PROOF,
                                       uploaded_file=signed_order_upload(), client=order.clients.get())
    order.refresh_from_db()
    assert order.signed_sha256 == ""


# --- Pages ----------------------------------------------------------------------------------------


def test_an_order_is_recorded_completed_and_shown_in_the_pages(client, world):
    client.force_login(world.legal)
    response = client.post(reverse("financing_orders"), {
        "reference": "BC-PAGE-1", "pacs_identifiers": "PACS-PAGE-1\nPACS-PAGE-2", "client_siren": siren(44000001),
        "client_name": "Imagerie du Lac", "activity_2023": "oui", "finess_geographiques": finess(9401),
        "am_numbers": f"{am_number(9401)}, {am_number(9402)}", "ris_wave": "vague_1_2", "ris_order_reference": "R-1",
        "signed_order": signed_order_upload()})
    order = FinancingOrder.objects.get(reference="BC-PAGE-1")
    assert response.status_code == 302 and response.url == reverse("financing_order", args=[order.pk])
    assert order.pacs_list == ["PACS-PAGE-1", "PACS-PAGE-2"] and len(order.am_list) == 2 and order.signed_sha256
    page = client.get(reverse("financing_order", args=[order.pk])).content.decode()
    assert "Bon complet" in page and "Imagerie du Lac (SIREN" in page and "RIS Vague 1 + 2 (R-1)" in page
    # A second client whose AM is already in this order: the conflict is named, nothing is written.
    response = client.post(reverse("financing_order_client_add", args=[order.pk]), {
        "client-client_siren": siren(44000002), "client-client_name": "Clinique", "client-activity_2023": "oui",
        "client-finess_geographiques": finess(9403), "client-am_numbers": am_number(9401)})
    assert response.status_code == 200
    assert (f"Le numéro AM {am_number(9401)} figure déjà dans le bon de commande BC-PAGE-1."
            in response.content.decode())
    assert order.clients.count() == 1
    # The other operator does not see it; ANS finds it by an AM number.
    client.force_login(world.other)
    assert client.get(reverse("financing_order", args=[order.pk])).status_code == 404
    client.force_login(world.ans)
    found = client.get(reverse("ans_financing_orders"), {"q": am_number(9402)}).content.decode()
    assert "BC-PAGE-1" in found and world.operator.name in found


def test_the_declaration_shows_its_funding_before_it_is_submitted(client, world):
    order = make_order(world.operator, world.legal, ris_wave="", ris_order_reference="")
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind="declaration",
                                  data=declaration_data(order=order))
    client.force_login(world.legal)
    page = client.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "Éligibilité au financement" in page and "n&#x27;a pas de commande de RIS Vague 2" in page
    assert "corrigez la demande ou le bon de commande avant de la soumettre" in page
    services.update_order_client(order.clients.get(), acting_user=world.legal, client=client_fields(
        1, siren_value=order.clients.get().siren, sites=order.finess_list, ams=order.am_list))
    page = client.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "La DRIMbox est financée par le bon de commande" in page


# --- API and races ---------------------------------------------------------------------------------


def test_the_api_adds_clients_pacs_and_documents_and_names_conflicts(world):
    order = make_order(world.operator, world.legal)
    legal = api(world.legal)
    base = f"{API}/financing-orders/{order.pk}/"
    response = legal.post(base + "clients/", client_fields(9501), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["clients"]) == 2 and body["problems"] == [
        f"La page de signature du client {c['name']} (SIREN {c['siren']}) n'est pas jointe au bon de commande partagé."
        for c in body["clients"]]
    error = error_of(legal.post(base + "pacs/", {"pacs_identifiers": order.pacs_list}, format="json"), 400)
    assert error["fields"]["pacs_identifiers"] == [
        f"Le PACS « {order.pacs_list[0]} » fait déjà l'objet du bon de commande {order.reference}."]
    second = body["clients"][1]
    response = legal.put(base + f"clients/{second['id']}/", {**client_fields(9501, siren_value=second["siren"]),
                                                             "am_numbers": [am_number(9502)]}, format="json")
    assert response.status_code == 200 and response.json()["clients"][1]["am_numbers"] == [am_number(9502)]
    assert error_of(api(world.other).get(base), 404)
    assert error_of(legal.post(base + "close/", {"reason": "x"}, format="json"), 403)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_orders_naming_the_same_am_at_once_give_one_201_and_one_409(world, monkeypatch):
    """Both requests pass the early check before either writes: the database decides, the loser is told who won."""
    barrier = threading.Barrier(2)
    real_conflicts = financing.conflicts
    calls = []

    def conflicts_then_wait(**kwargs):
        found = real_conflicts(**kwargs)
        if len(calls) < 2:  # the two early checks meet here; the re-check after the loss does not wait
            calls.append(1)
            barrier.wait(timeout=10)
        return found

    monkeypatch.setattr(financing, "conflicts", conflicts_then_wait)
    shared_am = am_number(9601)
    responses = {}

    def post(index):
        try:
            responses[index] = api(world.legal).post(f"{API}/operators/{world.operator.pk}/financing-orders/", {
                "reference": f"BC-COURSE-{index}", "pacs_identifiers": [f"PACS-COURSE-{index}"],
                **client_fields(9610 + index, ams=[shared_am])}, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(index,)) for index in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(response.status_code for response in responses.values())
    assert codes == [201, 409], [r.content for r in responses.values()]
    winner = FinancingOrder.objects.get()
    loser = next(response for response in responses.values() if response.status_code == 409)
    error = loser.json()["error"]
    assert error["code"] == "order_conflict"
    assert error["fields"]["am_numbers"] == [
        f"Le numéro AM {shared_am} figure déjà dans le bon de commande {winner.reference}."]
    assert FinancingOrderClient.objects.count() == 1 and FinancingOrderPhysician.objects.count() == 1


def test_a_take_over_through_the_pages_and_the_api(client, world):
    client.force_login(world.legal)
    response = client.post(reverse("financing_orders"), {
        "reference": "BC-REPRISE", "pacs_identifiers": "PACS-REPRISE", "client_siren": siren(44000011),
        "client_name": "Imagerie Nouvelle", "activity_2023": "non", "finess_geographiques": finess(9701),
        "am_numbers": am_number(9701), "ris_wave": "vague_2", "ris_order_reference": "RIS-N",
        "takeover_siren": siren(44000012), "takeover_name": "Cabinet Ancien",
        "takeover_finess_geographiques": finess(9702), "takeover_am_numbers": am_number(9702),
        "signed_order": signed_order_upload()})
    order = FinancingOrder.objects.get(reference="BC-REPRISE")
    assert response.status_code == 302
    taker = order.clients.get()
    assert order_problems(order) == [
        f"La preuve de la reprise de la structure SIREN {siren(44000012)} par le client {taker.label} n'est pas "
        "jointe."]
    response = client.post(reverse("financing_order_document", args=[order.pk]), {
        "document-kind": "preuve_reprise", "document-client": str(taker.pk),
        "document-file": signed_order_upload("Acte de reprise")})
    assert response.status_code == 302
    page = client.get(reverse("financing_order", args=[order.pk])).content.decode()
    assert "Reprise de Cabinet Ancien" in page and "Bon complet" in page and f"{finess(9702)} (repris)" in page
    # Through the API: a second client taking over another structure, then its proof.
    legal = api(world.legal)
    body = legal.post(f"{API}/financing-orders/{order.pk}/clients/", client_fields(
        9703, activity_2023=False, takeover_siren=siren(44000013), takeover_name="Centre fermé",
        takeover_finess_geographiques=[finess(9704)], takeover_am_numbers=[am_number(9704)]), format="json").json()
    added = body["clients"][1]
    assert added["takeover_finess_geographiques"] == [finess(9704)] and added["takeover_proof_attached"] is False
    for kind in ("preuve_reprise", "page_signature"):
        for client_id in (added["id"], taker.pk):
            if kind == "preuve_reprise" and client_id == taker.pk:
                continue
            response = legal.post(f"{API}/financing-orders/{order.pk}/documents/", {
                "kind": kind, "client": client_id, "file": signed_order_upload()}, format="multipart")
            assert response.status_code == 201, response.content
    assert response.json()["problems"] == []

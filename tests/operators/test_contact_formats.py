"""Postal codes, phones and e-mail addresses: French formats (international phones in E.164), checked the same way
in every form and in the API (a structured 400), stored in their normal form, nothing written when refused."""
import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from operators import services
from operators.models import DrimboxRequest, Operator, RequestKind
from operators.validators import clean_phone, clean_postal_code, validate_contact, validate_email
from tests.conftest import application_data, pdf_upload
from tests.support.api import API, api, error_of
from tests.support.lifecycle import declaration_data
from trustspace.errors import InvalidData
from trustspace.models import AuditEntry


def page_text(response):
    return html.unescape(response.content.decode())


# --- the rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [
    ("75001", "75001"), (" 75 001 ", "75001"), ("20000", "20000"), ("01000", "01000"), ("95880", "95880"),
    ("97100", "97100"), ("97600", "97600"), ("97133", "97133"), ("98714", "98714"), ("98800", "98800"), ("", ""),
])
def test_french_postal_codes_are_accepted_in_their_normal_form(typed, stored):
    assert clean_postal_code(typed) == stored


@pytest.mark.parametrize("typed", ["ABCDE", "7500", "750011", "00100", "96000", "97900", "98000", "2A000",
                                   "<script>x</script>", "75OO1"])
def test_other_postal_codes_are_refused_in_french(typed):
    with pytest.raises(ValidationError) as excinfo:
        clean_postal_code(typed)
    assert excinfo.value.messages == [f"Le code postal « {typed} » n'est pas valide : 5 chiffres, par exemple 75001 "
                                      "(97100 pour la Guadeloupe)."]


@pytest.mark.parametrize(("typed", "stored"), [
    ("01 23 45 67 89", "01 23 45 67 89"), ("0123456789", "01 23 45 67 89"), ("01.23.45.67.89", "01 23 45 67 89"),
    ("06-12-34-56-78", "06 12 34 56 78"), ("+33 1 23 45 67 89", "01 23 45 67 89"),
    ("+33 (0)1 23 45 67 89", "01 23 45 67 89"), ("0033 6 12 34 56 78", "06 12 34 56 78"),
    ("0262 12 34 56", "02 62 12 34 56"),
    # Abroad (and the Pacific collectivities, outside the national plan): E.164.
    ("+32 2 123 45 67", "+3221234567"), ("0032 2 123 45 67", "+3221234567"), ("+1 (212) 555-1234", "+12125551234"),
    ("+687 28 12 34", "+687281234"), ("", ""),
])
def test_phones_are_accepted_french_or_e164(typed, stored):
    assert clean_phone(typed) == stored


@pytest.mark.parametrize("typed", ["<script>x</script>", "12345", "01 23 45 67 8", "01 23 45 67 89 0",
                                   "00 00 00 00 00", "+33 01 23 45 67 89", "+33 1 23", "+0123456789",
                                   "+12345678901234567", "01 23 45 67 8A", "tel:0123456789", "١٢٣٤٥٦٧٨٩٠"])
def test_other_phones_are_refused_in_french(typed):
    with pytest.raises(ValidationError) as excinfo:
        clean_phone(typed)
    assert excinfo.value.messages[0].startswith(f"Le numéro de téléphone « {typed} » n'est pas valide : 10 chiffres")


@pytest.mark.parametrize("value", ["support@exemple.fr, 01 23 45 67 89", "01 23 45 67 89", "support@exemple.fr",
                                   "Jung Xavier 06 85 70 92 36 xjung@exemple.fr", "Hotline : +32 2 123 45 67"])
def test_a_contact_gives_a_valid_way_to_reach_someone(value):
    validate_contact(value)


@pytest.mark.parametrize(("value", "message"), [
    ("<script>x</script>", "Indiquez au moins un courriel ou un numéro de téléphone"),
    ("Le service support", "Indiquez au moins un courriel ou un numéro de téléphone"),
    ("support@, 01 23 45 67 89", "L'adresse de courriel « support@ » n'est pas valide."),
    ("support@exemple..fr", "L'adresse de courriel « support@exemple..fr » n'est pas valide."),
])
def test_a_contact_without_a_valid_address_or_number_is_refused(value, message):
    with pytest.raises(ValidationError) as excinfo:
        validate_contact(value)
    assert excinfo.value.messages[0].startswith(message)


def test_email_addresses_are_checked_with_a_french_message():
    validate_email("contact@exemple.fr")
    with pytest.raises(ValidationError) as excinfo:
        validate_email("<script>x</script>@exemple.fr")
    assert excinfo.value.messages == ["L'adresse de courriel « <script>x</script>@exemple.fr » n'est pas valide."]


# --- the operator's data: page, API, model -------------------------------------------------------------------


def operator_form(world, **changes):
    operator = world.operator
    return {"name": operator.name, "siret": operator.siret, "address_line": operator.address_line,
            "postal_code": operator.postal_code, "city": operator.city, "contact_email": operator.contact_email,
            "contact_phone": operator.contact_phone, **changes}


def test_the_operator_page_reports_every_bad_format_on_its_field_and_saves_nothing(world, client):
    client.force_login(world.legal)
    before = (AuditEntry.objects.count(), Operator.objects.values().get(pk=world.operator.pk))
    response = client.post(reverse("operator_update"), operator_form(
        world, postal_code="ABCDE", contact_phone="<script>x</script>", contact_email="pas-un-courriel"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"postal_code", "contact_phone", "contact_email"}  # all at once
    assert errors["postal_code"][0].startswith("Le code postal « ABCDE » n'est pas valide")
    assert errors["contact_phone"][0].startswith("Le numéro de téléphone « <script>x</script> » n'est pas valide")
    assert "Le formulaire contient 3 erreurs" in page_text(response)
    assert (AuditEntry.objects.count(), Operator.objects.values().get(pk=world.operator.pk)) == before


def test_the_operator_page_stores_the_normal_forms(world, client):
    client.force_login(world.legal)
    response = client.post(reverse("operator_update"), operator_form(
        world, postal_code="21 000", contact_phone="+33 3 80 12 34 56"))
    assert response.status_code == 302
    world.operator.refresh_from_db()
    assert (world.operator.postal_code, world.operator.contact_phone) == ("21000", "03 80 12 34 56")


def test_the_api_refuses_the_same_formats_with_a_structured_400(world):
    before = Operator.objects.values().get(pk=world.operator.pk)
    response = api(world.legal).patch(f"{API}/operators/{world.operator.pk}/", {
        "postal_code": "ABCDE", "contact_phone": "<script>x</script>", "city": "Dijon"}, format="json")
    error = error_of(response, 400)
    assert set(error["fields"]) == {"postal_code", "contact_phone"}
    assert error["fields"]["postal_code"][0].startswith("Le code postal « ABCDE » n'est pas valide")
    assert Operator.objects.values().get(pk=world.operator.pk) == before

    response = api(world.legal).patch(f"{API}/operators/{world.operator.pk}/",
                                      {"contact_phone": "0032 2 123 45 67", "postal_code": "21 000"}, format="json")
    assert response.status_code == 200, response.content[:400]
    assert (response.json()["contact_phone"], response.json()["postal_code"]) == ("+3221234567", "21000")


def test_the_service_and_the_model_refuse_them_whatever_the_caller(world):
    with pytest.raises(InvalidData) as excinfo:
        services.update_operator(world.operator, acting_user=world.legal, data={"postal_code": "ABCDE"})
    assert set(excinfo.value.field_errors) == {"postal_code"}
    world.operator.postal_code, world.operator.contact_phone = "ABCDE", "<script>x</script>"
    with pytest.raises(ValidationError) as excinfo:
        world.operator.full_clean()  # the admin site and any other path that validates the model
    assert {"postal_code", "contact_phone"} <= set(excinfo.value.message_dict)


# --- the application ----------------------------------------------------------------------------------------


def test_an_application_with_bad_formats_is_refused_on_its_fields_page_and_api(world, client, make_user):
    applicant = make_user("formats")
    client.force_login(applicant)
    before = DrimboxRequest.objects.count()
    data = application_data(66666666, "Formats SAS", postal_code="ABCDE", contact_phone="<script>x</script>")
    response = client.post(reverse("operator_register"), {
        **data, "contract_document": pdf_upload("contrat.pdf"), "contract_accepted": "on"})
    assert response.status_code == 200
    assert {"postal_code", "contact_phone"} <= set(response.context["form"].errors)

    error = error_of(api(applicant).post(f"{API}/applications/", {
        **data, "contract_document": pdf_upload("contrat.pdf"), "contract_accepted": "true"}, format="multipart"), 400)
    assert {"postal_code", "contact_phone"} <= set(error["fields"])
    assert error["fields"]["contact_phone"][0].startswith("Le numéro de téléphone « <script>x</script> »")
    assert DrimboxRequest.objects.count() == before


def test_an_application_stores_the_normal_forms(world, make_user):
    req = services.apply_for_operator(
        acting_user=make_user("normal"), data=application_data(77777777, "Normal SAS", postal_code="35 000",
                                                               contact_phone="+33 2 99 12 34 56"),
        contract_document=pdf_upload("contrat.pdf"), contract_accepted=True)
    assert (req.data["postal_code"], req.data["contact_phone"]) == ("35000", "02 99 12 34 56")


# --- contacts published in the whitelist ---------------------------------------------------------------------


def test_a_declaration_with_an_unreachable_contact_is_refused_on_its_field(world, client):
    client.force_login(world.legal)
    data = declaration_data(order=None)
    response = client.post(reverse("request_create", args=["declaration"]), {
        **data, "support_contact": "<script>x</script>", "responsable_contact": "resp@, 01 23 45 67 89"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["support_contact"][0].startswith("Indiquez au moins un courriel ou un numéro de téléphone")
    assert errors["responsable_contact"] == ["L'adresse de courriel « resp@ » n'est pas valide."]
    assert not DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION, operator=world.operator).exists()

    error = error_of(api(world.legal).post(f"{API}/operators/{world.operator.pk}/requests/", {
        "kind": "declaration", "data": {**data, "support_contact": "<script>x</script>"}}, format="json"), 400)
    assert set(error["fields"]) == {"support_contact"}


def test_the_support_contact_is_checked_on_the_page_and_in_the_api(world, client):
    client.force_login(world.technical)
    response = client.post(reverse("support_contact_update"), {"support_contact": "<script>x</script>"})
    assert response.status_code == 200
    assert response.context["form"].errors["support_contact"][0].startswith("Indiquez au moins un courriel")
    error = error_of(api(world.technical).put(f"{API}/operators/{world.operator.pk}/support-contact/",
                                              {"support_contact": "le support"}, format="json"), 400)
    assert error["fields"]["support_contact"][0].startswith("Indiquez au moins un courriel")
    world.operator.refresh_from_db()
    assert world.operator.support_contact not in {"<script>x</script>", "le support"}

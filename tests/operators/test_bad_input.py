"""Bad input: a clear French message (UI) or a structured 4xx (API), never a 500, nothing half-written."""
import html
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from operators import services
from operators.models import (
    ContractAcceptance,
    DrimboxRequest,
    Invitation,
    InvitationStatus,
    Membership,
    Operator,
    RequestKind,
    Role,
)
from tests.conftest import CARD, make_siren, pdf_upload
from trustspace.errors import Conflict, ContractNotAccepted, InvalidData
from trustspace.models import AuditEntry


def text(response):
    return html.unescape(response.content.decode())


def registration_data(**overrides):
    siren = make_siren(11111111)
    from demo.documents import with_luhn

    data = {"name": "Nouvel opérateur", "siren": siren, "siret": with_luhn(siren + "0001"),
            "id_nat_struct": "2" + siren, "address_line": "2 rue Haute", "postal_code": "75001", "city": "Paris",
            "contact_email": "contact@nouvel.fr", "contact_phone": "", "representative_name": "Nina Nouvel",
            "representative_function": "Gérante", "legal_rep_card": CARD}
    data.update(overrides)
    return data


def form_data(**overrides):
    """The registration form as posted: the application's fields, the signed contract and its acceptance."""
    return {**registration_data(**overrides), "contract_document": pdf_upload("contrat.pdf"),
            "contract_accepted": "on"}


def counts():
    return (Operator.objects.count(), Membership.objects.count(), Invitation.objects.count(),
            ContractAcceptance.objects.count(), AuditEntry.objects.count(), DrimboxRequest.objects.count())


@pytest.mark.parametrize(("field", "value", "message"), [
    ("siren", "123456789", "SIREN « 123456789 » n'est pas valide"),
    ("siren", "12345", "SIREN"),
    ("siret", "12345678900011", "SIRET « 12345678900011 » n'est pas valide"),
    ("id_nat_struct", "9123", "idNat_Struct doit commencer"),
    ("id_nat_struct", "2123456789", "n'en est pas un valide"),
])
def test_invalid_identifiers_are_refused_in_french_in_the_ui(world, client, field, value, message):
    client.force_login(world.other)
    before = counts()
    response = client.post("/espace/operateur/enregistrer/", form_data(**{field: value}))
    assert response.status_code == 200
    body = text(response)
    assert message in body
    assert "data-error-summary" in body
    assert counts() == before


def test_siret_of_another_siren_is_refused(world):
    data = registration_data(siren=make_siren(22222222))  # the SIRET still belongs to another SIREN
    before = counts()
    with pytest.raises(InvalidData) as excinfo:
        services.apply_for_operator(acting_user=world.other, data=data, contract_accepted=True,
                                    contract_document=pdf_upload("contrat.pdf"))
    assert "doit commencer par le SIREN" in excinfo.value.message
    assert counts() == before


def test_a_registered_siren_never_gets_a_second_operator(world, client):
    client.force_login(world.other)
    operators = Operator.objects.count()
    response = client.post("/espace/operateur/enregistrer/", form_data(siren=world.operator.siren,
                                                                       id_nat_struct=world.operator.id_nat_struct,
                                                                       siret=world.operator.siret), follow=True)
    assert "aucun second opérateur n'est créé" in text(response)
    assert Operator.objects.count() == operators
    assert DrimboxRequest.objects.get(created_by=world.other, kind=RequestKind.ATTACHMENT).operator == world.operator


def test_invalid_siret_in_api_update_is_a_structured_400(world, client):
    client.force_login(world.legal)
    before = counts()
    response = client.patch(f"/api/v1/operators/{world.operator.pk}/", {"siret": "12345678900011"},
                            content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "SIRET" in error["fields"]["siret"][0]
    world.operator.refresh_from_db()
    assert world.operator.siret != "12345678900011"
    assert counts() == before


def test_expired_invitation_link_is_refused(world, client):
    Invitation.objects.filter(pk=world.pending_invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    newcomer = type(world.legal).objects.create(username="newcomer", oidc_sub="sub-newcomer")
    client.force_login(newcomer)
    response = client.post(f"/invitation/{world.pending_token}/")
    assert response.status_code == 409
    assert "a expiré" in text(response)
    assert not Membership.objects.filter(user=newcomer).exists()
    api = client.post("/api/v1/invitations/accept/", {"token": world.pending_token}, content_type="application/json")
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "invitation_expired"


def test_reused_invitation_link_is_refused(world, client, make_user):
    first, second = make_user("first"), make_user("second")
    services.accept_invitation(world.pending_token, acting_user=first, card_reference="8001234567")
    client.force_login(second)
    response = client.post(f"/invitation/{world.pending_token}/")
    assert response.status_code == 409
    assert "déjà été utilisé" in text(response)
    assert not Membership.objects.filter(user=second).exists()
    assert client.get(f"/invitation/{world.pending_token}/").status_code == 200  # the page explains, no 500


def test_unknown_invitation_link_is_a_404_with_a_message(world, client):
    client.force_login(world.other)
    response = client.get("/invitation/not-a-real-token/")
    assert response.status_code == 404
    assert "n'est pas valide" in text(response)


def test_submitting_before_accepting_the_current_contract_is_refused(world, client):
    services.publish_contract_version(acting_user=world.ans, version="2026-02", title="V2", body="Nouvelle version.")
    client.force_login(world.legal)
    before = counts()
    response = client.post("/espace/personnes/designer/", {"email": "ta2@a.fr", "role": Role.TECHNICAL_ADMIN})
    assert response.status_code == 200
    assert "accepter la version 2026-02 du contrat" in text(response)
    api = client.post(f"/api/v1/operators/{world.operator.pk}/invitations/",
                      {"email": "ta2@a.fr", "role": Role.TECHNICAL_ADMIN}, content_type="application/json")
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "contract_not_accepted"
    api = client.patch(f"/api/v1/operators/{world.operator.pk}/", {"city": "Lille"}, content_type="application/json")
    assert api.status_code == 409
    assert counts() == before
    with pytest.raises(ContractNotAccepted):
        services.update_support_contact(world.operator, acting_user=world.technical, support_contact="s@a.fr")


def test_only_the_current_contract_version_can_be_accepted(world):
    old = world.contract
    services.publish_contract_version(acting_user=world.ans, version="2026-02", title="V2", body="Nouvelle version.")
    with pytest.raises(Conflict):
        services.accept_contract(world.operator, acting_user=world.legal, contract_version=old)


@pytest.mark.parametrize(("upload", "message"), [
    (SimpleUploadedFile("mandat.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"), "doit être un fichier PDF"),
    (SimpleUploadedFile("mandat.exe", b"%PDF-1.4 but no end marker", "application/pdf"), "doit être un fichier PDF"),
    (None, "est obligatoire"),
])
def test_invalid_mandate_upload_is_refused(world, client, upload, message):
    client.force_login(world.legal)
    before = counts()
    data = {"email": "m2@a.fr", "role": Role.MANDATAIRE}
    if upload is not None:
        data["mandate_document"] = upload
    response = client.post("/espace/personnes/designer/", data)
    assert response.status_code == 200
    assert message in text(response)
    assert counts() == before


def test_oversized_mandate_is_refused_ui_and_api(world, client, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    client.force_login(world.legal)
    before = counts()
    big = pdf_upload(content=b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n")
    response = client.post("/espace/personnes/designer/", {"email": "m2@a.fr", "role": Role.MANDATAIRE,
                                                           "mandate_document": big})
    assert "dépasse la taille maximale" in text(response)
    big.seek(0)
    api = client.post(f"/api/v1/operators/{world.operator.pk}/invitations/",
                      {"email": "m2@a.fr", "role": Role.MANDATAIRE, "mandate_document": big})
    assert api.status_code == 400
    assert api.json()["error"]["code"] == "file_too_large"
    assert counts() == before


def test_request_body_over_the_global_limit_is_a_clean_400(world, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(world.legal)
    response = client.patch(f"/api/v1/operators/{world.operator.pk}/", {"city": "x" * 5000},
                            content_type="application/json")
    assert response.status_code in {400, 413}
    assert "error" in response.json()


def test_removing_the_last_legal_representative_is_refused(world, client):
    client.force_login(world.legal)
    before = counts()
    response = client.post(f"/espace/personnes/{world.legal_membership.pk}/retirer/", follow=True)
    assert "Impossible de retirer le dernier représentant légal" in text(response)
    api = client.delete(f"/api/v1/operators/{world.operator.pk}/people/{world.legal_membership.pk}/")
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "last_legal_representative"
    assert Membership.objects.get(pk=world.legal_membership.pk).ended_at is None
    assert counts() == before


def test_api_validation_errors_are_structured(world, client):
    client.force_login(world.legal)
    response = client.post(f"/api/v1/operators/{world.operator.pk}/invitations/", {"email": "pas-un-courriel",
                                                                                   "role": "roi"},
                           content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error["fields"]) == {"email", "role"}
    malformed = client.generic("POST", f"/api/v1/operators/{world.operator.pk}/invitations/", b"{not json",
                               content_type="application/json")
    assert malformed.status_code == 400
    assert "error" in malformed.json()


def test_duplicate_pending_invitation_is_refused(world):
    with pytest.raises(Conflict):
        services.invite_person(world.operator, acting_user=world.legal, email="pending@example.fr",
                               role=Role.TECHNICAL_ADMIN)
    assert Invitation.objects.filter(email="pending@example.fr", status=InvitationStatus.PENDING).count() == 1

"""DRIMboxes without a viewer (issue 14, item 3): declared as such, no `vi` name, record nor certificate."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from certificates import services as certificate_services
from operators import services
from operators.models import DnsChange, Drimbox, DrimboxRequest, RequestKind
from operators.registry import desired_records, registry_zone
from tests.support import pki
from tests.support.api import API, api, error_of
from tests.support.lifecycle import (
    approve,
    cgi_upload,
    declaration_data,
    declared_drimbox,
    make_order,
    submitted_declaration,
)
from tests.support.weather import make_drimboxes
from trustspace.errors import Conflict, InvalidData

pytestmark = pytest.mark.django_db

NO_VI_ADDRESS = "Une DRIMbox sans visionneuse n'a pas de nom vi : laissez l'adresse vi vide."


def viewerless_data(operator, user, **overrides):
    data = declaration_data(order=make_order(operator, user), vi="")
    return {**data, "has_viewer": "non", **overrides}


# --- the database keeps « vi name ⇔ viewer » ------------------------------------------------------------------


def test_a_vi_name_exactly_when_there_is_a_viewer(world):
    [box] = make_drimboxes(world.operator, 1)
    for has_viewer, vi_fqdn in ((False, box.vi_fqdn), (True, None)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Drimbox.objects.filter(pk=box.pk).update(has_viewer=has_viewer, vi_fqdn=vi_fqdn)
    # Several DRIMboxes without viewer: NULL names do not collide.
    Drimbox.objects.filter(pk=box.pk).update(has_viewer=False, vi_fqdn=None)
    [other] = make_drimboxes(world.operator, 1)
    Drimbox.objects.filter(pk=other.pk).update(has_viewer=False, vi_fqdn=None)
    assert Drimbox.objects.filter(has_viewer=False, vi_fqdn__isnull=True).count() == 2


# --- declaration: validation messages in French ---------------------------------------------------------------


def test_vi_addresses_are_refused_without_viewer(world):
    data = viewerless_data(world.operator, world.legal, vi_addresses="192.0.2.11")
    with pytest.raises(InvalidData) as caught:
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                data=data)
    assert caught.value.field_errors == {"vi_addresses": [NO_VI_ADDRESS]}


def test_the_viewer_answer_is_yes_or_no(world):
    data = viewerless_data(world.operator, world.legal, has_viewer="peut-être")
    with pytest.raises(InvalidData) as caught:
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                data=data)
    assert caught.value.field_errors == {
        "has_viewer": ["Indiquez « oui » ou « non » : la DRIMbox a-t-elle une visionneuse (nom vi) ?"]}


def test_a_declaration_without_the_answer_has_a_viewer(world):
    data = declaration_data(order=make_order(world.operator, world.legal))
    req = submitted_declaration(world.operator, world.legal, data=data)
    assert req.data["has_viewer"] == "oui"
    drimbox = approve(req, world.ans).drimbox
    assert drimbox.has_viewer and drimbox.vi_fqdn.startswith(f"vi{drimbox.identifiant}.")


def test_declaration_form_in_french(client, world):
    client.force_login(world.legal)
    url = reverse("request_create", args=["declaration"])
    page = client.get(url).content.decode()
    assert "La DRIMbox a une visionneuse (nom vi)" in page and "DRIMbox sans visionneuse" in page
    data = viewerless_data(world.operator, world.legal, vi_addresses="192.0.2.11")
    response = client.post(url, {**data, "cgi": cgi_upload()})
    assert response.status_code == 200
    assert NO_VI_ADDRESS.replace("'", "&#x27;") in response.content.decode()
    assert not DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).exists()

    response = client.post(url, {**data, "vi_addresses": "", "cgi": cgi_upload()})
    assert response.status_code == 302
    req = DrimboxRequest.objects.get(kind=RequestKind.DECLARATION)
    assert req.data["has_viewer"] == "non"
    services.submit_request(req, acting_user=world.legal)
    client.force_login(world.ans)
    assert "Sans visionneuse" in client.get(reverse("request_detail", args=[req.pk])).content.decode()


def test_declaration_by_api(world):
    legal, ans = api(world.legal), api(world.ans)
    data = viewerless_data(world.operator, world.legal, vi_addresses="192.0.2.11")
    error = error_of(legal.post(f"{API}/operators/{world.operator.pk}/requests/",
                                {"kind": "declaration", "data": data}, format="json"), 400)
    assert error["fields"] == {"vi_addresses": [NO_VI_ADDRESS]}
    response = legal.post(f"{API}/operators/{world.operator.pk}/requests/",
                          {"kind": "declaration", "data": {**data, "vi_addresses": ""}}, format="json")
    assert response.status_code == 201, response.content
    req = DrimboxRequest.objects.get(pk=response.json()["id"])
    services.add_attachment(req, acting_user=world.legal, kind="cgi", uploaded_file=cgi_upload())
    services.submit_request(req, acting_user=world.legal)
    services.assign_request(req, acting_user=world.ans)
    approved = ans.post(f"{API}/requests/{req.pk}/approve/", {}, format="json").json()
    assert approved["drimbox"]["has_viewer"] is False and approved["drimbox"]["vi_fqdn"] is None
    body = legal.get(f"{API}/drimboxes/{Drimbox.objects.get().identifiant}/").json()
    assert body["has_viewer"] is False and body["vi_fqdn"] is None and body["vi_records"] == []
    assert ans.get(f"{API}/attestations/{approved['attestation']['code']}/").json()["vi_fqdn"] == ""


# --- approval: only the db name is reserved, in the registry and the zone -------------------------------------


def test_approval_reserves_only_the_db_name(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans,
                               data=viewerless_data(world.operator, world.legal))
    assert not drimbox.has_viewer and drimbox.vi_fqdn is None and drimbox.vi_records == []
    assert list(DnsChange.objects.filter(drimbox=drimbox).values_list("name", flat=True)) == [drimbox.db_fqdn]
    assert list(desired_records(drimbox)) == [drimbox.db_fqdn]
    assert not any(name.startswith("vi") for name in registry_zone())
    assert drimbox.attestations.get().vi_fqdn == ""


def test_update_and_switch_keep_the_viewer_out(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans,
                               data=viewerless_data(world.operator, world.legal))
    with pytest.raises(InvalidData) as caught:
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.UPDATE,
                                drimbox=drimbox, data={"vi_addresses": "192.0.2.12"})
    assert caught.value.field_errors == {"vi_addresses": [NO_VI_ADDRESS]}
    data = declaration_data(order=make_order(world.other_operator, world.other), vi="192.0.2.12")
    with pytest.raises(InvalidData):
        services.create_request(acting_user=world.other, operator=world.other_operator, kind=RequestKind.SWITCH,
                                drimbox=drimbox, data=data)
    req = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox,
                                data={**data, "vi_addresses": ""})
    approve(req, world.ans)
    drimbox.refresh_from_db()
    assert drimbox.operator == world.other_operator and not drimbox.has_viewer and drimbox.vi_fqdn is None


# --- certificates: nothing vi -----------------------------------------------------------------------------------


def test_no_vi_certificate_nor_acme_dns_and_integration_skips_vi(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans,
                               data=viewerless_data(world.operator, world.legal))
    csr, _key = pki.build_csr(f"vi{drimbox.identifiant}.test.mesimagesmedicales.fr")
    with pytest.raises(Conflict) as caught:
        certificate_services.request_vi_certificate(
            drimbox, acting_user=world.technical, uploaded_csr=SimpleUploadedFile("vi.csr", pki.csr_pem(csr)))
    assert caught.value.code == "no_viewer" and "n'a pas de visionneuse" in caught.value.message
    with pytest.raises(Conflict):
        certificate_services.register_acme_dns(drimbox, acting_user=world.technical)
    from operators import integration

    assert [item.label for item in integration.checklist(drimbox)] == ["Certificat db (IGC-Santé)"]

"""Bad input in the DRIMbox journey's pages: a French message, never a 500, nothing half-written."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from operators import services
from operators.addresses import parse_addresses
from operators.models import (
    Drimbox,
    DrimboxRequest,
    FinancingOrder,
    RequestAttachment,
    RequestKind,
    RequestStatus,
)
from tests.conftest import pdf_upload
from tests.support.lifecycle import (
    approve,
    cgi_upload,
    declaration_data,
    declared_drimbox,
    finess,
    make_order,
    submitted_declaration,
)
from trustspace.errors import InvalidData
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db


def _post_declaration(client, data, cgi=None):
    payload = {key: value for key, value in data.items()}
    if cgi is not None:
        payload["cgi"] = cgi
    return client.post(reverse("request_create", args=["declaration"]), payload)


@pytest.fixture
def legal_client(client, world):
    client.force_login(world.legal)
    return client


def test_invalid_finess_and_siren_are_explained(legal_client, world):
    data = declaration_data()
    data.update(structure_finess_geographique="123456789", structure_siren="123456789")
    response = _post_declaration(legal_client, data, cgi_upload())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Le numéro FINESS « 123456789 » n&#x27;est pas valide." in body
    assert "Le SIREN « 123456789 » n&#x27;est pas valide" in body
    assert not DrimboxRequest.objects.filter(kind="declaration").exists()
    assert not RequestAttachment.objects.filter(request__kind="declaration").exists()


@pytest.mark.parametrize(("address", "message"), [
    ("10.0.0.5", "n&#x27;est pas publique"),
    ("192.168.1.20, 2001:db8::1", "n&#x27;est pas publique"),
    ("127.0.0.1", "n&#x27;est pas publique"),
    ("300.1.2.3", "ni une adresse IP ni un nom d&#x27;hôte valide"),
    ("8.8.8.8 hote.example.fr", "pas un mélange"),
    ("db1.test.mesimagesmedicales.fr", "ne peut pas désigner un nom de la zone"),
])
def test_private_or_malformed_addresses_are_refused_in_production(legal_client, world, settings, address, message):
    settings.DNS_REQUIRE_PUBLIC_ADDRESSES = True
    data = declaration_data(db=address)
    response = _post_declaration(legal_client, data, cgi_upload())
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not DrimboxRequest.objects.filter(kind="declaration").exists()


def test_public_addresses_pass_in_production(settings):
    settings.DNS_REQUIRE_PUBLIC_ADDRESSES = True
    assert parse_addresses("8.8.4.4, 2a00:1450:4007::1", label="adresse db") == [
        ("A", "8.8.4.4"), ("AAAA", "2a00:1450:4007::1")]
    with pytest.raises(InvalidData, match="n'est pas publique"):
        parse_addresses("192.0.2.1", label="adresse db")  # documentation range: not routable


def test_non_pdf_or_oversized_cgi_leaves_no_draft(legal_client, world, settings):
    fake = SimpleUploadedFile("cgi.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    response = _post_declaration(legal_client, declaration_data(), fake)
    assert "doit être un fichier PDF" in response.content.decode()
    settings.MAX_UPLOAD_BYTES = 100
    response = _post_declaration(legal_client, declaration_data(), cgi_upload())
    assert "dépasse la taille maximale" in response.content.decode()
    assert not DrimboxRequest.objects.filter(kind="declaration").exists()
    assert not RequestAttachment.objects.filter(request__kind="declaration").exists()


def test_second_order_for_the_same_pacs_is_refused(legal_client, world):
    first = make_order(world.operator, world.legal, pacs="PACS-LYON-1")
    response = legal_client.post(reverse("financing_orders"), {
        "reference": "BC-AUTRE", "client_siren": "732829320", "client_name": "Centre", "activity_2023": "oui",
        "pacs_identifiers": "PACS-LYON-1", "finess_geographiques": finess(777),
    })
    assert response.status_code == 200
    assert (f"Le PACS « PACS-LYON-1 » fait déjà l&#x27;objet du bon de commande {first.reference}."
            in response.content.decode())
    assert FinancingOrder.objects.count() == 1


def test_editing_a_submitted_request_is_refused(legal_client, world):
    req = submitted_declaration(world.operator, world.legal)
    before = dict(req.data)
    response = legal_client.post(reverse("request_edit", args=[req.pk]), {**before, "pacs": "AUTRE"}, follow=True)
    assert "n&#x27;est plus modifiable" in response.content.decode()
    req.refresh_from_db()
    assert req.data == before and req.status == RequestStatus.SUBMITTED


def test_approving_twice_and_unfunded_without_override(client, world):
    client.force_login(world.ans)
    unfunded = services.assign_request(submitted_declaration(world.operator, world.legal, data=declaration_data()),
                                       acting_user=world.ans)
    response = client.post(reverse("request_approve", args=[unfunded.pk]), follow=True)
    assert "non financée" in response.content.decode()
    unfunded.refresh_from_db()
    assert unfunded.status == RequestStatus.IN_REVIEW and not Drimbox.objects.exists()

    funded = approve(submitted_declaration(world.operator, world.legal), world.ans)
    audit_rows = AuditEntry.objects.count()
    response = client.post(reverse("request_approve", args=[funded.pk]), follow=True)
    assert "ne peut pas être approuvée" in response.content.decode()
    assert Drimbox.objects.count() == 1 and AuditEntry.objects.count() == audit_rows


def test_garbage_in_urls_and_filters_is_not_a_500(client, world):
    client.force_login(world.legal)
    assert client.get(reverse("request_create", args=["nimporte-quoi"])).status_code == 404
    assert client.get(reverse("request_create", args=["integration"]), {"drimbox": "abc"}).status_code == 404
    assert client.get(reverse("request_create", args=["integration"]), {"drimbox": "²"}).status_code == 404
    response = client.post(reverse("request_create", args=["bascule"]), {"drimbox_ref": "99999999999999999999"})
    assert "Aucune DRIMbox" in response.content.decode()
    client.force_login(world.ans)
    for params in ({"age": "abc"}, {"kind": "x", "status": "y"}, {"page": "-1"}):
        assert client.get(reverse("ans_review_queue"), params).status_code == 200
    for params in ({"q": "²"}, {"q": "9" * 30}, {"status": "x"}, {"page": "zz"}):
        assert client.get(reverse("ans_registry"), params).status_code == 200


def test_attestation_check_page(client, world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    code = drimbox.attestations.get().code
    response = client.get(reverse("attestation_check"), {"code": code})
    assert response.status_code == 200 and drimbox.db_fqdn in response.content.decode()
    response = client.get(reverse("attestation_check"), {"code": "<script>alert(1)</script>"})
    assert response.status_code == 404 and "<script>alert(1)" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b"])
def test_nul_and_lone_surrogates_are_refused(world, client, value):
    with pytest.raises(InvalidData, match="caractères invalides"):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                data={"pacs": value})
    client.force_login(world.legal)
    response = client.post(f"/api/v1/operators/{world.operator.pk}/requests/",
                           {"kind": "declaration", "data": {"pacs": value}}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_attachments_per_request_are_limited(world, settings):
    settings.REQUEST_MAX_ATTACHMENTS = 2
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION)
    for _ in range(2):
        services.add_attachment(req, acting_user=world.legal, kind="autre", uploaded_file=pdf_upload())
    with pytest.raises(InvalidData, match="au plus 2 pièces"):
        services.add_attachment(req, acting_user=world.legal, kind="autre", uploaded_file=pdf_upload())

"""Market `vi` certificates (issue 14, item 2 A): a certificate from any public CA, uploaded by the technical
administrator, checked rule by rule in French against a test « public » root (``VI_MARKET_TRUST_BUNDLE``), its
revocation read from a CRL or an OCSP responder served on 127.0.0.1; stored with its DV/OV level; then treated
like every `vi` certificate (expiry notices, quarterly list, integration) but never renewed by ACME."""
import datetime as dt
import functools

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certificates import export, services
from certificates.integration import certificate_checks
from certificates.models import Certificate, CertificateSource, Revocation, ViOrder
from certificates.services import CertificateRejected
from operators.models import Drimbox
from tests.support import pki
from tests.support.crl_server import running_crl_server
from tests.support.lifecycle import declaration_data, declared_drimbox, give_certificates, make_order, shared_pki
from tests.support.market_pki import MarketPKI
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db
CRL_PATH = "/market/r1.crl"
OCSP_PATH = "/ocsp"


@functools.cache
def market_pki():
    return MarketPKI()


class Market:
    def __init__(self, server):
        self.server = server
        self.pki = market_pki()

    def leaf(self, fqdn, **knobs):
        if "ocsp_url" not in knobs:
            knobs.setdefault("crl_url", self.server.url(CRL_PATH))
        elif knobs["ocsp_url"] is True:
            knobs["ocsp_url"] = self.server.url(OCSP_PATH)
        return self.pki.leaf(fqdn, **knobs)


@pytest.fixture
def market(settings, tmp_path):
    """The test public root trusted as the Mozilla store; a CRL (revoking nothing) on a loopback server."""
    with running_crl_server() as server:
        settings.VI_MARKET_TRUST_BUNDLE = market_pki().root_bundle(tmp_path)
        server.set_crl(CRL_PATH, market_pki().crl())
        yield Market(server)


@pytest.fixture
def drimbox(world):
    return declared_drimbox(world.operator, world.legal, world.ans)


def upload(drimbox, data, user):
    return services.upload_vi_certificate(drimbox, acting_user=user, uploaded_file=SimpleUploadedFile("vi.pem", data))


def refused(drimbox, data, user):
    with pytest.raises(CertificateRejected) as caught:
        upload(drimbox, data, user)
    assert not Certificate.objects.filter(drimbox=drimbox, source=CertificateSource.MARKET).exists()
    return {check["code"]: check for check in caught.value.checks}


# --------------------------------------------------------------------------- accepted: DV and OV chains


def test_a_dv_chain_is_stored_as_market_dv_with_every_rule_passed(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn, policy="DV")
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    assert (certificate.kind, certificate.source, certificate.validation_level) == ("vi", "marche", "DV")
    assert certificate.subject == f"CN={drimbox.vi_fqdn}" and "Test Public Issuing CA R1" in certificate.issuer
    checks = {check["code"]: check for check in certificate.checks}
    assert list(checks) == ["chain", "names", "fqdn", "wildcard", "public_key", "signature_hash", "key_usage",
                            "validity", "revocation", "validation_level"]
    assert all(check["ok"] is True for check in checks.values()), checks
    assert "web public" in checks["chain"]["message"] and "LCR" in checks["revocation"]["message"]
    assert "(DV)" in checks["validation_level"]["message"]
    assert market.server.requests_for(CRL_PATH) == 1
    assert AuditEntry.objects.filter(action="certificate.vi.stored", object_id=str(certificate.pk)).exists()


def test_an_ov_chain_checked_by_ocsp_is_stored_as_ov_and_supersedes_the_acme_certificate(world, market, drimbox):
    acme = give_certificates(drimbox, world.technical)
    issued = market.leaf(drimbox.vi_fqdn, policy="OV", ocsp_url=True)
    market.server.set_crl(OCSP_PATH, market.pki.ocsp_response(issued))
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    assert certificate.validation_level == "OV" and "O=E-MEDIA PYTEST" in certificate.subject
    revocation = next(check for check in certificate.checks if check["code"] == "revocation")
    assert revocation["ok"] is True and "OCSP" in revocation["message"]
    acme.refresh_from_db()
    assert acme.superseded_at is not None and acme.source == "acme"
    assert services.current_vi_chain(drimbox, acting_user=world.technical) == certificate


def test_an_ecdsa_p256_key_and_a_der_upload_are_accepted(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn, key=pki.ec_key("P-256", 24))
    with pytest.raises(CertificateRejected) as caught:  # a lone DER leaf has no intermediate: chain refused
        upload(drimbox, issued.der, world.technical)
    chain = next(check for check in caught.value.checks if check["code"] == "chain")
    assert chain["ok"] is False and "Joignez au certificat ses autorités intermédiaires" in chain["message"]
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    assert "ECDSA P-256" in next(c["message"] for c in certificate.checks if c["code"] == "public_key")


# --------------------------------------------------------------------------- refused, each by its rule


def _refusals(market, fqdn):
    parent = fqdn.split(".", 1)[1]
    now = market.pki.now
    return {
        "wildcard": ("wildcard", market.leaf(f"*.{parent}")),
        "two SANs": ("names", market.leaf(fqdn, san=[fqdn, f"www.{parent}"])),
        "SHA-1": ("signature_hash", market.leaf(fqdn, hash_name="sha1")),
        "RSA-1024": ("public_key", market.leaf(fqdn, key=pki.rsa_key(1024, 23))),
        "wrong name": ("fqdn", market.leaf("vi999." + parent)),
        "expired": ("validity", market.leaf(fqdn, not_before=now - dt.timedelta(days=100),
                                            not_after=now - dt.timedelta(days=10))),
        "not public": ("chain", shared_pki().vi_certificate(fqdn)),
    }


SINGLE_DEFECT = {"SHA-1", "RSA-1024", "wrong name", "expired", "not public"}


@pytest.mark.parametrize("case", ["wildcard", "two SANs", "SHA-1", "RSA-1024", "wrong name", "expired", "not public"])
def test_a_defective_certificate_is_refused_by_its_rule_in_french(world, market, drimbox, case):
    code, issued = _refusals(market, drimbox.vi_fqdn)[case]
    checks = refused(drimbox, issued.chain_pem, world.technical)
    assert checks[code]["ok"] is False, checks
    failed = {c for c, check in checks.items() if check["ok"] is False}
    if case in SINGLE_DEFECT:
        assert failed == {code}, checks
    messages = {
        "wildcard": "Les noms génériques (wildcard) sont refusés",
        "two SANs": "exactement un nom DNS",
        "SHA-1": "n'est plus sûr et est refusé",
        "RSA-1024": "La clé RSA fait 1024 bits : 2048 bits au minimum",
        "wrong name": "alors que le FQDN vi de la DRIMbox est",
        "expired": "Le certificat a expiré le",
        "not public": "n'est pas rattaché à une autorité de confiance du web public",
    }
    assert messages[case] in checks[code]["message"]


def test_a_certificate_revoked_in_its_crl_is_refused(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn)
    market.server.set_crl(CRL_PATH, market.pki.crl(revoked=[issued]))
    checks = refused(drimbox, issued.chain_pem, world.technical)
    assert {c for c, check in checks.items() if check["ok"] is False} == {"revocation"}
    assert "Le certificat est révoqué" in checks["revocation"]["message"]
    assert "compromission de la clé" in checks["revocation"]["message"]


def test_a_certificate_revoked_according_to_ocsp_is_refused(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn, ocsp_url=True)
    market.server.set_crl(OCSP_PATH, market.pki.ocsp_response(issued, revoked=True))
    checks = refused(drimbox, issued.chain_pem, world.technical)
    assert checks["revocation"]["ok"] is False and "répondeur OCSP" in checks["revocation"]["message"]


def test_an_unreachable_crl_leaves_revocation_undecided_but_does_not_refuse(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn)
    market.server.set_error(CRL_PATH, 500)
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    revocation = next(check for check in certificate.checks if check["code"] == "revocation")
    assert revocation["ok"] is None and "inconnu" in revocation["message"]


def test_a_private_key_in_the_upload_is_refused_and_nothing_is_stored(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn)
    with pytest.raises(InvalidData) as caught:
        upload(drimbox, issued.chain_pem + issued.key_pem, world.technical)
    assert "clé privée" in caught.value.message
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


def test_a_drimbox_without_viewer_has_no_vi_certificate(world, market):
    data = {**declaration_data(order=make_order(world.operator, world.legal), vi=""), "has_viewer": "non"}
    box = declared_drimbox(world.operator, world.legal, world.ans, data=data)
    assert box.vi_fqdn is None
    issued = market.leaf(f"vi{box.identifiant}.test.mesimagesmedicales.fr")
    with pytest.raises(Conflict) as caught:
        upload(box, issued.chain_pem, world.technical)
    assert caught.value.code == "no_viewer" and "n'a pas de visionneuse" in caught.value.message


def test_the_legal_representative_may_not_upload(world, market, drimbox):
    with pytest.raises(NotAllowed):
        upload(drimbox, market.leaf(drimbox.vi_fqdn).chain_pem, world.legal)
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


# --------------------------------------------------------------------------- like every vi certificate


@pytest.mark.django_db(transaction=True)
def test_market_certificates_get_expiry_notices_and_are_never_renewed_by_acme(world, market, drimbox, settings):
    settings.CERTIFICATE_EXPIRY_THRESHOLDS = [60, 15]
    issued = market.leaf(drimbox.vi_fqdn)
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    mail.outbox.clear()
    assert services.send_expiry_notices(now=certificate.not_after - dt.timedelta(days=10)) == 1
    assert any(drimbox.vi_fqdn in m.subject and "autorité du marché" in m.body for m in mail.outbox)
    assert services.renew_vi_certificates(now=certificate.not_after - dt.timedelta(days=10)) == 0
    assert not ViOrder.objects.filter(drimbox=drimbox).exists()


def test_market_certificates_count_for_integration_and_the_quarterly_list(world, market, drimbox):
    issued = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=world.operator.id_nat_struct)
    services.upload_db_certificate(drimbox, acting_user=world.technical,
                                   uploaded_file=SimpleUploadedFile("db.pem", issued.chain_pem))
    vi = upload(drimbox, market.leaf(drimbox.vi_fqdn).chain_pem, world.technical)
    items = certificate_checks(Drimbox.objects.get(pk=drimbox.pk))
    assert [item.ok for item in items] == [True, True]
    rows = list(export.rows(world.operator))
    assert any(row[2] == "vi" and row[8] == vi.serial for row in rows)


@pytest.mark.django_db(transaction=True)
def test_revoking_a_market_certificate_is_a_task_for_the_operator_confirmed_in_the_crl(world, market, drimbox):
    issued = market.leaf(drimbox.vi_fqdn)
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    mail.outbox.clear()
    revocation = services.revoke_certificate(certificate, acting_user=world.technical, reason="compromission")
    assert any("Certificat vi à révoquer" in m.subject for m in mail.outbox)
    assert services.process_revocations() == 0  # not via ACME: the portal did not issue it
    market.server.set_crl(CRL_PATH, market.pki.crl(revoked=[issued]))
    assert services.process_revocations() == 1
    revocation = Revocation.objects.get(pk=revocation.pk)
    certificate.refresh_from_db()
    assert revocation.status == "faite" and certificate.revoked_at is not None


# --------------------------------------------------------------------------- the page and the API


def test_the_page_shows_the_refusal_in_french_and_stores_nothing_then_stores_a_good_one(client, world, market,
                                                                                        drimbox):
    client.force_login(world.technical)
    url = reverse("certificate_vi_market_upload", args=[drimbox.pk])
    page = client.get(reverse("drimbox_certificates", args=[drimbox.pk])).content.decode()
    assert "data-market-upload" in page and "autorité du marché" in page
    wildcard = market.leaf("*." + drimbox.vi_fqdn.split(".", 1)[1])
    page = client.post(url, {"market-file": SimpleUploadedFile("vi.pem", wildcard.chain_pem)}).content.decode()
    assert "data-rejected" in page and "rien n'a été enregistré" in page
    assert "Les noms génériques (wildcard) sont refusés" in page
    assert not Certificate.objects.filter(drimbox=drimbox).exists()
    with_key = market.leaf(drimbox.vi_fqdn)
    page = client.post(url, {"market-file": SimpleUploadedFile("vi.pem", with_key.chain_pem + with_key.key_pem)}
                       ).content.decode()
    assert "clé privée" in page and not Certificate.objects.filter(drimbox=drimbox).exists()
    response = client.post(url, {"market-file": SimpleUploadedFile("vi.pem", with_key.chain_pem)})
    certificate = Certificate.objects.get(drimbox=drimbox)
    assert response.status_code == 302 and response["Location"] == reverse("certificate_detail",
                                                                           args=[certificate.pk])
    detail = client.get(response["Location"]).content.decode()
    assert "Autorité du marché" in detail and "Validation de domaine (DV)" in detail


def test_the_api_answers_a_structured_400_with_every_rule_then_201(client, world, market, drimbox):
    client.force_login(world.technical)
    url = reverse("api_vi_market_certificates", args=[drimbox.identifiant])
    sha1 = market.leaf(drimbox.vi_fqdn, hash_name="sha1")
    response = client.post(url, {"file": SimpleUploadedFile("vi.pem", sha1.chain_pem)})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["code"] == "certificate_rejected"
    assert [check["code"] for check in body["checks"] if check["ok"] is False] == ["signature_hash"]
    assert any("SHA-1" in message or "sha1" in message for message in body["error"]["fields"]["file"])
    assert not Certificate.objects.filter(drimbox=drimbox).exists()
    good = market.leaf(drimbox.vi_fqdn, policy="OV")
    response = client.post(url, {"file": SimpleUploadedFile("vi.pem", good.chain_pem)})
    assert response.status_code == 201, response.content
    assert (response.json()["source"], response.json()["validation_level"]) == ("marche", "OV")

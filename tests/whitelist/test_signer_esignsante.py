"""eSignSanté whitelist signer against a loopback server following its OpenAPI contract: round trip
(build → sign over HTTP → verify, ours and xmlsec1 → publish → download with and without If-None-Match),
and every failure as a French ``SignerError`` with nothing published."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from django.urls import reverse

from tests.conftest import require_or_skip
from tests.support.esignsante_server import running_esignsante
from tests.support.lifecycle import active_drimbox, shared_pki
from tests.support.pki import cert_pem
from tests.whitelist.signing import SIGNER_CN, SIGNER_OU, build_list, org_sign_certificate, verify_with_test_hierarchy
from whitelist import services, signers
from whitelist.esignsante import EsignsanteSigner
from whitelist.models import WhitelistVersion, WhitelistVersionStatus

SECRET = "secret_liste-blanche-1"
API_KEY = "cle-api-de-test"


@pytest.fixture
def issued():
    return org_sign_certificate(shared_pki())


@pytest.fixture
def server(issued, settings, db):
    with running_esignsante(signer=issued, secret=SECRET, api_key=API_KEY, sign_confs=(1, 7)) as running:
        settings.WHITELIST_SIGNER_BACKEND = "esignsante"
        settings.WHITELIST_ESIGNSANTE_URL = running.base_url
        settings.WHITELIST_ESIGNSANTE_SIGN_CONF_ID = "7"
        settings.WHITELIST_ESIGNSANTE_SECRET = SECRET
        settings.WHITELIST_ESIGNSANTE_API_KEY = API_KEY
        settings.WHITELIST_ESIGNSANTE_API_KEY_HEADER = "ESANTE-API-KEY"
        settings.WHITELIST_ESIGNSANTE_TIMEOUT = 5
        settings.WHITELIST_ESIGNSANTE_SIGNER_PEM = ""
        settings.WHITELIST_SIGNER_CN = SIGNER_CN
        settings.WHITELIST_SIGNER_OU = SIGNER_OU
        settings.WHITELIST_FOUR_EYES = True
        yield running


def test_round_trip_sign_over_http_then_verify_and_xmlsec1(server, issued, tmp_path):
    signer = signers.configured_signer()
    assert isinstance(signer, EsignsanteSigner)
    assert signer.certificate is None  # nothing published yet, no pinned certificate
    unsigned = build_list()
    signed = signer.sign(unsigned)

    sent = server.requests[-1]
    assert sent["path"] == "/esignsante/v1/signatures/xadesbaselineb"
    assert sent["fields"]["file"] == unsigned
    assert sent["fields"]["idSignConf"] == b"7" and sent["fields"]["secret"] == SECRET.encode()
    assert sent["headers"]["ESANTE-API-KEY"] == API_KEY
    assert sent["headers"]["Content-Type"].startswith("multipart/form-data")

    assert signer.certificate == issued.cert and f"CN={SIGNER_CN}" in signer.subject
    assert [c.subject for c in signer.chain] == [shared_pki().intermediate.cert.subject]
    assert [e["Identifiant"] for e in verify_with_test_hierarchy(signed).entries] == ["1", "2", "3"]

    binary = shutil.which("xmlsec1")
    require_or_skip(binary, "xmlsec1 (Debian) is not installed")
    (tmp_path / "root.pem").write_bytes(shared_pki().root.pem)
    (tmp_path / "intermediate.pem").write_bytes(shared_pki().intermediate.pem)
    (tmp_path / "list.xml").write_bytes(signed)
    done = subprocess.run([binary, "--verify", "--trusted-pem", str(tmp_path / "root.pem"), "--untrusted-pem",
                           str(tmp_path / "intermediate.pem"), "--id-attr:Id", "SignedProperties",
                           str(tmp_path / "list.xml")], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


def test_publish_then_download_with_and_without_if_none_match(server, issued, world, ans2, client):
    box = active_drimbox(world.operator, world.legal, world.ans)
    published = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    assert published.is_published and f"CN={SIGNER_CN}" in published.signer_subject
    signed = bytes(published.signed_xml)
    assert [e["Identifiant"] for e in verify_with_test_hierarchy(signed).entries] == [str(box.identifiant)]
    assert server.requests[-1]["fields"]["file"] == bytes(published.unsigned_xml)

    response = client.get("/liste-blanche/listeblanche.xml")
    assert response.status_code == 200 and response.content == signed
    again = client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""

    # Once a version is published, the signer's certificate is known for the watch before any new signature.
    assert signers.configured_signer().certificate == issued.cert


def _break(server, settings, failure):
    if failure.startswith("mode:"):
        server.mode = failure.split(":", 1)[1]
    elif failure == "wrong_secret":
        settings.WHITELIST_ESIGNSANTE_SECRET = "mauvais_secret"
    elif failure == "wrong_api_key":
        settings.WHITELIST_ESIGNSANTE_API_KEY = "autre-cle"
    elif failure == "unknown_conf":
        settings.WHITELIST_ESIGNSANTE_SIGN_CONF_ID = "42"
    elif failure == "down":
        server.stop()


FAILURES = [
    ("mode:error500", "signer_esignsante_http", "erreur interne du service (500)"),
    ("mode:unavailable", "signer_esignsante_http", "service indisponible (503)"),
    ("mode:garbage", "signer_esignsante_response", "réponse illisible"),
    ("mode:no_document", "signer_esignsante_response", "ne contient pas de document signé"),
    ("mode:bad_base64", "signer_esignsante_response", "mal encodé"),
    ("mode:erreurs", "signer_esignsante_refused", "ERSIGN05 Le certificat est expiré."),
    ("mode:altered", "signer_esignsante_altered", "contenu modifié par le service"),
    ("mode:extra_entry", "signer_esignsante_altered", "contenu modifié par le service"),
    ("wrong_secret", "signer_esignsante_http", "authentification refusée (401)"),
    ("wrong_api_key", "signer_esignsante_http", "authentification refusée (401)"),
    ("unknown_conf", "signer_esignsante_http", "configuration de signature inconnue (404)"),
    ("down", "signer_esignsante_unreachable", "service injoignable"),
]


@pytest.mark.parametrize(("failure", "code", "words"), FAILURES, ids=[f[0] for f in FAILURES])
def test_each_failure_is_a_french_error_and_nothing_is_published(server, settings, world, ans2, failure, code,
                                                                 words):
    active_drimbox(world.operator, world.legal, world.ans)
    version = services.prepare_version(acting_user=world.ans)
    _break(server, settings, failure)
    with pytest.raises(signers.SignerError) as raised:
        services.approve_and_publish(version, acting_user=ans2)
    assert raised.value.code == code
    assert raised.value.message.startswith("eSignSanté : ") and words in raised.value.message
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None
    assert not WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED).exists()


def test_missing_url_or_bad_conf_id_is_reported(settings):
    settings.WHITELIST_SIGNER_BACKEND = "esignsante"
    settings.WHITELIST_ESIGNSANTE_URL = ""
    with pytest.raises(signers.SignerError, match="WHITELIST_ESIGNSANTE_URL"):
        signers.configured_signer()
    settings.WHITELIST_ESIGNSANTE_URL = "http://127.0.0.1:9/esignsante/v1"
    settings.WHITELIST_ESIGNSANTE_SIGN_CONF_ID = "un"
    with pytest.raises(signers.SignerError, match="un entier"):
        signers.configured_signer()


def test_pinned_certificate_must_be_the_one_used(server, settings, tmp_path):
    other = org_sign_certificate(shared_pki(), not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=500))
    (tmp_path / "pinned.pem").write_bytes(cert_pem(other.cert))
    settings.WHITELIST_ESIGNSANTE_SIGNER_PEM = str(tmp_path / "pinned.pem")
    signer = signers.configured_signer()
    assert signer.certificate == other.cert
    with pytest.raises(signers.SignerError) as raised:
        signer.sign(build_list())
    assert raised.value.code == "signer_esignsante_certificate"


def test_pinned_expired_certificate_is_refused_before_any_request(server, settings, tmp_path):
    now = dt.datetime.now(dt.UTC)
    expired = org_sign_certificate(shared_pki(), not_before=now - dt.timedelta(days=400),
                                   not_after=now - dt.timedelta(days=1))
    (tmp_path / "expired.pem").write_bytes(cert_pem(expired.cert))
    settings.WHITELIST_ESIGNSANTE_SIGNER_PEM = str(tmp_path / "expired.pem")
    with pytest.raises(signers.SignerError) as raised:
        signers.configured_signer().sign(build_list())
    assert raised.value.code == "signer_expired"
    assert server.requests == []


def test_service_signing_with_an_expired_certificate_is_refused(settings, world, ans2):
    now = dt.datetime.now(dt.UTC)
    expired = org_sign_certificate(shared_pki(), not_before=now - dt.timedelta(days=400),
                                   not_after=now - dt.timedelta(days=1))
    with running_esignsante(signer=expired) as running:
        settings.WHITELIST_SIGNER_BACKEND = "esignsante"
        settings.WHITELIST_ESIGNSANTE_URL = running.base_url
        settings.WHITELIST_ESIGNSANTE_SIGN_CONF_ID = 1
        settings.WHITELIST_ESIGNSANTE_SECRET = ""
        settings.WHITELIST_ESIGNSANTE_API_KEY = ""
        active_drimbox(world.operator, world.legal, world.ans)
        version = services.prepare_version(acting_user=world.ans)
        with pytest.raises(signers.SignerError) as raised:
            services.approve_and_publish(version, acting_user=ans2)
    assert raised.value.code == "signer_expired" and "a expiré" in raised.value.message
    version.refresh_from_db()
    assert version.signed_xml is None


def test_oversized_answer_is_refused_while_downloading(server, settings, world, ans2, monkeypatch):
    from whitelist import esignsante

    monkeypatch.setattr(esignsante, "MAX_RESPONSE_BYTES", 256 * 1024)
    server.mode, server.oversized_bytes = "oversized", 8 * 1024 * 1024
    read = []
    original = esignsante.EsignsanteSigner._read_limited

    def spy(self, response):
        try:
            return original(self, response)
        finally:
            read.append(response.raw.tell())  # bytes actually taken off the socket

    monkeypatch.setattr(esignsante.EsignsanteSigner, "_read_limited", spy)
    active_drimbox(world.operator, world.legal, world.ans)
    version = services.prepare_version(acting_user=world.ans)
    with pytest.raises(signers.SignerError) as raised:
        services.approve_and_publish(version, acting_user=ans2)
    assert raised.value.code == "signer_esignsante_response" and "trop volumineuse" in raised.value.message
    assert read and read[0] <= 256 * 1024 + 65536  # stopped at the limit, not after 8 MB
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None


def test_history_page_reads_the_certificate_without_calling_the_service(server, issued, world, ans2, client,
                                                                        monkeypatch):
    from whitelist import esignsante

    active_drimbox(world.operator, world.legal, world.ans)
    services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    calls = len(server.requests)
    parsed = []
    original = esignsante.signature_certificates
    monkeypatch.setattr(esignsante, "signature_certificates", lambda data: parsed.append(1) or original(data))
    esignsante._LAST_PUBLISHED_CERTIFICATES.clear()
    client.force_login(world.ans)
    for _ in range(3):
        page = client.get(reverse("ans_whitelist"))
        assert page.status_code == 200 and "Certificat de signature valide jusqu" in page.content.decode()
    assert len(server.requests) == calls  # no request to eSignSanté
    assert len(parsed) == 1  # the published signature is parsed once for that version

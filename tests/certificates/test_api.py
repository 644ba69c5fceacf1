"""The certificates REST API and the acme-dns-compatible endpoint: the services' rules as structured HTTP answers.

Certificates come from the test IGC-Santé hierarchy the settings trust (``tests.support.lifecycle.shared_pki``);
the acme-dns tests write TXT records on a real BIND 9 (the ``bind`` fixture).
"""
import csv
import datetime as dt
import io
import os

import pytest
from cryptography import x509
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook
from rest_framework.test import APIClient

from certificates.models import AcmeDnsCredential, Certificate, Revocation, RevocationStatus, ViOrder
from operators import services
from operators.models import RequestKind
from tests.support import pki
from tests.support.api import API, api, error_of
from tests.support.lifecycle import approve, declared_drimbox, give_certificates, shared_pki
from trustspace.services import create_api_token

TXT_A, TXT_B, TXT_C = "a" * 43, "B" * 43, "c-_" * 14 + "d"




def upload(content, name="db.pem"):
    return {"file": SimpleUploadedFile(name, content)}


def db_pem(drimbox, **knobs):
    knobs.setdefault("id_nat_struct", drimbox.operator.id_nat_struct)
    return shared_pki().db_certificate(knobs.pop("fqdn", drimbox.db_fqdn), **knobs).chain_pem


@pytest.fixture
def drimbox(world):
    return declared_drimbox(world.operator, world.legal, world.ans)


@pytest.fixture
def technical(world):
    return api(world.technical)


def certificates_url(drimbox):
    return f"{API}/drimboxes/{drimbox.identifiant}/certificates/"


# --- db certificates ----------------------------------------------------------------------------------------


def test_a_valid_db_certificate_is_stored_and_listed(world, drimbox, technical):
    response = technical.post(certificates_url(drimbox), upload(db_pem(drimbox)), format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "db" and body["state"] == "valide" and body["source"] == "depot"
    assert body["subject"].startswith(f"CN={drimbox.db_fqdn},OU={world.operator.id_nat_struct},")
    assert body["issuer"] == shared_pki().intermediate.cert.subject.rfc4514_string()
    assert body["serial"] and body["fingerprint_sha256"].count(":") == 31
    assert body["not_before"] < body["not_after"]
    assert {check["code"] for check in body["checks"]} >= {"chain", "cn", "ou", "validity", "signature_hash",
                                                          "key_usage", "revocation"}
    assert all(check["ok"] is not False for check in body["checks"])

    for client in (technical, api(world.legal), api(world.ans)):
        listed = client.get(certificates_url(drimbox))
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["results"]] == [body["id"]]

    detail = api(world.legal).get(f"{API}/certificates/{body['id']}/")
    assert detail.status_code == 200
    detail = detail.json()
    assert detail["description"]["common_name"] == drimbox.db_fqdn
    assert detail["description"]["san"] == [drimbox.db_fqdn]
    assert {e["name"] for e in detail["description"]["extensions"]} and detail["description"]["key_size"] == 2048
    assert [c["subject"] for c in detail["chain"]] == [shared_pki().intermediate.cert.subject.rfc4514_string()]
    assert detail["pem"].startswith("-----BEGIN CERTIFICATE-----") and detail["checks"] == body["checks"]


@pytest.mark.parametrize(("knobs", "failing"), [
    ({"fqdn": "db999999.test.mesimagesmedicales.fr"}, "cn"),
    ({"id_nat_struct": "399999999999999"}, "ou"),
    ({"not_before": pki.utcnow() - dt.timedelta(days=800), "not_after": pki.utcnow() - dt.timedelta(days=2)},
     "validity"),
    ({"hash_name": "sha1"}, "signature_hash"),
    ({"eku": ("serverAuth",)}, "key_usage"),
], ids=["wrong-cn", "wrong-ou", "expired", "sha1", "no-clientAuth"])
def test_a_failing_rule_is_a_400_with_every_check(drimbox, technical, knobs, failing):
    response = technical.post(certificates_url(drimbox), upload(db_pem(drimbox, **knobs)), format="multipart")
    error = error_of(response, 400)
    assert error["code"] == "certificate_rejected" and error["fields"]["file"]
    checks = {check["code"]: check for check in response.json()["checks"]}
    assert set(checks) == {"chain", "cn", "ou", "validity", "signature_hash", "key_usage", "revocation"}
    assert checks[failing]["ok"] is False and checks[failing]["message"]
    assert [code for code, check in checks.items() if check["ok"] is False] == [failing]
    assert checks["chain"]["ok"] is True
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


def test_a_private_key_in_the_upload_is_refused_and_nothing_is_stored(drimbox, technical):
    issued = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=drimbox.operator.id_nat_struct)
    for content in (issued.chain_pem + issued.key_pem, pki.key_pem_traditional(issued.key) + issued.pem):
        error = error_of(technical.post(certificates_url(drimbox), upload(content), format="multipart"), 400)
        assert "clé privée" in error["message"] and error["fields"]["file"]
        assert "checks" not in technical.post(certificates_url(drimbox), upload(content), format="multipart").json()
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


def test_random_bytes_empty_and_oversized_files_are_structured_400s(drimbox, technical, settings):
    for content in (os.urandom(700), b"", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"):
        error = error_of(technical.post(certificates_url(drimbox), upload(content), format="multipart"), 400)
        assert error["fields"]["file"]
    big = db_pem(drimbox) + b"\n" * settings.CERTIFICATE_MAX_BYTES
    error = error_of(technical.post(certificates_url(drimbox), upload(big), format="multipart"), 400)
    assert error["code"] == "file_too_large" and "taille maximale" in error["message"]
    error = error_of(technical.post(certificates_url(drimbox), {}, format="multipart"), 400)
    assert error["fields"]["file"]
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


def test_only_technical_administrators_of_the_operator_upload(world, drimbox):
    pem = db_pem(drimbox)
    for user in (world.legal, world.mandataire, world.ans):
        error = error_of(api(user).post(certificates_url(drimbox), upload(pem), format="multipart"), 403)
        assert error["code"] == "forbidden"
    # Without a file, the role is still what a caller without it learns first.
    assert error_of(api(world.legal).post(certificates_url(drimbox), {}, format="multipart"), 403)
    assert error_of(api(world.other).post(certificates_url(drimbox), upload(pem), format="multipart"), 404)
    assert error_of(api(world.other).get(certificates_url(drimbox)), 404)
    assert error_of(api().get(certificates_url(drimbox)), 401)
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


# --- vi orders ----------------------------------------------------------------------------------------------


def orders_url(drimbox):
    return f"{API}/drimboxes/{drimbox.identifiant}/vi-orders/"


def test_a_csr_opens_one_order_and_a_second_is_a_conflict(world, drimbox, technical):
    csr, _key = pki.build_csr(drimbox.vi_fqdn)
    response = technical.post(orders_url(drimbox), {"csr": pki.csr_pem(csr).decode()}, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "en_attente" and order["drimbox"] == drimbox.identifiant
    assert order["certificate"] is None and order["renewal"] is False
    assert order["csr_pem"].startswith("-----BEGIN CERTIFICATE REQUEST-----")

    again = technical.post(orders_url(drimbox), {"file": SimpleUploadedFile("vi.csr", pki.csr_pem(csr))},
                           format="multipart")
    assert error_of(again, 409)
    assert ViOrder.objects.filter(drimbox=drimbox).count() == 1
    listed = api(world.legal).get(orders_url(drimbox))
    assert [o["id"] for o in listed.json()["results"]] == [order["id"]]
    assert error_of(api(world.legal).post(orders_url(drimbox), {"csr": pki.csr_pem(csr).decode()}, format="json"),
                    403)
    assert error_of(api(world.other).get(orders_url(drimbox)), 404)


def test_bad_csrs_are_400s_with_their_checks(world, drimbox, technical):
    foreign = declared_drimbox(world.other_operator, world.other, world.ans)
    cases = {
        "fqdn": pki.build_csr(foreign.vi_fqdn)[0],
        "wildcard": pki.build_csr("*." + drimbox.vi_fqdn.split(".", 1)[1])[0],
        "names": pki.build_csr(drimbox.vi_fqdn, sans=[drimbox.vi_fqdn, drimbox.db_fqdn])[0],
        "public_key": pki.build_csr(drimbox.vi_fqdn, key_size=1024)[0],
    }
    for failing, csr in cases.items():
        response = technical.post(orders_url(drimbox), {"file": SimpleUploadedFile("vi.csr", pki.csr_pem(csr))},
                                  format="multipart")
        error = error_of(response, 400)
        assert error["code"] == "certificate_rejected", failing
        checks = {check["code"]: check for check in response.json()["checks"]}
        assert checks[failing]["ok"] is False, (failing, checks)
    for body in ({}, {"csr": ""}, {"csr": "pas une CSR"}):
        assert error_of(technical.post(orders_url(drimbox), body, format="json"), 400)["fields"]
    assert not ViOrder.objects.filter(drimbox=drimbox).exists()


# --- The current vi chain, for the DRIMbox ------------------------------------------------------------------


def test_the_drimbox_downloads_its_current_vi_chain_with_an_api_token(world, drimbox):
    _token, raw = create_api_token(acting_user=world.technical, name="drimbox")
    client = api(token=raw)
    url = f"{API}/drimboxes/{drimbox.identifiant}/vi-certificate/"
    error = error_of(client.get(url, HTTP_ACCEPT="application/pem-certificate-chain"), 404)
    assert error["code"] == "not_found" and str(drimbox.identifiant) in error["message"]

    give_certificates(drimbox)
    vi = Certificate.objects.get(drimbox=drimbox, kind="vi")
    response = client.get(url, HTTP_ACCEPT="application/pem-certificate-chain")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pem-certificate-chain"
    chain = x509.load_pem_x509_certificates(response.content)
    assert chain[0].subject.rfc4514_string() == f"CN={drimbox.vi_fqdn}"
    assert chain[1] == shared_pki().intermediate.cert
    assert response.content.decode() == vi.pem + vi.chain_pem
    assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert api(world.ans).get(url).status_code == 200
    assert error_of(api(world.other).get(url), 404)
    assert error_of(api().get(url), 401)


# --- The quarterly export -----------------------------------------------------------------------------------


def test_the_export_in_csv_and_xlsx(world, drimbox):
    give_certificates(drimbox)
    url = f"{API}/operators/{world.operator.pk}/certificates/export/"
    response = api(world.legal).get(url, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Identifiant DRIMbox", "Nom", "Type"]
    assert sorted((row[1], row[2]) for row in rows[1:]) == [(drimbox.db_fqdn, "db"), (drimbox.vi_fqdn, "vi")]

    response = api(world.ans).get(url, {"format": "xlsx"})
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert values[0][0] == "Identifiant DRIMbox" and len(values) == 3
    assert {row[1] for row in values[1:]} == {drimbox.db_fqdn, drimbox.vi_fqdn}

    assert api(world.technical).get(url).status_code == 200  # CSV by default
    assert error_of(api(world.legal).get(url, {"format": "pdf"}), 400)["fields"]["format"]
    assert error_of(api(world.legal).get(url, {"format": ""}), 400)["fields"]["format"]  # not « the default »
    assert error_of(api(world.other).get(url, {"format": "csv"}), 404)
    assert error_of(api().get(url), 401)


def test_a_token_limited_to_one_drimbox_exports_that_drimboxs_certificates_only(world, drimbox):
    """An ACME automation's token limited to one DRIMbox reads that DRIMbox's certificates, not the operator's
    other DRIMboxes' ones, in the export too (CSV and XLSX); the same user's session still exports them all."""
    other = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox)
    give_certificates(other)
    url = f"{API}/operators/{world.operator.pk}/certificates/export/"
    _token, raw = create_api_token(acting_user=world.technical, name="acme", scopes=["certificates"],
                                   operator_id=world.operator.pk, drimbox_ids=[drimbox.pk])
    limited = api(token=raw)

    response = limited.get(url, {"format": "csv"})
    assert response.status_code == 200, response.content
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))[1:]
    assert sorted((row[0], row[1]) for row in rows) == [(str(drimbox.identifiant), drimbox.db_fqdn),
                                                        (str(drimbox.identifiant), drimbox.vi_fqdn)]
    sheet = load_workbook(io.BytesIO(limited.get(url, {"format": "xlsx"}).content)).active
    assert {row[0] for row in list(sheet.values)[1:]} == {drimbox.identifiant}

    everything = api(world.technical).get(url, {"format": "csv"}).content.decode("utf-8-sig")
    assert other.db_fqdn in everything and drimbox.db_fqdn in everything


# --- Revocation ---------------------------------------------------------------------------------------------


def test_revoking_a_db_certificate_opens_a_task_with_a_deadline(world, drimbox, settings, technical):
    give_certificates(drimbox)
    db = Certificate.objects.get(drimbox=drimbox, kind="db")
    url = f"{API}/certificates/{db.pk}/revoke/"
    assert error_of(api(world.legal).post(url, {"reason": "compromission"}, format="json"), 403)
    assert error_of(technical.post(url, {"reason": "bascule"}, format="json"), 400)["fields"]["reason"]
    assert error_of(api(world.other).post(url, {"reason": "compromission"}, format="json"), 404)

    response = technical.post(url, {"reason": "compromission"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == RevocationStatus.PENDING == "a_faire" and body["certificate"] == db.pk
    assert body["reason"] == "compromission" and body["reason_code"] == 1
    deadline = dt.datetime.fromisoformat(body["deadline"])
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.DB_REVOCATION_DEADLINE_DAYS)
    assert abs((deadline - expected).total_seconds()) < 60
    assert error_of(technical.post(url, {"reason": "compromission"}, format="json"), 409)
    assert Revocation.objects.filter(certificate=db).count() == 1


# --- acme-dns -----------------------------------------------------------------------------------------------


def assert_acme_dns_error(response, status, code):
    """acme-dns's error answer, byte for byte: ``{"error": "<code>"}``."""
    assert response.status_code == status, response.content[:300]
    assert response.content == b'{"error": "' + code.encode() + b'"}'
    assert response["Content-Type"] == "application/json"


def register(client, drimbox):
    response = client.post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/")
    assert response.status_code == 201, response.content
    return response.json()


def update(credentials, txt, *, subdomain=None, password=None):
    client = APIClient()
    client.credentials(HTTP_X_API_USER=credentials["username"], HTTP_X_API_KEY=password or credentials["password"])
    return client.post("/acme-dns/update", {"subdomain": subdomain or credentials["subdomain"], "txt": txt},
                       format="json")


def test_acme_dns_register_then_update_writes_the_txt_on_bind(world, bind, technical):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    zone = bind.client()
    name = f"_acme-challenge.{drimbox.vi_fqdn}"
    assert error_of(api(world.legal).post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/"), 403)
    assert error_of(api(world.other).post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/"), 404)
    credentials = register(technical, drimbox)
    assert set(credentials) == {"username", "password", "fulldomain", "subdomain", "allowfrom"}
    assert credentials["fulldomain"] == name and credentials["allowfrom"] == []

    response = update(credentials, TXT_A)
    assert response.status_code == 200, response.content
    assert response.content == b'{"txt": "' + TXT_A.encode() + b'"}'  # acme-dns's bytes
    assert zone.lookup(name, "TXT") == [TXT_A]
    for value in (TXT_B, TXT_C):
        assert update(credentials, value).status_code == 200
    assert zone.lookup(name, "TXT") == sorted([TXT_B, TXT_C])  # acme-dns keeps the last two

    assert_acme_dns_error(update(credentials, TXT_A, password="wrong"), 401, "forbidden")
    for bad in ("not a challenge value", "x" * 44, TXT_A + "\n"):
        assert_acme_dns_error(update(credentials, bad), 400, "bad_txt")
    assert zone.lookup(name, "TXT") == sorted([TXT_B, TXT_C])

    other_drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    other = register(technical, other_drimbox)
    assert_acme_dns_error(update(credentials, TXT_A, subdomain=other["subdomain"]), 401, "forbidden")
    assert_acme_dns_error(update(other, TXT_A, subdomain=credentials["subdomain"]), 401, "forbidden")
    assert zone.lookup(name, "TXT") == sorted([TXT_B, TXT_C])
    assert zone.lookup(f"_acme-challenge.{other_drimbox.vi_fqdn}", "TXT") == []

    rotated = register(technical, drimbox)
    assert rotated["username"] != credentials["username"]
    assert_acme_dns_error(update(credentials, TXT_A), 401, "forbidden")
    assert update(rotated, TXT_A).status_code == 200
    assert zone.lookup(name, "TXT") == [TXT_A]  # new credentials start from their own values

    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                            drimbox=drimbox, data={"reason": "Fermeture"})
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    assert_acme_dns_error(update(rotated, TXT_B), 401, "forbidden")
    assert AcmeDnsCredential.objects.filter(drimbox=drimbox).count() == 2


def test_acme_dns_edges_without_a_dns_server(world, drimbox, technical):
    credentials = register(technical, drimbox)
    anonymous = APIClient()
    assert_acme_dns_error(anonymous.post("/acme-dns/update", {"subdomain": "x", "txt": TXT_A}, format="json"), 401,
                          "forbidden")
    response = anonymous.post("/acme-dns/update", "{not json", content_type="application/json",
                              HTTP_X_API_USER=credentials["username"], HTTP_X_API_KEY="wrong")
    assert_acme_dns_error(response, 401, "forbidden")
    assert response["WWW-Authenticate"]
    # The right key with a body acme-dns cannot read: no subdomain, acme-dns's « forbidden ».
    response = anonymous.post("/acme-dns/update", "{not json", content_type="application/json",
                              HTTP_X_API_USER=credentials["username"], HTTP_X_API_KEY=credentials["password"])
    assert_acme_dns_error(response, 401, "forbidden")
    # No DNS settings (no TSIG key): a structured 503, never a 500.
    assert error_of(update(credentials, TXT_A), 503)["code"] == "dns_unavailable"
    error = error_of(anonymous.post("/acme-dns/register", {}, format="json"), 403)
    assert error["code"] == "register_in_portal" and "/api/v1/drimboxes/" in error["message"]
    assert anonymous.get("/acme-dns/update").status_code == 405
    health = anonymous.get("/acme-dns/health")
    assert health.status_code == 200 and health.content == b""

"""PKCS#11 whitelist signer on a real SoftHSM2 token: build → sign (key on the token) → verify (ours and
xmlsec1) → publish through the services → download with and without If-None-Match; French errors."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.urls import reverse

from tests.conftest import require_or_skip
from tests.support.lifecycle import active_drimbox, shared_pki
from tests.support.pki import cert_pem
from tests.support.softhsm import SoftHsm, softhsm_available
from tests.whitelist.signing import (
    SIGNER_CN,
    SIGNER_OU,
    build_list,
    key_info_certificates,
    signer_name,
    verify_with_test_hierarchy,
)
from whitelist import services, signers
from whitelist.models import WhitelistVersion, WhitelistVersionStatus
from whitelist.pkcs11_signer import Pkcs11Signer

TOKEN = "drimm-liste-blanche"
PIN = "246810"
SO_PIN = "13579111"
KEY = "signataire-liste-blanche"
KEY_ID = b"\x01\x02"
NO_CERT_KEY = "cle-sans-certificat"
CLOSED_CRL = "http://127.0.0.1:9/crl/serveurs-test.crl"


class _PublicOnly:
    """What ``TestPKI.db_certificate`` needs of a key it does not hold: its public half."""

    def __init__(self, public):
        self._public = public

    def public_key(self):
        return self._public


def issue_for(public_key, **validity):
    """An ORG SIGN-like signer certificate from the test PKI for a public key (the private one stays on the token)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tests.support.pki.CRL_URL", CLOSED_CRL)  # never a fetch off this machine
        return shared_pki().db_certificate(None, subject=signer_name(), key_usage={"digital_signature",
                                                                                   "content_commitment"},
                                           eku=None, san=[], key=_PublicOnly(public_key), **validity)


def unrelated_certificate():
    from tests.support.pki import TestPKI

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tests.support.pki.CRL_URL", CLOSED_CRL)
        return TestPKI().db_certificate("autre.example.fr").cert


@pytest.fixture(scope="session")
def hsm(tmp_path_factory):
    """One SoftHSM2 token for the run: the signer key generated on it, its certificate and its CAs (root stored
    before the intermediate: the order of the token's objects is not the chain's) stored on it."""
    if not softhsm_available():
        yield None
        return
    previous = os.environ.get("SOFTHSM2_CONF")
    device = SoftHsm(tmp_path_factory.mktemp("softhsm"))
    device.init_token(TOKEN, pin=PIN, so_pin=SO_PIN)
    public = device.generate_rsa_key(TOKEN, KEY, key_id=KEY_ID)
    issued = issue_for(public)
    device.store_certificate(TOKEN, issued.cert, label=KEY, key_id=KEY_ID)
    device.store_certificate(TOKEN, shared_pki().root.cert, label="ac-racine")
    device.store_certificate(TOKEN, shared_pki().intermediate.cert, label="ac-intermediaire")
    # An unrelated certificate on the same token (another service's): never part of the signer's chain.
    device.store_certificate(TOKEN, unrelated_certificate(), label="autre-service")
    device.generate_rsa_key(TOKEN, NO_CERT_KEY, key_id=b"\x09")
    yield SimpleNamespace(device=device, public=public, issued=issued)
    if previous is None:  # leave the environment as found
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture
def token(hsm, settings, db):
    require_or_skip(hsm is not None, "SoftHSM2 (softhsm2-util and libsofthsm2.so) is not installed")
    if os.environ.get("SOFTHSM2_CONF") != str(hsm.device.conf):
        hsm.device.activate()
    settings.WHITELIST_SIGNER_BACKEND = "pkcs11"
    settings.WHITELIST_PKCS11_MODULE = hsm.device.module
    settings.WHITELIST_PKCS11_TOKEN_LABEL = TOKEN
    settings.WHITELIST_PKCS11_PIN = PIN
    settings.WHITELIST_PKCS11_KEY_LABEL = KEY
    settings.WHITELIST_PKCS11_CERT_PEM = ""
    settings.WHITELIST_PKCS11_CHAIN_PEM = ""
    settings.WHITELIST_SIGNER_CHAIN_PEM = ""
    settings.WHITELIST_SIGNER_CN = SIGNER_CN
    settings.WHITELIST_SIGNER_OU = SIGNER_OU
    settings.WHITELIST_FOUR_EYES = True
    return hsm


def xmlsec1_verify(data: bytes, directory) -> subprocess.CompletedProcess:
    binary = shutil.which("xmlsec1")
    require_or_skip(binary, "xmlsec1 (Debian) is not installed")
    pki = shared_pki()
    (directory / "root.pem").write_bytes(pki.root.pem)
    (directory / "intermediate.pem").write_bytes(pki.intermediate.pem)
    (directory / "list.xml").write_bytes(data)
    return subprocess.run([binary, "--verify", "--trusted-pem", str(directory / "root.pem"), "--untrusted-pem",
                           str(directory / "intermediate.pem"), "--id-attr:Id", "SignedProperties",
                           str(directory / "list.xml")], capture_output=True, text=True, timeout=30, check=False)


def test_the_key_is_generated_on_the_token_and_cannot_leave_it(token):
    assert token.device.private_key_attributes(TOKEN, KEY) == {"sensitive": True, "extractable": False}


def test_round_trip_build_sign_verify_and_xmlsec1(token, tmp_path):
    signer = signers.configured_signer()
    assert isinstance(signer, Pkcs11Signer)
    assert signer.certificate == token.issued.cert  # read from the token (same label and ID)
    assert shared_pki().intermediate.cert.subject in [c.subject for c in signer.chain]
    assert f"CN={SIGNER_CN}" in signer.subject

    unsigned = build_list()
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signed = signer.sign(unsigned, signing_time=at)
    assert signed.startswith(unsigned[:unsigned.rindex(b"</ListeBlancheDRIM-M>")])
    result = verify_with_test_hierarchy(signed)
    assert [e["Identifiant"] for e in result.entries] == ["1", "2", "3"]
    assert result.signing_time == at and result.signer == token.issued.cert

    checked = xmlsec1_verify(signed, tmp_path)
    assert checked.returncode == 0, checked.stderr
    (tmp_path / "changed.xml").write_bytes(signed.replace("Opérateur 2".encode(), "Opérateur 7".encode()))
    tampered = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(tmp_path / "root.pem"),
                               "--untrusted-pem", str(tmp_path / "intermediate.pem"), "--id-attr:Id",
                               "SignedProperties", str(tmp_path / "changed.xml")],
                              capture_output=True, text=True, timeout=30, check=False)
    assert tampered.returncode != 0


def test_raw_signature_is_rsa_pkcs1_sha256_by_the_token_key(token):
    signature = signers.configured_signer().raw_sign(b"donnees a signer")
    token.public.verify(signature, b"donnees a signer", padding.PKCS1v15(), hashes.SHA256())


def test_publish_then_download_with_and_without_if_none_match(token, world, ans2, client):
    box = active_drimbox(world.operator, world.legal, world.ans)
    version = services.prepare_version(acting_user=world.ans, comment="Signée par le jeton PKCS#11")
    published = services.approve_and_publish(version, acting_user=ans2)
    assert published.status == WhitelistVersionStatus.PUBLISHED
    assert f"CN={SIGNER_CN}" in published.signer_subject
    signed = bytes(published.signed_xml)
    assert [e["Identifiant"] for e in verify_with_test_hierarchy(signed).entries] == [str(box.identifiant)]

    response = client.get("/liste-blanche/listeblanche.xml")
    assert response.status_code == 200 and response.content == signed
    again = client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_certificate_and_chain_from_pem_setting(token, settings, tmp_path):
    now = dt.datetime.now(dt.UTC)
    renewed = issue_for(token.public, not_before=now - dt.timedelta(days=2), not_after=now + dt.timedelta(days=700))
    (tmp_path / "signer.pem").write_bytes(cert_pem(renewed.cert, shared_pki().intermediate.cert))
    settings.WHITELIST_PKCS11_CERT_PEM = str(tmp_path / "signer.pem")
    signer = signers.configured_signer()
    assert signer.certificate == renewed.cert
    assert [c.subject for c in signer.chain] == [shared_pki().intermediate.cert.subject]
    assert len(verify_with_test_hierarchy(signer.sign(build_list())).entries) == 3


def test_concurrent_signatures_from_several_threads(token):
    signer = signers.configured_signer()
    lists = [build_list(generated=f"2026-06-19T18:06:5{i}Z") for i in range(6)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda data: signer.sign(data), lists))
    for signed in results:
        assert len(verify_with_test_hierarchy(signed).entries) == 3


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"WHITELIST_PKCS11_PIN": "000000"}, "signer_pkcs11_pin", "Code PIN du jeton PKCS#11"),
    ({"WHITELIST_PKCS11_PIN": ""}, "signer_pkcs11_pin", "Code PIN du jeton PKCS#11 absent"),
    ({"WHITELIST_PKCS11_KEY_LABEL": "absente"}, "signer_pkcs11_key", "Clé privée « absente » introuvable"),
    ({"WHITELIST_PKCS11_KEY_LABEL": NO_CERT_KEY}, "signer_pkcs11_cert", "Aucun certificat"),
    ({"WHITELIST_PKCS11_TOKEN_LABEL": "autre-jeton"}, "signer_pkcs11_token", "Jeton PKCS#11 « autre-jeton »"),
    ({"WHITELIST_PKCS11_MODULE": "/nulle/part/libpkcs11.so"}, "signer_pkcs11_module", "Module PKCS#11 introuvable"),
    ({"WHITELIST_PKCS11_CERT_PEM": "/nulle/part/signer.pem"}, "whitelist_signer", "illisible"),
])
def test_configuration_errors_are_french_signer_errors(token, settings, change, code, words):
    for name, value in change.items():
        setattr(settings, name, value)
    with pytest.raises(signers.SignerError) as raised:
        signers.configured_signer()
    assert raised.value.code == code
    assert words in raised.value.message


def test_wrong_pin_refuses_publication_and_changes_nothing(token, settings, world, ans2):
    active_drimbox(world.operator, world.legal, world.ans)
    version = services.prepare_version(acting_user=world.ans)
    settings.WHITELIST_PKCS11_PIN = "999999"
    with pytest.raises(signers.SignerError, match="PIN"):
        services.approve_and_publish(version, acting_user=ans2)
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None
    assert not WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED).exists()


def test_expired_certificate_refused_before_the_token_signs(token, settings, tmp_path):
    now = dt.datetime.now(dt.UTC)
    expired = issue_for(token.public, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))
    (tmp_path / "expired.pem").write_bytes(cert_pem(expired.cert))
    settings.WHITELIST_PKCS11_CERT_PEM = str(tmp_path / "expired.pem")
    signer = signers.configured_signer()
    with pytest.raises(signers.SignerError) as raised:
        signer.sign(build_list())
    assert raised.value.code == "signer_expired" and "a expiré" in raised.value.message


def test_mismatched_certificate_is_caught_by_the_self_check(token, settings, tmp_path):
    other = shared_pki().db_certificate(None, subject=signer_name(), eku=None, san=[])  # another key
    (tmp_path / "other.pem").write_bytes(cert_pem(other.cert))
    settings.WHITELIST_PKCS11_CERT_PEM = str(tmp_path / "other.pem")
    with pytest.raises(signers.SignerError, match="auto-vérification"):
        signers.configured_signer().sign(build_list())


def test_keyinfo_holds_the_token_chain_up_to_the_root_as_ans_2026(token, tmp_path):
    pki = shared_pki()
    signer = signers.configured_signer()
    # issuer by issuer, not in the token's order, and not the unrelated certificate stored on the token
    assert signer.chain == [pki.intermediate.cert, pki.root.cert]
    assert signers.public_certificate() == (token.issued.cert, [pki.intermediate.cert, pki.root.cert])  # no login
    signed = signer.sign(build_list())
    assert b"X509SubjectName" not in signed
    assert key_info_certificates(signed) == [token.issued.cert, pki.intermediate.cert, pki.root.cert]
    from whitelist.esignsante import signature_certificates

    cert, others = signature_certificates(signed)
    assert cert == token.issued.cert and others == [pki.intermediate.cert, pki.root.cert]
    # the list carries its path: xmlsec1 needs only the root
    (tmp_path / "root.pem").write_bytes(pki.root.pem)
    (tmp_path / "list.xml").write_bytes(signed)
    done = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(tmp_path / "root.pem"), "--id-attr:Id",
                           "SignedProperties", str(tmp_path / "list.xml")],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


def test_chain_settings_complete_a_certificate_given_as_pem(token, settings, tmp_path):
    pki = shared_pki()
    (tmp_path / "signer.pem").write_bytes(cert_pem(token.issued.cert))  # the signer alone: no chain from the PEM
    settings.WHITELIST_PKCS11_CERT_PEM = str(tmp_path / "signer.pem")
    signer = signers.configured_signer()
    assert signer.chain == []
    assert key_info_certificates(signer.sign(build_list())) == [token.issued.cert]  # signer only: still valid
    settings.WHITELIST_SIGNER_CHAIN_PEM = cert_pem(pki.root.cert, pki.intermediate.cert).decode()
    signed = signers.configured_signer().sign(build_list())
    assert key_info_certificates(signed) == [token.issued.cert, pki.intermediate.cert, pki.root.cert]
    assert len(verify_with_test_hierarchy(signed).entries) == 3


def _pin_flags(module):
    import pkcs11

    token = pkcs11.lib(module).get_token(token_label=TOKEN)
    return token.flags & (pkcs11.TokenFlag.USER_PIN_COUNT_LOW | pkcs11.TokenFlag.USER_PIN_FINAL_TRY
                          | pkcs11.TokenFlag.USER_PIN_LOCKED)


def test_history_page_never_logs_in_even_with_a_wrong_pin(token, settings, world, client):
    signers.configured_signer()  # a successful login clears the token's failed-login counter
    assert not _pin_flags(token.device.module)
    settings.WHITELIST_PKCS11_PIN = "000000"  # wrong: one C_Login would count against the token
    client.force_login(world.ans)
    for _ in range(3):
        response = client.get(reverse("ans_whitelist"))
        assert response.status_code == 200
    page = response.content.decode()
    assert "Certificat de signature valide jusqu" in page and f"CN={SIGNER_CN}" in page
    assert "révocation non vérifiable" in page  # the test CRL is on a closed port
    assert not _pin_flags(token.device.module), "the page tried to log in to the token"

    # The same wrong PIN at signing time does count (the check above can fail).
    with pytest.raises(signers.SignerError, match="PIN"):
        signers.configured_signer()
    assert _pin_flags(token.device.module)
    settings.WHITELIST_PKCS11_PIN = PIN
    signers.configured_signer()

"""KeyInfo of the signed whitelist as ANS writes it today (issue 15, item 2).

ANS's current (2026) signed list carries in ``ds:KeyInfo/ds:X509Data`` only ``ds:X509Certificate`` elements: the
signer, then its intermediate, then the root, base64 on one line and no whitespace between elements
(``signing.KEY_INFO_2026``). Its 2024 sample wrote a ``ds:X509SubjectName`` first and the signer alone; the
verifier keeps accepting that layout.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from tests.conftest import require_or_skip
from tests.support.lifecycle import shared_pki
from tests.support.pki import TestPKI, cert_pem
from tests.whitelist.signing import (
    SIGNER_CN,
    SIGNER_OU,
    build_list,
    key_info_certificates,
    org_sign_certificate,
    sign_list,
    use_p12_signer,
    verify_with_test_hierarchy,
    with_full_chain,
)
from tests.whitelist.test_verify import ANS_AT, ANS_SIGNED, ans_trust
from whitelist import services, signers, xades
from whitelist import verify as wl
from whitelist.xades import DS

pytestmark = pytest.mark.django_db  # signing through the portal's signers looks up the signer's CRL cache


@pytest.fixture(scope="module")
def pki():
    return shared_pki()


def our_verifier(data: bytes, pki: TestPKI, **kwargs) -> wl.VerifiedList:
    """A DRIMbox that trusts only the root (no intermediate configured), with the intermediate's CRL."""
    kwargs.setdefault("crls", [pki.crl()])
    return wl.verify(data, anchors=[pki.root.cert], signer_cn=SIGNER_CN, signer_ou=SIGNER_OU, **kwargs)


def xmlsec1(data: bytes, directory, *, trusted, untrusted=()) -> subprocess.CompletedProcess:
    binary = shutil.which("xmlsec1")
    require_or_skip(binary, "xmlsec1 (Debian) is not installed")
    command = [binary, "--verify", "--id-attr:Id", "SignedProperties"]
    for index, cert in enumerate(trusted):
        (directory / f"trusted-{index}.pem").write_bytes(cert_pem(cert))
        command += ["--trusted-pem", str(directory / f"trusted-{index}.pem")]
    for index, cert in enumerate(untrusted):
        (directory / f"untrusted-{index}.pem").write_bytes(cert_pem(cert))
        command += ["--untrusted-pem", str(directory / f"untrusted-{index}.pem")]
    (directory / "list.xml").write_bytes(data)
    return subprocess.run([*command, str(directory / "list.xml")], capture_output=True, text=True, timeout=30,
                          check=False)


def x509_data_children(signed: bytes) -> list[str]:
    x509_data = etree.fromstring(signed)[-1].find(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data")
    return [etree.QName(child).localname for child in x509_data]


def p12_signer(settings, tmp_path, chain, name="signer.p12"):
    """The portal's PKCS#12 signer holding ``chain`` (in that order) besides its certificate and key."""
    issued = org_sign_certificate(shared_pki())
    issued.chain = list(chain)
    use_p12_signer(settings, tmp_path / name, issued)
    settings.WHITELIST_SIGNER_CHAIN_PEM = ""
    return issued


# --------------------------------------------------------------------------- the layout we write

@pytest.mark.parametrize("stored", ["intermediate-root", "root-unrelated-intermediate"])
def test_pkcs12_chain_gives_signer_intermediate_root_and_no_subject_name(settings, tmp_path, pki, stored):
    unrelated = TestPKI(slot_base=10).intermediate.cert  # same DN as ours, another key: never on the path
    chain = ([pki.intermediate.cert, pki.root.cert] if stored == "intermediate-root"
             else [pki.root.cert, unrelated, pki.intermediate.cert])
    issued = p12_signer(settings, tmp_path, chain)
    signed = signers.configured_signer().sign(build_list())

    assert b"X509SubjectName" not in signed
    assert x509_data_children(signed) == ["X509Certificate"] * 3
    assert key_info_certificates(signed) == [issued.cert, pki.intermediate.cert, pki.root.cert]


def test_xades_writes_the_chain_issuer_by_issuer_whatever_order_it_is_given(pki):
    issued = org_sign_certificate(pki)
    stranger = TestPKI(slot_base=10)
    given = [pki.root.cert, stranger.intermediate.cert, issued.cert, pki.intermediate.cert, pki.root.cert]
    signed = xades.sign(build_list(), issued.key, issued.cert, given)
    assert key_info_certificates(signed) == [issued.cert, pki.intermediate.cert, pki.root.cert]
    assert xades.key_info_certificates(issued.cert) == [issued.cert]
    assert xades.key_info_certificates(pki.root.cert, given) == [pki.root.cert]  # a root is its own chain


def test_full_chain_list_verifies_with_xmlsec1_and_ours_trusting_only_the_root(signer_p12, pki, tmp_path):
    signed = signers.configured_signer().sign(build_list())
    assert len(key_info_certificates(signed)) == 3

    done = xmlsec1(signed, tmp_path, trusted=[pki.root.cert])  # no --untrusted-pem: KeyInfo holds the path
    assert done.returncode == 0, done.stderr
    changed = signed.replace("Opérateur 2".encode(), "Opérateur 8".encode())
    assert changed != signed and xmlsec1(changed, tmp_path, trusted=[pki.root.cert]).returncode != 0

    result = our_verifier(signed, pki)
    assert result.chain == [result.signer, pki.intermediate.cert, pki.root.cert]
    assert [e["Identifiant"] for e in result.entries] == ["1", "2", "3"]


def test_signer_only_backend_still_produces_a_valid_list(settings, tmp_path, pki):
    issued = p12_signer(settings, tmp_path, [])
    signer = signers.configured_signer()
    assert signer.chain == []
    signed = signer.sign(build_list())

    assert b"X509SubjectName" not in signed
    assert key_info_certificates(signed) == [issued.cert]
    # The verifier then needs the intermediate from its own configuration, as for ANS's 2024 sample.
    assert len(our_verifier(signed, pki, intermediates=[pki.intermediate.cert]).entries) == 3
    with pytest.raises(wl.VerificationError) as refused:
        our_verifier(signed, pki)
    assert refused.value.reason_code == "untrusted_chain"
    done = xmlsec1(signed, tmp_path, trusted=[pki.root.cert], untrusted=[pki.intermediate.cert])
    assert done.returncode == 0, done.stderr
    assert xmlsec1(signed, tmp_path, trusted=[pki.root.cert]).returncode != 0


@pytest.mark.parametrize("form", ["path", "text"])
def test_chain_file_setting_completes_a_pkcs12_without_its_chain(settings, tmp_path, pki, form):
    issued = p12_signer(settings, tmp_path, [])
    pem = cert_pem(pki.root.cert, pki.intermediate.cert)  # any order: written issuer by issuer
    if form == "path":
        (tmp_path / "chaine.pem").write_bytes(pem)
        settings.WHITELIST_SIGNER_CHAIN_PEM = str(tmp_path / "chaine.pem")
    else:
        settings.WHITELIST_SIGNER_CHAIN_PEM = pem.decode()

    assert signers.public_certificate() == (issued.cert, [pki.intermediate.cert, pki.root.cert])
    signed = signers.configured_signer().sign(build_list())
    assert key_info_certificates(signed) == [issued.cert, pki.intermediate.cert, pki.root.cert]
    assert len(our_verifier(signed, pki).entries) == 3


def test_chain_file_completes_a_pkcs12_holding_only_the_intermediate(settings, tmp_path, pki):
    issued = p12_signer(settings, tmp_path, [pki.intermediate.cert])
    (tmp_path / "racine.pem").write_bytes(cert_pem(pki.root.cert))
    settings.WHITELIST_SIGNER_CHAIN_PEM = str(tmp_path / "racine.pem")
    signed = signers.configured_signer().sign(build_list())
    assert key_info_certificates(signed) == [issued.cert, pki.intermediate.cert, pki.root.cert]


def test_configured_certificates_off_the_path_are_left_out_and_logged(settings, tmp_path, pki, caplog):
    issued = p12_signer(settings, tmp_path, [pki.intermediate.cert])
    stranger = TestPKI(slot_base=10).root.cert
    settings.WHITELIST_SIGNER_CHAIN_PEM = cert_pem(stranger, pki.root.cert).decode()
    with caplog.at_level(logging.WARNING, logger="whitelist.signers"):
        signer = signers.configured_signer()
    assert signer.chain == [pki.intermediate.cert, pki.root.cert]
    assert key_info_certificates(signer.sign(build_list())) == [issued.cert, pki.intermediate.cert, pki.root.cert]
    assert "not on its path" in caplog.text and stranger.subject.rfc4514_string() in caplog.text


def test_unreadable_chain_file_is_a_french_signer_error(settings, tmp_path):
    p12_signer(settings, tmp_path, [])
    settings.WHITELIST_SIGNER_CHAIN_PEM = str(tmp_path / "absente.pem")
    with pytest.raises(signers.SignerError) as raised:
        signers.configured_signer()
    assert "Chaîne du signataire (WHITELIST_SIGNER_CHAIN_PEM) illisible" in raised.value.message


def test_published_version_carries_the_full_chain(world, ans2, box, signer_p12, pki):
    version = services.prepare_version(acting_user=world.ans)
    published = services.approve_and_publish(version, acting_user=ans2)
    signed = bytes(published.signed_xml)
    certificates = key_info_certificates(signed)
    assert certificates[1:] == [pki.intermediate.cert, pki.root.cert]
    assert certificates[0].subject.rfc4514_string() == published.signer_subject
    assert [e["Identifiant"] for e in verify_with_test_hierarchy(signed).entries] == [str(box.identifiant)]


# --------------------------------------------------------------------------- the verifier: both layouts

def test_verifier_accepts_ans_2024_sample_with_its_subject_name():
    data = ANS_SIGNED.read_bytes()
    assert x509_data_children(data) == ["X509SubjectName", "X509Certificate"]
    result = wl.verify(data, **ans_trust(), check_crl=False, at=ANS_AT)
    assert len(result.entries) == 6 and result.signer_subject.startswith(f"CN={SIGNER_CN},OU={SIGNER_OU}")


def test_verifier_accepts_our_list_in_the_2024_layout_too(pki, tmp_path):
    """KeyInfo is outside both signed references: the 2024 layout (subject name first) of the same signature."""
    issued = with_full_chain(org_sign_certificate(pki))
    signed = sign_list(build_list(), issued)
    name = escape(issued.cert.subject.rfc4514_string())
    old_layout = signed.replace(b"<ds:X509Data>",
                                f"<ds:X509Data><ds:X509SubjectName>{name}</ds:X509SubjectName>".encode(), 1)
    assert x509_data_children(old_layout) == ["X509SubjectName"] + ["X509Certificate"] * 3

    for data in (signed, old_layout):
        assert len(our_verifier(data, pki).entries) == 3
        done = xmlsec1(data, tmp_path, trusted=[pki.root.cert])
        assert done.returncode == 0, done.stderr


def test_a_root_carried_in_keyinfo_is_never_trusted(pki, tmp_path):
    impostor = TestPKI(slot_base=10)  # same DNs as the trusted hierarchy, other keys
    issued = with_full_chain(org_sign_certificate(impostor), impostor)
    signed = sign_list(build_list(), issued)
    assert key_info_certificates(signed) == [issued.cert, impostor.intermediate.cert, impostor.root.cert]

    with pytest.raises(wl.VerificationError) as refused:
        our_verifier(signed, pki, check_crl=False)
    assert refused.value.reason_code == "untrusted_chain"
    assert xmlsec1(signed, tmp_path, trusted=[pki.root.cert]).returncode != 0
    # the same list is accepted by whoever trusts the impostor's root: the refusal above is about trust only
    assert len(our_verifier(signed, impostor, check_crl=False).entries) == 3

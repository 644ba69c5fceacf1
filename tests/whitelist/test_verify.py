"""Signed whitelist: XAdES signer (whitelist.xades) and verifier (whitelist.verify, whitelist_verify)."""
from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from lxml import etree

from tests.conftest import require_or_skip
from tests.support.pki import TestPKI
from tests.whitelist.signing import build_list, domaine_xml, entry, org_sign_certificate, sign_list
from whitelist import verify as wl
from whitelist import xades

REF = Path(__file__).resolve().parents[1] / "fixtures" / "drim-m"
ANS_SIGNED = REF / "ansforge-DRIM-M_DATA/informatif-listeblanche/LISTEBLANCHE_DRIM-M_TEST_SIGNEE.xml"
ANS_UNSIGNED = [REF / "ansforge-DRIM-M_DATA/informatif-listeblanche/LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST_.xml",
                REF / "ansforge-DRIM-M_DATA/referencement-liste-blanche-test/LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST.xml"]
MSS_TRUNCATED = REF / "ansforge-MSS-liste-blanche/listeblanchemssante.xml"
ANS_AT = "2024-07-13T00:00:00Z"
DS = xades.DS


def ans_trust():
    anchors, intermediates = wl.split_anchors(wl.load_certificates(sorted(wl.default_anchor_dir().glob("*.pem"))))
    return {"anchors": anchors, "intermediates": intermediates}


@pytest.fixture(scope="module")
def pki():
    return TestPKI(slot_base=0)


@pytest.fixture(scope="module")
def signer(pki):
    return org_sign_certificate(pki)


@pytest.fixture(scope="module")
def signed(signer):
    return sign_list(build_list(), signer)


def check(data, pki, **kwargs):
    kwargs.setdefault("crls", [pki.crl()])
    return wl.verify(data, anchors=[pki.root.cert], **kwargs)


def reason(data, pki, **kwargs):
    with pytest.raises(wl.VerificationError) as info:
        check(data, pki, **kwargs)
    return info.value.reason_code


# --------------------------------------------------------------------------- ANS samples

def test_ans_signed_sample_verifies_at_its_signing_time():
    result = wl.verify(ANS_SIGNED.read_bytes(), **ans_trust(), check_crl=False, at=ANS_AT)
    assert len(result.entries) == 6
    assert result.entries[0]["db"] == "db1.111.mesimagesmedicales.fr"
    assert result.signing_time == dt.datetime(2024, 7, 12, 5, 37, 19, tzinfo=dt.UTC)
    assert result.signer_subject.startswith("CN=Liste Blanche DRIM-M,OU=318751275100020")


def test_ans_signed_sample_refused_today():
    with pytest.raises(wl.VerificationError) as info:
        wl.verify(ANS_SIGNED.read_bytes(), **ans_trust(), check_crl=False)
    assert info.value.reason_code == "signer_expired"


def test_ans_sample_issuer_serial_matches_our_encoding():
    result = wl.verify(ANS_SIGNED.read_bytes(), **ans_trust(), check_crl=False, at=ANS_AT)
    assert base64.b64encode(xades.issuer_serial_v2(result.signer)).decode() in ANS_SIGNED.read_text()


def test_command_on_ans_sample(capsys):
    call_command("whitelist_verify", str(ANS_SIGNED), "--no-crl", "--at", ANS_AT)
    assert capsys.readouterr().out.strip() == "OK 6"
    with pytest.raises(CommandError) as info:
        call_command("whitelist_verify", str(ANS_SIGNED), "--no-crl")
    assert info.value.returncode == 1 and "signer_expired" in str(info.value)


@pytest.mark.parametrize("path", ANS_UNSIGNED, ids=lambda p: p.name)
def test_ans_unsigned_samples_refused(path):
    with pytest.raises(wl.VerificationError) as info:
        wl.verify(path.read_bytes(), **ans_trust(), check_crl=False, at=ANS_AT)
    assert info.value.reason_code == "not_signed"


def test_mss_truncated_sample_refused():
    with pytest.raises(wl.VerificationError) as info:
        wl.verify(MSS_TRUNCATED.read_bytes(), **ans_trust(), check_crl=False)
    assert info.value.reason_code == "format"


def test_command_refuses_unsigned():
    with pytest.raises(CommandError) as info:
        call_command("whitelist_verify", str(ANS_UNSIGNED[0]), "--no-crl", "--at", ANS_AT)
    assert info.value.returncode == 1 and "not_signed" in str(info.value)


# --------------------------------------------------------------------------- our signer

def test_our_list_round_trip(signed, pki, signer):
    result = check(signed, pki)
    assert [e["db"] for e in result.entries] == [f"db{n}.test.mesimagesmedicales.fr" for n in (1, 2, 3)]
    assert result.entries[2]["vi"] == ""
    assert result.generated_at == dt.datetime(2026, 6, 19, 18, 6, 52, tzinfo=dt.UTC)
    assert result.signer.serial_number == signer.cert.serial_number
    # the original bytes are kept verbatim, the signature spliced before the closing tag
    unsigned = build_list()
    assert signed.startswith(unsigned[:unsigned.rindex(b"</ListeBlancheDRIM-M>")])
    root = etree.fromstring(signed)
    assert root[-1].tag == f"{{{DS}}}Signature"
    assert b'Filter="subtract">/descendant::ds:Signature<' in signed
    assert b"<xades:MimeType>text/xml</xades:MimeType>" in signed
    assert b"X509SubjectName" not in signed  # ANS's 2026 KeyInfo: certificates only (test_keyinfo_layout)
    assert b'Algorithm="http://www.w3.org/2001/04/xmlenc#sha512"' in signed


def test_signer_accepts_a_signing_callable(pki, signer):
    calls = []

    def token_sign(data: bytes) -> bytes:
        calls.append(data)
        return xades.as_signer(signer.key)(data)

    data = xades.sign(build_list(), token_sign, signer.cert, signer.chain)
    assert calls and check(data, pki).entries


def test_pkcs12_loader(signer):
    from tests.support.pki import pkcs12_blob
    key, cert, chain = xades.load_pkcs12(pkcs12_blob(signer, b"pw"), b"pw")
    assert cert == signer.cert and key.public_key().public_numbers() == signer.key.public_key().public_numbers()
    assert isinstance(chain, list)


def test_xmlsec1_verifies_our_signature(signed, pki, tmp_path):
    binary = shutil.which("xmlsec1")
    require_or_skip(binary, "xmlsec1 (Debian) is not installed")
    (tmp_path / "root.pem").write_bytes(pki.root.pem)
    (tmp_path / "intermediate.pem").write_bytes(pki.intermediate.pem)
    (tmp_path / "list.xml").write_bytes(signed)
    base = [binary, "--verify", "--trusted-pem", str(tmp_path / "root.pem"), "--untrusted-pem",
            str(tmp_path / "intermediate.pem"), "--id-attr:Id", "SignedProperties"]
    done = subprocess.run([*base, str(tmp_path / "list.xml")], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    (tmp_path / "changed.xml").write_bytes(signed.replace("Opérateur 2".encode(), "Opérateur 9".encode()))
    done = subprocess.run([*base, str(tmp_path / "changed.xml")], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode != 0


def test_command_on_our_list(signed, pki, tmp_path, capsys):
    (tmp_path / "root.pem").write_bytes(pki.root.pem)
    (tmp_path / "crl.pem").write_bytes(pki.crl().public_bytes(serialization.Encoding.PEM))
    (tmp_path / "list.xml").write_bytes(signed)
    call_command("whitelist_verify", str(tmp_path / "list.xml"), "--anchor", str(tmp_path / "root.pem"),
                 "--crl", str(tmp_path / "crl.pem"))
    assert capsys.readouterr().out.strip() == "OK 3"
    with pytest.raises(CommandError) as info:
        call_command("whitelist_verify", str(tmp_path / "list.xml"), "--anchor", str(tmp_path / "root.pem"),
                     "--crl", str(tmp_path / "crl.pem"), "--not-before", "2027-01-01T00:00:00Z")
    assert "rollback" in str(info.value)


# --------------------------------------------------------------------------- rejections

def test_entry_changed_after_signing(signed, pki):
    assert reason(signed.replace(b"db2.test.mesimagesmedicales.fr", b"db2.evil.example.fr"), pki) == "digest_mismatch"


def test_signature_value_tampered(signed, pki):
    root = etree.fromstring(signed)
    value = root.find(f".//{{{DS}}}SignatureValue").text
    flipped = ("A" if value[10] != "A" else "B")
    tampered = signed.replace(value.encode(), (value[:10] + flipped + value[11:]).encode())
    assert reason(tampered, pki) == "signature_invalid"


def test_entry_added_outside_signed_content(signed, pki):
    extra = domaine_xml(entry(66)).encode()
    wrapped = signed.replace(b"</ds:Object>", b"</ds:Object><ds:Object><ListeDomaines>" + extra
                             + b"</ListeDomaines></ds:Object>")
    assert reason(wrapped, pki) == "wrapping"


def test_entry_added_after_signing_is_not_signed(signed, pki):
    extra = domaine_xml(entry(66)).encode()
    assert reason(signed.replace(b"</ListeDomaines>", extra + b"</ListeDomaines>"), pki) == "digest_mismatch"


def test_signature_removed(signed, pki):
    root = etree.fromstring(signed)
    root.remove(root[-1])
    assert reason(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), pki) == "not_signed"


def test_two_signatures(signed, pki):
    start = signed.index(b"<ds:Signature ")
    end = signed.rindex(b"</ListeBlancheDRIM-M>")
    doubled = signed[:end] + signed[start:end] + signed[end:]
    assert reason(doubled, pki) == "several_signatures"


def test_other_signer_dn(pki):
    other = org_sign_certificate(pki, cn="Quelqu'un d'autre")
    assert reason(sign_list(build_list(), other), pki) == "signer_dn"
    other_ou = org_sign_certificate(pki, ou="999999999")
    assert reason(sign_list(build_list(), other_ou), pki) == "signer_dn"


def test_expired_signer(pki):
    now = dt.datetime.now(dt.UTC)
    old = org_sign_certificate(pki, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=10))
    data = sign_list(build_list(), old, signing_time=now - dt.timedelta(days=20))
    assert reason(data, pki) == "signer_expired"
    # verifies at an instant when it was valid
    assert check(data, pki, at=now - dt.timedelta(days=15), crls=[pki.crl(this_update=now - dt.timedelta(days=16))])


def test_signer_not_yet_valid_at_signing_time(pki, signer):
    data = sign_list(build_list(), signer, signing_time=signer.cert.not_valid_before_utc - dt.timedelta(days=1))
    assert reason(data, pki) == "signer_not_yet_valid"


def test_revoked_signer(signed, pki, signer):
    assert reason(signed, pki, crls=[pki.crl([signer])]) == "signer_revoked"


def test_crl_missing(signed, pki):
    assert reason(signed, pki, crls=None) == "crl_unavailable"
    assert check(signed, pki, crls=None, check_crl=False).entries


def test_untrusted_chain(signed):
    impostor = TestPKI(slot_base=7)
    assert reason(signed, impostor) == "untrusted_chain"


def test_rollback(signed, pki):
    assert reason(signed, pki, not_before_generation="2026-06-20T00:00:00Z") == "rollback"
    assert check(signed, pki, not_before_generation="2026-06-19T18:06:52Z").entries


def test_dtd_refused(signed, pki):
    with_dtd = signed.replace(b"?><ListeBlancheDRIM-M", b"?><!DOCTYPE ListeBlancheDRIM-M><ListeBlancheDRIM-M", 1)
    assert reason(with_dtd, pki) == "dtd"


def test_entity_refused(pki, signer):
    data = build_list([entry(1, Denomination="&x;")]).replace(b"&amp;x;", b"&x;").replace(
        b"?><ListeBlancheDRIM-M", b'?><!DOCTYPE ListeBlancheDRIM-M [<!ENTITY x "Operateur X">]><ListeBlancheDRIM-M',
        1)
    assert reason(data, pki) == "entity"


def test_elements_out_of_order(pki, signer):
    order = ("Identifiant", "vi", "db", "Denomination", "DNCertificatOperateur", "ResponsableContact",
             "SupportContact", "DateMAJ")
    data = sign_list(build_list(domaines=[domaine_xml(entry(1)), domaine_xml(entry(2), order)]), signer)
    assert reason(data, pki) == "order"


def test_missing_element_is_format(pki, signer):
    data = sign_list(build_list(domaines=[domaine_xml(entry(1, SupportContact=None))]), signer)
    assert reason(data, pki) == "format"


@pytest.mark.parametrize("date_maj", ["2025-13-01T00:00:00Z", "2025-02-30T10:00:00Z", "2025-01-01T24:00:00Z",
                                      "2025-01-01 10:00:00Z", "2025-01-01T10:00:00+01:00"])
def test_impossible_or_misformatted_dates_are_format(pki, signer, date_maj):
    data = sign_list(build_list(domaines=[domaine_xml(entry(1, DateMAJ=date_maj))]), signer)
    assert reason(data, pki) == "format"
    valid = sign_list(build_list(domaines=[domaine_xml(entry(1, DateMAJ="2025-02-28T23:59:59Z"))]), signer)
    assert check(valid, pki).entries[0]["DateMAJ"] == "2025-02-28T23:59:59Z"


def test_duplicates(pki, signer):
    same_db = sign_list(build_list([entry(1), entry(2, db="db1.test.mesimagesmedicales.fr")]), signer)
    assert reason(same_db, pki) == "duplicate"
    same_id = sign_list(build_list([entry(1), entry(2, Identifiant="1")]), signer)
    assert check(same_id, pki).entries  # ANS's own sample repeats Identifiant per operator
    assert reason(same_id, pki, unique_identifiant=True) == "duplicate"


def test_unknown_namespace_and_root(pki, signer):
    assert reason(sign_list(build_list(ns="urn:other"), signer), pki) == "format"
    old_ns = sign_list(build_list(ns="https://listeblanche.mesimagesmedicales.fr/schema"), signer)
    assert len(check(old_ns, pki).entries) == 3


def test_reference_scope(signed, pki):
    narrowed = signed.replace(b'URI=""', b'URI="#nothing"', 1)
    assert reason(narrowed, pki) == "reference_scope"


def test_signed_properties_changed(signed, pki):
    root = etree.fromstring(signed)
    old = root.find(f".//{{{xades.XADES}}}SigningTime").text.encode()
    assert reason(signed.replace(old, b"2020-01-01T00:00:00Z"), pki) == "digest_mismatch"


def test_signature_not_last_child(signed, pki):
    start = signed.index(b"<ds:Signature ")
    end = signed.rindex(b"</ListeBlancheDRIM-M>")
    moved = signed[:start] + signed[end:]
    moved = moved.replace(b"<ListeDomaines>", signed[start:end] + b"<ListeDomaines>", 1)
    assert reason(moved, pki) == "wrapping"


def test_duplicate_id_refused(signed, pki):
    root = etree.fromstring(signed)
    props_id = root.find(f".//{{{xades.XADES}}}SignedProperties").get("Id").encode()
    duplicated = signed.replace(b"<DateDeGeneration>", b'<DateDeGeneration Id="' + props_id + b'">', 1)
    assert reason(duplicated, pki) == "wrapping"


def test_signer_without_signature_usage(pki):
    bad = pki.db_certificate(None, subject=org_sign_certificate(pki).cert.subject, key_usage={"key_encipherment"},
                             eku=None, san=[])
    assert reason(sign_list(build_list(), bad), pki) == "signer_usage"


def test_command_default_anchors_refuse_our_test_hierarchy(signed, tmp_path):
    (tmp_path / "list.xml").write_bytes(signed)
    with pytest.raises(CommandError) as info:
        call_command("whitelist_verify", str(tmp_path / "list.xml"), "--no-crl")
    assert info.value.returncode == 1 and "untrusted_chain" in str(info.value)


def test_signer_refuses_already_signed_and_doctype(signed, signer):
    with pytest.raises(xades.SigningError):
        sign_list(signed, signer)
    with pytest.raises(xades.SigningError):
        sign_list(build_list().replace(b"?><L", b"?><!DOCTYPE x><L", 1), signer)

"""certificates.validation: upload parsing, db/vi rules, chains (test PKI and the real ANS TEST hierarchy),
CRLs, description, property-based robustness. No database needed."""
import base64
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certificates.validation import (
    RULE_LABELS,
    CertificateInputError,
    CrlStatus,
    CrlVerdict,
    build_chain,
    check_db_certificate,
    check_vi_certificate,
    check_vi_csr,
    crl_verdict,
    describe_certificate,
    parse_certificate_upload,
    parse_crl,
    parse_csr_upload,
)
from certificates.validation import chain as chain_module
from certificates.validation.common import MAX_PATH_STEPS, PARIS
from tests.conftest import require_or_skip
from tests.support import pki as P
from tests.support.pki import (
    DB_FQDN,
    ID_NAT_STRUCT,
    VI_FQDN,
    TestPKI,
    build_csr,
    csr_pem,
    utcnow,
)

# the shared samples next to the project (``../shared``): the real ANS TEST hierarchy and signed whitelist
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "drim-m"
ANS_TEST = REFERENCE / "igc-sante-test"
SIGNED_LIST = REFERENCE / "ansforge-DRIM-M_DATA/informatif-listeblanche/LISTEBLANCHE_DRIM-M_TEST_SIGNEE.xml"
NOW = utcnow()
DB_CODES = ["chain", "cn", "ou", "validity", "signature_hash", "key_usage", "revocation"]


# --------------------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def pki():
    return TestPKI(now=NOW)


@pytest.fixture(scope="module")
def good(pki):
    return pki.db_certificate()


@pytest.fixture(scope="module")
def crl(pki):
    return pki.crl()


def by_code(results):
    assert [r.code for r in results] == list(dict.fromkeys(r.code for r in results)), "duplicate rule codes"
    return {r.code: r for r in results}


def check(pki, issued, *, crl=None, at=NOW, crl_status="default", **overrides):
    if crl_status == "default":
        the_crl = crl if crl is not None else pki.crl()

        def crl_status(cert, issuer):
            return crl_verdict(cert, issuer, the_crl, at=at)

    arguments = {"extra_chain": issued.chain, "anchors": [pki.root.cert], "intermediates": [],
                 "expected_cn": DB_FQDN, "expected_ou": ID_NAT_STRUCT, "at": at, "crl_status": crl_status}
    arguments.update(overrides)
    return by_code(check_db_certificate(issued.cert, **arguments))


def assert_only(results, code, ok=False):
    """Exactly one rule is not a success: ``code``, with ``ok`` (False or None)."""
    for name, result in results.items():
        if name == code:
            assert result.ok is ok, result
        else:
            assert result.ok is True, result


def refused(parser, data, *fragments, **kwargs):
    with pytest.raises(CertificateInputError) as info:
        parser(data, **kwargs)
    message = info.value.message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --------------------------------------------------------------------------- db certificate rules

def test_good_db_certificate_passes_every_rule(pki, good, crl):
    results = check(pki, good, crl=crl)
    assert list(results) == DB_CODES
    assert all(r.ok is True for r in results.values()), results
    assert set(DB_CODES) <= set(RULE_LABELS)
    assert "TEST AC RACINE IGC-SANTE ELEMENTAIRE PYTEST" in results["chain"].message
    assert DB_FQDN in results["cn"].message and ID_NAT_STRUCT in results["ou"].message


def test_good_db_certificate_also_passes_with_the_intermediate_configured(pki, good, crl):
    results = check(pki, good, crl=crl, extra_chain=[], intermediates=[pki.intermediate.cert])
    assert all(r.ok is True for r in results.values())


def test_wrong_cn_fails_alone_naming_both_values(pki, crl):
    issued = pki.db_certificate("db176.test.mesimagesmedicales.fr")
    results = check(pki, issued, crl=crl)
    assert_only(results, "cn")
    message = results["cn"].message
    assert "db176.test.mesimagesmedicales.fr" in message and DB_FQDN in message


def test_cn_case_difference_is_named(pki, crl):
    results = check(pki, pki.db_certificate(DB_FQDN.upper(), san=[DB_FQDN]), crl=crl)
    assert_only(results, "cn")
    assert "casse" in results["cn"].message


def test_san_without_the_db_fqdn_fails_the_cn_rule(pki, crl):
    results = check(pki, pki.db_certificate(san=["db999.test.mesimagesmedicales.fr"]), crl=crl)
    assert_only(results, "cn")
    assert "subjectAltName" in results["cn"].message and "db999" in results["cn"].message


def test_wrong_ou_fails_alone_naming_both_values(pki, crl):
    results = check(pki, pki.db_certificate(id_nat_struct="318751275100020"), crl=crl)
    assert_only(results, "ou")
    assert "318751275100020" in results["ou"].message and ID_NAT_STRUCT in results["ou"].message


def test_idnat_struct_among_several_ous_is_accepted(pki, crl):
    results = check(pki, pki.db_certificate(id_nat_struct=["SERVEUR DRIMBOX", ID_NAT_STRUCT]), crl=crl)
    assert all(r.ok is True for r in results.values())
    assert "SERVEUR DRIMBOX" in results["ou"].message
    results = check(pki, pki.db_certificate(id_nat_struct=["SERVEUR DRIMBOX", "0002 187512751"]), crl=crl)
    assert_only(results, "ou")
    assert "SERVEUR DRIMBOX" in results["ou"].message and "0002 187512751" in results["ou"].message


def paris_day(instant: dt.datetime) -> str:
    """The day as the messages show it: in Paris time (late UTC evening is already the next day in Paris)."""
    return instant.astimezone(PARIS).strftime("%d/%m/%Y")


def test_expired_fails_alone_with_dates(pki, crl):
    issued = pki.db_certificate(not_before=NOW - dt.timedelta(days=1100), not_after=NOW - dt.timedelta(days=5))
    results = check(pki, issued, crl=crl)
    assert_only(results, "validity")
    message = results["validity"].message
    assert "a expiré le" in message
    assert paris_day(NOW - dt.timedelta(days=5)) in message


def test_not_yet_valid_fails_alone_with_dates(pki, crl):
    start = NOW + dt.timedelta(days=2)
    results = check(pki, pki.db_certificate(not_before=start), crl=crl)
    assert_only(results, "validity")
    assert "pas encore valide" in results["validity"].message
    assert paris_day(start) in results["validity"].message


def test_sha1_signature_fails_alone_with_its_own_message(pki, crl):
    issued = pki.db_certificate(hash_name="sha1")
    assert issued.cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA1
    results = check(pki, issued, crl=crl)
    assert_only(results, "signature_hash")  # the chain still verifies: the SHA-1 signature is genuine
    assert "SHA-1" in results["signature_hash"].message
    assert "sha256WithRSAEncryption" in results["signature_hash"].message


def test_sha384_signature_is_refused_without_the_sha1_message(pki, crl):
    results = check(pki, pki.db_certificate(hash_name="sha384"), crl=crl)
    assert_only(results, "signature_hash")
    assert "SHA-1" not in results["signature_hash"].message
    assert "sha384WithRSAEncryption" in results["signature_hash"].message


def test_ecdsa_db_certificate_with_sha256_is_accepted(pki, crl):
    results = check(pki, pki.db_certificate(key=P.ec_key("P-256"), key_usage={"digital_signature"}), crl=crl)
    assert all(r.ok is True for r in results.values()), results


@pytest.mark.parametrize(("knobs", "fragment"), [
    ({"eku": ("serverAuth",)}, "clientAuth"),
    ({"eku": ("clientAuth",)}, "serverAuth"),
    ({"eku": ("emailProtection",)}, "serverAuth ni clientAuth"),
    ({"eku": None}, "extendedKeyUsage est absente"),
    ({"key_usage": {"key_encipherment"}}, "digitalSignature"),
    ({"key_usage": None}, "keyUsage est absente"),
    ({"key_usage": {"digital_signature", "key_cert_sign"}}, "keyCertSign"),
    ({"is_ca": True}, "CA:TRUE"),
])
def test_key_usage_unfit_for_tls_fails_alone(pki, crl, knobs, fragment):
    results = check(pki, pki.db_certificate(**knobs), crl=crl)
    assert_only(results, "key_usage")
    assert fragment in results["key_usage"].message


def test_unknown_root_fails_the_chain_and_leaves_revocation_undecided(pki, crl):
    stranger = TestPKI(root_cn="AC RACINE INCONNUE", intermediate_cn="AC INCONNUE SERVEURS", slot_base=10, now=NOW)
    results = check(pki, stranger.db_certificate(), crl=crl)
    assert results["chain"].ok is False
    assert "AC INCONNUE SERVEURS" in results["chain"].message
    assert results["revocation"].ok is None  # the issuer is unknown: never "not revoked"
    assert all(results[c].ok is True for c in ("cn", "ou", "validity", "signature_hash", "key_usage"))


def test_impostor_with_the_same_names_but_other_keys_fails_the_chain(pki, crl):
    impostor = TestPKI(slot_base=10, now=NOW)  # same DNs as ``pki``, different keys
    issued = impostor.db_certificate()
    results = check(pki, issued, crl=crl, extra_chain=[], intermediates=[pki.intermediate.cert])
    assert results["chain"].ok is False
    assert "n'est pas vérifiée par la clé" in results["chain"].message
    # the impostor's intermediate uploaded with the leaf does not help either
    results = check(pki, issued, crl=crl, extra_chain=issued.chain)
    assert results["chain"].ok is False


def test_chain_needs_the_intermediate_uploaded_or_configured(pki, good):
    result = build_chain(good.cert, anchors=[pki.root.cert], at=NOW)
    assert not result.ok and "émetteur" in result.message
    assert build_chain(good.cert, anchors=[pki.root.cert], extra_chain=good.chain, at=NOW).ok
    assert build_chain(good.cert, anchors=[pki.root.cert], intermediates=good.chain, at=NOW).ok
    assert not build_chain(good.cert, anchors=[], intermediates=good.chain, at=NOW).ok
    # the intermediate is not an anchor: configuring it alone as one still works (trust anchor = name + key)
    assert build_chain(good.cert, anchors=[pki.intermediate.cert], at=NOW).path[-1] == pki.intermediate.cert


def test_chain_refuses_an_expired_intermediate_and_a_non_ca_intermediate():
    expired = TestPKI(now=NOW, intermediate_validity=(NOW - dt.timedelta(days=900), NOW - dt.timedelta(days=1)))
    result = build_chain(expired.db_certificate().cert, anchors=[expired.root.cert],
                         intermediates=[expired.intermediate.cert], at=NOW)
    assert not result.ok and "a expiré le" in result.message
    not_ca = TestPKI(now=NOW, intermediate_is_ca=False)
    result = build_chain(not_ca.db_certificate().cert, anchors=[not_ca.root.cert],
                         intermediates=[not_ca.intermediate.cert], at=NOW)
    assert not result.ok and "pas un certificat d'autorité" in result.message


def test_chain_refuses_a_sha1_signed_intermediate():
    legacy = TestPKI(now=NOW, intermediate_hash="sha1")
    result = build_chain(legacy.db_certificate().cert, anchors=[legacy.root.cert],
                         intermediates=[legacy.intermediate.cert], at=NOW)
    assert not result.ok and "sha1WithRSAEncryption" in result.message


def test_path_building_backtracks_over_same_name_authorities(pki, good):
    impostor = TestPKI(slot_base=10, now=NOW)  # same DNs, other keys
    result = build_chain(good.cert, anchors=[impostor.root.cert, pki.root.cert],
                         intermediates=[impostor.intermediate.cert, pki.intermediate.cert], at=NOW)
    assert result.ok and result.path == (good.cert, pki.intermediate.cert, pki.root.cert)
    result = build_chain(impostor.db_certificate().cert, anchors=[pki.root.cert, impostor.root.cert],
                         intermediates=[pki.intermediate.cert, impostor.intermediate.cert], at=NOW)
    assert result.ok and result.path[-1] == impostor.root.cert


def test_path_search_is_bounded_on_hostile_same_name_authorities(pki, monkeypatch):
    """Nine self-issued CAs sharing one name and one key all "issue" each other: without a bound the
    depth-first search would walk ~9! paths. The work is counted (signature checks), not timed."""
    key = P.ec_key("P-256", 7)
    name = P.igc_ca_name("AC PIEGE")
    cas = []
    for serial in range(1, 10):
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(serial).not_valid_before(NOW - dt.timedelta(days=1))
                   .not_valid_after(NOW + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
        cas.append(builder.sign(key, P.hashes.SHA256()))
    leaf = pki.db_certificate(issuer=P.Issued(cas[0], key)).cert
    signature_checks = []
    real_check = chain_module._certificate_signed_by

    def counted(child, issuer, *, cache):
        signature_checks.append(child)
        return real_check(child, issuer, cache=cache)

    monkeypatch.setattr(chain_module, "_certificate_signed_by", counted)
    result = build_chain(leaf, anchors=[pki.root.cert], extra_chain=cas, at=NOW)
    assert not result.ok and ("trop de chemins" in result.message or "dépasse" in result.message)
    assert result.message.count("dépasse 8") <= 1
    assert 0 < len(signature_checks) <= MAX_PATH_STEPS


def test_rust_verifier_agrees_on_the_test_pki_but_folds_rules_together(pki, good):
    """cryptography.x509.verification accepts our CA/B-shaped chain; it also rejects a SHA-1 leaf and an
    expired leaf with one opaque error, which is why the rules build the chain by hand."""
    store = verification.Store([pki.root.cert])
    verifier = verification.PolicyBuilder().store(store).time(NOW).build_server_verifier(
        x509.DNSName(DB_FQDN))
    chain = verifier.verify(good.cert, good.chain)
    assert chain[-1] == pki.root.cert
    assert build_chain(good.cert, anchors=[pki.root.cert], extra_chain=good.chain, at=NOW).path == tuple(chain)
    sha1 = pki.db_certificate(hash_name="sha1")
    with pytest.raises(verification.VerificationError):
        verifier.verify(sha1.cert, sha1.chain)
    assert build_chain(sha1.cert, anchors=[pki.root.cert], extra_chain=sha1.chain, at=NOW).ok


# --------------------------------------------------------------------------- revocation

def test_revoked_in_the_crl_fails_alone_with_date_and_reason(pki, good):
    when = NOW - dt.timedelta(days=2)
    the_crl = pki.crl([(good, when, x509.ReasonFlags.key_compromise), 12345])
    results = check(pki, good, crl=the_crl)
    assert_only(results, "revocation")
    message = results["revocation"].message
    assert "révoqué" in message and paris_day(when) in message and "keyCompromise" in message


def test_stale_crl_is_undecided_never_shown_as_not_revoked(pki, good):
    stale = pki.crl(this_update=NOW - dt.timedelta(days=10), next_update=NOW - dt.timedelta(days=3))
    verdict = crl_verdict(good.cert, pki.intermediate.cert, stale, at=NOW)
    assert verdict.status is CrlStatus.STALE and verdict.next_update == NOW - dt.timedelta(days=3)
    results = check(pki, good, crl=stale)
    assert_only(results, "revocation", ok=None)
    message = results["revocation"].message
    assert "périmée" in message and "inconnu" in message
    assert "non révoqué" not in message and "ne figure pas" not in message


def test_serial_listed_in_a_stale_crl_is_still_revoked(pki, good):
    stale = pki.crl([good], this_update=NOW - dt.timedelta(days=10), next_update=NOW - dt.timedelta(days=3))
    assert crl_verdict(good.cert, pki.intermediate.cert, stale, at=NOW).status is CrlStatus.REVOKED


@pytest.mark.parametrize(("crl_status", "fragment"), [
    (lambda cert, issuer: CrlVerdict.UNAVAILABLE("téléchargement impossible : délai dépassé"), "délai dépassé"),
    (None, "aucune liste"),
    (lambda cert, issuer: 1 / 0, "erreur lors de la consultation"),
    (lambda cert, issuer: "GOOD", "réponse inattendue"),
])
def test_unavailable_crl_is_undecided(pki, good, crl_status, fragment):
    results = check(pki, good, crl_status=crl_status)
    assert_only(results, "revocation", ok=None)
    message = results["revocation"].message
    assert "inconnu" in message and fragment in message
    assert "non révoqué" not in message and "ne figure pas" not in message


def test_crl_status_constant_good_and_revoked_constructors(pki, good):
    results = check(pki, good, crl_status=lambda cert, issuer: CrlVerdict.GOOD)
    assert results["revocation"].ok is True
    revoked_at = NOW - dt.timedelta(hours=3)
    results = check(pki, good, crl_status=lambda cert, issuer: CrlVerdict.REVOKED(revoked_at, "superseded"))
    assert results["revocation"].ok is False and "superseded" in results["revocation"].message


def test_crl_verdict_checks_signature_issuer_and_dates(pki, good):
    inter = pki.intermediate.cert
    forged = pki.crl(signing_key=P.rsa_key(2048, 42))
    verdict = crl_verdict(good.cert, inter, forged, at=NOW)
    assert verdict.status is CrlStatus.UNAVAILABLE and "signature" in verdict.reason
    other_issuer = pki.crl(issuer=pki.root)
    verdict = crl_verdict(good.cert, inter, other_issuer, at=NOW)
    assert verdict.status is CrlStatus.UNAVAILABLE and "émise par" in verdict.reason
    future = pki.crl(this_update=NOW + dt.timedelta(days=1))
    assert crl_verdict(good.cert, inter, future, at=NOW).status is CrlStatus.UNAVAILABLE
    others = pki.crl([1, 2, 3, pki.db_certificate()])
    verdict = crl_verdict(good.cert, inter, others, at=NOW)
    assert verdict.status is CrlStatus.GOOD and verdict.next_update > NOW
    removed = pki.crl([(good, None, x509.ReasonFlags.remove_from_crl)])
    assert crl_verdict(good.cert, inter, removed, at=NOW).status is CrlStatus.GOOD


def test_parse_crl_pem_and_der(pki, good):
    the_crl = pki.crl([good])
    pem = the_crl.public_bytes(serialization.Encoding.PEM)
    der = the_crl.public_bytes(serialization.Encoding.DER)
    assert parse_crl(pem).get_revoked_certificate_by_serial_number(good.cert.serial_number)
    assert parse_crl(der) == the_crl
    refused(parse_crl, good.pem, "certificat")
    refused(parse_crl, b"", "vide")
    refused(parse_crl, b"\x30\x03\x02\x01\x01", "illisible")
    refused(parse_crl, pem + P.key_pem(good.key), "clé privée", "refusée", "pas été conservée")


# --------------------------------------------------------------------------- the real ANS TEST hierarchy

def reference(path):
    require_or_skip(path.exists(), f"shared reference sample missing: {path}")
    return path


def ans_test_hierarchy():
    reference(ANS_TEST)
    root = parse_certificate_upload((ANS_TEST / "TEST_AC_RACINE_IGC-SANTE_ELEMENTAIRE.pem").read_bytes())
    intermediate = parse_certificate_upload(
        (ANS_TEST / "TEST_AC_IGC-SANTE_ELEMENTAIRE_ORGANISATIONS.pem").read_bytes())
    assert len(root) == len(intermediate) == 1
    return root[0], intermediate[0]


def ans_signer_and_signing_time():
    text = reference(SIGNED_LIST).read_text(encoding="utf-8")
    blobs = re.findall(r"<ds:X509Certificate>([^<]+)</ds:X509Certificate>", text)
    assert len(blobs) == 1
    der = base64.b64decode("".join(blobs[0].split()))
    signing_time = re.search(r"<xades:SigningTime>([^<]+)</xades:SigningTime>", text).group(1)
    return parse_certificate_upload(der), dt.datetime.fromisoformat(signing_time)


def test_real_ans_test_root_and_intermediate_are_accepted_as_anchors():
    root, intermediate = ans_test_hierarchy()
    assert root.subject == root.issuer and intermediate.issuer == root.subject
    result = build_chain(intermediate, anchors=[root], at=NOW)
    assert result.ok, result.message
    assert result.path == (intermediate, root)
    described = describe_certificate(intermediate)
    assert described["subject"] == ("CN=TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS,OU=IGC-SANTE TEST,"
                                    "OU=0002 187512751,O=ASIP-SANTE,C=FR")
    assert described["key"] == "RSA 4096 bits" and described["is_ca"]
    assert described["crl_urls"][0] == "http://igc-sante.esante.gouv.fr/CRL/ACR-EL-TEST.crl"
    assert described["not_after"] == dt.datetime(2033, 6, 24, tzinfo=dt.UTC)


def test_real_ans_signer_chains_at_signing_time_and_is_expired_today():
    root, intermediate = ans_test_hierarchy()
    (signer,), signed_at = ans_signer_and_signing_time()
    assert signed_at == dt.datetime(2024, 7, 12, 5, 37, 19, tzinfo=dt.UTC)
    assert signer.subject.rfc4514_string() == (
        "CN=Liste Blanche DRIM-M,OU=318751275100020,O=AGENCE DU NUMERIQUE EN SANTE,ST=Paris (75),C=FR")
    for at in (signed_at, dt.datetime(2024, 7, 13, 12, tzinfo=dt.UTC)):
        results = by_code(check_db_certificate(
            signer, extra_chain=[], anchors=[root], intermediates=[intermediate], expected_cn=DB_FQDN,
            expected_ou=ID_NAT_STRUCT, at=at, crl_status=None))
        assert results["chain"].ok is True, results["chain"].message
        assert results["validity"].ok is True and results["signature_hash"].ok is True
        # an ORG SIGN certificate, not a db server certificate:
        assert results["cn"].ok is False and "Liste Blanche DRIM-M" in results["cn"].message
        assert results["ou"].ok is False and "318751275100020" in results["ou"].message
        assert results["key_usage"].ok is False and "emailProtection" in results["key_usage"].message
        assert results["revocation"].ok is None
    # the OU rule passes when the expected idNat_Struct is ANS's own
    assert by_code(check_db_certificate(signer, anchors=[root], intermediates=[intermediate],
                                        expected_cn=DB_FQDN, expected_ou="318751275100020",
                                        at=signed_at))["ou"].ok is True
    today = by_code(check_db_certificate(signer, anchors=[root], intermediates=[intermediate],
                                         expected_cn=DB_FQDN, expected_ou=ID_NAT_STRUCT, at=NOW))
    assert today["chain"].ok is True  # the CAs are valid until 2033
    assert today["validity"].ok is False and "a expiré le 12/09/2026" in today["validity"].message


def test_rust_verifier_accepts_the_real_ans_chain_with_a_custom_end_entity_policy():
    """The 2013 IGC-Santé TEST CAs do satisfy cryptography's CA/B CA profile; the ORG SIGN leaf needs a
    permissive end-entity policy (it has no serverAuth/clientAuth EKU)."""
    root, intermediate = ans_test_hierarchy()
    (signer,), signed_at = ans_signer_and_signing_time()

    def verifier(at):
        return (verification.PolicyBuilder().store(verification.Store([root])).time(at)
                .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=verification.ExtensionPolicy.permit_all())
                .build_client_verifier())

    assert verifier(signed_at).verify(signer, [intermediate]).chain == [signer, intermediate, root]
    with pytest.raises(verification.VerificationError):
        verifier(NOW).verify(signer, [intermediate])
    with pytest.raises(verification.VerificationError, match="EKU"):
        verification.PolicyBuilder().store(verification.Store([root])).time(signed_at) \
            .build_client_verifier().verify(signer, [intermediate])


def test_test_pki_and_real_anchors_coexist(pki, good, crl):
    root, intermediate = ans_test_hierarchy()
    results = check(pki, good, crl=crl, anchors=[root, pki.root.cert], intermediates=[intermediate])
    assert all(r.ok is True for r in results.values())
    results = check(pki, good, crl=crl, anchors=[root], intermediates=[intermediate])
    assert results["chain"].ok is False


# --------------------------------------------------------------------------- vi CSR

def csr_rules(csr, **kwargs):
    return by_code(check_vi_csr(csr, expected_fqdn=VI_FQDN, **kwargs))


def test_good_csr_passes():
    csr, _key = build_csr(VI_FQDN)
    results = csr_rules(parse_csr_upload(csr_pem(csr)))
    assert list(results) == ["csr_signature", "names", "fqdn", "wildcard", "public_key", "signature_hash"]
    assert all(r.ok is True for r in results.values()), results
    assert all(r.ok is True for r in csr_rules(build_csr(VI_FQDN, cn=None)[0]).values())


@pytest.mark.parametrize(("kwargs", "failing", "fragment"), [
    ({"fqdn": "*.test.mesimagesmedicales.fr"}, {"wildcard", "fqdn"}, "*.test.mesimagesmedicales.fr"),
    ({"sans": [VI_FQDN, "vi176.test.mesimagesmedicales.fr"]}, {"names", "fqdn"}, "exactement un nom DNS"),
    ({"key_size": 1024}, {"public_key"}, "1024 bits"),
    ({"hash_name": "sha1"}, {"signature_hash"}, "SHA-1"),
    ({"hash_name": "sha512"}, {"signature_hash"}, "sha512WithRSAEncryption"),
    ({"cn": "vi176.test.mesimagesmedicales.fr"}, {"names", "fqdn"}, "diffère"),
    ({"fqdn": "vi176.test.mesimagesmedicales.fr"}, {"fqdn"}, "vi176.test.mesimagesmedicales.fr"),
    ({"fqdn": "db175.test.mesimagesmedicales.fr"}, {"fqdn"}, VI_FQDN),
    ({"sans": []}, {"names"}, "aucun"),
    ({"sans": [VI_FQDN, "IP:192.0.2.1"]}, {"names"}, "IP:192.0.2.1"),
    ({"curve": "P-256"}, {"public_key"}, "ECDSA"),
])
def test_bad_csr_fails_its_rules(kwargs, failing, fragment):
    kwargs.setdefault("fqdn", VI_FQDN)
    csr, _key = build_csr(**kwargs)
    results = csr_rules(parse_csr_upload(csr_pem(csr)))
    assert {code for code, r in results.items() if r.ok is not True} == failing, results
    assert any(fragment in results[code].message for code in failing), results


def test_ecdsa_csr_accepted_only_when_the_policy_allows_it():
    csr, _key = build_csr(curve="P-256")
    assert all(r.ok is True for r in csr_rules(csr, allow_ecdsa=True).values())
    secp256k1, _key = build_csr(curve="secp256k1")
    assert csr_rules(secp256k1, allow_ecdsa=True)["public_key"].ok is False


def test_sha1_csr_self_signature_is_still_checked():
    csr, _key = build_csr(hash_name="sha1")
    assert csr.is_signature_valid is False  # cryptography's own check refuses SHA-1 outright
    assert csr_rules(csr)["csr_signature"].ok is True


def test_tampered_csr_signature_fails():
    csr, _key = build_csr()
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01
    results = csr_rules(parse_csr_upload(bytes(der)))
    assert results["csr_signature"].ok is False and "invalide" in results["csr_signature"].message


def test_csr_for_another_operators_name():
    csr, _key = build_csr("vi12.test.mesimagesmedicales.fr")
    results = csr_rules(csr)
    assert results["fqdn"].ok is False
    assert "vi12.test.mesimagesmedicales.fr" in results["fqdn"].message and VI_FQDN in results["fqdn"].message


# --------------------------------------------------------------------------- vi certificate

def vi_rules(issued, at=NOW):
    return by_code(check_vi_certificate(issued.cert, expected_fqdn=VI_FQDN, at=at))


def test_vi_certificate_rules(pki):
    results = vi_rules(pki.vi_certificate())
    assert list(results) == ["names", "fqdn", "wildcard", "public_key", "signature_hash", "key_usage", "validity"]
    assert all(r.ok is True for r in results.values()), results
    assert all(r.ok is True for r in vi_rules(pki.vi_certificate(cn=None)).values())  # no CN: accepted
    two = vi_rules(pki.vi_certificate(san=[VI_FQDN, "vi176.test.mesimagesmedicales.fr"]))
    assert two["names"].ok is False and two["fqdn"].ok is False
    wildcard = vi_rules(pki.vi_certificate("*.test.mesimagesmedicales.fr"))
    assert wildcard["wildcard"].ok is False and wildcard["fqdn"].ok is False
    assert_only(vi_rules(pki.vi_certificate(hash_name="sha1")), "signature_hash")
    assert_only(vi_rules(pki.vi_certificate(), at=NOW + dt.timedelta(days=200)), "validity")
    assert_only(vi_rules(pki.vi_certificate(eku=("clientAuth",))), "key_usage")
    assert_only(vi_rules(pki.vi_certificate(key=P.rsa_key(1024, 0))), "public_key")
    cn_differs = vi_rules(pki.vi_certificate(cn="vi176.test.mesimagesmedicales.fr"))
    assert cn_differs["names"].ok is False and "diffère" in cn_differs["names"].message


# --------------------------------------------------------------------------- uploads

def test_pem_chain_der_and_surrounding_text_are_accepted(pki, good):
    assert parse_certificate_upload(good.pem) == [good.cert]
    assert parse_certificate_upload(good.chain_pem) == [good.cert, pki.intermediate.cert]
    assert parse_certificate_upload(good.der) == [good.cert]
    assert parse_certificate_upload(good.pem.replace(b"\n", b"\r\n")) == [good.cert]
    decorated = (b"Bag Attributes\n    friendlyName: db\nsubject=/CN=" + DB_FQDN.encode() + b"\n"
                 + good.pem + b"\n\n")
    assert parse_certificate_upload(decorated) == [good.cert]


def test_private_keys_are_refused_and_not_kept(pki, good):
    key = good.key
    ec = P.ec_key("P-256")
    uploads = {
        "PRIVATE KEY": good.pem + P.key_pem(key),
        "key first": P.key_pem(key) + good.pem,
        "RSA PRIVATE KEY": good.pem + P.key_pem_traditional(key),
        "EC PRIVATE KEY": good.pem + P.key_pem_traditional(ec),
        "ENCRYPTED PRIVATE KEY": good.pem + P.key_pem_encrypted(key),
        "key alone": P.key_pem(key),
        "unterminated key": good.pem + b"-----BEGIN PRIVATE KEY-----\nMIIE",
        "DER key": key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
    }
    for name, data in uploads.items():
        assert b"PRIVATE KEY" in data or name == "DER key"
        for parser in (parse_certificate_upload, parse_csr_upload):
            message = refused(parser, data, "clé privée", "refusée", "n'a pas été conservée")
            assert "-----" not in message, name
    for blob in (P.pkcs12_blob(good), P.pkcs12_blob(good, b"secret")):
        message = refused(parse_certificate_upload, blob, "PKCS#12", "clé privée", "n'a pas été conservée")
        refused(parse_csr_upload, blob, "PKCS#12")
        assert "clé privée" in message


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "vide"),
    (b"  \n\t ", "vide"),
    (b"x" * 64_001, "trop volumineux"),
    (bytes(range(256)) * 3, "pas un certificat lisible"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n", "base64"),
    (b"-----BEGIN CERTIFICATE-----\nMIIB\n", "mal formé"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "illisible"),
    (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "clé publique seule"),
    (b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n", "PKCS#7"),
    ("texte", "fichier"),
])
def test_bad_certificate_uploads_get_a_french_message(data, fragment):
    refused(parse_certificate_upload, data, fragment)


def test_csr_or_crl_where_a_certificate_is_expected(pki, good):
    csr, _key = build_csr()
    refused(parse_certificate_upload, csr_pem(csr), "demande de certificat (CSR)", "attend")
    refused(parse_certificate_upload, csr.public_bytes(serialization.Encoding.DER), "demande de certificat (CSR)")
    refused(parse_certificate_upload, pki.crl().public_bytes(serialization.Encoding.PEM), "révoqués")
    refused(parse_certificate_upload, pki.crl().public_bytes(serialization.Encoding.DER), "révoqués")
    refused(parse_certificate_upload, good.pem, "taille maximale", max_bytes=100)


def test_csr_uploads(pki, good):
    csr, _key = build_csr()
    assert parse_csr_upload(csr_pem(csr)) == csr
    assert parse_csr_upload(csr.public_bytes(serialization.Encoding.DER)) == csr
    new_label = csr_pem(csr).replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")
    assert parse_csr_upload(new_label) == csr
    refused(parse_csr_upload, good.pem, "certificat", "attend")
    refused(parse_csr_upload, good.der, "certificat, pas une demande")
    refused(parse_csr_upload, csr_pem(csr) * 2, "une seule")
    refused(parse_csr_upload, b"", "vide")
    refused(parse_csr_upload, b"\x00" * 70_000, "trop volumineux")
    refused(parse_csr_upload, bytes(range(200)), "pas une demande de certificat lisible")


def test_pem_bundle_files_behave_as_named(pki):
    files = pki.pem_bundle()
    leaf, intermediate = parse_certificate_upload(files["db-chain.pem"])
    assert parse_certificate_upload(files["db.der"]) == [leaf] == parse_certificate_upload(files["db.pem"])
    (root,) = parse_certificate_upload(files["anchors.pem"])
    results = by_code(check_db_certificate(
        leaf, extra_chain=[intermediate], anchors=[root], expected_cn=DB_FQDN, expected_ou=ID_NAT_STRUCT, at=NOW,
        crl_status=lambda c, i: crl_verdict(c, i, parse_crl(files["crl.pem"]), at=NOW)))
    assert all(r.ok is True for r in results.values())
    revoking = parse_crl(files["crl-revoking-db.pem"])
    assert crl_verdict(leaf, intermediate, revoking, at=NOW).status is CrlStatus.REVOKED
    for name in ("db.key.pem", "db-with-key.pem", "db-with-rsa-key.pem", "db-with-encrypted-key.pem", "db.p12"):
        refused(parse_certificate_upload, files[name], "clé privée", "n'a pas été conservée")
    assert all(r.ok for r in check_vi_csr(parse_csr_upload(files["vi.csr.pem"]), expected_fqdn=VI_FQDN))
    (vi,) = parse_certificate_upload(files["vi.pem"])
    assert all(r.ok for r in check_vi_certificate(vi, expected_fqdn=VI_FQDN, at=NOW))


# --------------------------------------------------------------------------- description

def test_describe_certificate_gives_the_whitelist_dn(pki, crl):
    organization = "SELARL IMAGERIE DU PARC"
    issued = pki.db_certificate(organization=organization)
    described = describe_certificate(issued.cert)
    expected = f"CN={DB_FQDN},OU={ID_NAT_STRUCT},O={organization},ST=Côte-d'Or (21),C=FR"
    assert described["subject"] == expected
    assert "ST=C\u00f4te-d'Or (21)".encode() in described["subject"].encode("utf-8")  # UTF-8, not \C3\B4
    assert described["issuer"] == ("CN=TEST AC IGC-SANTE ELEMENTAIRE SERVEURS PYTEST,OU=IGC-SANTE TEST,"
                                   "OU=0002 187512751,O=ASIP-SANTE,C=FR")
    assert described["serial"] == format(issued.cert.serial_number, "X")
    assert described["not_before"].tzinfo is not None and described["not_before"].utcoffset() == dt.timedelta(0)
    assert described["not_after"] == issued.cert.not_valid_after_utc
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", described["fingerprint_sha256"])
    assert re.fullmatch(r"([0-9A-F]{2}:){19}[0-9A-F]{2}", described["fingerprint_sha1"])
    assert (described["key_type"], described["key_size"], described["key"]) == ("RSA", 2048, "RSA 2048 bits")
    assert described["signature_algorithm"] == "sha256WithRSAEncryption"
    assert described["san"] == [DB_FQDN]
    assert described["crl_urls"] == [P.CRL_URL]
    extensions = {e["name"]: e for e in described["extensions"]}
    assert extensions["keyUsage"]["value"] == "digitalSignature, keyEncipherment" and extensions["keyUsage"]["critical"]
    assert extensions["extendedKeyUsage"]["value"] == "serverAuth, clientAuth"
    assert extensions["basicConstraints"]["value"] == "CA:FALSE"
    # escaping per RFC 4514 when the legal name has a comma
    comma = describe_certificate(pki.db_certificate(organization="IMAGERIE X, SAS").cert)["subject"]
    assert "O=IMAGERIE X\\, SAS" in comma


def test_describe_the_real_ans_signer():
    (signer,), _signed_at = ans_signer_and_signing_time()
    described = describe_certificate(signer)
    assert described["serial"] == "4F7775B7B54E9B4B2B84D94704032E25"
    assert described["not_after"] == dt.datetime(2026, 9, 12, 10, 0, 44, tzinfo=dt.UTC)
    names = {e["name"] for e in described["extensions"]}
    assert {"keyUsage", "extendedKeyUsage", "cRLDistributionPoints", "authorityInfoAccess"} <= names
    assert described["crl_urls"][0] == "http://igc-sante.esante.gouv.fr/CRL/ACI-EL-ORG-TEST.crl"


# --------------------------------------------------------------------------- architecture and speed

def test_validation_module_does_not_import_django():
    code = ("import sys, certificates.validation, tests.support.pki; "
            "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_repeated_db_certificate_validation_with_a_large_crl(pki):
    """parse (PEM leaf + intermediate) + chain + every rule, including the lookup in a 2,000-entry CRL kept
    parsed (as the CRL cache should); 20 distinct uploads validated in turn, each accepted. The rate (target
    ≥ 200/s) is measured by bench/bench_certificates.py, not here."""
    uploads = [pki.db_certificate(serial=1000 + i).chain_pem for i in range(20)]
    anchors, intermediates = [pki.root.cert], [pki.intermediate.cert]
    big_crl = pki.crl(list(range(10_000, 12_000)))

    def crl_status(cert, issuer):
        return crl_verdict(cert, issuer, big_crl, at=NOW)

    for upload in uploads * 2:
        leaf, *chain = parse_certificate_upload(upload)
        results = check_db_certificate(leaf, extra_chain=chain, anchors=anchors, intermediates=intermediates,
                                       expected_cn=DB_FQDN, expected_ou=ID_NAT_STRUCT, at=NOW,
                                       crl_status=crl_status)
        assert all(r.ok for r in results)


class ScanCountingBytes(bytes):
    """Bytes that count how many bytes their ``find`` calls scan: the PEM splitter's work, independent of the
    machine's speed."""

    scanned = 0

    def find(self, sub, start=0, end=None):
        end = len(self) if end is None else min(end, len(self))
        ScanCountingBytes.scanned += max(end - start, 0)
        return super().find(sub, start, end)


@pytest.mark.parametrize("parse, data, message", [
    (parse_certificate_upload, (b"-----BEGIN CERTIFICATE-----\n" * 3000)[:64_000], "blocs PEM"),
    (parse_crl, b"-----BEGIN X509 CRL-----\n" * 400_000, "blocs PEM"),
    (parse_crl, b"-----BEGIN X509 CRL-----\n" * 3 + b"A" * 5_000_000, "n'est pas fermé"),
    (parse_certificate_upload, b"-----BEGIN CERTIFICATE-----\n" * 40 + b"-----BEGIN PRIVATE KEY-----", "clé privée"),
])
def test_hostile_pem_made_of_begin_markers_is_refused_in_linear_work(parse, data, message):
    """Refused with its reason, and the END markers are searched over each byte at most once (no quadratic scan
    of BEGIN markers; the timing lives in bench/bench_certificates.py)."""
    ScanCountingBytes.scanned = 0
    refused(parse, ScanCountingBytes(data), message)
    assert ScanCountingBytes.scanned <= len(data)


def test_crl_memo_is_per_crl_object(pki, good):
    """crl_verdict memoises signature and serial index per CRL object: alternating CRLs stay correct."""
    revoking, clean = pki.crl([good]), pki.crl()
    forged = pki.crl([good], signing_key=P.rsa_key(2048, 42))
    for _ in range(3):
        assert crl_verdict(good.cert, pki.intermediate.cert, revoking, at=NOW).status is CrlStatus.REVOKED
        assert crl_verdict(good.cert, pki.intermediate.cert, clean, at=NOW).status is CrlStatus.GOOD
        assert crl_verdict(good.cert, pki.intermediate.cert, forged, at=NOW).status is CrlStatus.UNAVAILABLE
        assert crl_verdict(good.cert, pki.root.cert, clean, at=NOW).status is CrlStatus.UNAVAILABLE


# --------------------------------------------------------------------------- property-based robustness

FUZZ_PKI = TestPKI(now=NOW)


def _samples(pki):
    issued = pki.db_certificate()
    csr, _key = build_csr()
    the_crl = pki.crl([issued, 7])
    return [
        issued.pem, issued.chain_pem, issued.der,
        csr_pem(csr), csr.public_bytes(serialization.Encoding.DER),
        the_crl.public_bytes(serialization.Encoding.PEM), the_crl.public_bytes(serialization.Encoding.DER),
    ]


SAMPLES = _samples(FUZZ_PKI)
PARSERS = (parse_certificate_upload, parse_csr_upload, parse_crl)


def _exercise(data):
    for parser in PARSERS:
        try:
            parsed = parser(data)
        except CertificateInputError as error:
            assert error.message and isinstance(error.message, str)
            continue
        if parser is parse_certificate_upload:
            # whatever parses must also go through the rules and the description without raising
            leaf, *chain = parsed
            describe_certificate(leaf)
            for result in check_db_certificate(leaf, extra_chain=chain, anchors=[SAMPLE_ROOT], at=NOW,
                                               expected_cn=DB_FQDN, expected_ou=ID_NAT_STRUCT,
                                               crl_status=lambda c, i: crl_verdict(c, i, SAMPLE_CRL, at=NOW)):
                assert result.ok in (True, False, None)
            check_vi_certificate(leaf, expected_fqdn=VI_FQDN, at=NOW)
        elif parser is parse_csr_upload:
            check_vi_csr(parsed, expected_fqdn=VI_FQDN)


SAMPLE_ROOT = FUZZ_PKI.root.cert
SAMPLE_CRL = x509.load_der_x509_crl(SAMPLES[-1])

# database=None: no .hypothesis/ directory in the repository (failing examples are printed anyway)
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=3000))
def test_parsers_never_raise_anything_else_on_random_bytes(data):
    _exercise(data)


@FUZZ
@given(st.sampled_from(SAMPLES),
       st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1,
                max_size=4),
       st.sampled_from(["flip", "truncate", "insert", "delete"]))
def test_parsers_never_raise_anything_else_on_mutated_valid_input(sample, edits, mode):
    data = bytearray(sample)
    for position, value in edits:
        index = position % len(data)
        if mode == "flip":
            data[index] ^= value or 1
        elif mode == "truncate":
            del data[index:]
            if not data:
                data = bytearray(b"\x30")
        elif mode == "insert":
            data.insert(index, value)
        else:
            del data[index]
            if not data:
                data = bytearray(b"\x30")
    _exercise(bytes(data))


@FUZZ
@given(st.sampled_from(SAMPLES[:2] + SAMPLES[3:4] + SAMPLES[5:6]), st.data())
def test_parsers_never_raise_anything_else_on_mutated_base64(sample, data):
    """Flip characters inside the base64 body of PEM samples: the decoded DER differs by a few bits, which
    reaches deeper into the ASN.1 parsers than flipping PEM bytes at random."""
    lines = sample.split(b"\n")
    body = [i for i, line in enumerate(lines) if line and not line.startswith(b"-----")]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        i = data.draw(st.sampled_from(body))
        line = bytearray(lines[i])
        j = data.draw(st.integers(min_value=0, max_value=len(line) - 1))
        line[j] = data.draw(st.sampled_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
        lines[i] = bytes(line)
    _exercise(b"\n".join(lines))

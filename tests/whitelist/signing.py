"""Test helpers: build DRIM-M lists and sign them with ``whitelist.xades`` under a TestPKI signer."""
from __future__ import annotations

import base64
import datetime as dt
import re
from xml.sax.saxutils import escape

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID

from tests.support.lifecycle import shared_pki
from tests.support.pki import TestPKI, rsa_key
from whitelist import verify, xades

NS = "https://github.com/ansforge/DRIM-M_DATA"
SIGNER_CN = "Liste Blanche DRIM-M"
SIGNER_OU = "318751275100020"
SIGNER_SLOT = 40
P12_PASSWORD = b"secret-p12"


def signer_name(cn: str = SIGNER_CN, ou: str = SIGNER_OU) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Paris (75)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AGENCE DU NUMERIQUE EN SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def org_sign_certificate(pki: TestPKI, *, cn: str = SIGNER_CN, ou: str = SIGNER_OU,
                         not_before: dt.datetime | None = None, not_after: dt.datetime | None = None):
    """An IGC-Santé ORG SIGN-like signer (digitalSignature + nonRepudiation, no SAN, no EKU)."""
    return pki.db_certificate(None, subject=signer_name(cn, ou), key_usage={"digital_signature",
                                                                             "content_commitment"},
                              eku=None, san=[], not_before=not_before, not_after=not_after,
                              key=rsa_key(2048, SIGNER_SLOT + pki.slot_base))


def entry(n: int, **overrides) -> dict:
    values = {
        "Identifiant": str(n),
        "db": f"db{n}.test.mesimagesmedicales.fr",
        "vi": f"vi{n}.test.mesimagesmedicales.fr",
        "Denomination": f"Opérateur {n}",
        "DNCertificatOperateur": f"CN=db{n}.test.mesimagesmedicales.fr,OU=30000000{n:07d},O=OP {n},"
                                 f"ST=Côte-d'Or (21),C=FR",
        "ResponsableContact": f"resp{n}@example.fr, 01 23 45 67 89",
        "SupportContact": f"support{n}@example.fr, 01 23 45 67 89",
        "DateMAJ": "2026-01-02T03:04:05Z",
    }
    values.update(overrides)
    return values


ORDER = ("Identifiant", "db", "vi", "Denomination", "DNCertificatOperateur", "ResponsableContact",
         "SupportContact", "DateMAJ")


def domaine_xml(values: dict, order=ORDER) -> str:
    parts = []
    for name in order:
        if name not in values or values[name] is None:
            continue
        text = values[name]
        parts.append(f"<{name}/>" if text == "" else f"<{name}>{escape(text)}</{name}>")
    return "\n      <Domaine>\n        " + "\n        ".join(parts) + "\n      </Domaine>"


def build_list(entries: list[dict] | None = None, *, generated: str = "2026-06-19T18:06:52Z", ns: str = NS,
               domaines: list[str] | None = None) -> bytes:
    entries = entries if entries is not None else [entry(1), entry(2), entry(3, vi="")]
    body = "".join(domaines if domaines is not None else [domaine_xml(e) for e in entries])
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="no"?><ListeBlancheDRIM-M xmlns="{ns}" '
            f'versionFormat="1.0.0">\n  <DateDeGeneration>{generated}</DateDeGeneration>\n  <ListeDomaines>'
            f"{body}\n  </ListeDomaines>\n</ListeBlancheDRIM-M>\n").encode()


def with_full_chain(issued, pki: TestPKI | None = None):
    """``issued`` carrying its whole chain, intermediate then root (``TestPKI`` chains stop below the root)."""
    pki = pki or shared_pki()
    issued.chain = [pki.intermediate.cert, pki.root.cert]
    return issued


# ANS's current signed list (ansforge/DRIM-M_DATA, « Référencement DRIMBox/Liste blanche TEST/Liste blanche signée/
# LISTEBLANCHE_DRIM-M_SIGNEE_TEST.xml », commit 070c5945fa23a9fb13a597b839e8363abe472f2e, signed 2026-09-17) writes
# KeyInfo exactly so, between the SignatureValue and the Object: no whitespace, each certificate's base64 on one line,
# signer (CN=Liste Blanche DRIM-M) → TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS → TEST AC RACINE IGC-SANTE ELEMENTAIRE.
KEY_INFO_2026 = re.compile(
    rb"</ds:SignatureValue><ds:KeyInfo><ds:X509Data>((?:<ds:X509Certificate>[A-Za-z0-9+/]+={0,2}"
    rb"</ds:X509Certificate>)+)</ds:X509Data></ds:KeyInfo><ds:Object>")


def key_info_certificates(signed: bytes) -> list[x509.Certificate]:
    """The certificates of a signed list's KeyInfo, in document order, if it has ANS's 2026 byte layout (else
    an AssertionError naming what differs)."""
    found = KEY_INFO_2026.findall(signed)
    assert len(found) == 1, "KeyInfo n'a pas la disposition de la liste ANS 2026 : " + repr(
        signed[signed.find(b"<ds:KeyInfo"):signed.find(b"<ds:KeyInfo") + 200])
    return [x509.load_der_x509_certificate(base64.b64decode(value, validate=True))
            for value in re.findall(rb"<ds:X509Certificate>([^<]+)</ds:X509Certificate>", found[0])]


def sign_list(data: bytes, signer, *, signing_time: dt.datetime | None = None) -> bytes:
    return xades.sign(data, signer.key, signer.cert, signer.chain, signing_time=signing_time)


def use_p12_signer(settings, path, issued):
    """Write ``issued`` (see ``org_sign_certificate``) as a PKCS#12 file at ``path`` and make it the portal's
    signer (PKCS#12 backend, the expected CN/OU, four eyes); returns ``issued``."""
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", issued.key, issued.cert, issued.chain, BestAvailableEncryption(P12_PASSWORD)))
    settings.WHITELIST_SIGNER_BACKEND = "pkcs12"
    settings.WHITELIST_SIGNER_P12 = str(path)
    settings.WHITELIST_SIGNER_P12_PASSWORD = P12_PASSWORD.decode()
    settings.WHITELIST_SIGNER_CN, settings.WHITELIST_SIGNER_OU = SIGNER_CN, SIGNER_OU
    settings.WHITELIST_FOUR_EYES = True
    return issued


def verify_with_test_hierarchy(data, **kwargs):
    """Verify a list as a DRIMbox trusting the tests' IGC-Santé hierarchy would (no CRL)."""
    pki = shared_pki()
    return verify.verify(data, anchors=[pki.root.cert], intermediates=[pki.intermediate.cert], signer_cn=SIGNER_CN,
                         signer_ou=SIGNER_OU, check_crl=False, **kwargs)


@pytest.fixture
def signer_p12(settings, tmp_path):
    """A valid signer under the tests' hierarchy, as the portal's PKCS#12 signer holding its chain up to the root
    (so the lists the portal publishes in tests carry signer, intermediate and root); returns the file's path."""
    path = tmp_path / "signer.p12"
    use_p12_signer(settings, path, with_full_chain(org_sign_certificate(shared_pki())))
    return path

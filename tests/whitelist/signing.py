"""Test helpers: build DRIM-M lists and sign them with ``whitelist.xades`` under a TestPKI signer."""
from __future__ import annotations

import datetime as dt
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
    """A valid signer under the tests' hierarchy, as the portal's PKCS#12 signer; returns the file's path."""
    path = tmp_path / "signer.p12"
    use_p12_signer(settings, path, org_sign_certificate(shared_pki()))
    return path

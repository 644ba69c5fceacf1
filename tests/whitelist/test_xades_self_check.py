"""The signer's self-check on the bytes it splices: a key that is not the certificate's is refused."""
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.support.pki import TestPKI, rsa_key
from tests.whitelist.signing import build_list, org_sign_certificate
from whitelist import verify as wl
from whitelist import xades


@pytest.fixture(scope="module")
def pki():
    return TestPKI(slot_base=0)


def test_a_signature_by_another_key_than_the_certificate_is_refused(pki):
    signer = org_sign_certificate(pki)
    other_key = rsa_key(2048, 41)

    def wrong_key(data: bytes) -> bytes:
        return other_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    with pytest.raises(xades.SigningError, match="auto-vérification : la signature ne correspond pas"):
        xades.sign(build_list(), wrong_key, signer.cert, signer.chain)


def test_the_list_signed_under_another_default_namespace_verifies(pki):
    # The signature is checked inside the root's own namespace declarations, whatever they are.
    signer = org_sign_certificate(pki)
    data = build_list(ns="https://listeblanche.mesimagesmedicales.fr/schema").replace(
        b'versionFormat="1.0.0"', b'xmlns:autre="urn:autre" versionFormat="1.0.0"', 1)
    signed = xades.sign(data, signer.key, signer.cert, signer.chain)
    assert len(wl.verify(signed, anchors=[pki.root.cert], check_crl=False).entries) == 3

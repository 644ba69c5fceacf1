"""A test « public » web PKI, built with ``cryptography``: a root standing for the Mozilla store, an issuing CA,
and market `vi` leaves (DV or OV policy, any names, hash, key, validity, CRL and OCSP locations), its CRLs and
OCSP responses. Tests point ``VI_MARKET_TRUST_BUNDLE`` at ``MarketPKI.root_bundle(tmp_path)``.

Keys come from ``tests.support.pki``'s session cache (slots 20 and up), so building leaves stays fast.
"""
from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tests.support import pki
from tests.support.pki import Issued, _key_usage, _sign_certificate, cert_pem

ROOT_SLOT, ISSUER_SLOT, LEAF_SLOT = 20, 21, 22
POLICIES = {"DV": x509.ObjectIdentifier("2.23.140.1.2.1"), "OV": x509.ObjectIdentifier("2.23.140.1.2.2")}


def _name(cn: str, organization: str = "Test Public Trust PYTEST") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class MarketPKI:
    """Root → issuing CA → `vi` leaves, as a public CA (Let's Encrypt, Sectigo…) would issue them."""

    __test__ = False

    def __init__(self, *, now: dt.datetime | None = None):
        self.now = now or pki.utcnow()
        root_key = pki.rsa_key(2048, ROOT_SLOT)
        issuer_key = pki.rsa_key(2048, ISSUER_SLOT)
        root_name = _name("Test Public Root PYTEST")
        root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
                .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(self.now - dt.timedelta(days=3650))
                .not_valid_after(self.now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_key_usage({"key_cert_sign", "crl_sign"}), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
                .sign(root_key, hashes.SHA256()))
        self.root = Issued(root, root_key)
        issuer = (x509.CertificateBuilder().subject_name(_name("Test Public Issuing CA R1 PYTEST"))
                  .issuer_name(root_name).public_key(issuer_key.public_key())
                  .serial_number(x509.random_serial_number())
                  .not_valid_before(self.now - dt.timedelta(days=1000))
                  .not_valid_after(self.now + dt.timedelta(days=1000))
                  .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                  .add_extension(_key_usage({"digital_signature", "key_cert_sign", "crl_sign"}), critical=True)
                  .add_extension(x509.SubjectKeyIdentifier.from_public_key(issuer_key.public_key()), critical=False)
                  .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                                 critical=False)
                  .sign(root_key, hashes.SHA256()))
        self.issuer = Issued(issuer, issuer_key)

    def root_bundle(self, directory) -> str:
        path = directory / "public-roots.pem"
        path.write_bytes(cert_pem(self.root.cert))
        return str(path)

    def leaf(self, fqdn: str, *, policy: str | None = "DV", san: list[str] | None = None, cn: str | None = "same",
             hash_name: str = "sha256", key=None, not_before: dt.datetime | None = None,
             not_after: dt.datetime | None = None, crl_url: str | None = None, ocsp_url: str | None = None,
             organization: str | None = None) -> Issued:
        """A server certificate. ``san=None`` → ``[fqdn]``; ``cn="same"`` → CN = fqdn (``None``: no CN);
        ``policy`` DV, OV or None (no CA/B policy); an OV leaf carries ``organization`` in its subject."""
        key = key if key is not None else pki.rsa_key(2048, LEAF_SLOT)
        not_before = not_before or self.now - dt.timedelta(hours=1)
        not_after = not_after or not_before + dt.timedelta(days=90)
        cn = fqdn if cn == "same" else cn
        attributes = []
        if policy == "OV":
            attributes += [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization or "E-MEDIA PYTEST")]
        if cn:
            attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        builder = (x509.CertificateBuilder().subject_name(x509.Name(attributes))
                   .issuer_name(self.issuer.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage({"digital_signature", "key_encipherment"}), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                         x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.issuer.key.public_key()),
                                  critical=False))
        names = [fqdn] if san is None else san
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                            critical=not cn)
        if policy is not None:
            builder = builder.add_extension(x509.CertificatePolicies([x509.PolicyInformation(POLICIES[policy], None)]),
                                            critical=False)
        if crl_url:
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
        if ocsp_url:
            builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
        return Issued(_sign_certificate(builder, self.issuer.key, hash_name), key, [self.issuer.cert])

    def crl(self, revoked=()) -> x509.CertificateRevocationList:
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.issuer.cert.subject)
                   .last_update(self.now - dt.timedelta(hours=1)).next_update(self.now + dt.timedelta(days=7))
                   .add_extension(x509.CRLNumber(1), critical=False))
        for issued in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(issued.cert.serial_number)
                .revocation_date(self.now - dt.timedelta(minutes=30))
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False).build())
        return builder.sign(self.issuer.key, hashes.SHA256())

    def ocsp_response(self, issued: Issued, *, revoked: bool = False) -> bytes:
        """A response signed by the issuing CA itself."""
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=issued.cert, issuer=self.issuer.cert, algorithm=hashes.SHA1(), cert_status=status,  # noqa: S303
            this_update=self.now - dt.timedelta(minutes=10), next_update=self.now + dt.timedelta(days=3),
            revocation_time=self.now - dt.timedelta(minutes=30) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.issuer.cert)
        return builder.sign(self.issuer.key, hashes.SHA256()).public_bytes(Encoding.DER)

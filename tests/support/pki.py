"""A test PKI shaped like IGC-Santé, built with ``cryptography`` only (no Django, no openssl).

* ``TestPKI()``: a root and an intermediate with IGC-Santé-shaped DNs
  (``C=FR, O=ASIP-SANTE, OU=0002 187512751, OU=IGC-SANTE TEST, CN=TEST AC …``), issuing
  ``db`` server certificates with IGC-Santé-shaped subjects
  (``CN=<db fqdn>, OU=<idNat_Struct>, O=<legal name>, ST=<Département (NN)>, C=FR``), market-like ``vi``
  certificates, and CRLs.
* ``build_csr()``: CSRs (RSA size, ECDSA curve, SANs, CN, hash).
* ``TestPKI.pem_bundle()``: everything as PEM bytes, for upload tests.

Keys are cached for the whole session (RSA generation is slow): ``rsa_key(size, slot)`` always returns
the same key for the same arguments, so a test that wants "another key" asks for another slot.

SHA-1: ``cryptography`` (≥ 4x) refuses to *sign* certificates or CSRs with SHA-1 ("Hash algorithm
"sha1" not supported for signatures"). ``hash_name="sha1"`` therefore signs with SHA-256 first, then
rewrites the DER: the sha256WithRSAEncryption OID (same length as sha1WithRSAEncryption) is swapped in
the TBS and in the outer AlgorithmIdentifier, and the signature is recomputed over the new TBS with the
low-level ``RSAPrivateKey.sign(tbs, PKCS1v15(), SHA1())``, which is still allowed. The result is a
genuine, correctly signed sha1WithRSAEncryption certificate (RSA keys only).
"""
from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = dt.UTC
ZONE = "mesimagesmedicales.fr"
DB_FQDN = "db175.test.mesimagesmedicales.fr"
VI_FQDN = "vi175.test.mesimagesmedicales.fr"
ID_NAT_STRUCT = "300000001831981"
LEGAL_NAME = "CENTRE D'IMAGERIE MEDICALE DE BOURGOGNE"
DEPARTEMENT = "Côte-d'Or (21)"
CRL_URL = "http://igc-sante.esante.gouv.fr/CRL/ACI-EL-SRV-TEST-PYTEST.crl"
POLICY_OID = x509.ObjectIdentifier("1.2.250.1.213.1.7.2.1.1.1.1")

_OID_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")  # 1.2.840.113549.1.1.11
_OID_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")  # 1.2.840.113549.1.1.5

EKU_BY_NAME = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
KU_FIELDS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign")
DB_KEY_USAGE = frozenset({"digital_signature", "key_encipherment"})
DB_EKU = ("serverAuth", "clientAuth")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------- keys (session cache)

@functools.cache
def rsa_key(size: int = 2048, slot: int = 0) -> rsa.RSAPrivateKey:
    """The same RSA key for the same (size, slot) for the whole session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


@functools.cache
def ec_key(curve: str = "P-256", slot: int = 0) -> ec.EllipticCurvePrivateKey:
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(),
              "secp256k1": ec.SECP256K1()}
    return ec.generate_private_key(curves[curve])


# Slots: 0 root, 1 intermediate, 2 db leaf, 3 vi leaf, 4 "other" root, 5 "other" intermediate, 6+ free.
ROOT_SLOT, INTERMEDIATE_SLOT, DB_SLOT, VI_SLOT, OTHER_ROOT_SLOT, OTHER_INTERMEDIATE_SLOT = range(6)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def key_pem_traditional(key) -> bytes:
    """``-----BEGIN RSA PRIVATE KEY-----`` / ``-----BEGIN EC PRIVATE KEY-----``."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def key_pem_encrypted(key, password: bytes = b"secret") -> bytes:
    """``-----BEGIN ENCRYPTED PRIVATE KEY-----``."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password))


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------- names

def igc_ca_name(cn: str) -> x509.Name:
    """``C=FR, O=ASIP-SANTE, OU=0002 187512751, OU=IGC-SANTE TEST, CN=<cn>`` (encoding order)."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "0002 187512751"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def igc_server_name(cn: str, ou: str | list[str] = ID_NAT_STRUCT, *, organization: str = LEGAL_NAME,
                    state: str = DEPARTEMENT) -> x509.Name:
    """``C=FR, ST=<dept>, O=<legal name>, OU=<idNat_Struct>…, CN=<fqdn>`` (encoding order), i.e. RFC 4514
    ``CN=<fqdn>,OU=<idNat_Struct>,O=<legal name>,ST=<dept>,C=FR``."""
    ous = [ou] if isinstance(ou, str) else list(ou)
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                  x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, state),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, value) for value in ous]
    if cn is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def _general_name(value: str) -> x509.GeneralName:
    if value.startswith("IP:"):
        return x509.IPAddress(ipaddress.ip_address(value[3:]))
    if value.startswith("email:"):
        return x509.RFC822Name(value[6:])
    if value.startswith("URI:"):
        return x509.UniformResourceIdentifier(value[4:])
    return x509.DNSName(value)


# --------------------------------------------------------------------------- signing

def _hash(name: str):
    return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[name]


def _resign_sha1(der: bytes, tbs: bytes, key) -> bytes:
    """Turn a sha256WithRSAEncryption-signed DER object (certificate, CSR, CRL) into a genuine
    sha1WithRSAEncryption one (see the module docstring)."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("SHA-1 test objects are produced for RSA keys only")
    # Certificates and CRLs repeat the algorithm inside the TBS; a CSR's CertificationRequestInfo does not.
    assert tbs.count(_OID_SHA256_RSA) <= 1, "expected at most one signature OID in the TBS"
    new_tbs = tbs.replace(_OID_SHA256_RSA, _OID_SHA1_RSA)
    signature = key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - test object the portal refuses
    old_signature_len = key.key_size // 8
    assert len(signature) == old_signature_len
    start = der.index(tbs)
    rest = der[start + len(tbs):]
    assert rest.startswith(b"\x30") and _OID_SHA256_RSA in rest[:20]
    rest = rest.replace(_OID_SHA256_RSA, _OID_SHA1_RSA, 1)
    rest = rest[:-old_signature_len] + signature
    return der[:start] + new_tbs + rest


def _sign_certificate(builder: x509.CertificateBuilder, key, hash_name: str) -> x509.Certificate:
    if hash_name == "sha1":
        cert = builder.sign(key, hashes.SHA256())
        der = _resign_sha1(cert_der(cert), cert.tbs_certificate_bytes, key)
        return x509.load_der_x509_certificate(der)
    algorithm = None if isinstance(key, _EDWARDS) else _hash(hash_name)
    return builder.sign(key, algorithm)


try:  # Ed25519 / Ed448 sign without a separate hash
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
    _EDWARDS = (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
except ImportError:  # pragma: no cover
    _EDWARDS = ()


# --------------------------------------------------------------------------- the PKI

@dataclass
class Issued:
    cert: x509.Certificate
    key: object
    chain: list[x509.Certificate] = field(default_factory=list)  # issuing CAs, nearest first, no root

    @property
    def pem(self) -> bytes:
        return cert_pem(self.cert)

    @property
    def der(self) -> bytes:
        return cert_der(self.cert)

    @property
    def chain_pem(self) -> bytes:
        """Leaf first, then the intermediates (the upload form)."""
        return cert_pem(self.cert, *self.chain)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


def _ski(key) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


class TestPKI:
    """Root → intermediate → leaves, IGC-Santé shaped. ``slot_base`` selects other cached keys, so two
    ``TestPKI`` objects with different ``slot_base`` are two unrelated hierarchies (even with the same
    names: ``root_cn``/``intermediate_cn`` can copy the real ANS TEST names to build an impostor)."""

    __test__ = False  # not a pytest test class

    def __init__(self, *, root_cn: str = "TEST AC RACINE IGC-SANTE ELEMENTAIRE PYTEST",
                 intermediate_cn: str = "TEST AC IGC-SANTE ELEMENTAIRE SERVEURS PYTEST",
                 slot_base: int = 0, now: dt.datetime | None = None, key_size: int = 2048,
                 intermediate_hash: str = "sha256", intermediate_validity: tuple | None = None,
                 intermediate_is_ca: bool = True):
        self.now = now or utcnow()
        root_key = rsa_key(key_size, ROOT_SLOT + slot_base)
        intermediate_key = rsa_key(key_size, INTERMEDIATE_SLOT + slot_base)
        self.slot_base = slot_base
        root_name = igc_ca_name(root_cn)
        root_builder = (
            x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - dt.timedelta(days=3650))
            .not_valid_after(self.now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage({"key_cert_sign", "crl_sign"}), critical=True)
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(
                x509.oid.CertificatePoliciesOID.ANY_POLICY, ["http://igc-sante.esante.gouv.fr/PC%20TEST"])]),
                critical=False)
            .add_extension(_ski(root_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
        )
        self.root = Issued(root_builder.sign(root_key, hashes.SHA256()), root_key)
        nb, na = intermediate_validity or (self.now - dt.timedelta(days=3000), self.now + dt.timedelta(days=3000))
        intermediate_builder = (
            x509.CertificateBuilder()
            .subject_name(igc_ca_name(intermediate_cn)).issuer_name(root_name)
            .public_key(intermediate_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(na)
            .add_extension(x509.BasicConstraints(ca=intermediate_is_ca, path_length=0 if intermediate_is_ca else None),
                           critical=True)
            .add_extension(_key_usage({"key_cert_sign", "crl_sign"} if intermediate_is_ca
                                      else {"digital_signature"}), critical=True)
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(
                x509.oid.CertificatePoliciesOID.ANY_POLICY, ["http://igc-sante.esante.gouv.fr/PC%20TEST"])]),
                critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier("http://igc-sante.esante.gouv.fr/CRL/ACR-EL-TEST-PYTEST.crl")],
                None, None, None)]), critical=False)
            .add_extension(_ski(intermediate_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
        )
        self.intermediate = Issued(_sign_certificate(intermediate_builder, root_key, intermediate_hash),
                                   intermediate_key, [])

    # ------------------------------------------------------------------ leaves

    def db_certificate(self, fqdn: str | None = DB_FQDN, *, id_nat_struct: str | list[str] = ID_NAT_STRUCT,
                       organization: str = LEGAL_NAME, state: str = DEPARTEMENT,
                       not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
                       key_usage: set[str] | frozenset[str] | None = DB_KEY_USAGE,
                       eku: tuple[str, ...] | None = DB_EKU, hash_name: str = "sha256",
                       san: list[str] | None = None, key=None, serial: int | None = None,
                       is_ca: bool = False, subject: x509.Name | None = None,
                       issuer: Issued | None = None) -> Issued:
        """An IGC-Santé *SERV SSL* shaped server certificate. ``san=None`` → ``[fqdn]``; ``san=[]`` → no SAN
        extension; ``key_usage=None``/``eku=None`` → extension omitted. Validity defaults to 3 years
        starting yesterday."""
        issuer = issuer or self.intermediate
        key = key if key is not None else rsa_key(2048, DB_SLOT + self.slot_base)
        not_before = not_before or self.now - dt.timedelta(days=1)
        not_after = not_after or not_before + dt.timedelta(days=3 * 365)
        subject = subject or igc_server_name(fqdn, id_nat_struct, organization=organization, state=state)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .add_extension(_ski(key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                           critical=False)
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(POLICY_OID, None)]), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(CRL_URL)], None, None, None)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier("http://ocsp.esante.gouv.fr"))]), critical=False)
        )
        if key_usage is not None:
            builder = builder.add_extension(_key_usage(set(key_usage)), critical=True)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([EKU_BY_NAME[n] for n in eku]), critical=False)
        names = [fqdn] if san is None else san
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        cert = _sign_certificate(builder, issuer.key, hash_name)
        return Issued(cert, key, [issuer.cert] if issuer is not self.root else [])

    def vi_certificate(self, fqdn: str | None = VI_FQDN, *, cn: str | None = "same", san: list[str] | None = None,
                       not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
                       hash_name: str = "sha256", key=None, eku: tuple[str, ...] | None = ("serverAuth",),
                       ) -> Issued:
        """A market DV-like certificate (subject = CN only, SAN = [fqdn], 90 days). ``cn="same"`` → CN = fqdn;
        ``cn=None`` → empty subject (as Let's Encrypt's newer profiles)."""
        key = key if key is not None else rsa_key(2048, VI_SLOT + self.slot_base)
        not_before = not_before or self.now - dt.timedelta(hours=1)
        not_after = not_after or not_before + dt.timedelta(days=90)
        cn = fqdn if cn == "same" else cn
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(self.intermediate.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage({"digital_signature", "key_encipherment"}), critical=True)
        )
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([EKU_BY_NAME[n] for n in eku]), critical=False)
        names = [fqdn] if san is None else san
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                                            critical=not cn)
        return Issued(_sign_certificate(builder, self.intermediate.key, hash_name), key, [self.intermediate.cert])

    # ------------------------------------------------------------------ CRL

    def crl(self, revoked: list | tuple = (), *, this_update: dt.datetime | None = None,
            next_update: dt.datetime | None = None, issuer: Issued | None = None, signing_key=None,
            issuer_name: x509.Name | None = None) -> x509.CertificateRevocationList:
        """A CRL signed by the intermediate. ``revoked``: serials, certificates, ``Issued`` objects or
        ``(serial_or_cert, revocation_date, reason_flag_or_None)`` tuples. Defaults: published an hour ago,
        next update in 6 days. ``signing_key``/``issuer_name`` forge a CRL for negative tests."""
        issuer = issuer or self.intermediate
        this_update = this_update or self.now - dt.timedelta(hours=1)
        next_update = next_update or this_update + dt.timedelta(days=6)
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(issuer_name or issuer.cert.subject)
                   .last_update(this_update).next_update(next_update)
                   .add_extension(x509.CRLNumber(1), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                                  critical=False))
        for item in revoked:
            target, date, reason = item if isinstance(item, tuple) else (item, None, None)
            serial = _serial_of(target)
            entry = (x509.RevokedCertificateBuilder().serial_number(serial)
                     .revocation_date(date or this_update - dt.timedelta(hours=1)))
            if reason is not None:
                entry = entry.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(signing_key or issuer.key, hashes.SHA256())

    # ------------------------------------------------------------------ bundles

    def pem_bundle(self, *, fqdn: str = DB_FQDN, id_nat_struct: str = ID_NAT_STRUCT) -> dict[str, bytes]:
        """Everything as PEM bytes, keyed by file name."""
        db = self.db_certificate(fqdn, id_nat_struct=id_nat_struct)
        vi_fqdn = "vi" + fqdn[2:] if fqdn.startswith("db") else VI_FQDN
        csr, csr_key = build_csr(vi_fqdn)
        return {
            "root.pem": self.root.pem,
            "intermediate.pem": self.intermediate.pem,
            "anchors.pem": cert_pem(self.root.cert),
            "db.pem": db.pem,
            "db.der": db.der,
            "db-chain.pem": db.chain_pem,
            "db.key.pem": db.key_pem,
            "db-with-key.pem": db.pem + db.key_pem,
            "db-with-rsa-key.pem": db.pem + key_pem_traditional(db.key),
            "db-with-encrypted-key.pem": db.pem + key_pem_encrypted(db.key),
            "db.p12": pkcs12_blob(db),
            "crl.pem": self.crl().public_bytes(serialization.Encoding.PEM),
            "crl-revoking-db.pem": self.crl([db.cert]).public_bytes(serialization.Encoding.PEM),
            "vi.csr.pem": csr.public_bytes(serialization.Encoding.PEM),
            "vi.key.pem": key_pem(csr_key),
            "vi.pem": self.vi_certificate(vi_fqdn).pem,
        }


def _serial_of(target) -> int:
    if isinstance(target, Issued):
        return target.cert.serial_number
    if isinstance(target, x509.Certificate):
        return target.serial_number
    return int(target)


def _key_usage(names: set[str]) -> x509.KeyUsage:
    unknown = set(names) - set(KU_FIELDS)
    if unknown:
        raise ValueError(f"unknown key usages: {unknown}")
    values = {n: n in names for n in KU_FIELDS}
    return x509.KeyUsage(**values, encipher_only=False, decipher_only=False)


def pkcs12_blob(issued: Issued, password: bytes | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(b"db", issued.key, issued.cert, issued.chain or None, encryption)


# --------------------------------------------------------------------------- CSR

def build_csr(fqdn: str | None = VI_FQDN, *, key_size: int = 2048, curve: str | None = None, key=None,
              sans: list[str] | None = None, cn: str | None = "same", hash_name: str = "sha256",
              slot: int = 0) -> tuple[x509.CertificateSigningRequest, object]:
    """A CSR. ``sans=None`` → ``[fqdn]``; ``sans=[]`` → no SAN; ``cn="same"`` → CN = fqdn, ``cn=None`` → no CN.
    ``curve="P-256"`` → ECDSA key. Returns (csr, private key)."""
    if key is None:
        key = ec_key(curve, 100 + slot) if curve else rsa_key(key_size, 100 + slot)
    cn = fqdn if cn == "same" else cn
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
    names = [fqdn] if sans is None else sans
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                                        critical=False)
    if hash_name == "sha1":
        csr = builder.sign(key, hashes.SHA256())
        der = _resign_sha1(csr.public_bytes(serialization.Encoding.DER), csr.tbs_certrequest_bytes, key)
        return x509.load_der_x509_csr(der), key
    return builder.sign(key, _hash(hash_name)), key


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)

"""A development IGC-Santé-shaped hierarchy, generated under ``DEV_PKI_DIR`` for the embedded demo.

Never used in production (``DEBUG=0`` does not trust it): it lets the demo's DRIMboxes carry `db`
certificates that pass every rule, and `vi` certificates, without the real IGC-Santé or a CA.
"""
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE DEVELOPPEMENT"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ca(subject, issuer, key, issuer_key, now, days):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer == subject else 0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def ensure_hierarchy(directory):
    """Create the root and intermediate (and the intermediate's key) once; return (intermediate, its key)."""
    directory = Path(directory)
    paths = {name: directory / f"{name}.pem" for name in ("root", "intermediate", "intermediate-key")}
    if not all(path.exists() for path in paths.values()):
        directory.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        root_key, intermediate_key = _key(), _key()
        root = _ca(_name("AC RACINE DEVELOPPEMENT DRIM-M"), _name("AC RACINE DEVELOPPEMENT DRIM-M"), root_key,
                   root_key, now, 3650)
        intermediate = _ca(_name("AC SERVEURS DEVELOPPEMENT DRIM-M"), root.subject, intermediate_key, root_key,
                           now, 3000)
        paths["root"].write_bytes(root.public_bytes(serialization.Encoding.PEM))
        paths["intermediate"].write_bytes(intermediate.public_bytes(serialization.Encoding.PEM))
        paths["intermediate-key"].write_bytes(intermediate_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        paths["intermediate-key"].chmod(0o600)
    intermediate = x509.load_pem_x509_certificate(paths["intermediate"].read_bytes())
    key = serialization.load_pem_private_key(paths["intermediate-key"].read_bytes(), password=None)
    return intermediate, key


def _issue(directory, subject, public_key, *, days, key_usage=(True, False, True), usages=None, names=None):
    """A leaf certificate issued by the development intermediate, and that intermediate.

    ``key_usage``: (digitalSignature, contentCommitment, keyEncipherment); ``usages``: extended key usages.
    """
    intermediate, key = ensure_hierarchy(directory)
    now = dt.datetime.now(dt.UTC)
    digital_signature, content_commitment, key_encipherment = key_usage
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(intermediate.subject).public_key(public_key)
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature, content_commitment, key_encipherment, False, False, False,
                                     False, False, False), critical=True))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(key, hashes.SHA256()), intermediate


def _pem_chain(*certificates):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _leaf(directory, subject, public_key, names, usages, days):
    return _pem_chain(*_issue(directory, subject, public_key, days=days, usages=usages, names=names))


def demo_key_path(directory, fqdn):
    """Where the demo keeps the private key of the certificate issued for ``fqdn`` (``demo_drimboxes`` serves it)."""
    return Path(directory) / "demo-keys" / f"{fqdn}.key"


def _keep_key(directory, fqdn, key):
    path = demo_key_path(directory, fqdn)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def issue_db_certificate(directory, *, fqdn, id_nat_struct, organization, state="Côte-d'Or (21)", keep_key=False):
    """A `db` server certificate shaped like IGC-Santé's (PEM chain).

    Its key is thrown away unless ``keep_key``: then it is written to ``demo_key_path(directory, fqdn)``, so that
    the demo's loopback DRIMboxes can present this very certificate.
    """
    # ASN.1 order C, ST, O, OU, CN: its RFC 4514 string is the whitelist's « CN=…,OU=…,O=…,ST=…,C=FR ».
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, state),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, id_nat_struct),
        x509.NameAttribute(NameOID.COMMON_NAME, fqdn),
    ])
    key = _key()
    if keep_key:
        _keep_key(directory, fqdn, key)
    return _leaf(directory, subject, key.public_key(), [fqdn],
                 [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], 3 * 365)


def issue_vi_certificate(directory, *, csr):
    """Answer a `vi` CSR as a DV CA would (90 days, one name)."""
    name = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)[0]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return _leaf(directory, subject, csr.public_key(), [name], [ExtendedKeyUsageOID.SERVER_AUTH], 90)


def new_csr(fqdn, *, keep_key_in=None):
    """A CSR for ``fqdn``; its key is kept under ``demo_key_path(keep_key_in, fqdn)`` when a directory is given."""
    key = _key()
    if keep_key_in is not None:
        _keep_key(keep_key_in, fqdn, key)
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, fqdn)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(fqdn)]), critical=False)
            .sign(key, hashes.SHA256()))


def ensure_whitelist_signer(directory, *, cn="Liste Blanche DRIM-M", ou="318751275100020", password=b"drimm-demo"):
    """A development ORG SIGN-like signer of the whitelist, as a PKCS#12 file (created once)."""
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    path = Path(directory) / "whitelist-signer.p12"
    if path.exists():
        return path
    key = _key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AGENCE DU NUMERIQUE EN SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])
    # ORG SIGN: digitalSignature + nonRepudiation, no extended key usage.
    certificate, intermediate = _issue(directory, subject, key.public_key(), days=3 * 365,
                                       key_usage=(True, True, False))
    root = x509.load_pem_x509_certificate((Path(directory) / "root.pem").read_bytes())
    # The whole chain, as ANS's signed lists carry it in their KeyInfo (signer, intermediate, root).
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"whitelist-signer", key, certificate, [intermediate, root], BestAvailableEncryption(password)))
    path.chmod(0o600)
    return path


def ensure_probe_client_certificate(directory, *, cn="Sonde meteo DRIM-M (developpement)"):
    """The development client certificate the weather prober presents to `db` endpoints (created once).

    Returns (certificate chain PEM path, key PEM path). Production configures ``WEATHER_CLIENT_CERT`` and
    ``WEATHER_CLIENT_KEY`` with the portal's IGC-Santé client certificate instead.
    """
    directory = Path(directory)
    cert_path, key_path = directory / "probe-client.pem", directory / "probe-client-key.pem"
    if cert_path.exists() and key_path.exists():
        return str(cert_path), str(key_path)
    key = _key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AGENCE DU NUMERIQUE EN SANTE"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])
    certificate, intermediate = _issue(directory, subject, key.public_key(), days=3 * 365,
                                       usages=[ExtendedKeyUsageOID.CLIENT_AUTH])
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(_pem_chain(certificate, intermediate))
    return str(cert_path), str(key_path)

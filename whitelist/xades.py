"""XAdES-BASELINE-B enveloped signer for the DRIM-M whitelist (DESIGN §7), Django-free.

Profile (copied from ANS's eSignSanté output, ``LISTEBLANCHE_DRIM-M_TEST_SIGNEE.xml``):

* ``ds:Signature`` is the last child of the root ``ListeBlancheDRIM-M``;
* exclusive c14n, RSA-SHA256, SHA-256 digests;
* reference 1: ``URI=""``, transforms XPath-Filter-2 ``subtract /descendant::ds:Signature`` then exc-c14n;
* reference 2: ``Type="http://uri.etsi.org/01903#SignedProperties"`` → ``#xades-id-…`` (exc-c14n);
* SignedProperties: SigningTime (UTC), SigningCertificateV2 (SHA-512 CertDigest + IssuerSerialV2),
  DataObjectFormat (MimeType ``text/xml``) pointing at reference 1;
* KeyInfo/X509Data: only ``ds:X509Certificate`` elements, the signer first, then its issuer, its issuer's issuer…
  up to and including the root when the caller provides them (``key_info_certificates``), base64 on one line, no
  whitespace between elements: the layout of ANS's current (2026) signed list. ANS's 2024 sample also carried a
  ``ds:X509SubjectName`` before the certificates; it is not written any more (the verifier accepts both).

No library emits this exact profile (signxml lacks XPath-Filter-2), so it is written on lxml exclusive
c14n + ``cryptography``. The input is parsed and canonicalised once, for the document digest. The signature
element is serialised once and spliced textually before the root's closing tag: the input bytes are kept as
they are and the output is never re-serialised after signing. Before the result is returned, the spliced bytes
of the signature are parsed again in the root's namespace context and their digests and signature value
checked (a token or a callable that signs with another key than the certificate's is caught there); the rest
of the document is the input, byte for byte, whose digest comes from its own parse.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from xml.sax.saxutils import quoteattr

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
ROOT_NAME = "ListeBlancheDRIM-M"
SUBTRACT_XPATH = "/descendant::ds:Signature"
MIME_TYPE = "text/xml"

Signer = Callable[[bytes], bytes]


class SigningError(Exception):
    """The list cannot be signed (not a DRIM-M list, already signed, a DTD, or a self-check failure).

    The message is French; ``detail`` keeps the XML or crypto library's own (English) words, apart."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=True, remove_blank_text=False, remove_comments=False)


def exc_c14n(node) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=True, with_comments=False)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- DER helpers (IssuerSerialV2)

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return _tlv(0x02, body)


def issuer_serial_v2(cert: x509.Certificate) -> bytes:
    """DER of RFC 5035 ``IssuerSerial { issuer GeneralNames (directoryName), serialNumber }``."""
    issuer = cert.issuer.public_bytes()
    general_names = _tlv(0x30, _tlv(0xA4, issuer))
    return _tlv(0x30, general_names + _der_integer(cert.serial_number))


# --------------------------------------------------------------------------- keys

def load_pkcs12(data: bytes, password: bytes | None = None):
    """PKCS#12 bytes → ``(key, cert, chain)`` (chain: the other certificates, nearest issuer first as stored)."""
    key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    if key is None or cert is None:
        raise SigningError("le fichier PKCS#12 ne contient pas de clé et de certificat")
    return key, cert, list(extra or [])


def load_pkcs12_file(path, password: bytes | None = None):
    with open(path, "rb") as handle:
        return load_pkcs12(handle.read(), password)


def as_signer(key) -> Signer:
    """An RSA private key or a ``sign(data) -> signature`` callable (RSA-SHA256 PKCS#1 v1.5)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if callable(key):
        return key
    raise SigningError("clé de signature non prise en charge (RSA ou fonction de signature attendue)")


# --------------------------------------------------------------------------- KeyInfo chain

def issuer_chain(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of ``candidates`` that issued ``cert``, its issuer's issuer, and so on up to a self-issued
    root (included), in that order (issuer name equal to the subject *and* signature checked); unrelated
    certificates and duplicates are left out."""
    pool, chain, current, seen = list(candidates), [], cert, {cert.fingerprint(hashes.SHA256())}
    while current.issuer != current.subject:
        issuer = None
        for candidate in pool:
            if candidate.subject != current.issuer or candidate.fingerprint(hashes.SHA256()) in seen:
                continue
            try:
                current.verify_directly_issued_by(candidate)
            except (InvalidSignature, ValueError, TypeError):  # TypeError: another key type; not this issuer
                continue
            issuer = candidate
            break
        if issuer is None:
            break
        seen.add(issuer.fingerprint(hashes.SHA256()))
        chain.append(issuer)
        current = issuer
    return chain


def key_info_certificates(cert: x509.Certificate, chain: Sequence[x509.Certificate] = ()) -> list[x509.Certificate]:
    """What ``KeyInfo/X509Data`` holds: the signer, then its chain issuer by issuer up to the root when ``chain``
    holds it (ANS's 2026 layout); certificates of ``chain`` that are not on the signer's path are left out."""
    return [cert, *issuer_chain(cert, chain)]


# --------------------------------------------------------------------------- signing

def _sub(parent, ns: str, tag: str, text: str | None = None, **attrib):
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrib.items()})
    if text is not None:
        element.text = text
    return element


def _utc(value: dt.datetime | None) -> str:
    value = value or dt.datetime.now(dt.UTC)
    if value.tzinfo is None:
        raise SigningError("signing_time doit être un instant UTC (datetime avec fuseau)")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DECLARATION = re.compile(rb"<!(?:ENTITY|DOCTYPE)")  # one scan of the input for both
_CLOSING = re.compile(rb"</(?:[A-Za-z_][\w.\-]*:)?" + ROOT_NAME.encode() + rb"\s*>\s*\Z")


def sign(data: bytes, key, cert: x509.Certificate, chain: Sequence[x509.Certificate] = (), *,
         signing_time: dt.datetime | None = None, signature_id: str | None = None) -> bytes:
    """Sign the unsigned list ``data`` and return the signed bytes (input bytes + spliced ``ds:Signature``)."""
    signer = as_signer(key)
    if _DECLARATION.search(data):
        raise SigningError("DTD interdite dans la liste")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SigningError("XML mal formé", str(exc)) from exc
    if etree.QName(root).localname != ROOT_NAME:
        raise SigningError(f"racine inattendue : {etree.QName(root).localname}")
    if root.find(f".//{{{DS}}}Signature") is not None:
        raise SigningError("la liste est déjà signée")
    closing = data.rfind(b"</")
    if closing < 0 or not _CLOSING.match(data, closing):
        raise SigningError("balise fermante de la racine introuvable en fin de document")

    # Reference 1: the whole document minus the signature == the unsigned document as parsed.
    document_digest = hashlib.sha256(exc_c14n(etree.ElementTree(root))).digest()

    sid = signature_id or f"id-{secrets.token_hex(16)}"
    ref_id, props_id = f"r-{sid}-1", f"xades-{sid}"
    signature = etree.Element(f"{{{DS}}}Signature", {"Id": sid}, nsmap={"ds": DS})
    signed_info = _sub(signature, DS, "SignedInfo")
    _sub(signed_info, DS, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _sub(signed_info, DS, "SignatureMethod", Algorithm=RSA_SHA256)
    reference = _sub(signed_info, DS, "Reference", Id=ref_id, URI="")
    transforms = _sub(reference, DS, "Transforms")
    transform = _sub(transforms, DS, "Transform", Algorithm=FILTER2)
    xpath = etree.SubElement(transform, f"{{{FILTER2}}}XPath", {"Filter": "subtract"},
                             nsmap={"dsig-filter2": FILTER2})
    xpath.text = SUBTRACT_XPATH
    _sub(transforms, DS, "Transform", Algorithm=EXC_C14N)
    _sub(reference, DS, "DigestMethod", Algorithm=SHA256)
    _sub(reference, DS, "DigestValue", b64(document_digest))
    props_reference = _sub(signed_info, DS, "Reference", Type=SIGNED_PROPERTIES_TYPE, URI=f"#{props_id}")
    _sub(_sub(props_reference, DS, "Transforms"), DS, "Transform", Algorithm=EXC_C14N)
    _sub(props_reference, DS, "DigestMethod", Algorithm=SHA256)
    props_digest_value = _sub(props_reference, DS, "DigestValue")
    signature_value = _sub(signature, DS, "SignatureValue", Id=f"value-{sid}")
    x509_data = _sub(_sub(signature, DS, "KeyInfo"), DS, "X509Data")
    for certificate in key_info_certificates(cert, chain):
        _sub(x509_data, DS, "X509Certificate", b64(certificate.public_bytes(serialization.Encoding.DER)))
    obj = _sub(signature, DS, "Object")
    qualifying = etree.SubElement(obj, f"{{{XADES}}}QualifyingProperties", {"Target": f"#{sid}"},
                                  nsmap={"xades": XADES})
    props = _sub(qualifying, XADES, "SignedProperties", Id=props_id)
    ssp = _sub(props, XADES, "SignedSignatureProperties")
    _sub(ssp, XADES, "SigningTime", _utc(signing_time))
    cert_el = _sub(_sub(ssp, XADES, "SigningCertificateV2"), XADES, "Cert")
    digest_el = _sub(cert_el, XADES, "CertDigest")
    _sub(digest_el, DS, "DigestMethod", Algorithm=SHA512)
    _sub(digest_el, DS, "DigestValue", b64(hashlib.sha512(cert.public_bytes(serialization.Encoding.DER)).digest()))
    _sub(cert_el, XADES, "IssuerSerialV2", b64(issuer_serial_v2(cert)))
    dof = _sub(_sub(props, XADES, "SignedDataObjectProperties"), XADES, "DataObjectFormat",
               ObjectReference=f"#{ref_id}")
    _sub(dof, XADES, "MimeType", MIME_TYPE)

    # exc-c14n only renders visibly used namespaces, so the standalone subtree canonicalises as in place.
    props_digest_value.text = b64(hashlib.sha256(exc_c14n(props)).digest())
    signature_value.text = b64(signer(exc_c14n(signed_info)))

    fragment = etree.tostring(signature, encoding="unicode").encode("utf-8")
    _self_check(fragment, root.nsmap, document_digest, cert)
    return data[:closing] + fragment + data[closing:]


def _self_check(fragment: bytes, nsmap: dict, document_digest: bytes, cert: x509.Certificate) -> None:
    """Parse the signature's bytes as they will be read, inside an element declaring the root's namespaces, and
    recompute the SignedProperties digest and the signature value; the document digest must be the one computed
    from the input (the input bytes are kept as they are around the signature)."""
    declarations = "".join(f" xmlns{':' + prefix if prefix else ''}={quoteattr(uri)}" for prefix, uri in nsmap.items())
    try:
        context = etree.fromstring(f"<context{declarations}>".encode() + fragment + b"</context>", safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SigningError("auto-vérification : signature mal formée", str(exc)) from exc
    signature = context[0]
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    references = signed_info.findall(f"{{{DS}}}Reference")
    expected = [document_digest, hashlib.sha256(exc_c14n(signature.find(f".//{{{XADES}}}SignedProperties"))).digest()]
    for reference, digest in zip(references, expected, strict=True):
        if reference.findtext(f"{{{DS}}}DigestValue") != b64(digest):
            raise SigningError("auto-vérification : empreinte incorrecte")
    value = base64.b64decode(signature.findtext(f"{{{DS}}}SignatureValue"))
    try:
        cert.public_key().verify(value, exc_c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    except Exception as exc:  # InvalidSignature, wrong key type
        raise SigningError("auto-vérification : la signature ne correspond pas au certificat") from exc

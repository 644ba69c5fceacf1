"""Verifier of signed DRIM-M whitelists (DESIGN §7 "Verification"), Django-free.

``verify(data, anchors=[...])`` returns a :class:`VerifiedList` or raises :class:`VerificationError`
whose ``reason_code`` names the failure. Cryptography is done by libxmlsec1 (python-xmlsec: it implements
the XPath-Filter-2 transform) on the tree parsed here, once; when it refuses the signature, the document
digest is recomputed to tell a changed content (``digest_mismatch``) from a bad signature value
(``signature_invalid``). Entries are read only from the signed content: everything outside ``ds:Signature``,
whose structure is checked strictly (wrapping).

libxmlsec1 releases the GIL while it canonicalises and digests the document, so the entries are read from the
same tree meanwhile (both only read it); the failures are still reported in the order of the checks.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate, chain, compress, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, NoReturn, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree

from whitelist.xades import (
    DS,
    EXC_C14N,
    FILTER2,
    ROOT_NAME,
    RSA_SHA256,
    SHA256,
    SIGNED_PROPERTIES_TYPE,
    SUBTRACT_XPATH,
    XADES,
    exc_c14n,
    safe_parser,
)

DEFAULT_SIGNER_CN = "Liste Blanche DRIM-M"
DEFAULT_SIGNER_OU = "318751275100020"
KNOWN_NAMESPACES = ("https://github.com/ansforge/DRIM-M_DATA", "https://listeblanche.mesimagesmedicales.fr/schema")
KNOWN_VERSIONS = ("1.0.0",)
DOMAINE_ORDER = ("Identifiant", "db", "vi", "Denomination", "DNCertificatOperateur", "ResponsableContact",
                 "SupportContact", "DateMAJ")
OPTIONAL = {"ResponsableContact"}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}
_DECLARATION = re.compile(rb"<!(?:ENTITY|DOCTYPE)")
STRUCTURE_NAMES = {"ListeDomaines", "Domaine", "DateDeGeneration", ROOT_NAME}


class VerificationError(Exception):
    def __init__(self, reason_code: str, message: str):
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


@dataclass
class VerifiedList:
    entries: list[dict]
    generated_at: dt.datetime
    signer_subject: str
    signing_time: dt.datetime
    signer: x509.Certificate | None = field(default=None, repr=False)
    chain: list[x509.Certificate] = field(default_factory=list, repr=False)


def _fail(code: str, message: str) -> NoReturn:
    raise VerificationError(code, message)


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse_instant(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date(text: str | None, what: str) -> dt.datetime:
    if text is None or not DATE_RE.match(text):
        _fail("format", f"{what} : date UTC AAAA-MM-JJTHH:MM:SSZ attendue, reçu {text!r}")
    try:  # the pattern fixed every position: slicing is strptime's work at a tenth of its cost
        return dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                           int(text[17:19]), tzinfo=dt.UTC)
    except ValueError:
        _fail("format", f"{what} : date impossible {text!r}")


# --------------------------------------------------------------------------- certificates / CRLs

# A certificate or CRL source: an object, PEM/DER bytes, a path, or an iterable of those.
CertificateSource = Any


def load_certificates(source: CertificateSource) -> list[x509.Certificate]:
    """A certificate, PEM/DER bytes, a path, or an iterable of those → certificates."""
    if source is None:
        return []
    if isinstance(source, x509.Certificate):
        return [source]
    if isinstance(source, (str, Path)):
        return load_certificates(Path(source).read_bytes())
    if isinstance(source, bytes):
        if b"-----BEGIN" in source:
            return x509.load_pem_x509_certificates(source)
        return [x509.load_der_x509_certificate(source)]
    return [cert for item in source for cert in load_certificates(item)]


def load_crls(source: CertificateSource) -> list[x509.CertificateRevocationList]:
    if source is None:
        return []
    if isinstance(source, x509.CertificateRevocationList):
        return [source]
    if isinstance(source, (str, Path)):
        return load_crls(Path(source).read_bytes())
    if isinstance(source, bytes):
        if b"-----BEGIN" in source:
            return [x509.load_pem_x509_crl(block) for block in
                    re.findall(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", source, re.DOTALL)]
        return [x509.load_der_x509_crl(source)]
    return [crl for item in source for crl in load_crls(item)]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not this issuer"
        return False


def build_chain(signer: x509.Certificate, anchors: list[x509.Certificate],
                intermediates: list[x509.Certificate], instants: list[dt.datetime]) -> list[x509.Certificate]:
    """signer → … → anchor, each link signature-checked; CAs must be CA and valid at every instant."""
    anchor_ders = {_der(a) for a in anchors}
    chain = [signer]
    current = signer
    for _ in range(8):
        if _der(current) in anchor_ders:
            return chain
        for anchor in anchors:
            if _issued_by(current, anchor):
                chain.append(anchor)
                _check_ca_validity(chain[1:], instants)
                return chain
        candidates = [c for c in intermediates if _der(c) not in {_der(x) for x in chain}
                      and _is_ca(c) and _issued_by(current, c)]
        if not candidates:
            _fail("untrusted_chain",
                  f"aucune chaîne vers une ancre de confiance pour « {current.subject.rfc4514_string()} »")
        current = candidates[0]
        chain.append(current)
    _fail("untrusted_chain", "chaîne de certification trop longue")


def _check_ca_validity(cas: list[x509.Certificate], instants: list[dt.datetime]) -> None:
    for ca in cas:
        if not _is_ca(ca):
            _fail("untrusted_chain", f"« {ca.subject.rfc4514_string()} » n'est pas une autorité de certification")
        for instant in instants:
            if not ca.not_valid_before_utc <= instant <= ca.not_valid_after_utc:
                _fail("untrusted_chain", f"autorité « {ca.subject.rfc4514_string()} » hors validité au "
                                         f"{instant:%Y-%m-%dT%H:%M:%SZ}")


def check_revocation(chain: list[x509.Certificate], crls: list[x509.CertificateRevocationList],
                     at: dt.datetime) -> None:
    """The signer's issuer CRL is mandatory; intermediates are checked when a CRL for them is given."""
    for index, cert in enumerate(chain[:-1]):
        issuer = chain[index + 1]
        key = cast(Any, issuer.public_key())  # a CA key; an unusable type makes is_signature_valid raise
        matching = [c for c in crls if c.issuer == issuer.subject and c.is_signature_valid(key)]
        if not matching:
            if index == 0:
                _fail("crl_unavailable", f"aucune LCR valide de « {issuer.subject.rfc4514_string()} »")
            continue
        current = [c for c in matching if c.last_update_utc <= at and (c.next_update_utc is None
                                                                        or at <= c.next_update_utc)]
        if not current:
            _fail("crl_unavailable", f"LCR de « {issuer.subject.rfc4514_string()} » périmée ou pas encore valide")
        for crl in current:
            revoked = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if revoked is not None and revoked.revocation_date_utc <= at:
                code = "signer_revoked" if index == 0 else "untrusted_chain"
                _fail(code, f"certificat « {cert.subject.rfc4514_string()} » révoqué le "
                            f"{revoked.revocation_date_utc:%Y-%m-%dT%H:%M:%SZ}")


# --------------------------------------------------------------------------- parsing

def parse(data: bytes) -> etree._ElementTree:
    if not isinstance(data, bytes):
        _fail("format", "octets attendus")
    if _DECLARATION.search(data):  # one scan of the bytes; the second only when something was found
        if b"<!ENTITY" in data:
            _fail("entity", "déclaration d'entité interdite")
        _fail("dtd", "DTD (DOCTYPE) interdite")
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        _fail("format", f"XML mal formé : {exc}")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        _fail("dtd", "DTD (DOCTYPE) interdite")
    for _entity in root.iter(etree.Entity):  # filtered in C: no Python object per ordinary node
        _fail("entity", "référence d'entité interdite")
    return tree


def _check_signature_structure(signature: etree._Element) -> dict[str, etree._Element]:
    """Strict shape of the ds:Signature: nothing but the profile (anything else is a wrapping attempt)."""
    for node in signature.iter():
        if isinstance(node.tag, str) and _local(node) in STRUCTURE_NAMES:
            _fail("wrapping", f"élément {_local(node)} dans la signature (hors contenu signé)")
    children = [c for c in signature if isinstance(c.tag, str)]
    names = [c.tag for c in children]
    if names[:2] != [_q(DS, "SignedInfo"), _q(DS, "SignatureValue")] or names[2:3] != [_q(DS, "KeyInfo")] \
            or any(n != _q(DS, "Object") for n in names[3:]):
        _fail("wrapping", "structure de ds:Signature inattendue")
    objects = children[3:]
    props = []
    for obj in objects:
        inner = [c for c in obj if isinstance(c.tag, str)]
        if len(inner) != 1 or inner[0].tag != _q(XADES, "QualifyingProperties"):
            _fail("wrapping", "ds:Object inattendu dans la signature")
        props += inner[0].findall(_q(XADES, "SignedProperties"))
    if len(props) != 1:
        _fail("reference_scope", "SignedProperties XAdES absentes ou multiples")
    return {"signed_info": children[0], "signature_value": children[1], "key_info": children[2],
            "signed_properties": props[0]}


def _algorithm(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(_q(DS, tag))
    return None if element is None else element.get("Algorithm")


def _check_references(signed_info: etree._Element,
                      signed_properties: etree._Element) -> tuple[etree._Element, etree._Element]:
    if _algorithm(signed_info, "CanonicalizationMethod") != EXC_C14N:
        _fail("algorithm", "canonicalisation exclusive (exc-c14n) attendue")
    if _algorithm(signed_info, "SignatureMethod") != RSA_SHA256:
        _fail("algorithm", "algorithme de signature RSA-SHA256 attendu")
    references = signed_info.findall(_q(DS, "Reference"))
    document = [r for r in references if r.get("URI") == ""]
    props = [r for r in references if r.get("Type") == SIGNED_PROPERTIES_TYPE]
    if len(references) != 2 or len(document) != 1 or len(props) != 1:
        _fail("reference_scope", "deux références attendues : le document entier (URI=\"\") et les SignedProperties")
    document, props = document[0], props[0]
    transforms = document.findall(f"{_q(DS, 'Transforms')}/{_q(DS, 'Transform')}")
    if [t.get("Algorithm") for t in transforms] != [FILTER2, EXC_C14N]:
        _fail("reference_scope", "transformations attendues : XPath-Filter-2 puis exc-c14n")
    xpaths = transforms[0].findall(_q(FILTER2, "XPath"))
    if (len(xpaths) != 1 or xpaths[0].get("Filter") != "subtract" or (xpaths[0].text or "").strip() != SUBTRACT_XPATH
            or xpaths[0].nsmap.get("ds") != DS or len(transforms[0]) != 1):
        _fail("reference_scope", "le filtre XPath doit soustraire exactement /descendant::ds:Signature")
    if props.get("URI") != f"#{signed_properties.get('Id')}" or not signed_properties.get("Id"):
        _fail("reference_scope", "la référence XAdES ne désigne pas les SignedProperties")
    props_transforms = props.findall(f"{_q(DS, 'Transforms')}/{_q(DS, 'Transform')}")
    if [t.get("Algorithm") for t in props_transforms] not in ([EXC_C14N], []):
        _fail("reference_scope", "transformation des SignedProperties inattendue")
    for reference in (document, props):
        if _algorithm(reference, "DigestMethod") != SHA256:
            _fail("algorithm", "empreintes SHA-256 attendues")
    return document, props


def _digest_ok(reference: etree._Element, content: bytes) -> bool:
    expected = (reference.findtext(_q(DS, "DigestValue")) or "").strip()
    return expected == base64.b64encode(hashlib.sha256(content).digest()).decode()


def _signer_from_key_info(key_info: etree._Element,
                          signed_properties: etree._Element) -> tuple[x509.Certificate, list[x509.Certificate]]:
    certs = []
    for element in key_info.iter(_q(DS, "X509Certificate")):
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode("".join((element.text or "").split()))))
        except ValueError:
            _fail("format", "certificat illisible dans KeyInfo")
    if not certs:
        _fail("signing_certificate", "aucun certificat dans KeyInfo")
    cert_refs = signed_properties.findall(
        f"{_q(XADES, 'SignedSignatureProperties')}/{_q(XADES, 'SigningCertificateV2')}/{_q(XADES, 'Cert')}")
    if not cert_refs:
        _fail("signing_certificate", "SigningCertificateV2 absent")
    digest = cert_refs[0].find(_q(XADES, "CertDigest"))
    algorithm = DIGESTS.get(_algorithm(digest, "DigestMethod") or "") if digest is not None else None
    if digest is None or algorithm is None:
        _fail("signing_certificate", "empreinte du certificat signataire absente ou algorithme inconnu")
    value = (digest.findtext(_q(DS, "DigestValue")) or "").strip()
    for cert in certs:
        if base64.b64encode(algorithm(_der(cert)).digest()).decode() == value:
            return cert, [c for c in certs if c is not cert]
    _fail("signing_certificate", "aucun certificat de KeyInfo ne correspond à SigningCertificateV2")


def _xmlsec_verifier(signature: etree._Element, signer: x509.Certificate) -> Callable[[], None]:
    """Prepare libxmlsec1's check of ``signature`` (Ids registered, key loaded: the parts that write to the
    tree or need the GIL) and return the call that verifies, which only reads the tree."""
    import xmlsec

    xmlsec.tree.add_ids(signature, ["Id"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(signer.public_bytes(serialization.Encoding.PEM),
                                     xmlsec.constants.KeyDataFormatCertPem, None)

    def run() -> None:
        try:
            ctx.verify(signature)
        except xmlsec.Error as exc:
            _fail("signature_invalid", f"signature cryptographique invalide ({exc})")

    return run


class _InBackground:
    """``function()`` run in a thread; ``outcome()`` waits for it and returns the VerificationError it raised
    (None when it passed), re-raising any other exception."""

    def __init__(self, function: Callable[[], None]):
        self._function = function
        self._error: VerificationError | None = None
        self._unexpected: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="whitelist-verify-signature", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._error = _outcome(self._function)[1]
        except BaseException as exc:  # noqa: BLE001 - handed over to the caller's thread by outcome()
            self._unexpected = exc

    def outcome(self) -> VerificationError | None:
        self._thread.join()
        if self._unexpected is not None:
            raise self._unexpected
        return self._error


def _outcome(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, VerificationError | None]:
    """``(function(...), None)``, or ``(None, the VerificationError it raised)``: reported later, in turn."""
    try:
        return function(*args, **kwargs), None
    except VerificationError as exc:
        return None, exc


def _without_signature(root: etree._Element, signature: etree._Element) -> etree._Element:
    """The node set of the document reference: the document minus the ds:Signature subtree (its tail stays).
    Done on the parsed tree itself, once nothing else reads it."""
    tail = signature.tail
    previous = signature.getprevious()
    root.remove(signature)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            root.text = (root.text or "") + tail
    return root


# --------------------------------------------------------------------------- content

EXPECTED_WITH = list(DOMAINE_ORDER)  # with the optional ResponsableContact
EXPECTED_WITHOUT = [n for n in DOMAINE_ORDER if n not in OPTIONAL]
REQUIRED_VALUES = ("Identifiant", "db", "Denomination", "DNCertificatOperateur", "SupportContact")


def read_entries(root: etree._Element, *, unique_identifiant: bool = False,
                 laid_out: bool | None = None) -> tuple[dt.datetime, list[dict[str, str]]]:
    """DateDeGeneration and the entries, refusing a fault with its reason. ``laid_out``: what
    ``layout_is_valid(root)`` answered, when the caller already asked."""
    children = [c for c in root if isinstance(c.tag, str)]
    if children and children[-1].tag == _q(DS, "Signature"):
        children = children[:-1]
    names = [_local(c) for c in children]
    if names.count("ListeDomaines") > 1 or names.count("DateDeGeneration") > 1:
        _fail("wrapping", "plusieurs ListeDomaines ou DateDeGeneration")
    if names != ["DateDeGeneration", "ListeDomaines"]:
        _fail("format", f"contenu de la racine inattendu : {names}")
    generated = _date(children[0].text, "DateDeGeneration")
    if laid_out is None:
        laid_out = layout_is_valid(root)
    entries = _read_domaines_at_once(children[1], unique_identifiant) if laid_out else None
    if entries is None:  # something is unusual: the reader element by element names the first fault
        entries = _read_domaines(children[1], unique_identifiant)
    return generated, entries


def _read_domaines(liste: etree._Element, unique_identifiant: bool) -> list[dict[str, str]]:
    """The entries of ListeDomaines, Domaine by Domaine, refusing the first fault with its reason."""
    entries: list[dict[str, str]] = []
    seen: dict[str, set[str]] = {"Identifiant": set(), "db": set(), "vi": set()}
    for index, domaine in enumerate(c for c in liste if isinstance(c.tag, str)):
        if _local(domaine) != "Domaine":
            _fail("format", f"élément inattendu dans ListeDomaines : {_local(domaine)}")
        fields = [c for c in domaine if isinstance(c.tag, str)]
        got = [_local(c) for c in fields]
        expected = EXPECTED_WITH if "ResponsableContact" in got else EXPECTED_WITHOUT
        if got != expected:
            code = "order" if sorted(got) == sorted(expected) else "format"
            _fail(code, f"Domaine n°{index + 1} : éléments {got}, attendu {expected}")
        values = {name: (f.text or "").strip() for name, f in zip(got, fields, strict=True)}
        for name in REQUIRED_VALUES:
            if not values[name]:
                _fail("format", f"Domaine n°{index + 1} : {name} vide")
        _date(values["DateMAJ"], f"Domaine n°{index + 1} DateMAJ")
        for name in ("db", "vi") + (("Identifiant",) if unique_identifiant else ()):
            value = values[name].lower() if name != "Identifiant" else values[name]
            if value and value in seen[name]:
                _fail("duplicate", f"{name} en double : {values[name]}")
            seen[name].add(value)
        entries.append(values)
    return entries


# What the reader element by element checks about names, order and nesting, as an XML Schema validated in C
# (libxml2) on the whole document: the root, then DateDeGeneration and ListeDomaines, each Domaine's elements in
# order (ResponsableContact optional), text only in them, no attribute but versionFormat, the ds:Signature last and
# not looked into. Stricter than that reader (whitespace only between elements, no attribute, one namespace):
# what it refuses goes to that reader, which accepts it or names the fault.
_LAYOUT_SCHEMA = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="{namespace}"
    elementFormDefault="qualified">
  <xs:element name="{root}">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="DateDeGeneration" type="xs:string"/>
        <xs:element name="ListeDomaines">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="Domaine" minOccurs="0" maxOccurs="unbounded">
                <xs:complexType>
                  <xs:sequence>{fields}</xs:sequence>
                </xs:complexType>
              </xs:element>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
        <xs:any namespace="{ds}" processContents="skip" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="versionFormat" type="xs:string"/>
    </xs:complexType>
  </xs:element>
</xs:schema>"""
_schemas = threading.local()  # compiled per thread: a validator keeps its error log between calls
_TEXT = attrgetter("text")
# get(text, text): "" for an element without text (<vi></vi> reads as ""), else the text itself.
_TEXT_OR_EMPTY: Callable[[Any, Any], Any] = {None: ""}.get
_ABSENT = object()  # the slot of a ResponsableContact the Domaine does not have
_RESPONSABLE_SLOT = DOMAINE_ORDER.index("ResponsableContact")


def _layout_schema(namespace: str) -> etree.XMLSchema:
    compiled = _schemas.__dict__.setdefault("by_namespace", {})
    if namespace not in compiled:
        fields = "".join(f'<xs:element name="{name}" type="xs:string" minOccurs="{0 if name in OPTIONAL else 1}"/>'
                         for name in DOMAINE_ORDER)
        compiled[namespace] = etree.XMLSchema(etree.fromstring(_LAYOUT_SCHEMA.format(
            namespace=namespace, root=ROOT_NAME, fields=fields, ds=DS).encode()))
    return compiled[namespace]


def layout_is_valid(root: etree._Element) -> bool:
    """True when the document of ``root`` (its root element, in a known namespace) has the layout of a list:
    then every element but those of its ds:Signature is one the list defines, in its place, without attributes
    (but versionFormat on the root) and without text between elements."""
    namespace = etree.QName(root).namespace
    if namespace not in KNOWN_NAMESPACES or root.getroottree().getroot() is not root:
        return False
    return _layout_schema(namespace).validate(root)  # the document itself: nothing is re-parented meanwhile


def _read_domaines_at_once(liste: etree._Element, unique_identifiant: bool) -> list[dict[str, str]] | None:
    """The entries of ListeDomaines in a document whose layout is valid, read column by column with C-level
    passes (no Python code per element), or None when anything is unusual — a fault, but also a comment that the
    reader element by element accepts. Whenever it returns a list, ``_read_domaines`` returns the same."""
    namespace = etree.QName(liste).namespace
    if next(liste.iter(etree.Comment, etree.ProcessingInstruction), None) is not None:
        return None  # a comment is no element for that reader, but it would be one in these passes
    # Valid, so the elements under ListeDomaines are the Domaines and, in each one, its fields in order.
    raw: list[Any] = list(map(_TEXT, liste.iter(*(f"{{{namespace}}}{name}" for name in DOMAINE_ORDER))))
    texts: list[Any] = list(map(str.strip, map(_TEXT_OR_EMPTY, raw, raw)))
    some_without_responsable = len(texts) != len(liste) * len(DOMAINE_ORDER)
    if some_without_responsable:
        texts = _with_absent_slots(texts, list(map(len, liste)))
    columns = {name: texts[offset::len(DOMAINE_ORDER)] for offset, name in enumerate(DOMAINE_ORDER)}
    if any("" in columns[name] for name in REQUIRED_VALUES):
        return None
    if not all(map(_is_date, set(columns["DateMAJ"]))):
        return None
    if _has_duplicates(list(map(str.lower, columns["db"]))) or _has_duplicates(list(map(str.lower, columns["vi"]))):
        return None
    if unique_identifiant and _has_duplicates(columns["Identifiant"]):
        return None
    entries = list(map(dict, map(zip, repeat(DOMAINE_ORDER), zip(*columns.values(), strict=True))))
    if some_without_responsable:
        for index, value in enumerate(columns["ResponsableContact"]):
            if value is _ABSENT:
                del entries[index]["ResponsableContact"]
    return entries


def _with_absent_slots(texts: list[Any], lengths: list[int]) -> list[Any]:
    """``texts`` with an ``_ABSENT`` slot where a Domaine (of ``lengths`` elements) has no ResponsableContact:
    every row is then as long."""
    starts = accumulate(lengths, initial=0)
    without = map(len(EXPECTED_WITHOUT).__eq__, lengths)
    pieces: list[list[Any]] = []
    done = 0
    for start in compress(starts, without):
        slot = start + _RESPONSABLE_SLOT
        pieces += [texts[done:slot], [_ABSENT]]
        done = slot
    pieces.append(texts[done:])
    return list(chain.from_iterable(pieces))


def _is_date(text: str) -> bool:
    return _outcome(_date, text, "DateMAJ")[1] is None


def _has_duplicates(values: list[str]) -> bool:
    """True when a non-empty value occurs twice (an empty vi, a DRIMbox without viewer, may be repeated)."""
    distinct = set(values)
    distinct.discard("")
    return len(distinct) != len(values) - values.count("")


def verify(data: bytes, *, anchors: CertificateSource, intermediates: CertificateSource = (),
           signer_cn: str | None = DEFAULT_SIGNER_CN, signer_ou: str | None = DEFAULT_SIGNER_OU,
           crls: CertificateSource = None, check_crl: bool = True, at: dt.datetime | str | None = None,
           not_before_generation: dt.datetime | str | None = None,
           unique_identifiant: bool = False) -> VerifiedList:
    at = parse_instant(at) if at is not None else dt.datetime.now(dt.UTC)
    trusted = load_certificates(anchors)
    if not trusted:
        _fail("untrusted_chain", "aucune ancre de confiance configurée")
    tree = parse(data)
    root = tree.getroot()
    if _local(root) != ROOT_NAME:
        _fail("format", f"racine {ROOT_NAME} attendue, reçu {_local(root)}")
    if etree.QName(root).namespace not in KNOWN_NAMESPACES:
        _fail("format", f"espace de noms inconnu : {etree.QName(root).namespace}")
    if root.get("versionFormat") not in KNOWN_VERSIONS:
        _fail("format", f"versionFormat non pris en charge : {root.get('versionFormat')!r}")

    signatures = root.findall(f".//{_q(DS, 'Signature')}")
    if not signatures:
        _fail("not_signed", "liste non signée (aucun ds:Signature)")
    if len(signatures) > 1:
        _fail("several_signatures", f"{len(signatures)} signatures, une seule attendue")
    signature = signatures[0]
    last = [c for c in root if isinstance(c.tag, str)][-1]
    if signature.getparent() is not root or last is not signature:
        _fail("wrapping", "la signature doit être le dernier élément de la racine")
    laid_out = layout_is_valid(root)
    # Every element's Id (the document node has none); with a valid layout, only the signature's elements have any.
    ids = (signature if laid_out else root).xpath("descendant-or-self::*/@Id")
    if len(ids) != len(set(ids)):
        _fail("wrapping", "attribut Id en double dans le document")
    parts = _check_signature_structure(signature)
    document_ref, props_ref = _check_references(parts["signed_info"], parts["signed_properties"])

    # Ids are unique (checked above), so libxmlsec1 resolves the XAdES reference to these SignedProperties.
    if not _digest_ok(props_ref, exc_c14n(parts["signed_properties"])):
        _fail("digest_mismatch", "les propriétés signées (XAdES) ont été modifiées")
    signer, embedded = _signer_from_key_info(parts["key_info"], parts["signed_properties"])
    # From here until outcome() returns, libxmlsec1 reads the tree on another thread: this one only reads it too
    # (iterating, .text: no XPath, nothing done on a sub-element as if it were a document — canonicalising or
    # validating one re-parents its children for the while).
    signature_check = _InBackground(_xmlsec_verifier(signature, signer))
    try:  # meanwhile, on this thread: the entries (a fault is reported after the signature's own checks)
        content, content_error = _outcome(read_entries, root, unique_identifiant=unique_identifiant,
                                          laid_out=laid_out)
    finally:
        signature_error = signature_check.outcome()
    if signature_error is not None:
        # Tell a changed content from a bad signature value: recompute the document digest.
        if not _digest_ok(document_ref, exc_c14n(_without_signature(root, signature))):
            _fail("digest_mismatch", "le contenu de la liste a été modifié après signature")
        raise signature_error

    signing_time = _date(parts["signed_properties"].findtext(
        f"{_q(XADES, 'SignedSignatureProperties')}/{_q(XADES, 'SigningTime')}"), "SigningTime")
    subject = signer.subject
    if signer_cn is not None and [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] != [signer_cn]:
        _fail("signer_dn", f"signataire inattendu : {subject.rfc4514_string()} (CN={signer_cn} attendu)")
    if signer_ou is not None and signer_ou not in [a.value for a in
                                                   subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]:
        _fail("signer_dn", f"signataire inattendu : {subject.rfc4514_string()} (OU={signer_ou} attendu)")
    try:
        usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            _fail("signer_usage", "le certificat signataire n'autorise pas la signature (keyUsage)")
    except x509.ExtensionNotFound:
        pass  # no keyUsage: unrestricted (RFC 5280 §4.2.1.3)
    for instant, label in ((at, "à l'instant de vérification"), (signing_time, "à l'heure de signature")):
        if instant < signer.not_valid_before_utc:
            _fail("signer_not_yet_valid", f"certificat signataire pas encore valide {label} "
                                          f"({instant:%Y-%m-%dT%H:%M:%SZ})")
        if instant > signer.not_valid_after_utc:
            _fail("signer_expired", f"certificat signataire expiré le {signer.not_valid_after_utc:%Y-%m-%d} "
                                    f"({label} {instant:%Y-%m-%dT%H:%M:%SZ})")
    chain = build_chain(signer, trusted, load_certificates(intermediates) + embedded, [at, signing_time])
    if check_crl:
        check_revocation(chain, load_crls(crls), at)

    if content_error is not None:
        raise content_error
    generated, entries = content
    if not_before_generation is not None and generated < parse_instant(not_before_generation):
        _fail("rollback", f"DateDeGeneration {generated:%Y-%m-%dT%H:%M:%SZ} antérieure à la dernière version "
                          f"acceptée ({parse_instant(not_before_generation):%Y-%m-%dT%H:%M:%SZ})")
    return VerifiedList(entries=entries, generated_at=generated, signer_subject=subject.rfc4514_string(),
                        signing_time=signing_time, signer=signer, chain=chain)


def default_anchor_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "certificates" / "anchors" / "igc-sante-test"


def split_anchors(certs: Iterable[x509.Certificate]) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Self-issued certificates are anchors, the others intermediates."""
    anchors: list[x509.Certificate] = []
    intermediates: list[x509.Certificate] = []
    for cert in certs:
        (anchors if cert.subject == cert.issuer else intermediates).append(cert)
    return anchors, intermediates

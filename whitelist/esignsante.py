"""eSignSanté backend of the whitelist signer: ANS's signing service over HTTP.

Contract (public OpenAPI of eSignSanté, ``esignsante-ws-api-doc.yaml``, operation ``signatureXades``):
``POST {base}/signatures/xadesbaselineb``, ``multipart/form-data`` with ``file`` (the document, binary),
``idSignConf`` (integer, a signature configuration of the instance, see ``GET /configurations``) and
the optional ``secret`` (``^[a-zA-Z_0-9-]*$``); ``200`` answers ``application/json``
``{"erreurs": [{"codeErreur", "message"}], "docSigne": "<signed document, base64>"}``; ``400`` malformed,
``401`` wrong secret, ``404`` unknown configuration, ``500`` internal error, ``501`` unsupported document,
``503`` unavailable. The OpenAPI declares no API key; an instance published behind an API gateway may
require one: ``WHITELIST_ESIGNSANTE_API_KEY`` is then sent in the header ``WHITELIST_ESIGNSANTE_API_KEY_HEADER``.

What comes back is checked before anyone else sees it: JSON of the expected shape, no ``erreurs``, strict
base64, a DRIM-M list whose last child is its only ``ds:Signature``, and whose unsigned content (the
document without that signature, in exclusive canonical form with comments) is identical to what was
sent: the service may not change, add or drop an entry. The services then verify the signature itself.

Signer certificate (``subject``/``certificate`` for the watch): eSignSanté chooses its certificate from
``idSignConf``, so the portal cannot know it before signing. ``WHITELIST_ESIGNSANTE_SIGNER_PEM`` (path or
PEM text), when set, pins it: it is checked (expiry, revocation) before the request and the returned
signature must use it. Otherwise the certificate is the one in the KeyInfo of the last published
version until a new signature is made, then the one in the returned KeyInfo; in both cases an expired or
revoked certificate found in the returned signature is refused.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json

import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from lxml import etree

from . import xades
from .signers import BaseSigner, SignerError, check_certificate, read_pem_certificates

SIGN_PATH = "/signatures/xadesbaselineb"
DEFAULT_API_KEY_HEADER = "ESANTE-API-KEY"
MAX_RESPONSE_BYTES = 50 * 1024 * 1024


def _fail(message: str, code: str = "signer_esignsante", detail: str = "") -> SignerError:
    """A French message; the service's or the parser's own words, if any, as the technical detail."""
    return SignerError(f"eSignSanté : {message}", code=code, detail=detail)


HTTP_ERRORS = {
    400: "requête refusée comme mal formée (400)",
    401: "authentification refusée (401) : secret ou clé d'API incorrects",
    403: "accès refusé (403) : clé d'API incorrecte ou non autorisée",
    404: "configuration de signature inconnue (404) : vérifiez WHITELIST_ESIGNSANTE_SIGN_CONF_ID",
    500: "erreur interne du service (500)",
    501: "document non pris en charge par le service (501)",
    503: "service indisponible (503)",
}


def signature_certificates(signed: bytes) -> tuple[x509.Certificate | None, list[x509.Certificate]]:
    """(signer, others) from the KeyInfo of the last ``ds:Signature``; the signer is the certificate whose
    SHA-512 matches ``SigningCertificateV2`` (else the first one)."""
    root = etree.fromstring(signed, xades.safe_parser())
    signatures = root.findall(f".//{{{xades.DS}}}Signature")
    if not signatures:
        return None, []
    return _certificates_in(signatures[-1])


def _certificates_in(signature: etree._Element) -> tuple[x509.Certificate | None, list[x509.Certificate]]:
    certificates = [x509.load_der_x509_certificate(base64.b64decode("".join(e.text.split())))
                    for e in signature.iter(f"{{{xades.DS}}}X509Certificate") if e.text]
    if not certificates:
        return None, []
    wanted = signature.findtext(f".//{{{xades.XADES}}}CertDigest/{{{xades.DS}}}DigestValue")
    for cert in certificates:
        digest = base64.b64encode(hashlib.sha512(cert.public_bytes(Encoding.DER)).digest()).decode()
        if wanted and "".join(wanted.split()) == digest:
            return cert, [c for c in certificates if c is not cert]
    return certificates[0], certificates[1:]


_LAST_PUBLISHED_CERTIFICATES: dict[tuple, tuple] = {}


def public_certificate():
    """(certificate, chain) for the ANS page and the watch, without calling the service: the pinned PEM
    (``WHITELIST_ESIGNSANTE_SIGNER_PEM``), else the KeyInfo of the last published version, parsed once per
    version (number and SHA-256)."""
    from .models import WhitelistVersion, WhitelistVersionStatus

    pinned = read_pem_certificates(getattr(settings, "WHITELIST_ESIGNSANTE_SIGNER_PEM", "") or "")
    if pinned:
        return pinned[0], pinned[1:]
    latest = (WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED, signed_xml__isnull=False)
              .order_by("-number").values_list("number", "sha256").first())  # the covering index: no XML read
    if latest is None:
        return None, []
    if latest not in _LAST_PUBLISHED_CERTIFICATES:  # (number, SHA-256): a version's bytes never change
        signed = WhitelistVersion.objects.filter(number=latest[0]).values_list("signed_xml", flat=True).get()
        try:
            found = signature_certificates(bytes(signed))
        except (etree.XMLSyntaxError, ValueError, binascii.Error):
            found = (None, [])
        _LAST_PUBLISHED_CERTIFICATES.clear()  # only the latest version matters
        _LAST_PUBLISHED_CERTIFICATES[latest] = found
    return _LAST_PUBLISHED_CERTIFICATES[latest]


def unsigned_content(document: bytes) -> bytes:
    """The document without its last ``ds:Signature`` child, in exclusive c14n with comments."""
    return _unsigned_content_of(etree.fromstring(document, xades.safe_parser()))


def _unsigned_content_of(root: etree._Element) -> bytes:
    """``unsigned_content`` of a parsed document, whose last ``ds:Signature`` is removed from it."""
    last = root[-1] if len(root) else None
    if last is not None and last.tag == f"{{{xades.DS}}}Signature":
        root.remove(last)
    return etree.tostring(root, method="c14n", exclusive=True, with_comments=True)


class EsignsanteSigner(BaseSigner):
    backend = "esignsante"

    def __init__(self, *, url: str, sign_conf_id, secret: str = "", api_key: str = "",
                 api_key_header: str = DEFAULT_API_KEY_HEADER, timeout: float = 30, verify_tls=True,
                 signer_pem: str = ""):
        if not url:
            raise _fail("adresse du service absente (WHITELIST_ESIGNSANTE_URL).", "signer_esignsante_config")
        try:
            self.sign_conf_id = int(sign_conf_id)
        except (TypeError, ValueError):
            raise _fail(f"identifiant de configuration de signature invalide : « {sign_conf_id} » "
                        "(WHITELIST_ESIGNSANTE_SIGN_CONF_ID, un entier).", "signer_esignsante_config") from None
        self.endpoint = url.rstrip("/") + SIGN_PATH
        self.secret, self.api_key, self.api_key_header = secret, api_key, api_key_header or DEFAULT_API_KEY_HEADER
        self.timeout, self.verify_tls = timeout, verify_tls
        pinned = read_pem_certificates(signer_pem) if signer_pem else []
        self.pinned = pinned[0] if pinned else None
        if self.pinned is not None:
            self.cert, self.chain = self.pinned, pinned[1:]
        else:
            cert, chain = public_certificate()  # the last published version's, parsed once per version
            self.cert, self.chain = cert, list(chain)

    # ------------------------------------------------------------------ HTTP

    def _post(self, data: bytes) -> requests.Response:
        form = {"idSignConf": str(self.sign_conf_id)}
        if self.secret:
            form["secret"] = self.secret
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers[self.api_key_header] = self.api_key
        try:
            # stream=True: the body is read by _read_limited, never more than MAX_RESPONSE_BYTES + 1 bytes.
            return requests.post(self.endpoint, data=form, files={"file": ("listeblanche.xml", data, "text/xml")},
                                 headers=headers, timeout=self.timeout, verify=self.verify_tls,
                                 allow_redirects=False, stream=True)
        except requests.Timeout as exc:
            raise _fail(f"pas de réponse dans le délai ({self.timeout:g} s).", "signer_esignsante_unreachable") from exc
        except requests.RequestException as exc:
            raise _fail(f"service injoignable ({type(exc).__name__}).", "signer_esignsante_unreachable") from exc

    def _read_limited(self, response: requests.Response) -> bytes:
        """The body, read in chunks and abandoned past ``MAX_RESPONSE_BYTES`` (limit + 1 bytes at most)."""
        limit, received, chunks = MAX_RESPONSE_BYTES, 0, []
        try:
            for chunk in response.iter_content(chunk_size=min(65536, limit + 1)):
                chunks.append(chunk[:limit + 1 - received])
                received += len(chunks[-1])
                if received > limit:
                    raise _fail(f"réponse trop volumineuse (plus de {limit} octets).", "signer_esignsante_response")
        except requests.RequestException as exc:
            raise _fail(f"réponse interrompue ({type(exc).__name__}).", "signer_esignsante_unreachable") from exc
        finally:
            response.close()
        return b"".join(chunks)

    def _signed_document(self, response: requests.Response) -> bytes:
        if not 200 <= response.status_code < 300:
            response.close()
            raise _fail(HTTP_ERRORS.get(response.status_code, f"réponse HTTP {response.status_code} inattendue."),
                        "signer_esignsante_http")
        content = self._read_limited(response)
        try:
            report = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            raise _fail("réponse illisible (JSON attendu).", "signer_esignsante_response") from None
        if not isinstance(report, dict) or not isinstance(report.get("erreurs", []), list):
            raise _fail("réponse de forme inattendue (objet avec « erreurs » et « docSigne » attendu).",
                        "signer_esignsante_response")
        errors = report.get("erreurs") or []
        if errors:
            details = " ; ".join(f"{e.get('codeErreur', '?')} {e.get('message', '')}".strip() if isinstance(e, dict)
                                 else str(e) for e in errors)
            # eSignSanté (ANS) words its errors in French: they are the message.
            raise _fail(f"le service signale des erreurs : {details}", "signer_esignsante_refused")
        encoded = report.get("docSigne")
        if not isinstance(encoded, str) or not encoded.strip():
            raise _fail("la réponse ne contient pas de document signé (« docSigne »).", "signer_esignsante_response")
        try:
            return base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError):
            raise _fail("document signé mal encodé (base64 attendu).", "signer_esignsante_response") from None

    # ------------------------------------------------------------------ checks

    def _check_document(self, sent: bytes, signed: bytes) -> etree._Element:
        """The returned document, parsed once and checked; returns its signature (taken out of it)."""
        try:
            root = etree.fromstring(signed, xades.safe_parser())
        except etree.XMLSyntaxError as exc:
            raise _fail("le document renvoyé n'est pas du XML valide.", "signer_esignsante_document",
                        str(exc)) from None
        if b"<!DOCTYPE" in signed or b"<!ENTITY" in signed:
            raise _fail("le document renvoyé contient une DTD.", "signer_esignsante_document")
        if etree.QName(root).localname != xades.ROOT_NAME:
            raise _fail("le document renvoyé n'est pas une liste blanche DRIM-M.", "signer_esignsante_document")
        signatures = root.findall(f".//{{{xades.DS}}}Signature")
        if len(signatures) != 1 or root[-1] is not signatures[0]:
            raise _fail("le document renvoyé doit porter une seule signature, dernier élément de la liste.",
                        "signer_esignsante_document")
        if _unsigned_content_of(root) != unsigned_content(sent):
            raise _fail("le document renvoyé ne correspond pas à la liste envoyée (contenu modifié par le "
                        "service) : signature refusée.", "signer_esignsante_altered")
        return signatures[0]

    def sign(self, data: bytes, *, signing_time: dt.datetime | None = None) -> bytes:
        """Have eSignSanté sign ``data`` (it chooses the SigningTime); check and return the signed bytes."""
        signing_time = signing_time or dt.datetime.now(dt.UTC)
        if self.pinned is not None:
            self.check_valid(signing_time)
        signed = self._signed_document(self._post(data))
        signature = self._check_document(data, signed)
        try:
            cert, others = _certificates_in(signature)
        except (ValueError, binascii.Error) as exc:
            raise _fail("certificat illisible dans la signature.", "signer_esignsante_document", str(exc)) from None
        if cert is None:
            raise _fail("la signature ne contient pas le certificat du signataire.", "signer_esignsante_document")
        if self.pinned is not None and cert != self.pinned:
            raise _fail(f"le service a signé avec un autre certificat ({cert.subject.rfc4514_string()}) que celui "
                        "configuré (WHITELIST_ESIGNSANTE_SIGNER_PEM).", "signer_esignsante_certificate")
        self.cert, self.chain = cert, others + [c for c in self.chain if c not in others and c != cert]
        check_certificate(cert, self.chain, signing_time)
        return signed


def configured_esignsante_signer() -> EsignsanteSigner:
    ca_bundle = getattr(settings, "WHITELIST_ESIGNSANTE_CA_BUNDLE", "") or ""
    return EsignsanteSigner(
        url=getattr(settings, "WHITELIST_ESIGNSANTE_URL", "") or "",
        sign_conf_id=getattr(settings, "WHITELIST_ESIGNSANTE_SIGN_CONF_ID", ""),
        secret=getattr(settings, "WHITELIST_ESIGNSANTE_SECRET", "") or "",
        api_key=getattr(settings, "WHITELIST_ESIGNSANTE_API_KEY", "") or "",
        api_key_header=getattr(settings, "WHITELIST_ESIGNSANTE_API_KEY_HEADER", "") or DEFAULT_API_KEY_HEADER,
        timeout=float(getattr(settings, "WHITELIST_ESIGNSANTE_TIMEOUT", 30) or 30),
        verify_tls=ca_bundle or True,
        signer_pem=getattr(settings, "WHITELIST_ESIGNSANTE_SIGNER_PEM", "") or "",
    )

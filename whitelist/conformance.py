"""Conformance kit for DRIMbox vendors (DESIGN §7 "Verification"; issue 15, item 4).

The portal publishes, at a stable public URL, a ZIP against which a vendor runs its DRIMbox: the TEST trust anchors of
a hierarchy generated for the kit alone (never the production signer), its CRL, one signed valid list and lists that
each carry exactly one defect, with the verdict our verifier gives each (``manifeste.json``: refusal code and French
reason) and the verification procedure in French (``LISEZMOI.md``).

One source for the kit and for the tests: ``CASES`` names each case and its builder, ``build_case`` builds its bytes
from a ``KitMaterial`` (signers of the moment, generation instant). ``tests/whitelist/test_conformance_cases.py`` runs
our verifier on every builder, ``build_kit`` writes the same builders' output into the ZIP and refuses to write a kit
whose verdicts our verifier does not give, so the kit and the verifier cannot drift.

Keys: ``KitHierarchy`` (root, intermediate, signer keys, an impostor CA) is generated once and kept under
``MEDIA_ROOT/kit-de-conformite/`` (0600; MEDIA_ROOT is not served); the signing certificates, the CRL and the lists are
issued again whenever the cached ZIP is older than ``KIT_MAX_AGE`` (see ``current_kit``).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import builder, verify, xades

KIT_DIRECTORY_NAME = "kit-de-conformite"
ZIP_NAME = "kit-conformite-drim-m.zip"
ROOT_FOLDER = "kit-conformite-drim-m"
FORMAT_VERSION = 1
KIT_MAX_AGE = dt.timedelta(days=30)  # then the signing certificates, the CRL and the lists are issued again
SIGNER_VALIDITY = dt.timedelta(days=2 * 365)
CRL_VALIDITY = dt.timedelta(days=400)
HIERARCHY_RENEW_BEFORE = dt.timedelta(days=3 * 365)  # a new hierarchy (new anchors) when the intermediate ends sooner
ROLLBACK_GAP = dt.timedelta(days=7)

SIGNER_CN, SIGNER_OU = verify.DEFAULT_SIGNER_CN, verify.DEFAULT_SIGNER_OU
ROOT_CN = "TEST AC RACINE KIT DE CONFORMITE DRIM-M"
INTERMEDIATE_CN = "TEST AC ORGANISATIONS KIT DE CONFORMITE DRIM-M"
OTHER_SIGNER_CN = "Autre signataire DRIM-M"
OTHER_NAMESPACE = "urn:exemple:drim-m:espace-de-noms-inconnu"

FILES = {
    "readme": "LISEZMOI.md",
    "manifest": "manifeste.json",
    "root": "ancres/racine-test.pem",
    "intermediate": "ancres/intermediaire-test.pem",
    "crl": "lcr/intermediaire-test.crl.pem",
}


class KitError(Exception):
    """The kit cannot be built as promised (a builder no longer produces its defect, or our verifier disagrees)."""


# --------------------------------------------------------------------------- the kit's own TEST hierarchy

def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ca_name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AGENCE DU NUMERIQUE EN SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "KIT DE CONFORMITE - TEST UNIQUEMENT"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def signer_name(cn: str = SIGNER_CN, ou: str = SIGNER_OU) -> x509.Name:
    """The DN DRIMboxes check (CN and OU as the production signer's), as an IGC-Santé ORG SIGN certificate."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AGENCE DU NUMERIQUE EN SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _ca_certificate(subject: x509.Name, key, issuer_name: x509.Name, issuer_key, not_before: dt.datetime,
                    not_after: dt.datetime, *, path_length: int | None) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))


def _key_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


@dataclass
class KitHierarchy:
    """Root → intermediate of the kit, the signers' keys, and an impostor CA named as the intermediate."""

    root_key: rsa.RSAPrivateKey
    root: x509.Certificate
    intermediate_key: rsa.RSAPrivateKey
    intermediate: x509.Certificate
    signer_key: rsa.RSAPrivateKey
    other_key: rsa.RSAPrivateKey
    impostor_key: rsa.RSAPrivateKey
    impostor: x509.Certificate

    @classmethod
    def generate(cls, now: dt.datetime | None = None) -> KitHierarchy:
        now = now or _now()
        start = now - dt.timedelta(days=3 * 365)  # before any signing time of the kit (the expired signer's too)
        root_key, intermediate_key, signer_key, other_key, impostor_key = (_rsa() for _ in range(5))
        root_name, intermediate_name = _ca_name(ROOT_CN), _ca_name(INTERMEDIATE_CN)
        root = _ca_certificate(root_name, root_key, root_name, root_key, start, now + dt.timedelta(days=20 * 365),
                               path_length=None)
        intermediate = _ca_certificate(intermediate_name, intermediate_key, root_name, root_key, start,
                                       now + dt.timedelta(days=15 * 365), path_length=0)
        # Self-issued under the intermediate's very name: only the signature of the chain tells it apart.
        impostor = _ca_certificate(intermediate_name, impostor_key, intermediate_name, impostor_key, start,
                                   now + dt.timedelta(days=15 * 365), path_length=0)
        return cls(root_key, root, intermediate_key, intermediate, signer_key, other_key, impostor_key, impostor)

    def to_json(self) -> bytes:
        keys = ("root_key", "intermediate_key", "signer_key", "other_key", "impostor_key")
        certs = ("root", "intermediate", "impostor")
        document = {name: _key_pem(getattr(self, name)) for name in keys}
        document.update({name: _cert_pem(getattr(self, name)) for name in certs})
        return json.dumps(document, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> KitHierarchy:
        document = json.loads(data)
        values = {}
        for name, text in document.items():
            if name.endswith("_key"):
                # Our own 0600 file: skipping the RSA consistency checks makes loading ~10 times faster.
                values[name] = serialization.load_pem_private_key(text.encode(), password=None,
                                                                  unsafe_skip_rsa_key_validation=True)
            else:
                values[name] = x509.load_pem_x509_certificate(text.encode())
        return cls(**values)

    @property
    def anchor_fingerprint(self) -> str:
        return fingerprint(self.root)


def _leaf(hierarchy: KitHierarchy, subject: x509.Name, key, not_before: dt.datetime, not_after: dt.datetime, *,
          issuer: x509.Certificate | None = None, issuer_key=None) -> x509.Certificate:
    """An ORG SIGN-like signing certificate (digitalSignature + nonRepudiation, no EKU, no SAN)."""
    issuer = issuer or hierarchy.intermediate
    issuer_key = issuer_key or hierarchy.intermediate_key
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: list[x509.Certificate]
    signing_time: dt.datetime

    def sign(self, data: bytes) -> bytes:
        return xades.sign(data, self.key, self.cert, self.chain, signing_time=self.signing_time)


@dataclass
class KitMaterial:
    """What the builders need: the hierarchy, the signers of the moment, the CRL and the generation instant."""

    hierarchy: KitHierarchy
    generated_at: dt.datetime
    valid: Signer
    other_dn: Signer
    expired: Signer
    revoked: Signer
    impostor: Signer
    crl: x509.CertificateRevocationList
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def issue(cls, hierarchy: KitHierarchy, now: dt.datetime | None = None) -> KitMaterial:
        now = (now or _now()).replace(microsecond=0)
        h = hierarchy
        chain = [h.intermediate, h.root]  # the whole chain up to the root, as ANS's 2026 list carries it
        start, end = now - dt.timedelta(days=1), min(now + SIGNER_VALIDITY, h.intermediate.not_valid_after_utc)
        valid = Signer(h.signer_key, _leaf(h, signer_name(), h.signer_key, start, end), chain, now)
        other = Signer(h.other_key, _leaf(h, signer_name(cn=OTHER_SIGNER_CN), h.other_key, start, end), chain, now)
        old_start, old_end = now - dt.timedelta(days=400), now - dt.timedelta(days=10)
        expired = Signer(h.signer_key, _leaf(h, signer_name(), h.signer_key, old_start, old_end), chain,
                         old_end - dt.timedelta(days=10))
        revoked = Signer(h.signer_key, _leaf(h, signer_name(), h.signer_key, start, end), chain, now)
        impostor = Signer(h.other_key, _leaf(h, signer_name(), h.other_key, start, end, issuer=h.impostor,
                                             issuer_key=h.impostor_key), [h.impostor], now)
        crl_builder = (x509.CertificateRevocationListBuilder().issuer_name(h.intermediate.subject)
                       .last_update(now - dt.timedelta(hours=1)).next_update(now + CRL_VALIDITY)
                       .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                           h.intermediate_key.public_key()), critical=False)
                       .add_revoked_certificate(x509.RevokedCertificateBuilder()
                                                .serial_number(revoked.cert.serial_number)
                                                .revocation_date(now - dt.timedelta(hours=2))
                                                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise),
                                                               critical=False)
                                                .build()))
        crl = crl_builder.sign(h.intermediate_key, hashes.SHA256())
        return cls(h, now, valid, other, expired, revoked, impostor, crl)

    @property
    def valid_until(self) -> dt.datetime:
        """Until when the valid list verifies (signer, CRL, CAs)."""
        return min(self.valid.cert.not_valid_after_utc, self.crl.next_update_utc or self.valid.cert.not_valid_after_utc,
                   self.hierarchy.intermediate.not_valid_after_utc)

    def verifier_options(self, case: Case) -> dict:
        """The arguments of ``whitelist.verify.verify`` under which the case has its stated verdict."""
        options = {"anchors": [self.hierarchy.root], "intermediates": [self.hierarchy.intermediate],
                   "crls": [self.crl], "signer_cn": SIGNER_CN, "signer_ou": SIGNER_OU, "unique_identifiant": True}
        if case.previous_generation:
            options["not_before_generation"] = self.generated_at
        return options

    def valid_list(self) -> bytes:
        if "valid" not in self._cache:
            self._cache["valid"] = self.valid.sign(render_list(sample_entries(self.generated_at), self.generated_at))
        return self._cache["valid"]


# --------------------------------------------------------------------------- the lists

def sample_entries(generated_at: dt.datetime) -> list[builder.Entry]:
    """Three DRIMboxes: one complete, one without viewer (``<vi></vi>``), one without the optional contact."""
    def dn(n: int, name: str) -> str:
        return f"CN=db{n}.test.mesimagesmedicales.fr,OU=30000000{n:07d},O={name},ST=Côte-d'Or (21),C=FR"

    return [
        builder.Entry(101, "db101.test.mesimagesmedicales.fr", "vi101.test.mesimagesmedicales.fr",
                      "Imagerie de test A", dn(101, "CENTRE D'IMAGERIE DE TEST A"),
                      "responsable@imagerie-a.example.fr, 01 23 45 67 89",
                      "support@imagerie-a.example.fr, 01 23 45 67 80",
                      generated_at - dt.timedelta(days=40)),
        builder.Entry(102, "db102.test.mesimagesmedicales.fr", "", "Imagerie de test B",
                      dn(102, "CABINET DE RADIOLOGIE DE TEST B"), "responsable@imagerie-b.example.fr",
                      "support@imagerie-b.example.fr, 03 80 00 00 00", generated_at - dt.timedelta(days=12)),
        builder.Entry(103, "db103.test.mesimagesmedicales.fr", "vi103.test.mesimagesmedicales.fr",
                      "Imagerie de test C", dn(103, "GROUPE D'IMAGERIE DE TEST C"), "",
                      "support@imagerie-c.example.fr", generated_at - dt.timedelta(days=3)),
    ]


EXTRA_ENTRY = builder.Entry(666, "db666.pirate.example.fr", "vi666.pirate.example.fr", "Opérateur non référencé",
                            "CN=db666.pirate.example.fr,OU=999999999999999,O=PIRATE,C=FR", "",
                            "pirate@example.fr", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def render_list(entries: list[builder.Entry], generated_at: dt.datetime, namespace: str | None = None) -> bytes:
    """The unsigned list, byte for byte as the portal publishes it (``whitelist.builder.render``)."""
    return builder.render(entries, generated_at=generated_at, namespace=namespace or builder.DEFAULT_NAMESPACE)


def _domaine_bytes(entry: builder.Entry) -> bytes:
    """One ``<Domaine>`` as the portal renders it, in the default namespace, indented as its siblings."""
    rendered = render_list([entry], entry.date_maj or _now())
    start, end = rendered.index(b"<Domaine>"), rendered.index(b"</Domaine>") + len(b"</Domaine>")
    return rendered[start:end]


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    if data.count(old) != 1:
        raise KitError(f"le motif {old[:60]!r} doit apparaître une seule fois dans la liste")
    return data.replace(old, new)


def _signature_span(data: bytes) -> tuple[int, int]:
    start = data.index(b"<ds:Signature ")
    return start, data.index(b"</ds:Signature>") + len(b"</ds:Signature>")


def _valid(m: KitMaterial) -> bytes:
    return m.valid_list()


def _entry_changed(m: KitMaterial) -> bytes:
    return _replace_once(m.valid_list(), b"<db>db102.test.mesimagesmedicales.fr</db>",
                         b"<db>db102.pirate.example.fr</db>")


def _entry_added_after_signing(m: KitMaterial) -> bytes:
    data = m.valid_list()
    return _replace_once(data, b"</Domaine>\n    </ListeDomaines>",
                         b"</Domaine>\n        " + _domaine_bytes(EXTRA_ENTRY) + b"\n    </ListeDomaines>")


def _entry_added_outside_signed_content(m: KitMaterial) -> bytes:
    # A ds:Object the signature does not reference: xmlsec1 still verifies, a reader that takes every Domaine is fooled.
    extra = b"<ds:Object><ListeDomaines>" + _domaine_bytes(EXTRA_ENTRY) + b"</ListeDomaines></ds:Object>"
    return _replace_once(m.valid_list(), b"</ds:Object></ds:Signature>", b"</ds:Object>" + extra + b"</ds:Signature>")


def _signature_removed(m: KitMaterial) -> bytes:
    data = m.valid_list()
    start, end = _signature_span(data)
    return data[:start] + data[end:]


def _signature_value_altered(m: KitMaterial) -> bytes:
    data = m.valid_list()
    start = data.index(b"<ds:SignatureValue")
    start = data.index(b">", start) + 1
    position = start + 20
    flipped = b"B" if data[position:position + 1] == b"A" else b"A"
    return data[:position] + flipped + data[position + 1:]


def _signed_properties_changed(m: KitMaterial) -> bytes:
    data = m.valid_list()
    stamp = m.valid.signing_time.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    earlier = (m.valid.signing_time - dt.timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return _replace_once(data, b"<xades:SigningTime>" + stamp, b"<xades:SigningTime>" + earlier)


def _other_signer(m: KitMaterial) -> bytes:
    return m.other_dn.sign(render_list(sample_entries(m.generated_at), m.generated_at))


def _untrusted_signer(m: KitMaterial) -> bytes:
    return m.impostor.sign(render_list(sample_entries(m.generated_at), m.generated_at))


def _expired_signer(m: KitMaterial) -> bytes:
    return m.expired.sign(render_list(sample_entries(m.generated_at), m.generated_at))


def _revoked_signer(m: KitMaterial) -> bytes:
    return m.revoked.sign(render_list(sample_entries(m.generated_at), m.generated_at))


def _older_generation(m: KitMaterial) -> bytes:
    older = m.generated_at - ROLLBACK_GAP
    return m.valid.sign(render_list(sample_entries(older), older))


def _dtd(m: KitMaterial) -> bytes:
    # Added after signing: canonicalisation ignores the DOCTYPE, so the signature still verifies.
    return _replace_once(m.valid_list(), b"?><ListeBlancheDRIM-M",
                         b"?><!DOCTYPE ListeBlancheDRIM-M><ListeBlancheDRIM-M")


def _wrong_namespace(m: KitMaterial) -> bytes:
    return m.valid.sign(render_list(sample_entries(m.generated_at), m.generated_at, OTHER_NAMESPACE))


def _duplicate_identifiant(m: KitMaterial) -> bytes:
    entries = sample_entries(m.generated_at)
    entries[1] = replace(entries[1], identifiant=entries[0].identifiant)
    return m.valid.sign(render_list(entries, m.generated_at))


@dataclass(frozen=True)
class Case:
    """One list of the kit: its defect (exactly one), the verdict and reason our verifier gives, xmlsec1's verdict."""

    slug: str
    title: str
    defect: str
    code: str | None  # the verifier's reason code; None: the list is accepted
    motif: str  # French, as our verifier words the refusal (its message contains it)
    xmlsec1_refuses: bool  # what ``xmlsec1_command`` answers (it does not read the CRL)
    builder: Callable[[KitMaterial], bytes] = field(repr=False, compare=False)
    previous_generation: bool = False  # verified after the valid list was accepted (anti-rollback)

    @property
    def accepted(self) -> bool:
        return self.code is None


CASES: tuple[Case, ...] = (
    Case("00-valide", "Liste valide",
         "Aucun défaut : liste signée par le signataire attendu, chaîne vers l'ancre du kit, LCR à jour.",
         None, "", False, _valid),
    Case("01-entree-modifiee", "Entrée modifiée après signature",
         "Le nom `db` d'une entrée a été changé après la signature.",
         "digest_mismatch", "le contenu de la liste a été modifié après signature", True, _entry_changed),
    Case("02-entree-ajoutee-apres-signature", "Entrée ajoutée après signature",
         "Un `Domaine` a été ajouté dans `ListeDomaines` après la signature.",
         "digest_mismatch", "le contenu de la liste a été modifié après signature", True, _entry_added_after_signing),
    Case("03-entree-ajoutee-hors-contenu-signe", "Entrée ajoutée hors du contenu signé",
         "Un `Domaine` a été glissé dans un `ds:Object` de la signature, que la signature ne couvre pas "
         "(« signature wrapping ») : la signature reste mathématiquement valide.",
         "wrapping", "dans la signature (hors contenu signé)", False, _entry_added_outside_signed_content),
    Case("04-signature-supprimee", "Signature supprimée",
         "L'élément `ds:Signature` a été retiré : la liste n'est plus signée.",
         "not_signed", "liste non signée", True, _signature_removed),
    Case("05-valeur-de-signature-alteree", "Valeur de signature altérée",
         "Un caractère de `ds:SignatureValue` a été changé.",
         "signature_invalid", "signature cryptographique invalide", True, _signature_value_altered),
    Case("06-proprietes-signees-modifiees", "Propriétés signées modifiées",
         "L'heure de signature (`xades:SigningTime`) a été changée après la signature.",
         "digest_mismatch", "les propriétés signées (XAdES) ont été modifiées", True, _signed_properties_changed),
    Case("07-autre-signataire", "Autre signataire (DN inattendu)",
         f"Signée par un certificat de la même hiérarchie mais dont le CN est « {OTHER_SIGNER_CN} » au lieu de "
         f"« {SIGNER_CN} ».",
         "signer_dn", "signataire inattendu", False, _other_signer),
    Case("08-signataire-non-reconnu", "Signataire d'une autre hiérarchie",
         "Signée par un certificat au bon DN, émis par une autorité qui porte le nom de l'intermédiaire du kit "
         "mais n'est pas signée par sa racine.",
         "untrusted_chain", "aucune chaîne vers une ancre de confiance", True, _untrusted_signer),
    Case("09-signataire-expire", "Signataire expiré",
         "Signée, pendant sa validité, par un certificat aujourd'hui expiré.",
         "signer_expired", "certificat signataire expiré", True, _expired_signer),
    Case("10-signataire-revoque", "Signataire révoqué",
         "Signée par un certificat révoqué dans la LCR du kit.",
         "signer_revoked", "révoqué", False, _revoked_signer),
    Case("11-date-de-generation-anterieure", "DateDeGeneration antérieure (rejeu)",
         "Liste correctement signée dont la `DateDeGeneration` précède celle de la liste valide déjà acceptée : "
         "une version plus ancienne rejouée.",
         "rollback", "antérieure à la dernière version acceptée", False, _older_generation,
         previous_generation=True),
    Case("12-dtd", "DTD présente",
         "Une déclaration `<!DOCTYPE>` a été ajoutée (la canonicalisation l'ignore : la signature reste valide).",
         "dtd", "DTD (DOCTYPE) interdite", False, _dtd),
    Case("13-espace-de-noms-inconnu", "Espace de noms inconnu",
         f"Liste correctement signée dans l'espace de noms « {OTHER_NAMESPACE} ».",
         "format", "espace de noms inconnu", False, _wrong_namespace),
    Case("14-identifiant-en-double", "Identifiant en double",
         "Liste correctement signée où deux `Domaine` portent le même `Identifiant`.",
         "duplicate", "Identifiant en double", False, _duplicate_identifiant),
)
CASES_BY_SLUG = {case.slug: case for case in CASES}


def build_case(case: Case, material: KitMaterial) -> bytes:
    return case.builder(material)


def check_case(case: Case, material: KitMaterial, data: bytes, *,
               at: dt.datetime | None = None) -> verify.VerificationError | None:
    """Run our verifier on ``data`` under the case's options; raise ``KitError`` unless it gives the stated
    verdict and reason. Returns the refusal (None for an accepted list)."""
    try:
        verify.verify(data, at=at, **material.verifier_options(case))
    except verify.VerificationError as exc:
        if case.accepted or exc.reason_code != case.code or case.motif not in exc.message:
            raise KitError(f"{case.slug} : refus {exc.reason_code} ({exc.message}), attendu "
                           f"{case.code or 'acceptation'} « {case.motif} »") from exc
        return exc
    if not case.accepted:
        raise KitError(f"{case.slug} : liste acceptée, attendu le refus {case.code}")
    return None


# --------------------------------------------------------------------------- the ZIP

PROCEDURE = (  # (title, text): the steps of DESIGN §7 "Verification", in order; `x` marks code
    ("Lire sans DTD",
     "Analyser le XML sans DTD ni entités : refuser tout document qui contient `<!DOCTYPE` ou `<!ENTITY` "
     "(code `dtd`, `entity`)."),
    ("Racine et format",
     "Racine `ListeBlancheDRIM-M` dans l'espace de noms `https://github.com/ansforge/DRIM-M_DATA` (ou "
     "l'ancien `https://listeblanche.mesimagesmedicales.fr/schema`), `versionFormat=\"1.0.0\"` ; sinon refus "
     "(code `format`)."),
    ("Une seule signature, à sa place",
     "Exactement un `ds:Signature`, dernier enfant de la racine (codes `not_signed`, `several_signatures`, "
     "`wrapping`) ; il ne contient que `SignedInfo`, `SignatureValue`, `KeyInfo` et un `ds:Object` portant "
     "les `QualifyingProperties` XAdES : aucun élément de la liste dans la signature (code `wrapping`)."),
    ("Portée de la signature",
     "Deux références : le document entier (`URI=\"\"`, transformations XPath-Filter-2 `subtract "
     "/descendant::ds:Signature` puis exc-c14n) et les `SignedProperties` ; exc-c14n, RSA-SHA256, SHA-256 "
     "(codes `reference_scope`, `algorithm`)."),
    ("Empreintes et valeur de signature",
     "Recalculer les deux empreintes puis vérifier la valeur de signature avec la clé du certificat "
     "signataire (codes `digest_mismatch`, `signature_invalid`). libxmlsec1 le fait (commande `xmlsec1` "
     "ci-dessous)."),
    ("Certificat signataire",
     "Le certificat de `KeyInfo` dont l'empreinte est celle de `SigningCertificateV2` ; ne pas dépendre de "
     "l'ordre ni de la présence de `X509SubjectName` dans `KeyInfo` (la liste de 2024 en avait un, celle de "
     "2026 porte seulement les certificats, jusqu'à la racine). CN et OU attendus (code `signer_dn`), usage "
     "signature (code `signer_usage`), valide à l'instant de vérification et à `SigningTime` (codes "
     "`signer_expired`, `signer_not_yet_valid`)."),
    ("Chaîne et révocation",
     "Chaîne jusqu'à une ancre de confiance configurée, chaque lien vérifié par sa signature, pas seulement "
     "par les noms (code `untrusted_chain`) ; LCR de l'émetteur du signataire à jour et signataire non "
     "révoqué (codes `crl_unavailable`, `signer_revoked`)."),
    ("Lire les entrées du seul contenu signé",
     "Ordre des éléments de `Domaine` fixé (code `order`), champs obligatoires présents et dates UTC "
     "`AAAA-MM-JJTHH:MM:SSZ` (code `format`), aucun `Identifiant`, `db` ou `vi` en double (code "
     "`duplicate`)."),
    ("Pas de retour en arrière",
     "Refuser une `DateDeGeneration` antérieure à celle de la dernière liste acceptée (code `rollback`) ; "
     "ne remplacer la liste en service qu'après toutes ces vérifications."),
)


def xmlsec1_command(file: str = "listes/00-valide.xml", *, multiline: bool = False) -> str:
    """The xmlsec1 command of DESIGN §7 on a list of the kit (run from the kit's folder)."""
    parts = ["xmlsec1 --verify", f"--trusted-pem {FILES['root']}", f"--untrusted-pem {FILES['intermediate']}",
             "--id-attr:Id SignedProperties", file]
    return " \\\n    ".join(parts) if multiline else " ".join(parts)


def manifest(material: KitMaterial, cases: tuple[Case, ...], files: dict[str, bytes]) -> dict:
    h = material.hierarchy
    return {
        "format": FORMAT_VERSION,
        "titre": "Kit de conformité DRIM-M : vérification de la liste blanche signée",
        "genere_le": f"{material.generated_at:%Y-%m-%dT%H:%M:%SZ}",
        "valide_jusqu_au": f"{material.valid_until:%Y-%m-%dT%H:%M:%SZ}",
        "avertissement": "Hiérarchie de TEST propre au kit : ne jamais l'installer comme ancre de confiance en "
                         "production.",
        "parametres": {
            "ancres": [FILES["root"]],
            "intermediaires": [FILES["intermediate"]],
            "lcr": [FILES["crl"]],
            "signataire_cn": SIGNER_CN,
            "signataire_ou": SIGNER_OU,
            "identifiant_unique": True,
            "instant_de_verification": "maintenant",
        },
        "ancres": [
            {"fichier": FILES["root"], "sujet": h.root.subject.rfc4514_string(), "sha256": fingerprint(h.root),
             "valide_jusqu_au": f"{h.root.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"},
            {"fichier": FILES["intermediate"], "sujet": h.intermediate.subject.rfc4514_string(),
             "sha256": fingerprint(h.intermediate),
             "valide_jusqu_au": f"{h.intermediate.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"},
        ],
        "commande_xmlsec1": xmlsec1_command("<fichier>"),
        "cas": [
            {
                "fichier": f"listes/{case.slug}.xml",
                "titre": case.title,
                "defaut": case.defect,
                "verdict": "accepte" if case.accepted else "refuse",
                "code": case.code,
                "motif": case.motif or None,
                "derniere_date_de_generation_acceptee": (f"{material.generated_at:%Y-%m-%dT%H:%M:%SZ}"
                                                         if case.previous_generation else None),
                "xmlsec1": "refuse" if case.xmlsec1_refuses else "accepte",
                "sha256": hashlib.sha256(files[f"listes/{case.slug}.xml"]).hexdigest(),
            }
            for case in cases
        ],
    }


def readme(document: dict) -> str:
    lines = [
        "# Kit de conformité DRIM-M — vérification de la liste blanche signée",
        "",
        f"Généré le {document['genere_le']} par le portail de l'Espace de Confiance DRIM-M ; valable jusqu'au "
        f"{document['valide_jusqu_au']} (après, téléchargez-en un nouveau : les certificats de signature et la LCR "
        "sont réémis, les ancres restent les mêmes tant que l'intermédiaire du kit est valide).",
        "",
        "Ce kit permet à un éditeur de DRIMbox de prouver que sa DRIMbox refuse ce que le vérificateur du portail "
        "refuse, et accepte ce qu'il accepte. Il est produit par les mêmes constructeurs de cas que les tests du "
        "vérificateur du portail : chaque verdict ci-dessous est celui que ce vérificateur donne à ce fichier.",
        "",
        "**Hiérarchie de TEST.** Les ancres de `ancres/` appartiennent à une hiérarchie générée pour ce kit seul. "
        "Ne les installez jamais comme ancres de confiance en production : la liste blanche de production est signée "
        f"par un certificat IGC-Santé ORG SIGN (CN={SIGNER_CN}, OU={SIGNER_OU}). Le signataire du kit porte le même "
        "CN et le même OU, pour que votre configuration de production serve telle quelle, ancres exceptées.",
        "",
        "## Contenu",
        "",
        "- `manifeste.json` : les paramètres de vérification et, pour chaque liste, le défaut, le verdict attendu, "
        "le code et le motif du refus, le verdict de `xmlsec1` et l'empreinte SHA-256 du fichier ;",
        f"- `{FILES['root']}` : l'ancre de confiance (racine de TEST) ;",
        f"- `{FILES['intermediate']}` : l'autorité intermédiaire qui émet les certificats de signature (elle est "
        "aussi dans `KeyInfo` de chaque liste) ;",
        f"- `{FILES['crl']}` : la LCR de l'intermédiaire (elle révoque le signataire du cas `10-signataire-revoque`) ;",
        "- `listes/` : une liste valide et des listes qui portent chacune un seul défaut.",
        "",
        "## Paramètres de vérification",
        "",
        f"- Ancre de confiance : `{FILES['root']}` seule ; intermédiaire : `{FILES['intermediate']}`.",
        f"- Signataire attendu : CN={SIGNER_CN}, OU={SIGNER_OU}.",
        f"- Révocation : la LCR `{FILES['crl']}`.",
        "- Instant de vérification : maintenant.",
        "- `Identifiant`, `db` et `vi` uniques dans la liste.",
        "- Anti-rejeu : pour le cas dont le manifeste donne `derniere_date_de_generation_acceptee`, vérifiez comme si "
        "la liste valide (`00-valide.xml`, de cette `DateDeGeneration`) avait déjà été acceptée.",
        "",
        "## Procédure de vérification qu'une DRIMbox doit suivre",
        "",
        "Dans cet ordre ; la première vérification qui échoue fait refuser la liste, et la liste en service reste "
        "celle déjà acceptée.",
        "",
    ]
    lines += [f"{n}. **{title}.** {text}" for n, (title, text) in enumerate(PROCEDURE, start=1)]
    lines += [
        "",
        "Les codes entre parenthèses sont ceux du vérificateur du portail (`python manage.py whitelist_verify`) ; "
        "votre DRIMbox peut nommer ses refus autrement, le manifeste donne le motif en clair.",
        "",
        "## Cas du kit",
        "",
        "| Fichier | Défaut | Verdict attendu | Code | Motif | xmlsec1 |",
        "|---|---|---|---|---|---|",
    ]
    for case in document["cas"]:
        lines.append(f"| `{case['fichier']}` | {case['titre']} | {case['verdict']} | {case['code'] or '—'} | "
                     f"{case['motif'] or '—'} | {case['xmlsec1']} |")
    lines += [
        "",
        "## xmlsec1 ne suffit pas",
        "",
        "La vérification cryptographique seule (libxmlsec1, commande ci-dessous) refuse les listes dont le contenu "
        "signé, la valeur de signature ou la confiance dans le signataire sont atteints ; elle **accepte** les listes "
        "marquées « xmlsec1 : accepte » ci-dessus (entrée hors du contenu signé, autre signataire de la même "
        "hiérarchie, signataire révoqué, rejeu, DTD, espace de noms, doublon), que votre DRIMbox doit pourtant "
        "refuser. Cette commande (xmlsec1 1.2 de Debian) ne consulte pas la LCR : la révocation est à vérifier "
        "en plus.",
        "",
        "```",
        xmlsec1_command(multiline=True),
        "```",
        "",
        "## Empreintes des ancres",
        "",
    ]
    lines += [f"- `{anchor['fichier']}` — {anchor['sujet']} — SHA-256 {anchor['sha256']}"
              for anchor in document["ancres"]]
    return "\n".join(lines) + "\n"


def build_kit(hierarchy: KitHierarchy, now: dt.datetime | None = None) -> bytes:
    """The kit as ZIP bytes; refuses (``KitError``) to build a kit our verifier contradicts (checked at the kit's
    generation instant, so that a kit built for another instant is checked as of then)."""
    material = KitMaterial.issue(hierarchy, now)
    files: dict[str, bytes] = {
        FILES["root"]: hierarchy.root.public_bytes(serialization.Encoding.PEM),
        FILES["intermediate"]: hierarchy.intermediate.public_bytes(serialization.Encoding.PEM),
        FILES["crl"]: material.crl.public_bytes(serialization.Encoding.PEM),
    }
    for case in CASES:
        data = build_case(case, material)
        check_case(case, material, data, at=material.generated_at)
        files[f"listes/{case.slug}.xml"] = data
    document = manifest(material, CASES, files)
    files[FILES["manifest"]] = json.dumps(document, ensure_ascii=False, indent=2).encode() + b"\n"
    files[FILES["readme"]] = readme(document).encode()
    buffer = io.BytesIO()
    stamp = material.generated_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in (FILES["readme"], FILES["manifest"], *sorted(n for n in files if n not in
                                                                  (FILES["readme"], FILES["manifest"]))):
            info = zipfile.ZipInfo(f"{ROOT_FOLDER}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def read_kit(data: bytes) -> tuple[dict, dict[str, bytes]]:
    """(manifest, files by path relative to the kit folder) of a kit ZIP."""
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            files[name.removeprefix(f"{ROOT_FOLDER}/")] = archive.read(name)
    return json.loads(files[FILES["manifest"]]), files


# --------------------------------------------------------------------------- the cached kit the portal serves

@dataclass(frozen=True)
class PublishedKit:
    data: bytes
    manifest: dict
    sha256: str
    generated_at: dt.datetime

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


def kit_directory() -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / KIT_DIRECTORY_NAME


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_or_create_hierarchy(directory: Path, now: dt.datetime | None = None) -> KitHierarchy:
    """The kit's hierarchy, generated once (and again only when its intermediate nears its end). Caller holds the
    lock."""
    now = now or _now()
    path = directory / "hierarchie.json"
    if path.exists():
        hierarchy = KitHierarchy.from_json(path.read_bytes())
        if hierarchy.intermediate.not_valid_after_utc - now > HIERARCHY_RENEW_BEFORE:
            return hierarchy
    hierarchy = KitHierarchy.generate(now)
    _write_atomically(path, hierarchy.to_json(), 0o600)
    return hierarchy


_MEMORY: dict[tuple, PublishedKit] = {}


def _published(path: Path) -> PublishedKit | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _MEMORY:
        data = path.read_bytes()
        document, _files = read_kit(data)
        _MEMORY.clear()
        _MEMORY[key] = PublishedKit(data, document, hashlib.sha256(data).hexdigest(),
                                    verify.parse_instant(document["genere_le"]))
    return _MEMORY[key]


def _fresh(kit: PublishedKit | None, now: dt.datetime) -> bool:
    return (kit is not None and kit.manifest.get("format") == FORMAT_VERSION
            and now - kit.generated_at < KIT_MAX_AGE
            and [c["fichier"] for c in kit.manifest["cas"]] == [f"listes/{c.slug}.xml" for c in CASES])


def current_kit(now: dt.datetime | None = None, *, renew: bool = False) -> PublishedKit:
    """The kit the portal serves: the cached ZIP while it is younger than ``KIT_MAX_AGE`` and lists the current
    cases, else a new one (built under a file lock, so concurrent requests build it once)."""
    now = now or _now()
    directory = kit_directory()
    path = directory / ZIP_NAME
    kit = _published(path)
    if not renew and _fresh(kit, now):
        assert kit is not None  # noqa: S101 - _fresh checked it
        return kit
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kit = _published(path)
        if renew or not _fresh(kit, now):
            _write_atomically(path, build_kit(load_or_create_hierarchy(directory, now), now))
            kit = _published(path)
    assert kit is not None  # noqa: S101 - just written
    return kit

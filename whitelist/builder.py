"""Build the whitelist (liste blanche) from the current state, in the exact format of DESIGN §7.

- ``current_entries(now)``: one ``Entry`` per ACTIVE DRIMbox that has a current, valid `db` certificate
  of its current operator, ordered by identifiant; ``missing_certificates(now)`` lists the active
  DRIMboxes that have none (publishing must be refused for them, with the reason).
- ``render(entries, generated_at=…, namespace=…)``: the XML bytes (unsigned), deterministic.
- ``diff(previous, current)``: entries added, removed and changed (field by field).
"""
import dataclasses
import datetime as dt
import hashlib
import json
import operator
from itertools import chain, repeat

from django.conf import settings
from django.db.models import F, Prefetch
from django.utils import timezone
from lxml import etree

from certificates.models import Certificate, CertificateKind
from operators.models import Drimbox, DrimboxStatus
from trustspace.errors import Conflict
from trustspace.text import describe_character, find_forbidden_character

from .models import PublishedEntry

DEFAULT_NAMESPACE = "https://github.com/ansforge/DRIM-M_DATA"
VERSION_FORMAT = "1.0.0"
ROOT_NAME = "ListeBlancheDRIM-M"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
INDENT = "    "

# Published fields, in the fixed element order of a ``Domaine`` (between Identifiant and DateMAJ).
PUBLISHED_FIELDS = (
    ("db", "db"),
    ("vi", "vi"),
    ("denomination", "Denomination"),
    ("dn_certificat_operateur", "DNCertificatOperateur"),
    ("responsable_contact", "ResponsableContact"),
    ("support_contact", "SupportContact"),
)
OPTIONAL_ELEMENTS = frozenset({"ResponsableContact"})


def whitelist_namespace():
    return getattr(settings, "WHITELIST_NAMESPACE", DEFAULT_NAMESPACE)


def format_date(value):
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (aware datetimes only)."""
    if timezone.is_naive(value):
        raise ValueError("Whitelist dates must be timezone-aware.")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_seconds(value):
    if timezone.is_naive(value):
        raise ValueError("Whitelist dates must be timezone-aware.")
    return value.astimezone(dt.UTC).replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class Entry:
    identifiant: int
    db: str
    vi: str
    denomination: str
    dn_certificat_operateur: str
    responsable_contact: str
    support_contact: str
    date_maj: dt.datetime | None = None

    def published_values(self):
        return {name: getattr(self, name) or "" for name, _element in PUBLISHED_FIELDS}

    @property
    def fields_sha256(self):
        return fields_hash(self)


def fields_hash(entry):
    """SHA-256 of the published fields (not Identifiant, the key, nor DateMAJ, derived from this hash)."""
    payload = json.dumps(entry.published_values(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- current state ---------------------------------------------------------------------------


def _active_drimboxes(now):
    valid_db = Certificate.objects.filter(
        kind=CertificateKind.DB, superseded_at__isnull=True, revoked_at__isnull=True,
        operator=F("drimbox__operator"), not_before__lte=now, not_after__gt=now,
    ).order_by("-created_at", "-pk")
    return (
        Drimbox.objects.filter(status=DrimboxStatus.ACTIVE)
        .select_related("operator")
        .prefetch_related(Prefetch("certificates", queryset=valid_db, to_attr="valid_db_certificates"))
        .order_by("identifiant")
    )


def missing_certificates(now=None):
    """Active DRIMboxes without a current, valid `db` certificate of their current operator."""
    now = now or timezone.now()
    return [drimbox for drimbox in _active_drimboxes(now) if not drimbox.valid_db_certificates]


def current_entries(now=None, *, drimbox_ids=None):
    """One ``Entry`` per active DRIMbox with a current valid `db` certificate, ordered by identifiant (only those
    of ``drimbox_ids`` when given).

    ``date_maj`` is the last published one when no published field changed, else ``now`` (not persisted).
    """
    now = utc_seconds(now or timezone.now())
    drimboxes = _active_drimboxes(now)
    published = PublishedEntry.objects.all()
    if drimbox_ids is not None:
        drimboxes = drimboxes.filter(pk__in=drimbox_ids)
        published = published.filter(identifiant__in=drimboxes.values("identifiant"))
    published = {p.identifiant: p for p in published}
    entries = []
    for drimbox in drimboxes:
        if not drimbox.valid_db_certificates:
            continue
        entry = Entry(
            identifiant=drimbox.identifiant,
            db=drimbox.db_fqdn,
            vi=drimbox.vi_fqdn or "",
            denomination=drimbox.operator.name,
            dn_certificat_operateur=drimbox.valid_db_certificates[0].subject,
            responsable_contact=drimbox.responsable_contact or "",
            support_contact=drimbox.support_contact or "",
        )
        previous = published.get(entry.identifiant)
        unchanged = previous is not None and previous.fields_sha256 == entry.fields_sha256
        entries.append(dataclasses.replace(entry, date_maj=previous.date_maj if unchanged else now))
    return entries


# --- XML -----------------------------------------------------------------------------------------


def _refuse_unreadable(entry, element, value):
    """Defence in depth: the services refuse these characters, but a stored value (older data, a certificate
    subject) must never be published and signed with a bidi control or a control character in it."""
    ch = find_forbidden_character(value)
    if ch is not None:
        raise Conflict(
            f"Impossible de construire la liste blanche : l'élément {element} de l'entrée {entry.identifiant} "
            f"({entry.db}) contient un caractère interdit ({describe_character(ch)}). Corrigez cette donnée avant "
            "de publier.", code="forbidden_character")


def _refuse_unpublishable(entries):
    """Raise on the first entry that cannot be written, checked entry by entry and element by element in the
    order of the document (a missing DateMAJ, an identifiant that is no number, a forbidden character, a naive
    DateMAJ). Returns when every entry can be written."""
    for entry in entries:
        if entry.date_maj is None:
            raise ValueError(f"L'entrée {entry.identifiant} n'a pas de DateMAJ.")
        int(entry.identifiant)
        for name, element in PUBLISHED_FIELDS:
            _refuse_unreadable(entry, element, getattr(entry, name) or "")
        format_date(entry.date_maj)


# A Domaine as lxml writes it, indented by etree.indent(space=INDENT) at depth 2, cut around its values: the
# ResponsableContact line is left out when it is empty (optional), any other empty value is written <vi></vi>.
_MARKUP = (
    "\n        <Domaine>\n            <Identifiant>",
    "</Identifiant>\n            <db>",
    "</db>\n            <vi>",
    "</vi>\n            <Denomination>",
    "</Denomination>\n            <DNCertificatOperateur>",
    "</DNCertificatOperateur>",
    # "\n            <ResponsableContact>", value, "</ResponsableContact>" when there is one
    "\n            <SupportContact>",
    "</SupportContact>\n            <DateMAJ>",
    "</DateMAJ>\n        </Domaine>",
)
_RESPONSABLE_OPEN, _RESPONSABLE_CLOSE = "\n            <ResponsableContact>", "</ResponsableContact>"
_PUBLISHED_VALUES = operator.attrgetter(*(name for name, _element in PUBLISHED_FIELDS))
_IDENTIFIANT = operator.attrgetter("identifiant")
_DATE_MAJ = operator.attrgetter("date_maj")
_UNLESS_EMPTY = {"": ""}.get  # get(value, tag): no tag around an empty value
_SEPARATOR = "\x00"  # a control character: refused in every value, so it cannot occur in one
_BODY = "\ue000"  # stands for the Domaines in the skeleton written by lxml (a private-use character: refused too)


def render(entries, *, generated_at, namespace=None):
    """The whitelist XML (unsigned) as UTF-8 bytes; the same input always gives the same bytes.

    Layout: the XML declaration directly followed by the root (as ANS's signed files), four-space
    indentation, LF line ends, no trailing newline. Entries are written in the order given.

    lxml writes the skeleton (root, namespace, DateDeGeneration); the Domaines are written as text, column by
    column, with the same escaping (&, <, >; the other characters that would need more are refused first).
    """
    namespace = namespace or whitelist_namespace()

    def q(name):
        return f"{{{namespace}}}{name}"

    root = etree.Element(q(ROOT_NAME), nsmap={None: namespace})
    root.set("versionFormat", VERSION_FORMAT)
    etree.SubElement(root, q("DateDeGeneration")).text = format_date(generated_at)
    domaines = etree.SubElement(root, q("ListeDomaines"))
    entries = list(entries)
    if entries:
        domaines.text = _BODY
    etree.indent(root, space=INDENT)
    skeleton = etree.tostring(root, encoding="unicode")
    if entries:
        head, _body, tail = skeleton.rpartition(_BODY)
        skeleton = head + _domaines(entries) + "\n" + INDENT + tail
    return XML_DECLARATION + skeleton.encode("utf-8")


def _domaines(entries):
    """The Domaine elements of ``entries``, written in a few passes over whole columns (no Python code per value)."""
    rows = list(map(_PUBLISHED_VALUES, entries))
    try:
        flat = _SEPARATOR.join(chain.from_iterable(rows))
    except TypeError:  # a None value, written as an empty one
        rows = [tuple(value or "" for value in row) for row in rows]
        flat = _SEPARATOR.join(chain.from_iterable(rows))
    date_majs = list(map(_DATE_MAJ, entries))
    if None in date_majs or not flat.replace(_SEPARATOR, "").isprintable():
        _refuse_unpublishable(entries)  # isprintable() is also false for allowed characters (a no-break space)
    try:
        identifiants = list(map(str, map(int, map(_IDENTIFIANT, entries))))
        formatted = {date: format_date(date) for date in set(date_majs)}
    except (ValueError, TypeError):
        _refuse_unpublishable(entries)  # the same error, but for the first entry in the document's order
        raise
    if "&" in flat or "<" in flat or ">" in flat:
        values = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split(_SEPARATOR)
        columns = [values[offset::len(PUBLISHED_FIELDS)] for offset in range(len(PUBLISHED_FIELDS))]
    else:
        columns = list(zip(*rows, strict=True))
    db, vi, denomination, dn, responsable, support = columns
    count = len(entries)
    m = [repeat(markup, count) for markup in _MARKUP]
    return "".join(chain.from_iterable(zip(
        m[0], identifiants, m[1], db, m[2], vi, m[3], denomination, m[4], dn, m[5],
        map(_UNLESS_EMPTY, responsable, repeat(_RESPONSABLE_OPEN, count)), responsable,
        map(_UNLESS_EMPTY, responsable, repeat(_RESPONSABLE_CLOSE, count)),
        m[6], support, m[7], map(formatted.__getitem__, date_majs), m[8], strict=True)))


# --- diff ----------------------------------------------------------------------------------------


def diff(previous_entries, current_entries):
    """What changes from ``previous_entries`` to ``current_entries`` (keyed by identifiant).

    Returns ``{"added": [Entry], "removed": [Entry], "changed": [{"identifiant", "before", "after",
    "fields": {element name: (old, new)}}]}``, each ordered by identifiant. ``DateMAJ`` is not compared.
    """
    before = {e.identifiant: e for e in previous_entries}
    after = {e.identifiant: e for e in current_entries}
    changed = []
    for identifiant in sorted(before.keys() & after.keys()):
        old, new = before[identifiant], after[identifiant]
        fields = {
            element: (getattr(old, name) or "", getattr(new, name) or "")
            for name, element in PUBLISHED_FIELDS
            if (getattr(old, name) or "") != (getattr(new, name) or "")
        }
        if fields:
            changed.append({"identifiant": identifiant, "before": old, "after": new, "fields": fields})
    return {
        "added": [after[i] for i in sorted(after.keys() - before.keys())],
        "removed": [before[i] for i in sorted(before.keys() - after.keys())],
        "changed": changed,
    }

"""What the next whitelist version would change, and since when it waits (« version due »).

The published whitelist is compared with the current state (``builder.current_entries``): DRIMboxes to add, to
remove and to change, field by field. Each waits since the first moment the portal can show for it:
- an addition, since the DRIMbox became active and has its current `db` certificate (the later of the two);
- a removal, since the DRIMbox was withdrawn (else since it last changed, e.g. its certificate lapsed);
- a change, since the DRIMbox or its `db` certificate last changed;
never earlier than the publication that is being departed from. A change of the operator's name (Denomination)
is dated by that publication, because the operator's row keeps no date of its renaming.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from certificates.models import Certificate, CertificateKind
from operators.models import Drimbox, DrimboxStatus

from . import builder
from .models import PublishedEntry, WhitelistVersion, WhitelistVersionStatus
from .services import entries_of

ADDED, REMOVED, CHANGED = "ajout", "retrait", "modification"
LABELS = {ADDED: "Ajout", REMOVED: "Retrait", CHANGED: "Modification"}


@dataclass
class PendingChange:
    kind: str
    identifiant: int
    db: str
    since: datetime
    waiting: timedelta
    drimbox_id: int | None = None
    fields: dict = field(default_factory=dict)  # element → (published, next), for a change

    @property
    def label(self):
        return LABELS[self.kind]


@dataclass
class VersionDue:
    changes: list[PendingChange]
    published_number: int | None

    @property
    def due(self):
        return bool(self.changes)

    @property
    def oldest(self):
        return max(self.changes, key=lambda c: c.waiting) if self.changes else None

    def count(self, kind):
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def added(self):
        return self.count(ADDED)

    @property
    def removed(self):
        return self.count(REMOVED)

    @property
    def changed(self):
        return self.count(CHANGED)

    @property
    def summary(self):
        """« 2 ajouts, 1 retrait » (French: the plural from two on; kinds without a change left out)."""
        parts = [(self.added, "ajout"), (self.removed, "retrait"), (self.changed, "modification")]
        return ", ".join(f"{n} {word}{'s' if n > 1 else ''}" for n, word in parts if n)


_parsed: dict = {}
_lock = threading.Lock()


def _published_entries(version):
    """The entries of a published version, parsed once per worker (the list is immutable once published)."""
    key = (version["number"], version["sha256"])
    with _lock:
        if key not in _parsed:
            _parsed.clear()
            signed = WhitelistVersion.objects.values_list("signed_xml", flat=True).get(pk=version["pk"])
            _parsed[key] = entries_of(bytes(signed))[1]
        return _parsed[key]


def _head():
    return (WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED, signed_xml__isnull=False)
            .order_by("-number").values("pk", "number", "sha256", "published_at").first())


def _dates(identifiants):
    """Per identifiant: the DRIMbox's id, status and dates, and when its current `db` certificate was recorded."""
    boxes = {row["identifiant"]: row for row in Drimbox.objects.filter(identifiant__in=identifiants).values(
        "pk", "identifiant", "status", "created_at", "updated_at", "integrated_at", "withdrawn_at")}
    certificates = dict(Certificate.objects.filter(kind=CertificateKind.DB, drimbox__identifiant__in=identifiants,
                                                   superseded_at__isnull=True)
                        .values_list("drimbox__identifiant").annotate(at=Max("created_at")))
    return boxes, certificates


def _since(kind, box, certificate_at, floor):
    if box is None:
        candidates = []
    elif kind == ADDED:
        candidates = [box["integrated_at"] or box["created_at"], certificate_at]
    elif kind == REMOVED and box["status"] == DrimboxStatus.WITHDRAWN:
        candidates = [box["withdrawn_at"]]
    else:
        candidates = [box["updated_at"], certificate_at]
    return max([moment for moment in (*candidates, floor) if moment is not None], default=floor)


def version_due(now=None) -> VersionDue:
    """The changes the next version would publish (empty when the published list is current)."""
    now = now or timezone.now()
    head = _head()
    previous = _published_entries(head) if head is not None else []
    floor = head["published_at"] if head is not None else None
    difference = builder.diff(previous, builder.current_entries(now))
    rows = ([(ADDED, e.identifiant, e.db, {}) for e in difference["added"]]
            + [(REMOVED, e.identifiant, e.db, {}) for e in difference["removed"]]
            + [(CHANGED, c["identifiant"], c["after"].db, c["fields"]) for c in difference["changed"]])
    boxes, certificates = _dates([identifiant for _kind, identifiant, _db, _fields in rows])
    changes = []
    for kind, identifiant, db, fields in rows:
        box = boxes.get(identifiant)
        since = _since(kind, box, certificates.get(identifiant), floor) or now
        changes.append(PendingChange(kind=kind, identifiant=identifiant, db=db, since=since,
                                     waiting=max(now - since, timedelta(0)), fields=fields,
                                     drimbox_id=box["pk"] if box else None))
    changes.sort(key=lambda c: (c.since, c.identifiant))
    return VersionDue(changes=changes, published_number=head["number"] if head else None)


def pending_identifiants(drimbox_ids, now=None) -> set[int]:
    """Among ``drimbox_ids``, the identifiants whose published entry differs from the portal's (added, removed or
    changed): hashes compared, no list parsed, a fixed number of queries."""
    now = now or timezone.now()
    current = {e.identifiant: e.fields_sha256 for e in builder.current_entries(now, drimbox_ids=drimbox_ids)}
    identifiants = Drimbox.objects.filter(pk__in=drimbox_ids).values("identifiant")
    published = dict(PublishedEntry.objects.filter(identifiant__in=identifiants)
                     .values_list("identifiant", "fields_sha256"))
    return {i for i in current.keys() | published.keys() if current.get(i) != published.get(i)}


def publication_state(drimbox, now=None):
    """One DRIMbox: ``None`` when the published list says what the portal says, else its ``PendingChange``
    (without field details: the hash of the published fields is enough, no list is parsed)."""
    now = now or timezone.now()
    entry = next(iter(builder.current_entries(now, drimbox_ids=[drimbox.pk])), None)
    published = PublishedEntry.objects.filter(identifiant=drimbox.identifiant).first()
    if entry is None and published is None:
        return None
    if entry is not None and published is not None and entry.fields_sha256 == published.fields_sha256:
        return None
    kind = ADDED if published is None else REMOVED if entry is None else CHANGED
    boxes, certificates = _dates([drimbox.identifiant])
    since = _since(kind, boxes.get(drimbox.identifiant), certificates.get(drimbox.identifiant),
                   published.published_at if published else None) or now
    return PendingChange(kind=kind, identifiant=drimbox.identifiant, db=drimbox.db_fqdn, since=since,
                         waiting=max(now - since, timedelta(0)), drimbox_id=drimbox.pk)

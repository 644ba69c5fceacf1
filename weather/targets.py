"""What the prober probes: the DRIMboxes of the current published whitelist (DESIGN §8).

The last published ``WhitelistVersion`` (highest number) is read with the verifier's reader
(``whitelist.services.entries_of``): each entry gives the `db` and `vi` names and the exact DN the `db`
endpoint must present. Entries are mapped to ``Drimbox`` rows by identifiant. A DRIMbox that is not in
that list is not probed, so its observations go stale and ``detect_silence`` turns it into « pas de
données ». The parsed list is cached per version (number and SHA-256), so a worker parses each
published version once.

``awaiting_integration`` lists the DRIMboxes declared or being integrated, not yet in the published list: the
prober only reads the certificate their `vi` endpoint presents (discovery), so that a certificate the operator
obtained with its own ACME client counts for the integration checks.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from operators.models import Drimbox, DrimboxStatus
from whitelist.models import WhitelistVersion, WhitelistVersionStatus
from whitelist.services import entries_of


@dataclass(frozen=True)
class Target:
    identifiant: int
    drimbox_id: int
    db: str
    vi: str  # "" when the entry has no vi name
    dn: str  # DNCertificatOperateur, RFC 4514


_cache: dict = {}
_lock = threading.Lock()


def _published_head():
    return (WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED, signed_xml__isnull=False)
            .order_by("-number").values("pk", "number", "sha256").first())


def _load(pk):
    signed = WhitelistVersion.objects.values_list("signed_xml", flat=True).get(pk=pk)
    _generated, entries = entries_of(bytes(signed))
    ids = dict(Drimbox.objects.filter(identifiant__in=[e.identifiant for e in entries])
               .values_list("identifiant", "id"))
    return tuple(Target(identifiant=e.identifiant, drimbox_id=ids[e.identifiant], db=e.db, vi=e.vi or "",
                        dn=e.dn_certificat_operateur)
                 for e in entries if e.identifiant in ids)


def current_targets():
    """The targets of the current published whitelist (an empty tuple before the first publication)."""
    head = _published_head()
    if head is None:
        return ()
    key = (head["number"], head["sha256"])
    with _lock:
        if key not in _cache:
            _cache.clear()  # only the current version is worth keeping
            _cache[key] = _load(head["pk"])
        return _cache[key]


def targets_for(identifiants):
    """The current targets among ``identifiants`` (a batch of a ``probe_batch`` task)."""
    wanted = {int(i) for i in identifiants}
    return [t for t in current_targets() if t.identifiant in wanted]


def awaiting_integration():
    """Targets (no DN: no `db` probe) of the DRIMboxes with a `vi` name, declared or being integrated, that the
    published list does not hold yet."""
    published = {t.drimbox_id for t in current_targets()}
    rows = (Drimbox.objects.filter(status__in=[DrimboxStatus.DECLARED, DrimboxStatus.INTEGRATING], has_viewer=True,
                                   vi_fqdn__isnull=False).exclude(vi_fqdn="").exclude(pk__in=published)
            .order_by("identifiant").values_list("identifiant", "pk", "db_fqdn", "vi_fqdn"))
    return [Target(identifiant=identifiant, drimbox_id=pk, db=db, vi=vi, dn="") for identifiant, pk, db, vi in rows]

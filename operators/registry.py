"""The FQDN registry's rules: Identifiants, FQDNs, the records the zone must hold, and its drift (DESIGN §4).

The registry is the source of truth of the zone. Its writes (Identifiants handed out, the queue of DNS changes
and its application, the repair of a drift) are in ``operators.services.registry``.
"""
import re
from dataclasses import dataclass

from django.conf import settings

from trustspace.backoff import backoff as retry_backoff

from .models import Drimbox, DrimboxStatus

SEQUENCE = "operators_drimbox_identifiant_seq"
TASK_ACTOR = "tâche DNS"


# --- Identifiants and FQDNs ---------------------------------------------------------------------


def fqdns_for(identifiant, label=None):
    label = label or settings.FQDN_SITE_LABEL
    suffix = f"{identifiant}.{label}.{settings.FQDN_ZONE}"
    return f"db{suffix}", f"vi{suffix}"


def managed_name_pattern():
    """Names the registry owns in the zone: ``db<N>.<label>.<zone>`` and ``vi<N>.<label>.<zone>``."""
    return re.compile(r"^(db|vi)[0-9]+\.[a-z0-9-]+\." + re.escape(settings.FQDN_ZONE.lower()) + r"$")


def as_records(pairs):
    return sorted({(str(rdtype), str(value)) for rdtype, value in pairs})


def desired_records(drimbox):
    """What the zone must hold for a DRIMbox's names (nothing once it is withdrawn).

    A DRIMbox without viewer has only its db name: the registry neither writes nor deletes a vi name for it.
    """
    withdrawn = drimbox.status == DrimboxStatus.WITHDRAWN
    wanted = {drimbox.db_fqdn: [] if withdrawn else as_records(drimbox.db_records)}
    if drimbox.vi_fqdn:
        wanted[drimbox.vi_fqdn] = [] if withdrawn else as_records(drimbox.vi_records)
    return wanted


# --- Applying the queue ---------------------------------------------------------------------------


def dns_configured():
    return bool(settings.DNS_SERVER)


def backoff(attempts):
    return retry_backoff(attempts, base_seconds=settings.DNS_RETRY_BASE_SECONDS,
                         max_seconds=settings.DNS_RETRY_MAX_SECONDS)


# --- Reconciliation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    name: str
    kind: str  # "unknown" (in the zone, not in the registry), "missing", "different"
    expected: tuple
    actual: tuple

    def describe(self):
        fmt = lambda records: ", ".join(f"{t} {v}" for t, v in records) or "rien"  # noqa: E731
        if self.kind == "unknown":
            return f"{self.name} : inconnu du registre, la zone contient {fmt(self.actual)}"
        if self.kind == "missing":
            return f"{self.name} : absent de la zone, le registre attend {fmt(self.expected)}"
        return f"{self.name} : la zone contient {fmt(self.actual)}, le registre attend {fmt(self.expected)}"


def registry_zone():
    """Every name the registry wants in the zone, with its records (withdrawn DRIMboxes want none)."""
    wanted = {}
    for drimbox in Drimbox.objects.only("db_fqdn", "vi_fqdn", "db_records", "vi_records", "status").iterator():
        for name, records in desired_records(drimbox).items():
            if records:
                wanted[name.lower()] = tuple(records)
    return wanted


def find_drift(zone):
    """Compare the zone read by AXFR with the registry, both ways."""
    pattern = managed_name_pattern()
    wanted = registry_zone()
    actual = {name: tuple(sorted(records)) for name, records in zone.items() if pattern.match(name)}
    drifts = []
    for name in sorted(set(wanted) | set(actual)):
        expected, present = wanted.get(name, ()), actual.get(name, ())
        if expected == present:
            continue
        kind = "unknown" if not expected else "missing" if not present else "different"
        drifts.append(Drift(name=name, kind=kind, expected=expected, actual=present))
    return drifts

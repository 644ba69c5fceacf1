"""The registry's writes (DESIGN §4): Identifiants handed out, and the queue of DNS changes applied to the zone.

Changes are queued as :class:`DnsChange` rows in the transaction that decides them and applied after commit by a
task; a DNS server that is down delays them (retried with backoff) but never blocks nor loses a decision. The pure
rules (names, records, drift) live in ``operators.registry``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from operators.models import DnsChange, DnsChangeStatus, Drimbox, IdentifiantCounter
from operators.registry import (
    SEQUENCE,
    TASK_ACTOR,
    Drift,
    as_records,
    backoff,
    desired_records,
    dns_configured,
    find_drift,
)
from trustspace import audit
from trustspace.dnszone import DnsError, DnsUnavailable, ZoneClient
from trustspace.outbox import enqueue_task
from trustspace.technical_detail import error_text

logger = logging.getLogger("operators.registry")


def next_identifiant() -> int:
    """The next DRIMbox Identifiant; must run inside the allocating transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [SEQUENCE])
            return cursor.fetchone()[0]
    # SQLite runs write transactions one at a time (IMMEDIATE): the row update is serialised.
    counter, _ = IdentifiantCounter.objects.select_for_update().get_or_create(pk=1)
    counter.last_value += 1
    counter.save(update_fields=["last_value"])
    return counter.last_value


def queue_dns_change(*, drimbox: Drimbox | None, name: str, records: Iterable[Iterable[str]], reason: str,
                     schedule: bool = True) -> DnsChange:
    """Queue one name's new records (empty: delete); older pending changes of the name are superseded."""
    # One UPDATE for the name's older changes; only a pending change may become superseded (DnsChange.TRANSITIONS).
    DnsChange.objects.filter(name=name, status=DnsChangeStatus.PENDING).update(status=DnsChangeStatus.SUPERSEDED)
    change = DnsChange.objects.create(drimbox=drimbox, name=name, records=as_records(records), reason=reason)
    if schedule:
        _schedule_apply()
    return change


def queue_drimbox_dns(drimbox: Drimbox, *, reason: str,
                      only_changed_from: Mapping[str, list[list[str]]] | None = None) -> list[DnsChange]:
    """Queue the DRIMbox's names; with ``only_changed_from`` (the records before), only names that changed."""
    changes = []
    for name, records in desired_records(drimbox).items():
        if only_changed_from is not None and as_records(only_changed_from.get(name, [])) == records:
            continue
        changes.append(queue_dns_change(drimbox=drimbox, name=name, records=records, reason=reason, schedule=False))
    if changes:
        _schedule_apply()
    return changes


def _schedule_apply() -> None:
    """Through the outbox: the task is published once the change has committed."""
    if dns_configured():
        enqueue_task("operators.tasks.apply_dns_changes", label="Tâche : application des changements DNS")


def apply_dns_changes(*, now: datetime | None = None, client: ZoneClient | None = None) -> tuple[int, int]:
    """Send every due pending change to the DNS server. Returns (applied, failed)."""
    if not dns_configured() and client is None:
        return 0, 0
    client = client or ZoneClient.from_settings()
    now = now or timezone.now()
    applied = failed = 0
    due = DnsChange.objects.filter(status=DnsChangeStatus.PENDING, next_attempt_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = DnsChange.objects.select_for_update(**_skip_locked()).filter(
                pk=pk, status=DnsChangeStatus.PENDING).first()
            if locked is None:
                continue
            try:
                if locked.records:
                    client.replace_records(locked.name, [tuple(record) for record in locked.records])
                else:
                    client.delete_name(locked.name)
            except (DnsError, ValueError) as exc:  # ValueError: a record the server cannot take
                locked.attempts += 1
                locked.last_error = error_text(exc, "Enregistrement refusé : le serveur DNS de la zone ne peut pas le "
                                                    "prendre.", limit=1000)
                locked.next_attempt_at = timezone.now() + backoff(locked.attempts)
                locked.save(update_fields=["attempts", "last_error", "next_attempt_at"])
                failed += 1
                logger.warning("DNS change %s for %s failed (attempt %s): %s", pk, locked.name, locked.attempts, exc)
                if isinstance(exc, DnsUnavailable):
                    break
                continue
            locked.transition_to(DnsChangeStatus.APPLIED)
            locked.applied_at = timezone.now()
            locked.attempts += 1
            locked.save(update_fields=["status", "applied_at", "attempts"])
            audit.record(actor=TASK_ACTOR, action="dns.applied", obj=locked,
                         operator_id=None, after={"name": locked.name, "records": locked.records})
            applied += 1
    return applied, failed


def _skip_locked() -> dict[str, Any]:
    return {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}


def reconcile(*, fix: bool = False, client: ZoneClient | None = None) -> list[Drift]:
    """Read the zone, report the drift, and with ``fix`` make the zone say what the registry says.

    Returns the drift found; after a fix, call :func:`find_drift` on a fresh read to see what remains.
    """
    client = client or ZoneClient.from_settings()
    drifts = find_drift(client.read_zone())
    if fix and drifts:
        # Repairs go through the queue like any change: audited, and retried if the server drops.
        with transaction.atomic():
            for drift in drifts:
                drimbox = Drimbox.objects.filter(db_fqdn=drift.name).first() or Drimbox.objects.filter(
                    vi_fqdn=drift.name).first()
                queue_dns_change(drimbox=drimbox, name=drift.name, records=list(drift.expected),
                                 reason="réconciliation", schedule=False)
        apply_dns_changes(client=client)
    return drifts

"""The audit trail: append-only, hash-chained, written in the caller's transaction.

Every service function calls :func:`record` inside its ``transaction.atomic()`` block.
Each row stores the hash of the previous one; :func:`verify_chain` recomputes the chain
and names the first row that was altered, or after which a row was deleted.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timezone as dt_timezone

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from .models import AuditEntry, AuditHead
from .request_context import current_request_id

GENESIS_HASH = "0" * 64


class _AuditEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, FieldFile):
            return o.name or ""
        return super().default(o)


def json_safe(value):
    """Turn a value into plain JSON types, so that it hashes the same after a database round trip."""
    return json.loads(json.dumps(value, cls=_AuditEncoder, ensure_ascii=False))


def snapshot(instance, fields):
    """The named fields of a model instance as JSON-safe values (foreign keys by id)."""
    data = {}
    for name in fields:
        field = instance._meta.get_field(name)
        data[name] = getattr(instance, field.attname)
    return json_safe(data)


def describe_actor(actor):
    if actor is None:
        return "système"
    if isinstance(actor, str):
        return actor
    label = actor.display_name
    if actor.oidc_sub:
        label += f" (iSC {actor.oidc_sub})"
    return label


def _canonical(payload):
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compute_hash(entry):
    payload = {
        "seq": entry.seq,
        "created_at": entry.created_at.astimezone(dt_timezone.utc).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "operator_id": entry.operator_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(_canonical(payload)).hexdigest()


def object_type_of(obj):
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def record(*, actor, action, obj, before=None, after=None, reason="", operator_id=None):
    """Append one audit row. Must run inside the service's transaction.

    ``actor`` is a user, a string naming a task (``"tâche …"``) or ``None`` for the system.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must be called inside the service's transaction")
    # Locking the head row serialises writers, so the chain never forks.
    head = AuditHead.objects.select_for_update().filter(id=1).first()
    if head is None:  # only after a test flush; the migration creates it
        head = AuditHead.objects.create(id=1, seq=0, hash=GENESIS_HASH)
    entry = AuditEntry(
        seq=head.seq + 1,
        created_at=timezone.now(),
        actor=actor if actor is not None and not isinstance(actor, str) else None,
        actor_label=describe_actor(actor),
        action=action,
        object_type=object_type_of(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        operator_id=operator_id,
        before=json_safe(before) if before is not None else None,
        after=json_safe(after) if after is not None else None,
        reason=reason or "",
        request_id=current_request_id.get(),
        prev_hash=head.hash,
    )
    entry.hash = compute_hash(entry)
    entry.save(force_insert=True)
    AuditHead.objects.filter(id=1).update(seq=entry.seq, hash=entry.hash)
    return entry


@dataclass
class ChainReport:
    ok: bool
    count: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""


def verify_chain(chunk_size=2000):
    """Recompute the whole chain. Reports the first broken row, if any."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if entry.seq != expected_seq:
            return ChainReport(
                False, count, entry.seq, entry.id,
                f"ligne #{entry.seq} (id {entry.id}) : la ligne #{expected_seq} qui la précède a été supprimée",
            )
        if entry.prev_hash != expected_prev:
            return ChainReport(
                False, count, entry.seq, entry.id,
                f"ligne #{entry.seq} (id {entry.id}) : le hachage précédent ne correspond pas à la ligne #{expected_seq - 1}",
            )
        if compute_hash(entry) != entry.hash:
            return ChainReport(
                False, count, entry.seq, entry.id, f"ligne #{entry.seq} (id {entry.id}) : contenu modifié"
            )
        expected_prev = entry.hash
        expected_seq += 1
        count += 1
    head = AuditHead.objects.filter(id=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != count or head_hash != expected_prev:
        return ChainReport(
            False, count, count + 1, None,
            f"ligne #{count + 1} : supprimée (la tête de chaîne annonce {head_seq} lignes, {count} présentes)",
        )
    return ChainReport(True, count)

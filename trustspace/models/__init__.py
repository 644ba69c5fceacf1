"""Shared models: the iSC user, the audit trail, personal API tokens, the outbox, idempotency records, the beat's
heartbeat, the workers' heartbeats and ANS alerts. Only trustspace's services and its infrastructure modules (audit,
outbox, idempotency, beat, workers, alerts) write them."""
from .audit import AuditEntry, AuditHead
from .idempotency import FormSubmission, IdempotencyKey
from .identity import User
from .operations import Alert, AlertSeverity, BeatHeartbeat, WorkerHeartbeat
from .outbox import OutboxKind, OutboxMessage, OutboxStatus
from .tokens import ApiScope, ApiToken

__all__ = [
    "Alert", "AlertSeverity", "ApiScope", "ApiToken", "AuditEntry", "AuditHead", "BeatHeartbeat", "FormSubmission",
    "IdempotencyKey", "OutboxKind", "OutboxMessage", "OutboxStatus", "User", "WorkerHeartbeat",
]

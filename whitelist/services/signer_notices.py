"""The write path of ``SignerNotice`` (DESIGN §7): one warning per signing certificate and kind, audited."""
from __future__ import annotations

from typing import Any

from cryptography import x509
from django.db import IntegrityError, transaction

from operators.recipients import ans_emails
from trustspace import audit
from trustspace.outbox import enqueue_email
from whitelist.alerts import raise_signer_alert
from whitelist.models import SignerNotice
from whitelist.signer_watch import SUBJECTS, TASK_ACTOR, _email_body, fingerprint


def _send_on_commit(recipients: list[str], subject: str, body: str) -> None:
    """Through the outbox: written in the notice's transaction, sent once it has committed."""
    enqueue_email(recipients, f"[Espace de Confiance DRIM-M] {subject}", body)


def record_notice(*, cert: x509.Certificate, kind: str, status: dict[str, Any],
                  actor: str = TASK_ACTOR) -> SignerNotice | None:
    """The one write path of ``SignerNotice``: once per certificate and kind, audited, ANS e-mailed after commit.
    Returns the new notice, or None when it was already sent."""
    fp = fingerprint(cert)
    try:
        with transaction.atomic():
            if SignerNotice.objects.filter(fingerprint=fp, kind=kind).exists():
                return None
            notice = SignerNotice.objects.create(fingerprint=fp, subject=status["subject"][:500], kind=kind)
            audit.record(actor=actor, action="whitelist.signer_notice", obj=notice,
                         after={"kind": kind, "fingerprint": fp, "subject": status["subject"],
                                "not_after": status["not_after"], "revocation": status["revocation"]},
                         reason=status["message"])
            # J-15, expired, revoked: an ANS alert (the same one check_alerts raises: one e-mail either way).
            if not raise_signer_alert(status, kind):
                _send_on_commit(ans_emails(), SUBJECTS[kind], _email_body(status, kind))
    except IntegrityError:  # a concurrent run sent it first
        return None
    return notice

"""The whitelist signer certificate as an ANS alert: at J-15, expired or revoked (registered in
settings.ALERT_CHECKS). ``whitelist.services.signer_notices.record_notice`` raises the same alert for those kinds
instead of its own e-mail, so ANS gets one e-mail whichever runs first."""
from trustspace.alerts import CRITICAL, WARNING, Condition, raise_alert

from .models import SignerNoticeKind

ALERT_KINDS = {SignerNoticeKind.EXPIRES_15: WARNING, SignerNoticeKind.EXPIRED: CRITICAL,
               SignerNoticeKind.REVOKED: CRITICAL}
NAME = "whitelist.signer"


def condition_for(status, kind):
    from operators.recipients import ans_emails

    from .signer_watch import SUBJECTS, _email_body

    # The ANS administrators keep receiving the signer's notices (as before the alerts), ADMIN_EMAILS too.
    return Condition(f"{NAME}:{status['fingerprint']}", SUBJECTS[kind], _email_body(status, kind), ALERT_KINDS[kind],
                     also_to=tuple(ans_emails()))


def signer_certificate(now):
    from . import signer_watch

    status, cert = signer_watch._evaluate(now, fetch=False)  # the CRL cache only: no download every minute
    if cert is None:
        return []
    kind = signer_watch.notice_kind(cert, now, status["level"] == "revoked")
    return [condition_for(status, kind)] if kind in ALERT_KINDS else []


def raise_signer_alert(status, kind):
    """For ``record_notice``: True when the notice goes through the alert (J-15, expired, revoked)."""
    if kind not in ALERT_KINDS:
        return False
    condition = condition_for(status, kind)
    raise_alert(condition.key, condition.subject, condition.body, severity=condition.severity,
                also_to=condition.also_to)
    return True

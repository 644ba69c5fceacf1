"""ANS alerts: conditions that need an administrator, e-mailed to ADMIN_EMAILS and POSTed to ALERT_WEBHOOK_URL.

- ``raise_alert(key, subject, body, *, severity)`` opens the alert ``key`` and notifies, through the outbox (so only
  if the caller's transaction commits). While it stays open, raising it again only refreshes it: no new e-mail at
  every check — except when it gets worse (another subject, or warning → critical).
- ``resolve_alert(key)`` closes it and sends a « résolu » notice.
- ``check_alerts()`` runs the checks registered in ``settings.ALERT_CHECKS`` ({name: dotted path}), twice over:
  from the Celery task ``trustspace.tasks.check_alerts`` (beat, every ALERT_CHECK_SECONDS) and from
  ``manage.py check_alerts`` (systemd timer deploy/systemd/drimm-alerts.timer, every minute), which needs neither
  the beat nor a worker — without it the « beat stopped » alert could never fire — and delivers the notices itself
  (``deliver_notices``). Running both is safe: an alert is opened, and notified, once whoever runs the check.
  A check gets ``now`` and returns the ``Condition``s that hold now, with keys ``<name>`` or ``<name>:<detail>``;
  every open alert of that name not returned is resolved.
  The registry keeps this bottom layer free of the apps above it (weather/alerts.py, whitelist/alerts.py).

Rows: ``trustspace.models.Alert`` (one per occurrence); the ANS page « ANS — Alertes » lists them.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Alert, AlertSeverity
from .paris_time import paris_datetime

logger = logging.getLogger(__name__)

WARNING = AlertSeverity.WARNING
CRITICAL = AlertSeverity.CRITICAL
_RANK = {WARNING: 0, CRITICAL: 1}


@dataclass(frozen=True)
class Condition:
    """A condition that holds now. Keep ``subject`` stable while the condition lasts (details go in ``body``):
    a new subject re-notifies."""

    key: str
    subject: str
    body: str = ""
    severity: str = WARNING
    also_to: tuple = ()  # e-mail addresses told besides ADMIN_EMAILS


# --- raising and resolving -------------------------------------------------------------------------------------------


def raise_alert(key, subject, body="", *, severity=WARNING, also_to=()):
    """Open the alert ``key`` (notified once) or refresh the open one. Returns the ``Alert``. ``also_to``: e-mail
    addresses told besides ADMIN_EMAILS (e.g. the ANS administrators' own addresses)."""
    if severity not in _RANK:
        raise ValueError(f"unknown severity {severity!r}")
    key, subject = key[:200], subject[:255]
    now = timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(key=key, resolved_at__isnull=True).first()
        if alert is not None:
            worse = subject != alert.subject or _RANK[severity] > _RANK[alert.severity]
            alert.subject, alert.body, alert.last_seen_at = subject, body, now
            alert.severity = severity if worse else alert.severity
            alert.save(update_fields=["subject", "body", "last_seen_at", "severity"])
            if worse:
                _notify(alert, "opened", also_to=also_to)
            return alert
        try:
            with transaction.atomic():  # savepoint: a concurrent run that opened it first is not an error
                alert = Alert.objects.create(key=key, subject=subject, body=body, severity=severity,
                                             opened_at=now, last_seen_at=now)
        except IntegrityError:
            return Alert.objects.get(key=key, resolved_at__isnull=True)
        logger.warning("alert opened: %s — %s", key, subject)
        _notify(alert, "opened", also_to=also_to)
        return alert


def resolve_alert(key, *, note="", also_to=()):
    """Close the open alert ``key`` (if any) and send the « résolu » notice. Returns it, or None."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(key=key, resolved_at__isnull=True).first()
        if alert is None:
            return None
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["resolved_at"])
        logger.info("alert resolved: %s", key)
        _notify(alert, "resolved", note=note, also_to=also_to)
        return alert


# --- notification ----------------------------------------------------------------------------------------------------


def admin_emails():
    return [address for _name, address in settings.ADMINS if address]


def alerts_url():
    try:
        return settings.SITE_URL + reverse("ans_alerts")
    except NoReverseMatch:
        return settings.SITE_URL


def _notify(alert, state, *, note="", also_to=()):
    from .outbox import enqueue_email, enqueue_webhook

    resolved = state == "resolved"
    # Stable per (occurrence, state, subject, severity): a retried check never sends the same notice twice.
    version = hashlib.sha256(f"{alert.subject}\x00{alert.severity}".encode()).hexdigest()[:16]
    dedup = f"alert:{alert.pk}:{state}:{version}"
    tag = "RÉSOLU" if resolved else f"ALERTE {alert.get_severity_display()}"
    subject = f"[Espace de Confiance DRIM-M] [{tag}] {alert.subject}"
    lines = [
        "Bonjour,", "",
        (f"L'alerte suivante est résolue (condition disparue le "
         f"{paris_datetime(alert.resolved_at)})." if resolved
         else "Une alerte demande l'attention des administrateurs ANS."), "",
        f"Alerte : {alert.subject}",
        f"Gravité : {alert.get_severity_display()}",
        f"Ouverte le : {paris_datetime(alert.opened_at)}",
        "", alert.body or "", *([note] if note else []), "",
        f"Suivi : {alerts_url()}",
    ]
    recipients = sorted(set(admin_emails()) | {address for address in also_to if address})
    if recipients:
        enqueue_email(recipients, subject, "\n".join(lines), dedup_key=f"{dedup}:email",
                      label=f"Alerte ANS ({'résolue' if resolved else 'ouverte'}) : {alert.subject}"[:255])
    else:
        logger.warning("ADMIN_EMAILS is empty: alert %s is not e-mailed", alert.key)
    url = getattr(settings, "ALERT_WEBHOOK_URL", "")
    if url:
        event = {
            "type": f"alert.{state}", "key": alert.key, "severity": alert.severity, "subject": alert.subject,
            "text": alert.body, "opened_at": alert.opened_at, "resolved_at": alert.resolved_at,
            "link": alerts_url(), "time": timezone.now(),
        }
        enqueue_webhook(url, event, secret=settings.ALERT_WEBHOOK_SECRET, dedup_key=f"{dedup}:webhook")


# --- periodic evaluation ---------------------------------------------------------------------------------------------


def _belongs(key, name):
    return key == name or key.startswith(f"{name}:")


def check_alerts(*, now=None, checks=None):
    """Run every registered check; open what holds, resolve what cleared. A check that fails is logged and its
    open alerts are left as they are (an error is not a resolution). Returns {name: number of open conditions}."""
    now = now or timezone.now()
    checks = settings.ALERT_CHECKS if checks is None else checks
    summary = {}
    for name, path in checks.items():
        try:
            conditions = list(import_string(path)(now))
        except Exception:
            logger.exception("alert check %s failed", name)
            summary[name] = None
            continue
        firing = set()
        for condition in conditions:
            key = condition.key if _belongs(condition.key, name) else f"{name}:{condition.key}"
            firing.add(key[:200])
            raise_alert(key, condition.subject, condition.body, severity=condition.severity,
                        also_to=condition.also_to)
        for key in Alert.objects.filter(resolved_at__isnull=True).values_list("key", flat=True):
            if _belongs(key, name) and key not in firing:
                resolve_alert(key)
        summary[name] = len(firing)
    return summary


def deliver_notices(limit=100):
    """Deliver now the alert notices due in the outbox (their dedup keys start with ``alert:``), in this process:
    ``manage.py check_alerts`` runs when the beat, the broker or the workers may be down. Each message is delivered
    under its row lock like any other, so a worker delivering at the same time never sends it twice.
    Returns (sent, failed attempts)."""
    from .models import OutboxMessage, OutboxStatus
    from .outbox import deliver_due

    ids = list(OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now(),
                                            dedup_key__startswith="alert:")
               .order_by("id").values_list("id", flat=True)[:limit])
    return deliver_due(ids=ids) if ids else (0, 0)


# --- the checks of this layer ----------------------------------------------------------------------------------------


def beat_check(now):
    """The beat stopped: its heartbeat is older than ALERT_BEAT_MAX_SECONDS, or missing while a beat is expected."""
    from .beat import heartbeat_age

    age = heartbeat_age()
    limit = timedelta(seconds=settings.ALERT_BEAT_MAX_SECONDS)
    if age is None:
        if settings.ALERT_BEAT_EXPECTED:
            return [Condition("beat", "Le beat Celery ne tourne pas", "Aucun battement du beat n'est enregistré : "
                              "les tâches périodiques (sondes, DNS, envois, rappels) ne sont plus lancées.", CRITICAL)]
        return []
    if age > limit:
        minutes = int(age.total_seconds() // 60)
        return [Condition("beat", "Le beat Celery ne tourne plus",
                          f"Dernier battement du beat il y a {minutes} min (seuil : {int(limit.total_seconds())} s) : "
                          "les tâches périodiques ne sont plus lancées.", CRITICAL)]
    return []


def outbox_check(now):
    """Outgoing messages keep failing: any « en échec », or pending ones retried ALERT_OUTBOX_ATTEMPTS times."""
    from .models import OutboxMessage, OutboxStatus

    failed = OutboxMessage.objects.filter(status=OutboxStatus.FAILED).count()
    stuck = OutboxMessage.objects.filter(status=OutboxStatus.PENDING,
                                         attempts__gte=settings.ALERT_OUTBOX_ATTEMPTS).count()
    if not failed and not stuck:
        return []
    last = (OutboxMessage.objects.filter(status__in=[OutboxStatus.FAILED, OutboxStatus.PENDING])
            .exclude(last_error="").order_by("-id").values_list("last_error", flat=True).first())
    body = (f"Envois en échec (à relancer) : {failed}\n"
            f"Envois en attente après au moins {settings.ALERT_OUTBOX_ATTEMPTS} tentatives : {stuck}\n"
            + (f"Dernière erreur : {last[:500]}" if last else ""))
    return [Condition("outbox", "Des envois sortants (e-mails, webhooks) échouent", body,
                      CRITICAL if failed else WARNING)]


AUDIT_CHAIN_KEY = "audit.chain"


def audit_chain_result(ok, reason):
    """The nightly audit verification's verdict (trustspace.tasks.verify_audit_chain) as an alert."""
    if ok:
        return resolve_alert(AUDIT_CHAIN_KEY)
    return raise_alert(AUDIT_CHAIN_KEY, "Journal d'audit : chaîne rompue",
                       f"La vérification de la chaîne d'audit a échoué : {reason}", severity=CRITICAL)

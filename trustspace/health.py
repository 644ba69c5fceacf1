"""Readiness: every part the portal needs, each a django-health-check ``HealthCheck`` named by a machine name.

The checks run one after the other in the request's thread (not in health-check's thread pool): they then share
the request's database connection, and a slow part is bounded by its own short timeout. A failing check raises
``ServiceUnavailable`` with a French message that names the part and never a host, URL or secret. The list comes
from HEALTH_CHECKS: an app above trustspace adds its own check there (e.g. weather.health).
"""
import dataclasses
import timeit
import typing
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Database
from health_check.exceptions import HealthCheckException, ServiceUnavailable

CHECK_FAILED = "vérification impossible"


def describe_age(age):
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


@dataclasses.dataclass
class PortalCheck(HealthCheck):
    """A readiness part: ``name`` (machine) and ``label`` (French) say which part failed."""

    name: typing.ClassVar[str] = ""
    label: typing.ClassVar[str] = ""

    def run(self):
        self.details = {}  # filled by problem(): what the part measured, shown whether it fails or not
        problem = self.problem()
        if problem:
            raise ServiceUnavailable(problem)

    def problem(self):
        """A French sentence saying what is wrong, or None."""
        raise NotImplementedError


@dataclasses.dataclass
class DatabaseCheck(Database):
    """health-check's SELECT 1 on a connection of its own; its error text (host, port) is not shown."""

    name: typing.ClassVar[str] = "database"
    label: typing.ClassVar[str] = "Base de données"

    def run(self):
        try:
            super().run()
        except HealthCheckException as exc:
            raise ServiceUnavailable("La base de données ne répond pas.") from exc


@dataclasses.dataclass
class CacheCheck(PortalCheck):
    """Writes, reads and deletes a key of its own in the cache."""

    name: typing.ClassVar[str] = "cache"
    label: typing.ClassVar[str] = "Cache"
    alias: str = "default"

    def problem(self):
        cache = caches[self.alias]
        key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
        try:
            cache.set(key, value, timeout=10)
            read = cache.get(key)
            cache.delete(key)
        except Exception:  # noqa: BLE001 — redis raises its own classes, none of them secret-free to show
            return "Le cache ne répond pas."
        if read != value:
            return "Le cache ne rend pas la valeur écrite."
        return None


@dataclasses.dataclass
class BrokerCheck(PortalCheck):
    """A real connection to CELERY_BROKER_URL, with a short timeout and no retry."""

    name: typing.ClassVar[str] = "broker"
    label: typing.ClassVar[str] = "File de tâches (broker Celery)"

    @property
    def timeout(self):
        return timedelta(seconds=settings.HEALTH_BROKER_TIMEOUT_SECONDS)

    def problem(self):
        from .celery import app

        seconds = settings.HEALTH_BROKER_TIMEOUT_SECONDS
        options = {**(app.conf.broker_transport_options or {}),
                   "socket_timeout": seconds, "socket_connect_timeout": seconds, "max_retries": 0}
        try:
            with app.connection_for_write(connect_timeout=seconds, transport_options=options) as connection:
                connection.ensure_connection(max_retries=0, timeout=seconds)  # one attempt: a retry sleeps 2 s first
                client = getattr(connection.default_channel, "client", None)
                if client is not None and hasattr(client, "ping"):  # redis: a round trip, not just a socket
                    client.ping()
        except Exception:  # noqa: BLE001
            return "Le broker Celery ne répond pas : les tâches de fond ne peuvent pas être envoyées."
        return None


@dataclasses.dataclass
class BeatCheck(PortalCheck):
    """The single beat (trustspace.beat) ticked within HEALTH_BEAT_MAX_AGE_SECONDS."""

    name: typing.ClassVar[str] = "beat"
    label: typing.ClassVar[str] = "Planificateur des tâches périodiques (beat)"

    def problem(self):
        from .beat import heartbeat_age

        age = heartbeat_age()
        self.details = {"heartbeat_age_seconds": seconds(age),
                        "max_age_seconds": settings.HEALTH_BEAT_MAX_AGE_SECONDS}
        if age is None:
            return "Le planificateur des tâches périodiques (beat) n'a jamais battu."
        if age > timedelta(seconds=settings.HEALTH_BEAT_MAX_AGE_SECONDS):
            return f"Le planificateur des tâches périodiques (beat) n'a pas battu depuis {describe_age(age)}."
        return None


@dataclasses.dataclass
class OutboxCheck(PortalCheck):
    """Pending outbox messages: none due for longer than HEALTH_OUTBOX_MAX_DELAY_SECONDS, at most
    HEALTH_OUTBOX_MAX_PENDING of them. Failed messages (waiting for the ANS) are counted by the metrics only."""

    name: typing.ClassVar[str] = "outbox"
    label: typing.ClassVar[str] = "Envois en attente (boîte d'envoi)"

    def problem(self):
        outbox = outbox_model()
        if outbox is None:
            return None
        now = timezone.now()
        late_before = now - timedelta(seconds=settings.HEALTH_OUTBOX_MAX_DELAY_SECONDS)
        counts = outbox.objects.aggregate(
            total=Count("pk", filter=Q(status="pending")),
            late=Count("pk", filter=Q(status="pending", next_attempt_at__lt=late_before)),
            failed=Count("pk", filter=Q(status="failed")),
            oldest=Min("next_attempt_at", filter=Q(status="pending")))
        total, late = counts["total"], counts["late"]
        self.details = {"pending": total, "late": late, "failed": counts["failed"],
                        "oldest_due_seconds": max(seconds(now - counts["oldest"]), 0) if counts["oldest"] else 0,
                        "max_pending": settings.HEALTH_OUTBOX_MAX_PENDING}
        if late:
            return f"{late} envoi(s) en attente depuis plus de {describe_age(now - late_before)}."
        if total > settings.HEALTH_OUTBOX_MAX_PENDING:
            return f"{total} envois en attente (plus de {settings.HEALTH_OUTBOX_MAX_PENDING})."
        return None


@dataclasses.dataclass
class WorkerCheck(PortalCheck):
    """Each queue of HEALTH_WORKER_QUEUES has a worker whose own heartbeat (trustspace.workers) is younger than
    HEALTH_WORKER_MAX_AGE_SECONDS; otherwise the queue and its silent workers are named (without their host)."""

    name: typing.ClassVar[str] = "worker"
    label: typing.ClassVar[str] = "Workers des tâches de fond"

    def problem(self):
        from .workers import short_name, worker_ages

        limit = timedelta(seconds=settings.HEALTH_WORKER_MAX_AGE_SECONDS)
        workers = worker_ages()
        self.details = {"workers": [
            {"name": short_name(name), "queues": queues, "heartbeat_age_seconds": seconds(age),
             "alive": age <= limit} for name, queues, age in workers], "max_age_seconds": int(limit.total_seconds())}
        problems = []
        for queue in settings.HEALTH_WORKER_QUEUES:
            serving = [(name, age) for name, queues, age in workers if queue in queues]
            if any(age <= limit for _name, age in serving):
                continue
            if not serving:
                problems.append(f"Aucun worker de la file « {queue} » n'a jamais signalé son activité.")
                continue
            silent = ", ".join(f"« {short_name(name)} » (depuis {describe_age(age)})" for name, age in serving)
            problems.append(f"Aucun worker actif sur la file « {queue} » : sans battement {silent}.")
        return " ".join(problems) or None


def seconds(age):
    """A ``timedelta`` as whole seconds (None stays None), for the JSON details."""
    return None if age is None else int(age.total_seconds())


def outbox_model():
    """The outbox model, or None while it does not exist."""
    from . import models

    return getattr(models, "OutboxMessage", None)


def configured_checks():
    for entry in settings.HEALTH_CHECKS:
        path, options = (entry, {}) if isinstance(entry, str) else entry
        yield import_string(path)(**options)


def run_check(check):
    check.details = {}
    start = timeit.default_timer()
    try:
        check.run()
    except HealthCheckException as exc:
        error = exc
    except Exception:  # noqa: BLE001 — a check that breaks is a failing part, never a 500
        error = ServiceUnavailable(f"{getattr(check, 'label', type(check).__name__)} : {CHECK_FAILED}.")
    else:
        error = None
    return HealthCheckResult(check=check, error=error, time_taken=timeit.default_timer() - start)


def readiness():
    """(ready, body): the JSON body lists every part with its state; failing parts are named."""
    results = [run_check(check) for check in configured_checks()]
    parts = [{
        "name": getattr(result.check, "name", "") or type(result.check).__name__,
        "label": getattr(result.check, "label", "") or type(result.check).__name__,
        "state": "failing" if result.error else "ok",
        **({"message": result.error.message} if result.error else {}),
        "duration_ms": round(result.time_taken * 1000, 1),
        **({"details": result.check.details} if getattr(result.check, "details", None) else {}),
    } for result in results]
    failing = [part for part in parts if part["state"] == "failing"]
    body = {"status": "unavailable" if failing else "ok", "checks": parts}
    if failing:
        body["error"] = {
            "code": "unavailable",
            "message": "Le portail n'est pas prêt : " + " ".join(part["message"] for part in failing),
            "fields": {part["name"]: [part["message"]] for part in failing},
        }
    return not failing, body

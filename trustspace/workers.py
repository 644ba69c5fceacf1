"""Worker heartbeats: every Celery worker says itself that it is alive, whatever the beat does.

When a worker is ready (Celery's ``worker_ready`` signal, in the worker's main process) a daemon thread starts that
writes the worker's ``WorkerHeartbeat`` row — its node name, the queues it consumes — at once and then every
WORKER_HEARTBEAT_SECONDS; it stops with the worker (``worker_shutdown``). A worker killed (-9), frozen or cut from
the database stops writing: readiness (``trustspace.health.WorkerCheck``) names it once its heartbeat is older than
HEALTH_WORKER_MAX_AGE_SECONDS. The thread uses a database connection of its own, closed after each write (a child
forked meanwhile by the prefork pool never shares it).

``trustspace.celery`` calls ``install_worker_heartbeat``; this module imports no model at import time.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

logger = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=7)  # rows of workers gone for longer are forgotten


def write_heartbeat(name, queues, started_at, *, now=None):
    """Record that the worker ``name`` (consuming ``queues``) is alive now."""
    from django.utils import timezone

    from .models import WorkerHeartbeat

    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(name=name[:255], defaults={
        "queues": ",".join(sorted(queues))[:500], "started_at": started_at, "beat_at": now})
    WorkerHeartbeat.objects.filter(beat_at__lt=now - PRUNE_AFTER).delete()


def short_name(name):
    """The worker's node name without its host (``worker@host`` → ``worker``): readiness never shows a host."""
    return name.split("@", 1)[0]


def worker_ages(now=None):
    """[(name, [queues], age)] of every worker that wrote a heartbeat, by name; [] if the database fails."""
    from django.db import DatabaseError
    from django.utils import timezone

    from .models import WorkerHeartbeat

    now = now or timezone.now()
    try:
        rows = list(WorkerHeartbeat.objects.order_by("name").values_list("name", "queues", "beat_at"))
    except DatabaseError:
        return []
    return [(name, [q for q in queues.split(",") if q], max(now - beat_at, timedelta(0)))
            for name, queues, beat_at in rows]


class HeartbeatThread(threading.Thread):
    def __init__(self, name, queues, interval):
        super().__init__(name="drimm-worker-heartbeat", daemon=True)
        from django.utils import timezone

        self.worker_name, self.queues, self.interval = name, list(queues), interval
        self.started_at = timezone.now()
        self.stopping = threading.Event()
        self._failing = False

    def run(self):
        while True:
            self.beat()
            if self.stopping.wait(self.interval):
                return

    def beat(self):
        from django.db import connections

        try:
            write_heartbeat(self.worker_name, self.queues, self.started_at)
        except Exception:  # noqa: BLE001 — a database outage must never stop the worker, nor this thread
            if not self._failing:
                logger.warning("worker heartbeat of %s could not be written", self.worker_name, exc_info=True)
            self._failing = True
        else:
            if self._failing:
                logger.info("worker heartbeat of %s written again", self.worker_name)
            self._failing = False
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self):
        self.stopping.set()


_thread: HeartbeatThread | None = None


def _consumed_queues(consumer):
    try:
        return list(consumer.app.amqp.queues.consume_from or consumer.app.amqp.queues)
    except Exception:  # noqa: BLE001
        return []


def _start(sender=None, **kwargs):
    """``worker_ready``: ``sender`` is the worker's consumer."""
    global _thread
    from django.conf import settings

    interval = float(getattr(settings, "WORKER_HEARTBEAT_SECONDS", 0) or 0)
    if interval <= 0 or _thread is not None:
        return
    name = getattr(sender, "hostname", "") or "worker"
    _thread = HeartbeatThread(name, _consumed_queues(sender), interval)
    _thread.start()


def _stop(**kwargs):
    global _thread
    thread, _thread = _thread, None
    if thread is not None:
        thread.stop()


def install_worker_heartbeat():
    """Connect the signals (idempotent: ``dispatch_uid``)."""
    from celery import signals

    signals.worker_ready.connect(_start, weak=False, dispatch_uid="trustspace.workers.ready")
    signals.worker_shutdown.connect(_stop, weak=False, dispatch_uid="trustspace.workers.shutdown")

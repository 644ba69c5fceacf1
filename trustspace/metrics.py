"""Prometheus ``/metrics``: django-prometheus' request, database and cache metrics plus domain gauges.

The domain gauges come from collectors evaluated at scrape time, one per app, listed in METRICS_COLLECTORS
(trustspace does not import the apps above it). Each collector runs a fixed number of aggregate queries, whatever
the number of rows. Access: a client address in METRICS_ALLOWED_IPS, or ``Authorization: Bearer METRICS_TOKEN``.
"""
import hmac
import ipaddress
import os

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .access import PUBLIC, access

PREFIX = "drimm_"


def gauge(name, documentation, value=None, labels=()):
    family = GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


def age_seconds(moment, now=None):
    """Seconds since ``moment``; NaN (Prometheus' « no value ») when it never happened."""
    if moment is None:
        return float("nan")
    return max(((now or timezone.now()) - moment).total_seconds(), 0.0)


class OutboxCollector:
    """Outbox backlog: pending messages (and those already due), failed ones, the oldest pending one's age."""

    def collect(self):
        from .health import outbox_model

        outbox = outbox_model()
        if outbox is None:
            return
        now = timezone.now()
        row = outbox.objects.aggregate(
            pending=Count("pk", filter=Q(status="pending")),
            due=Count("pk", filter=Q(status="pending", next_attempt_at__lte=now)),
            failed=Count("pk", filter=Q(status="failed")),
            oldest=Min("created_at", filter=Q(status="pending")),
        )
        yield gauge("outbox_pending", "Envois en attente dans la boîte d'envoi.", row["pending"])
        yield gauge("outbox_due", "Envois en attente dont l'heure est passée.", row["due"])
        yield gauge("outbox_failed", "Envois abandonnés, en attente d'une relance par l'ANS.", row["failed"])
        yield gauge("outbox_oldest_pending_age_seconds", "Âge de l'envoi en attente le plus ancien.",
                    age_seconds(row["oldest"], now) if row["oldest"] else 0.0)


class BeatCollector:
    def collect(self):
        from .beat import heartbeat_age

        age = heartbeat_age()
        yield gauge("beat_heartbeat_age_seconds", "Secondes depuis le dernier battement du beat Celery.",
                    age.total_seconds() if age is not None else float("nan"))


class WorkerCollector:
    def collect(self):
        from .workers import worker_ages

        family = gauge("worker_heartbeat_age_seconds",
                       "Secondes depuis le dernier battement de chaque worker Celery (écrit par le worker lui-même).",
                       labels=("worker", "queues"))
        for name, queues, age in worker_ages():
            family.add_metric([name, ",".join(queues)], age.total_seconds())
        yield family


class DomainCollector:
    """The collectors of METRICS_COLLECTORS, in one registry evaluated at each scrape."""

    def collect(self):
        for path in settings.METRICS_COLLECTORS:
            yield from import_string(path)().collect()


_domain_registry = CollectorRegistry(auto_describe=False)
_domain_registry.register(DomainCollector())


def process_registry():
    """django-prometheus' metrics: this process' registry, or every process' (PROMETHEUS_MULTIPROC_DIR, gunicorn)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _allowed_ip(request):
    from .throttling import client_ip

    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "") if not settings.THROTTLE_NUM_PROXIES
                                       else client_ip(request).split("/")[0])
    except ValueError:
        return False
    for item in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def _bearer(request):
    scheme, _sep, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


@access(PUBLIC)  # restricted below by address or token, not by login
@never_cache
def metrics(request):
    token = _bearer(request)
    if token is not None and settings.METRICS_TOKEN:
        if not hmac.compare_digest(token.encode(), settings.METRICS_TOKEN.encode()):
            return HttpResponseForbidden("Jeton de métriques invalide.", content_type="text/plain; charset=utf-8")
    elif not _allowed_ip(request):
        raise Http404
    body = generate_latest(process_registry()) + generate_latest(_domain_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


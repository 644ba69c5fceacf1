"""Celery tasks of the prober (DESIGN §8), and the layout of large PERF reports.

Deployment: one Celery queue per probe location, ``probe.<name>`` (``ProbeLocation.name``). Beat runs
``schedule_probes`` every ``WEATHER_PROBE_INTERVAL`` seconds: it splits the targets (the current
published whitelist, ``weather.targets``) into batches of ``WEATHER_PROBE_BATCH_SIZE`` and sends one
``probe_batch`` per batch to the queue of every active location. In each location, run workers that
consume only that location's queue, with ``WEATHER_LOCATION`` set to the same name::

    WEATHER_LOCATION=paris celery -A trustspace worker -Q probe.paris --concurrency 2

As many workers as needed may consume one queue (batches are independent). ``probe_batch`` probes its
batch with asyncio (``weather.prober``) and hands the results to ``weather.services.record_observations``,
which applies the confirmation policy and the quorum across locations. ``detect_silence`` (beat, same
interval) turns DRIMboxes without a fresh observation from any active location into « pas de données »;
a location that stops reporting therefore never produces downtime. When no location is declared, the
location named ``WEATHER_LOCATION`` (default « local ») is created active, so that a single-site deployment
(and the embedded demo, whose worker must then also consume ``probe.local``) needs no set-up. Any other
location that reports for the first time is created INACTIVE (kept for display, does not vote) until ANS
activates it: ``python manage.py weather_locations --activate NAME`` (audited).

Discovery of `vi` certificates (issue 14, item 2): ``probe_batch`` hands what a `vi` endpoint presented, when the
portal does not know it, to ``certificates.services.record_presented_vi_certificate`` (the market rules decide:
recorded, or refused once and shown). Each round, ``schedule_probes`` also sends ``discover_vi_certificates`` to
one location's queue: it reads the `vi` certificate of the DRIMboxes awaiting integration (not probed yet).

PERF reports: a PDF of more DRIMboxes than ``PERF_PDF_SYNC_MAX_ROWS`` is laid out by ``generate_perf_report``
(``weather.services.reports``), not in the web request that asked for it, on its own queue ``PERF_REPORT_QUEUE``
(« reports »): laying out 10,000 DRIMboxes holds a CPU for long and about 2 GB of memory, so one worker with
concurrency 1 consumes it and the probes and the outbox never wait behind a layout::

    celery -A trustspace worker -Q reports --concurrency 1

``purge_perf_reports`` (beat, hourly, default queue) marks the runs no worker finished in time as failed and deletes
the runs finished more than ``PERF_REPORT_RETENTION_DAYS`` days ago with their files.
"""
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from certificates import services as certificate_services
from certificates.discovery import known_vi_presentations

from . import prober, services, targets
from .models import ProbeLocation

logger = logging.getLogger(__name__)


def local_location_name():
    return getattr(settings, "WEATHER_LOCATION", "local") or "local"


def queue_of(location_name):
    return f"probe.{location_name}"


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


@shared_task(ignore_result=True)
def schedule_probes():
    """Send the probe batches of this round to every active location's queue."""
    identifiants = [t.identifiant for t in targets.current_targets()]
    names = list(ProbeLocation.objects.filter(active=True).values_list("name", flat=True))
    if not names and not ProbeLocation.objects.exists():
        # Single-site deployment: the very first location is this one, trusted (active) from the start.
        names = [services.first_location(local_location_name()).name]
    interval = int(getattr(settings, "WEATHER_PROBE_INTERVAL", 60))
    size = max(1, int(getattr(settings, "WEATHER_PROBE_BATCH_SIZE", 500)))
    sent = 0
    for name in names:
        for batch in _batches(identifiants, size):
            # A batch not taken within one interval is superseded by the next round's.
            probe_batch.apply_async(args=[name, batch], queue=queue_of(name), expires=interval)
            sent += 1
    if names:
        # One location is enough to read the vi certificates of the DRIMboxes awaiting integration.
        discover_vi_certificates.apply_async(args=[names[0]], queue=queue_of(names[0]), expires=interval)
    return {"targets": len(identifiants), "locations": names, "batches": sent}


def _record_presentations(presentations):
    """Hand each new `vi` presentation [(Target, DER tuple)] to the certificates service; {status: count}."""
    counts = {}
    for target, presented in presentations:
        try:
            outcome = certificate_services.record_presented_vi_certificate(target.drimbox_id, presented).status
        except Exception:  # one DRIMbox's certificate must never lose the batch's results
            logger.exception("vi discovery failed for DRIMbox %s", target.identifiant)
            outcome = "erreur"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@shared_task(ignore_result=True, acks_late=False)
def probe_batch(location, identifiants):
    """Probe these DRIMboxes from this worker's location and record what was seen.

    Results are always recorded under the worker's own ``WEATHER_LOCATION``: a batch addressed to another
    location (a worker consuming the wrong queue) is refused (logged, skipped), otherwise this site's view
    would be counted as another site's and the quorum would be meaningless."""
    own = local_location_name()
    if location != own:
        logger.error("probe batch for location %s refused by a worker of %s: check the worker's -Q option "
                     "and WEATHER_LOCATION", location, own)
        return {"location": location, "refused": True, "probed": 0, "changes": 0, "failing": 0}
    batch = targets.targets_for(identifiants)
    config = prober.config_from_settings(known_vi=known_vi_presentations(t.drimbox_id for t in batch)) if batch \
        else None
    results = prober.run_probes(batch, config)
    changes = services.record_observations(own, results, at=timezone.now())
    by_identifiant = {t.identifiant: t for t in batch}
    discovered = _record_presentations((by_identifiant[r.identifiant], r.vi_presented) for r in results
                                       if r.vi_presented and r.identifiant in by_identifiant)
    return {"location": own, "probed": len(results), "changes": len(changes),
            "failing": sum(1 for r in results if r.status == prober.FAILING), "vi_discovery": discovered}


@shared_task(ignore_result=True)
def discover_vi_certificates(location=None):
    """Read the `vi` certificate of the DRIMboxes awaiting integration and hand new ones to the certificates
    service (a handshake each, no weather recorded: they are not in the published list yet)."""
    pending = targets.awaiting_integration()
    if not pending:
        return {"location": location, "read": 0, "vi_discovery": {}}
    # No db probe here: neither the portal's client certificate nor the vi trust store is needed.
    config = prober.config_from_settings(db_context=None, vi_context=None,
                                         known_vi=known_vi_presentations(t.drimbox_id for t in pending))
    presentations = prober.read_vi_presentations(pending, config)
    return {"location": location, "read": len(pending), "vi_discovery": _record_presentations(presentations)}


@shared_task(ignore_result=True)
def detect_silence():
    """DRIMboxes no active location has reported on recently: « pas de données » (never DOWN)."""
    changes = services.mark_silent()
    return {"no_data": len(changes)}


@shared_task(ignore_result=True)
def close_weather_days():
    """Store the closed days of the public weather that are not stored yet (``weather.services.summaries``)."""
    return services.record_day_summaries()


@shared_task(ignore_result=True)
def generate_perf_report(report_pk):
    """Lay out a PERF report too large for a web request and store it (``weather.services.reports``); published
    through the outbox once the request that asked for it has committed. Long time limits (settings)."""
    generated = services.generate_report(report_pk)
    return {"report": report_pk, "status": generated.status if generated is not None else "rien à faire"}


@shared_task(ignore_result=True)
def purge_perf_reports():
    """Runs past their deadline marked failed; runs older than the retention deleted with their files."""
    return services.purge_reports()

"""PERF reports too large to lay out within a web request (``settings.PERF_PDF_SYNC_MAX_ROWS``): the one write path
of ``GeneratedReport``.

:func:`request_report` (the web request) answers with a stored file when there is one for the same figures, with
the run already under way for the same report, or records a new run and hands it to a worker through the outbox
(``weather.tasks.generate_perf_report``, published once the row is committed). :func:`generate_report` (the
worker) recomputes the report, lays it out and stores the file, or records why it could not, in French.

A period's figures can still move while it runs (the current month) and, rarely, just after it (a DRIMbox's
outage confirmed after midnight starts at its first failed probe): a stored file is served again only when the
period was closed when it was asked for and when its fingerprint (``weather.reports.fingerprint``: every figure
the report prints) equals the one of the report computed for the new request.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from operators import permissions
from operators.models import Operator
from trustspace.errors import DomainError, InvalidData, NotAllowed
from trustspace.models import User
from trustspace.outbox import enqueue_task
from weather import perf, reports
from weather.models import IN_FLIGHT_REPORT_STATUSES, GeneratedReport, GeneratedReportStatus

logger = logging.getLogger(__name__)
TASK = "weather.tasks.generate_perf_report"


# How often a person's page (its <meta> refresh) or a script (Retry-After) checks whether the report is ready.
POLL_SECONDS = 5


def in_background(fmt: str, rows) -> bool:
    """Whether this report is laid out by a worker rather than in the web request that asks for it."""
    return fmt == "pdf" and len(rows) > settings.PERF_PDF_SYNC_MAX_ROWS


def max_wait() -> timedelta:
    return timedelta(seconds=settings.PERF_REPORT_MAX_WAIT_SECONDS)


def abandoned(report: GeneratedReport, now=None) -> bool:
    """Still waiting for a worker, or still « en cours », after ``PERF_REPORT_MAX_WAIT_SECONDS``: no worker runs,
    or the one that took it died. Shown as a failure; asking again starts a new run."""
    now = now or timezone.now()
    return report.status in IN_FLIGHT_REPORT_STATUSES and report.created_at <= now - max_wait()


def failure(report: GeneratedReport, now=None) -> str:
    """Why the report was not produced, in French ("" when it was, or still may be)."""
    if report.status == GeneratedReportStatus.FAILED:
        return report.error or "Le rapport n'a pas été produit. Demandez-le à nouveau."
    if abandoned(report, now):
        return (f"Aucun traitement n'a produit ce rapport en {settings.PERF_REPORT_MAX_WAIT_SECONDS // 60} minutes : "
                "le traitement en arrière-plan est arrêté ou surchargé. Demandez-le à nouveau ; si cela se répète, "
                "signalez-le à l'ANS.")
    return ""


def _check_scope(acting_user: User, operator: Operator | None) -> None:
    if getattr(acting_user, "is_ans_admin", False):
        return
    if operator is None or not permissions.operators_of(acting_user).filter(pk=operator.pk).exists():
        raise NotAllowed("Ce rapport est réservé aux membres de l'opérateur et à l'ANS.")


def request_report(*, acting_user: User, report: perf.PerfReport, fmt: str, operator: Operator | None,
                   scope_label: str, filename: str) -> tuple[GeneratedReport, bool]:
    """The stored report to serve for ``report`` (already computed by the caller, for the same ``operator``), or the
    run that will produce it; ``(row, True)`` when a new run was recorded and handed to a worker."""
    _check_scope(acting_user, operator)
    if fmt not in reports.FORMATS:
        raise InvalidData(f"Format « {fmt[:10]} » inconnu : csv, xlsx ou pdf.", code="invalid_format")
    now = timezone.now()
    fingerprint = reports.fingerprint(report, scope_label)
    closed = not report.partial
    same_report = GeneratedReport.objects.filter(period_key=report.period.key, operator=operator, fmt=fmt)
    if closed:
        stored = (same_report.filter(status=GeneratedReportStatus.READY, closed_period=True, fingerprint=fingerprint)
                  .order_by("-finished_at", "-pk").first())
        if stored is not None:
            return stored, False
    # The run under way for this report (for the current period: whatever its figures, it measures up to its start).
    in_flight = same_report.filter(status__in=IN_FLIGHT_REPORT_STATUSES, created_at__gt=now - max_wait())
    if closed:
        in_flight = in_flight.filter(fingerprint=fingerprint)
    running = in_flight.order_by("-created_at", "-pk").first()
    if running is not None:
        return running, False
    with transaction.atomic():
        generated = GeneratedReport.objects.create(
            fmt=fmt, period_key=report.period.key, period_label=report.period.label, operator=operator,
            scope_label=scope_label, filename=filename, rows=len(report.rows), closed_period=closed,
            fingerprint=fingerprint, requested_by=acting_user, created_at=now)
        enqueue_task(TASK, (generated.pk,), label=f"Tâche : rapport PERF {report.period.label} ({scope_label})"[:255])
    return generated, True


def _claim(pk: int) -> GeneratedReport | None:
    """« en attente » → « en cours » under the row's lock; None when another worker took it or it is done."""
    with transaction.atomic():
        # The row only (``of``): PostgreSQL refuses FOR UPDATE on the nullable side of the operator's outer join.
        generated = (GeneratedReport.objects.select_for_update(of=("self",)).select_related("operator")
                     .filter(pk=pk).first())
        if generated is None or generated.status != GeneratedReportStatus.PENDING:
            return None
        generated.transition_to(GeneratedReportStatus.RUNNING)
        generated.started_at = timezone.now()
        generated.save(update_fields=["status", "started_at"])
    return generated


def _finish(pk: int, *, content: bytes | None = None, fingerprint: str = "", error: str = "") -> GeneratedReport:
    with transaction.atomic():
        generated = GeneratedReport.objects.select_for_update().get(pk=pk)
        generated.finished_at = timezone.now()
        if content is None:
            generated.transition_to(GeneratedReportStatus.FAILED)
            generated.error = error
            generated.save(update_fields=["status", "finished_at", "error"])
            return generated
        generated.transition_to(GeneratedReportStatus.READY)
        # The figures actually laid out (they may have moved since the request): what a later request compares to.
        generated.fingerprint = fingerprint
        generated.size = len(content)
        generated.file.save(generated.filename, ContentFile(content), save=False)
        generated.save(update_fields=["status", "finished_at", "fingerprint", "size", "file"])
    return generated


def generate_report(pk: int) -> GeneratedReport | None:
    """Compute and lay out the report of row ``pk`` and store the file (« prêt »), or record the failure in French
    (« échec »). None when there is nothing to do (already taken, done or deleted)."""
    generated = _claim(pk)
    if generated is None:
        return None
    try:
        report = perf.compute(generated.period_key, operator=generated.operator)
        content = reports.render(report, generated.fmt, generated.scope_label)
    except SoftTimeLimitExceeded:
        _finish(pk, error="La mise en page a dépassé le temps permis à un traitement : le rapport n'a pas été "
                          "produit. Demandez-le à nouveau ; si l'échec se répète, signalez-le à l'ANS.")
        raise
    except DomainError as exc:  # e.g. the measurement policy changed and the period no longer exists as asked
        return _finish(pk, error=f"Le rapport n'a pas pu être calculé : {exc.message}")
    except Exception as exc:  # noqa: BLE001 — recorded on the row (never left « en cours »), logged with its trace
        logger.exception("PERF report %s could not be generated", pk)
        return _finish(pk, error=f"Erreur inattendue pendant la mise en page du rapport ({exc.__class__.__name__}). "
                                 "Demandez-le à nouveau ; si l'échec se répète, signalez-le à l'ANS.")
    return _finish(pk, content=content, fingerprint=reports.fingerprint(report, generated.scope_label))

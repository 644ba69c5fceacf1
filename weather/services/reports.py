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

import hashlib
import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from operators import permissions
from operators.models import Operator
from trustspace import audit
from trustspace.errors import Conflict, DomainError, InvalidData, NotAllowed
from trustspace.models import User
from trustspace.outbox import enqueue_task
from weather import perf, reports
from weather.models import GENERATED_REPORT_FILES, IN_FLIGHT_REPORT_STATUSES, GeneratedReport, GeneratedReportStatus

logger = logging.getLogger(__name__)
TASK = "weather.tasks.generate_perf_report"
TASK_ACTOR = "tâche rapports PERF"


# How often a person's page (its <meta> refresh) or a script (Retry-After) checks whether the report is ready.
POLL_SECONDS = 5


def in_background(fmt: str, rows) -> bool:
    """Whether this report is laid out by a worker rather than in the web request that asks for it."""
    return fmt == "pdf" and len(rows) > settings.PERF_PDF_SYNC_MAX_ROWS


def max_wait() -> timedelta:
    return timedelta(seconds=settings.PERF_REPORT_MAX_WAIT_SECONDS)


def deadline(report: GeneratedReport):
    """When a run still in flight is given up: ``PERF_REPORT_MAX_WAIT_SECONDS`` after it was asked for while no worker
    has taken it, after its worker started it once taken (longer than the task's hard time limit: the worker is
    dead)."""
    started = report.started_at if report.status == GeneratedReportStatus.RUNNING and report.started_at else None
    return (started or report.created_at) + max_wait()


def abandoned(report: GeneratedReport, now=None) -> bool:
    """Still waiting for a worker, or still « en cours », past its :func:`deadline`: no worker runs, or the one that
    took it died. Shown as a failure; marked so by the next request for it or by the beat's purge."""
    return report.status in IN_FLIGHT_REPORT_STATUSES and deadline(report) <= (now or timezone.now())


def abandoned_reason() -> str:
    return (f"Aucun traitement n'a produit ce rapport en {settings.PERF_REPORT_MAX_WAIT_SECONDS // 60} minutes : "
            "le traitement en arrière-plan est arrêté ou surchargé. Demandez-le à nouveau ; si cela se répète, "
            "signalez-le à l'ANS.")


def failure(report: GeneratedReport, now=None) -> str:
    """Why the report was not produced, in French ("" when it was, or still may be)."""
    if report.status == GeneratedReportStatus.FAILED:
        return report.error or "Le rapport n'a pas été produit. Demandez-le à nouveau."
    if abandoned(report, now):
        return abandoned_reason()
    return ""


def kept_until(report: GeneratedReport):
    """Until when a finished run (and its file) is kept at least (the purge runs hourly); None while in flight."""
    if report.finished_at is None:
        return None
    return report.finished_at + timedelta(days=settings.PERF_REPORT_RETENTION_DAYS)


def request_fingerprint(*, period_key: str, operator: Operator | None, fmt: str, scope_label: str, closed: bool,
                        fingerprint: str) -> str:
    """What makes two requests the same run: the period, the scope (the operator, or every DRIMbox, and its label as
    printed), the format and, for a closed period, the figures. ANS and the operator's people asking for the same
    operator's report follow the same run: both may see it. The current period's figures move while it is laid
    out: whatever they are, a run under way measures up to its start and is followed."""
    parts = ("v1", period_key, str(operator.pk) if operator is not None else "*", fmt, scope_label,
             fingerprint if closed else "période en cours")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _give_up(pk: int, now) -> GeneratedReport | None:
    """Mark run ``pk`` « échec » when it is still in flight past its deadline (audited); None when it is not."""
    generated = GeneratedReport.objects.select_for_update(of=("self",)).filter(pk=pk).first()
    if generated is None or not abandoned(generated, now):
        return None
    before = {"status": generated.status}
    generated.transition_to(GeneratedReportStatus.FAILED)
    generated.error = abandoned_reason()
    generated.finished_at = now
    generated.save(update_fields=["status", "error", "finished_at"])
    audit.record(actor=TASK_ACTOR, action="weather.generated_report_abandoned", obj=generated, before=before,
                 after={"status": generated.status}, reason=generated.error, operator_id=generated.operator_id)
    return generated


def _in_flight(key: str, now) -> GeneratedReport | None:
    """The run in flight for ``key``; one past its deadline is marked failed first, and then there is none."""
    running = GeneratedReport.objects.filter(request_fingerprint=key, status__in=IN_FLIGHT_REPORT_STATUSES).first()
    if running is None or not abandoned(running, now):
        return running
    with transaction.atomic():
        _give_up(running.pk, now)
    return None


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
    if closed:
        stored = (GeneratedReport.objects
                  .filter(period_key=report.period.key, operator=operator, fmt=fmt, status=GeneratedReportStatus.READY,
                          closed_period=True, fingerprint=fingerprint)
                  .order_by("-finished_at", "-pk").first())
        if stored is not None:
            return stored, False
    key = request_fingerprint(period_key=report.period.key, operator=operator, fmt=fmt, scope_label=scope_label,
                              closed=closed, fingerprint=fingerprint)
    for _attempt in range(3):
        running = _in_flight(key, now)
        if running is not None:
            return running, False
        try:
            with transaction.atomic():
                generated = GeneratedReport.objects.create(
                    fmt=fmt, period_key=report.period.key, period_label=report.period.label, operator=operator,
                    scope_label=scope_label, filename=filename, rows=len(report.rows), closed_period=closed,
                    fingerprint=fingerprint, request_fingerprint=key, requested_by=acting_user, created_at=now)
                enqueue_task(TASK, (generated.pk,),
                             label=f"Tâche : rapport PERF {report.period.label} ({scope_label})"[:255])
        except IntegrityError:
            # The same report was asked for at the same instant and its run recorded between our look-up and our
            # insert (the constraint « one run in flight »): follow that run.
            continue
        return generated, True
    raise Conflict("Ce rapport est demandé en ce moment même par quelqu'un d'autre : réessayez dans un instant.",
                   code="report_busy")


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
        if generated.status != GeneratedReportStatus.RUNNING:
            # Given up meanwhile (past its deadline: a worker this slow is not expected); a new run may exist.
            logger.warning("PERF report %s finished after it was given up (%s): result dropped", pk, generated.status)
            return generated
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


PURGE_BATCH = 200
_DONE = (GeneratedReportStatus.READY, GeneratedReportStatus.FAILED)
_KEPT_FIELDS = ("status", "period_key", "operator", "fmt", "scope_label", "rows", "requested_by", "created_at",
                "finished_at", "file", "size")


def _delete_files(files) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:  # kept for an operator to remove by hand; the row is gone either way
            logger.exception("PERF report file %s could not be deleted", name)


def _delete_expired(cutoff) -> int:
    """Delete up to PURGE_BATCH runs finished before ``cutoff`` (one audit row each); their files once committed."""
    with transaction.atomic():
        expired = list(GeneratedReport.objects.select_for_update(of=("self",))
                       .filter(status__in=_DONE, finished_at__lte=cutoff).order_by("pk")[:PURGE_BATCH])
        reason = f"conservation de {settings.PERF_REPORT_RETENTION_DAYS} jour(s) dépassée"
        files = []
        for generated in expired:
            audit.record(actor=TASK_ACTOR, action="weather.generated_report_deleted", obj=generated,
                         before=audit.snapshot(generated, _KEPT_FIELDS), reason=reason,
                         operator_id=generated.operator_id)
            if generated.file:
                files.append((generated.file.storage, generated.file.name))
        GeneratedReport.objects.filter(pk__in=[generated.pk for generated in expired]).delete()
        transaction.on_commit(lambda: _delete_files(files))
    return len(expired)


def _delete_orphan_files(cutoff) -> int:
    """Files of the reports' folder that no run names, last written before ``cutoff``: a run deleted with its
    operator, or a layout whose transaction failed after its file was written. Logged (no row to audit)."""
    storage = GeneratedReport._meta.get_field("file").storage
    try:
        periods, _files = storage.listdir(GENERATED_REPORT_FILES)
    except (FileNotFoundError, NotImplementedError):  # nothing written yet, or a storage that cannot list
        return 0
    named = set(GeneratedReport.objects.exclude(file="").values_list("file", flat=True))
    removed = 0
    for period in periods:
        for name in storage.listdir(f"{GENERATED_REPORT_FILES}/{period}")[1]:
            path = f"{GENERATED_REPORT_FILES}/{period}/{name}"
            if path in named or storage.get_modified_time(path) > cutoff:
                continue
            logger.info("PERF report file %s named by no run: deleted", path)
            _delete_files([(storage, path)])
            removed += 1
    return removed


def purge_reports(now=None) -> dict:
    """Beat (``weather.tasks.purge_perf_reports``): runs still in flight past their deadline marked « échec »
    (a new request then starts a new run), then the runs finished more than ``PERF_REPORT_RETENTION_DAYS`` days ago
    deleted with their files, each change audited; last, the files of that age no run names any more."""
    now = now or timezone.now()
    given_up = 0
    # A superset of the runs past their deadline (a run « en cours » counts from its start): _give_up decides.
    candidates = GeneratedReport.objects.filter(status__in=IN_FLIGHT_REPORT_STATUSES, created_at__lte=now - max_wait())
    for pk in list(candidates.values_list("pk", flat=True)):
        with transaction.atomic():
            given_up += _give_up(pk, now) is not None
    cutoff = now - timedelta(days=settings.PERF_REPORT_RETENTION_DAYS)
    deleted = 0
    while batch := _delete_expired(cutoff):
        deleted += batch
        if batch < PURGE_BATCH:
            break
    return {"abandoned": given_up, "deleted": deleted, "orphan_files": _delete_orphan_files(cutoff)}

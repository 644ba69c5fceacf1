"""PERF report PDFs too large for a web request (``PERF_PDF_SYNC_MAX_ROWS``, 2 here): laid out by a worker, the person
waits on « Rapport en préparation » (a self-refreshing page that turns into the download), a closed period's
report with unchanged figures is served again without a new layout, and only the operator's people and ANS reach
a report. The file the worker produced passes the same tagged PDF/A checks as the one laid out in a request."""
import html
import os
import re
import threading
import uuid
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tests.support import tagged_pdf
from tests.support.api import API, api, error_of
from tests.support.concurrency import in_parallel
from tests.weather.test_perf import make_box, transitions, utc
from tests.weather.test_reports import boxes  # noqa: F401 - the fixture of the reports' tests
from trustspace import outbox
from trustspace import pdf as pdf_module
from trustspace.errors import Conflict, NotAllowed
from trustspace.models import AuditEntry, OutboxMessage
from trustspace.paris_time import paris_datetime
from weather import perf, reports, services, tasks
from weather.models import GeneratedReport, GeneratedReportStatus
from weather.services import reports as reports_service

pytestmark = pytest.mark.django_db
MARCH = {"period": "2025-03"}


@pytest.fixture(autouse=True)
def small_threshold(settings):
    settings.PERF_PDF_SYNC_MAX_ROWS = 2


@pytest.fixture
def default_policy():
    """The measurement policy the migrations create, again: a test that commits (transaction=True) may run after
    another one's flush, which emptied every table."""
    import_module("weather.migrations.0002_default_policy").create_default_policy(django_apps, None)


@pytest.fixture
def layouts(monkeypatch):
    """How many PDFs were laid out (the real renderer runs)."""
    calls = []
    real = reports.RENDERERS["pdf"]

    def counted(report, scope=""):
        calls.append(report.period.key)
        return real(report, scope)

    monkeypatch.setitem(reports.RENDERERS, "pdf", counted)
    return calls


def ans_download(client, params=MARCH):
    return client.get(reverse("ans_perf_download", kwargs={"fmt": "pdf"}), params)


def generated_pk(response, page="ans_perf_generated"):
    assert response.status_code == 302, response.content[:300]
    match = re.fullmatch(reverse(page, kwargs={"pk": 999999}).replace("999999", "([0-9]+)"), response["Location"])
    assert match, response["Location"]
    return int(match.group(1))


def refresh_of(body):
    found = re.search(r'<meta http-equiv="refresh" content="([^"]*)">', body)
    return found.group(1) if found else None


def assert_tagged_report(content, identifiants, scope):
    pdf = tagged_pdf.read(content)
    assert pdf.identification() == {"pdfaid:part": "3", "pdfaid:conformance": "A", "pdfuaid:part": "1"}
    assert pdf.catalog["/Lang"] == "fr" and pdf.catalog["/MarkInfo"]["/Marked"].value is True
    assert {"H1", "H2", "Table", "THead", "TBody", "TH", "TD"} <= pdf.tags and pdf.untagged_text_operations == 0
    assert pdf.texts("H1") == ["Rapport PERF — mars 2025"]
    header = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=False))
    assert header["Périmètre"] == scope and header["Nombre de DRIMbox"] == str(len(identifiants))
    facts = pdf.texts("TH").index("Identifiant")
    assert [cell for headers, cell in pdf.labelled_cells[facts:] if headers == ("Identifiant",)] == identifiants


@pytest.mark.usefixtures("boxes")
def test_a_large_pdf_is_prepared_by_a_worker_and_its_page_turns_into_the_download(
        world, client, layouts, django_capture_on_commit_callbacks):
    client.force_login(world.ans)
    with django_capture_on_commit_callbacks() as committed:
        pk = generated_pk(ans_download(client))
    assert layouts == []  # nothing laid out in the request
    generated = GeneratedReport.objects.get(pk=pk)
    assert (generated.status, generated.rows, generated.operator, generated.requested_by) == (
        GeneratedReportStatus.PENDING, 3, None, world.ans)
    assert generated.closed_period and generated.filename == "perf-2025-03.pdf"
    # The task is an outbox row of the same transaction, published once it committed.
    assert OutboxMessage.objects.get(payload__task="weather.tasks.generate_perf_report").payload["args"] == [pk]

    page = client.get(reverse("ans_perf_generated", kwargs={"pk": pk}))
    body = page.content.decode()
    assert page.status_code == 200 and "<h1>Rapport en préparation</h1>" in body
    assert "mars 2025" in body and "toutes les DRIMbox, 3 DRIMbox" in body
    assert refresh_of(body) == f"5;url=/ans/meteo/perf/rapports/{pk}/?attente=1"
    assert "Arrêter l'actualisation automatique" in body

    # The person stops the refresh (RGAA 13.1), then starts it again.
    stopped = client.get(reverse("ans_perf_generated", kwargs={"pk": pk}), {"auto": "0"}).content.decode()
    assert refresh_of(stopped) is None and "Reprendre l'actualisation automatique" in stopped

    for callback in committed:  # the commit: the outbox hands the task to the (eager) worker
        callback()
    generated.refresh_from_db()
    assert generated.status == GeneratedReportStatus.READY and layouts == ["2025-03"]
    assert generated.started_at and generated.finished_at and generated.size == generated.file.size

    waited = client.get(reverse("ans_perf_generated", kwargs={"pk": pk}), {"attente": "1"}).content.decode()
    file_url = f"/ans/meteo/perf/rapports/{pk}/fichier"
    assert "<h1>Rapport prêt</h1>" in waited and refresh_of(waited) == f"0;url={file_url}"  # the download starts
    later = client.get(reverse("ans_perf_generated", kwargs={"pk": pk})).content.decode()
    assert refresh_of(later) is None and f'href="{file_url}"' in later  # coming back: a button, no surprise download
    kept = paris_datetime(generated.finished_at + timedelta(days=7))
    assert f"Il reste disponible à cette adresse jusqu'au {kept} (heure de Paris)" in html.unescape(later)

    response = client.get(file_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="perf-2025-03.pdf"'
    assert_tagged_report(b"".join(response.streaming_content), ["101", "102", "201"], "toutes les DRIMbox")


def test_a_closed_period_report_is_served_again_without_a_new_layout(
        world, boxes, client, layouts, settings, django_capture_on_commit_callbacks):  # noqa: F811
    client.force_login(world.ans)
    with django_capture_on_commit_callbacks(execute=True):
        pk = generated_pk(ans_download(client))
    assert layouts == ["2025-03"]
    for _ in range(2):
        again = ans_download(client)
        assert again.status_code == 200 and again["Content-Disposition"] == 'attachment; filename="perf-2025-03.pdf"'
        assert b"".join(again.streaming_content) == GeneratedReport.objects.get(pk=pk).file.open("rb").read()
    assert layouts == ["2025-03"] and GeneratedReport.objects.count() == 1

    # Another scope is another report.
    settings.PERF_PDF_SYNC_MAX_ROWS = 1  # operator A has 2 DRIMboxes
    with django_capture_on_commit_callbacks(execute=True):
        generated_pk(ans_download(client, {**MARCH, "operator": world.operator.pk}))
    assert layouts == ["2025-03", "2025-03"]
    # Figures that moved (an outage confirmed late, inside March): laid out again, the old file no longer served.
    a1, _a2 = boxes
    transitions(a1, (utc(2025, 3, 30, 8), "down"), (utc(2025, 3, 30, 9), "operational"))
    with django_capture_on_commit_callbacks(execute=True):
        new_pk = generated_pk(ans_download(client))
    assert new_pk != pk and len(layouts) == 3
    assert GeneratedReport.objects.get(pk=new_pk).fingerprint != GeneratedReport.objects.get(pk=pk).fingerprint


@pytest.mark.usefixtures("boxes")
def test_a_report_being_prepared_is_not_asked_twice(world, client, layouts,
                                                     django_capture_on_commit_callbacks):
    client.force_login(world.ans)
    with django_capture_on_commit_callbacks():
        first = generated_pk(ans_download(client))
        assert generated_pk(ans_download(client)) == first  # a second click follows the same run
    assert GeneratedReport.objects.count() == 1 and OutboxMessage.objects.filter(
        payload__task="weather.tasks.generate_perf_report").count() == 1


@pytest.mark.usefixtures("boxes")
def test_the_current_period_is_laid_out_for_each_request_once_the_previous_one_is_done(
        world, client, layouts, django_capture_on_commit_callbacks):
    client.force_login(world.ans)
    current = {"period": perf.recent_periods(1)[0]}
    with django_capture_on_commit_callbacks(execute=True):
        first = generated_pk(ans_download(client, current))
    assert not GeneratedReport.objects.get(pk=first).closed_period
    with django_capture_on_commit_callbacks(execute=True):
        second = generated_pk(ans_download(client, current))  # still measured « until now »: a new layout
    assert second != first and len(layouts) == 2


@pytest.mark.usefixtures("boxes")
def test_a_failure_is_shown_in_french_and_the_report_can_be_asked_again(
        world, client, monkeypatch, django_capture_on_commit_callbacks):
    client.force_login(world.ans)
    # A broken install: a font file the PDFs need is missing.
    monkeypatch.setattr(pdf_module, "FONT_FILES", (("Marianne", "normal", "dsfr/dist/fonts/absente.woff2"),))
    with django_capture_on_commit_callbacks(execute=True):
        pk = generated_pk(ans_download(client))
    generated = GeneratedReport.objects.get(pk=pk)
    assert generated.status == GeneratedReportStatus.FAILED and generated.finished_at and not generated.file
    assert generated.error.startswith("Erreur inattendue pendant la mise en page du rapport (FontMissing)")
    page = client.get(reverse("ans_perf_generated", kwargs={"pk": pk}), {"attente": "1"})
    body = html.unescape(page.content.decode())
    assert page.status_code == 200 and "Le rapport n'a pas pu être préparé" in body and generated.error in body
    assert refresh_of(body) is None and 'href="/ans/meteo/perf/rapport.pdf?period=2025-03"' in body
    assert client.get(reverse("ans_perf_generated_file", kwargs={"pk": pk})).status_code == 404

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        again = generated_pk(ans_download(client))
    assert again != pk and GeneratedReport.objects.get(pk=again).status == GeneratedReportStatus.READY


@pytest.mark.usefixtures("boxes")
def test_a_run_no_worker_finished_in_time_is_shown_as_failed_and_replaced(
        world, client, settings, django_capture_on_commit_callbacks):
    client.force_login(world.ans)
    with django_capture_on_commit_callbacks():  # no worker ever takes it
        pk = generated_pk(ans_download(client))
    GeneratedReport.objects.filter(pk=pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.PERF_REPORT_MAX_WAIT_SECONDS + 1))
    body = html.unescape(client.get(reverse("ans_perf_generated", kwargs={"pk": pk})).content.decode())
    assert "Le rapport n'a pas pu être préparé" in body and "Aucun traitement n'a produit ce rapport" in body
    assert refresh_of(body) is None
    with django_capture_on_commit_callbacks():
        new_pk = generated_pk(ans_download(client))
    assert new_pk != pk and GeneratedReport.objects.get(pk=new_pk).status == GeneratedReportStatus.PENDING
    # The old run is marked failed in the database (not only shown so), with its reason in French, and audited.
    old = GeneratedReport.objects.get(pk=pk)
    assert old.status == GeneratedReportStatus.FAILED and old.finished_at
    assert old.error == "Aucun traitement n'a produit ce rapport en 60 minutes : le traitement en arrière-plan est " \
                        "arrêté ou surchargé. Demandez-le à nouveau ; si cela se répète, signalez-le à l'ANS."
    entry = AuditEntry.objects.get(action="weather.generated_report_abandoned")
    assert (entry.object_id, entry.before, entry.after) == (str(pk), {"status": "en_attente"}, {"status": "echec"})
    # A worker that takes the old run late does nothing; the new one is laid out.
    assert services.generate_report(pk) is None
    assert services.generate_report(new_pk).status == GeneratedReportStatus.READY


# --- One run in flight per report ---------------------------------------------------------------------------------


def request_march(world, operator=None, scope="toutes les DRIMbox"):
    report = perf.compute("2025-03", operator=operator)
    return services.request_report(acting_user=world.ans, report=report, fmt="pdf", operator=operator,
                                   scope_label=scope, filename="perf-2025-03.pdf")


def report_tasks():
    return OutboxMessage.objects.filter(payload__task="weather.tasks.generate_perf_report").count()


@pytest.mark.usefixtures("boxes")
def test_the_database_refuses_a_second_run_in_flight_for_the_same_request(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        first, created = request_march(world)
    assert created and len(first.request_fingerprint) == 64
    copy = {field: getattr(first, field) for field in (
        "fmt", "period_key", "period_label", "operator", "scope_label", "filename", "rows", "closed_period",
        "fingerprint", "request_fingerprint", "requested_by")}
    for status in (GeneratedReportStatus.PENDING, GeneratedReportStatus.RUNNING):
        with pytest.raises(IntegrityError), transaction.atomic():
            GeneratedReport.objects.create(**copy, status=status)
    # Finished runs do not count: once the first one failed, another may start.
    GeneratedReport.objects.filter(pk=first.pk).update(status=GeneratedReportStatus.FAILED)
    GeneratedReport.objects.create(**copy, status=GeneratedReportStatus.PENDING)
    GeneratedReport.objects.create(**copy, status=GeneratedReportStatus.READY)


@pytest.mark.usefixtures("boxes")
def test_a_request_whose_insert_loses_the_race_follows_the_run_recorded_meanwhile(
        world, monkeypatch, django_capture_on_commit_callbacks):
    """The second of two simultaneous first requests: its look-up found no run, then the first request's run was
    committed before its own insert. The constraint refuses the insert; the request follows the first run."""
    with django_capture_on_commit_callbacks():
        first, _created = request_march(world)
    real = reports_service._in_flight
    lookups = []

    def not_yet_committed(key, now):  # the first look-up runs before the other request's commit
        lookups.append(key)
        return None if len(lookups) == 1 else real(key, now)

    monkeypatch.setattr(reports_service, "_in_flight", not_yet_committed)
    with django_capture_on_commit_callbacks():
        followed, created = request_march(world)
    assert (followed.pk, created) == (first.pk, False) and lookups == [first.request_fingerprint] * 2
    assert GeneratedReport.objects.count() == 1 and report_tasks() == 1


@pytest.mark.usefixtures("boxes")
@pytest.mark.usefixtures("boxes")
def test_a_request_that_keeps_losing_the_race_is_told_to_try_again(world, monkeypatch,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        request_march(world)
    monkeypatch.setattr(reports_service, "_in_flight", lambda key, now: None)  # never sees the run it collides with
    with pytest.raises(Conflict) as busy, django_capture_on_commit_callbacks():
        request_march(world)
    assert busy.value.code == "report_busy" and "réessayez dans un instant" in busy.value.message
    assert GeneratedReport.objects.count() == 1 and report_tasks() == 1


def test_the_request_fingerprint_tells_reports_apart(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        everyone, _ = request_march(world)
        again, created = request_march(world)
        scoped, scoped_created = request_march(world, world.operator, "Opérateur A")
    assert again.pk == everyone.pk and not created
    assert scoped_created and scoped.request_fingerprint != everyone.request_fingerprint
    key = dict(period_key="2025-03", operator=None, fmt="pdf", scope_label="toutes les DRIMbox", closed=True,
               fingerprint=everyone.fingerprint)
    assert reports_service.request_fingerprint(**key) == everyone.request_fingerprint
    for change in ({"period_key": "2025-02"}, {"fmt": "csv"}, {"scope_label": "autre"}, {"fingerprint": "0" * 64},
                   {"operator": world.operator}, {"closed": False}):
        assert reports_service.request_fingerprint(**{**key, **change}) != everyone.request_fingerprint, change
    # The current period: the same run whatever its figures (it measures up to its start).
    current = {**key, "closed": False}
    assert (reports_service.request_fingerprint(**current)
            == reports_service.request_fingerprint(**{**current, "fingerprint": "0" * 64}))


@pytest.mark.postgresql
@pytest.mark.usefixtures("default_policy", "boxes")
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_requests_start_one_run_on_postgresql(world, monkeypatch):
    """Two threads, each on its own connection, both look the run up (none yet) before either inserts: one insert
    wins, the other waits for its commit on the unique index, fails and follows the winner's run."""
    monkeypatch.setattr(outbox, "kick", lambda ids=None: None)  # no eager layout: the run stays in flight
    report = perf.compute("2025-03")
    real = reports_service._in_flight
    both_looked_up = threading.Barrier(2)
    waited = threading.local()

    def looked_up_together(key, now):
        running = real(key, now)
        if not getattr(waited, "done", False):
            waited.done = True
            both_looked_up.wait(timeout=30)
        return running

    monkeypatch.setattr(reports_service, "_in_flight", looked_up_together)

    def ask():
        generated, created = services.request_report(acting_user=world.ans, report=report, fmt="pdf", operator=None,
                                                     scope_label="toutes les DRIMbox", filename="perf.pdf")
        return generated.pk, created

    results, errors = in_parallel(2, ask)
    assert errors == []
    [run] = GeneratedReport.objects.all()
    assert sorted(results) == [(run.pk, False), (run.pk, True)] and run.status == GeneratedReportStatus.PENDING
    assert report_tasks() == 1


# --- Deadline and retention -----------------------------------------------------------------------------------------


def stored_run(world, *, status, finished_days_ago=None, created_seconds_ago=0, started_seconds_ago=None,
               content=b"%PDF-1.7 test"):
    now = timezone.now()
    run = GeneratedReport(
        status=status, fmt="pdf", period_key="2025-03", period_label="mars 2025", scope_label="toutes les DRIMbox",
        filename="perf-2025-03.pdf", rows=3, closed_period=True, fingerprint="f" * 64,
        request_fingerprint=uuid.uuid4().hex, requested_by=world.ans,
        created_at=now - timedelta(seconds=created_seconds_ago),
        started_at=None if started_seconds_ago is None else now - timedelta(seconds=started_seconds_ago),
        finished_at=None if finished_days_ago is None else now - timedelta(days=finished_days_ago))
    if status == GeneratedReportStatus.READY:
        run.file.save(run.filename, ContentFile(content), save=False)
        run.size = len(content)
    run.save()
    return run


def test_the_purge_deletes_runs_past_the_retention_with_their_files(world, settings, monkeypatch,
                                                                    django_capture_on_commit_callbacks):
    assert settings.PERF_REPORT_RETENTION_DAYS == 7
    monkeypatch.setattr(reports_service, "PURGE_BATCH", 1)  # several batches
    old_ready = stored_run(world, status=GeneratedReportStatus.READY, finished_days_ago=8,
                           created_seconds_ago=9 * 86400)
    old_failed = stored_run(world, status=GeneratedReportStatus.FAILED, finished_days_ago=7.01)
    recent = stored_run(world, status=GeneratedReportStatus.READY, finished_days_ago=6.9)
    waiting = stored_run(world, status=GeneratedReportStatus.PENDING)
    old_file = old_ready.file.name
    storage = old_ready.file.storage
    assert storage.exists(old_file)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.purge_perf_reports() == {"abandoned": 0, "deleted": 2, "orphan_files": 0}
    assert set(GeneratedReport.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not storage.exists(old_file) and storage.exists(recent.file.name)
    entries = AuditEntry.objects.filter(action="weather.generated_report_deleted").order_by("object_id")
    assert [entry.object_id for entry in entries] == sorted([str(old_ready.pk), str(old_failed.pk)], key=str)
    ready_entry = entries.get(object_id=str(old_ready.pk))
    assert ready_entry.before["file"] == old_file and ready_entry.before["status"] == "pret"
    assert ready_entry.reason == "conservation de 7 jour(s) dépassée"
    assert ready_entry.actor_label == "tâche rapports PERF"

    # A shorter retention takes the recent one too; its file goes only once the purge has committed.
    settings.PERF_REPORT_RETENTION_DAYS = 1
    with django_capture_on_commit_callbacks(execute=False):
        assert services.purge_reports()["deleted"] == 1
    assert storage.exists(recent.file.name)  # its deletion waits for the commit


def test_the_purge_deletes_old_files_no_run_names(world):
    """A run deleted with its operator (cascade) or a layout whose transaction failed leaves its file behind."""
    storage = GeneratedReport._meta.get_field("file").storage
    old_orphan = storage.save("rapports-perf/2025-03/orpheline.pdf", ContentFile(b"%PDF old"))
    new_orphan = storage.save("rapports-perf/2025-03/recente.pdf", ContentFile(b"%PDF new"))
    named = stored_run(world, status=GeneratedReportStatus.READY, finished_days_ago=1)
    eight_days_ago = (timezone.now() - timedelta(days=8)).timestamp()
    for name in (old_orphan, named.file.name):
        os.utime(storage.path(name), (eight_days_ago, eight_days_ago))
    assert services.purge_reports()["orphan_files"] == 1
    assert not storage.exists(old_orphan) and storage.exists(new_orphan) and storage.exists(named.file.name)


def test_the_purge_marks_runs_past_their_deadline_as_failed(world, settings):
    wait = settings.PERF_REPORT_MAX_WAIT_SECONDS
    never_taken = stored_run(world, status=GeneratedReportStatus.PENDING, created_seconds_ago=wait + 1)
    dead_worker = stored_run(world, status=GeneratedReportStatus.RUNNING, created_seconds_ago=2 * wait,
                             started_seconds_ago=wait + 1)
    # Waited long in the queue, then taken recently: its worker may still be laying it out.
    late_start = stored_run(world, status=GeneratedReportStatus.RUNNING, created_seconds_ago=2 * wait,
                            started_seconds_ago=60)
    fresh = stored_run(world, status=GeneratedReportStatus.PENDING, created_seconds_ago=wait - 60)

    assert services.purge_reports() == {"abandoned": 2, "deleted": 0, "orphan_files": 0}
    statuses = dict(GeneratedReport.objects.values_list("pk", "status"))
    assert statuses == {never_taken.pk: "echec", dead_worker.pk: "echec", late_start.pk: "en_cours",
                        fresh.pk: "en_attente"}
    assert GeneratedReport.objects.get(pk=dead_worker.pk).error.startswith("Aucun traitement n'a produit ce rapport")
    assert AuditEntry.objects.filter(action="weather.generated_report_abandoned").count() == 2
    assert services.purge_reports() == {"abandoned": 0, "deleted": 0, "orphan_files": 0}  # nothing twice


def test_a_worker_finishing_a_run_given_up_meanwhile_changes_nothing(world, boxes, settings):  # noqa: F811
    run = stored_run(world, status=GeneratedReportStatus.PENDING)
    claimed = reports_service._claim(run.pk)
    assert claimed.status == GeneratedReportStatus.RUNNING
    long_ago = timezone.now() - timedelta(seconds=settings.PERF_REPORT_MAX_WAIT_SECONDS + 1)
    GeneratedReport.objects.filter(pk=run.pk).update(created_at=long_ago, started_at=long_ago)
    assert services.purge_reports()["abandoned"] == 1
    finished = reports_service._finish(run.pk, content=b"%PDF late", fingerprint="f" * 64)
    assert finished.status == GeneratedReportStatus.FAILED and not finished.file and finished.size == 0


def test_the_purge_runs_hourly_and_the_layout_has_its_own_queue(settings):
    assert settings.CELERY_BEAT_SCHEDULE["weather-purge-perf-reports"] == {
        "task": "weather.tasks.purge_perf_reports", "schedule": timedelta(hours=1)}
    assert settings.CELERY_TASK_ROUTES["weather.tasks.generate_perf_report"] == {"queue": "reports"}


@pytest.mark.usefixtures("boxes")
def test_an_operator_report_is_for_its_people_and_ans_only(world, client,
                                                            django_capture_on_commit_callbacks):
    transitions(make_box(world.operator, 104), (utc(2025, 2, 1), "operational"))
    client.force_login(world.legal)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("operator_perf_download", kwargs={"fmt": "pdf"}), MARCH)
    pk = generated_pk(response, "operator_perf_generated")
    generated = GeneratedReport.objects.get(pk=pk)
    assert generated.operator == world.operator and generated.status == GeneratedReportStatus.READY
    file_url = reverse("operator_perf_generated_file", kwargs={"pk": pk})
    content = b"".join(client.get(file_url).streaming_content)
    scope = f"Opérateur A (SIREN {world.operator.siren})"
    assert_tagged_report(content, ["101", "102", "104"], scope)  # operator B's DRIMbox is not in it

    client.force_login(world.technical)  # another member of operator A
    assert client.get(reverse("operator_perf_generated", kwargs={"pk": pk})).status_code == 200
    client.force_login(world.other)  # operator B
    assert client.get(reverse("operator_perf_generated", kwargs={"pk": pk})).status_code == 404
    assert client.get(file_url).status_code == 404
    client.force_login(world.ans)
    assert client.get(reverse("ans_perf_generated_file", kwargs={"pk": pk})).status_code == 200
    # ANS asking for operator A's scope is served the same file; the trust-space-wide one is ANS's only.
    assert b"".join(ans_download(client, {**MARCH, "operator": world.operator.pk}).streaming_content) == content
    with django_capture_on_commit_callbacks(execute=True):
        everyone = generated_pk(ans_download(client))
    client.force_login(world.legal)
    assert client.get(reverse("operator_perf_generated", kwargs={"pk": everyone})).status_code == 404
    assert client.get(reverse("operator_perf_generated_file", kwargs={"pk": everyone})).status_code == 404


@pytest.mark.usefixtures("boxes")
def test_the_service_refuses_a_scope_outside_the_callers_operators(world):
    report = perf.compute("2025-03", operator=world.operator)
    for operator in (world.operator, None):
        with pytest.raises(NotAllowed):
            services.request_report(acting_user=world.other, report=report, fmt="pdf", operator=operator,
                                    scope_label="A", filename="perf.pdf")


@pytest.mark.usefixtures("boxes")
def test_the_perf_page_offers_to_prepare_a_large_pdf(world, client, settings):
    client.force_login(world.ans)
    body = client.get(reverse("ans_perf"), MARCH).content.decode()
    assert 'href="/ans/meteo/perf/rapport.pdf?period=2025-03">Préparer le PDF</a>' in body  # no download attribute
    assert 'href="/ans/meteo/perf/rapport.csv?period=2025-03" download>Télécharger (CSV)</a>' in body
    settings.PERF_PDF_SYNC_MAX_ROWS = 3
    assert "Télécharger (PDF)" in client.get(reverse("ans_perf"), MARCH).content.decode()
    assert ans_download(client).content.startswith(b"%PDF")  # at the threshold: laid out in the request


# --- API ---------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("boxes")
def test_api_answers_202_then_the_state_then_the_file(world, django_capture_on_commit_callbacks):
    client = api(world.ans)
    with django_capture_on_commit_callbacks() as committed:
        accepted = client.get(f"{API}/perf/report.pdf", MARCH)
    assert accepted.status_code == 202 and accepted["Retry-After"] == "5"
    body = accepted.json()
    assert accepted["Location"] == f"http://testserver{API}/perf/reports/{body['id']}/"
    assert (body["status"], body["rows"], body["file"], body["operator"]) == ("en_attente", 3, None, None)
    state = client.get(accepted["Location"]).json()
    assert state["status"] == "en_attente" and state["requested_at"].endswith("Z")
    assert error_of(client.get(f"{API}/perf/reports/{body['id']}/file"), 409)["code"] == "report_not_ready"
    for callback in committed:
        callback()
    state = client.get(accepted["Location"]).json()
    assert state["status"] == "pret" and state["file"] == f"http://testserver{API}/perf/reports/{body['id']}/file"
    content = b"".join(client.get(state["file"]).streaming_content)
    assert len(content) == state["size"]
    assert_tagged_report(content, ["101", "102", "201"], "toutes les DRIMbox")
    again = client.get(f"{API}/perf/report.pdf", MARCH)  # closed period, same figures: the file at once
    assert again.status_code == 200 and b"".join(again.streaming_content) == content


@pytest.mark.usefixtures("boxes")
def test_api_operator_reports_stay_within_the_operator(world, django_capture_on_commit_callbacks):
    transitions(make_box(world.operator, 104), (utc(2025, 2, 1), "operational"))
    with django_capture_on_commit_callbacks():
        accepted = api(world.technical).get(f"{API}/operators/{world.operator.pk}/perf/report.pdf", MARCH)
    assert accepted.status_code == 202
    report = accepted.json()["id"]
    assert accepted["Location"] == f"http://testserver{API}/operators/{world.operator.pk}/perf/reports/{report}/"
    assert api(world.legal).get(accepted["Location"]).json()["scope"] == f"Opérateur A (SIREN {world.operator.siren})"
    other = api(world.other)
    assert other.get(accepted["Location"]).status_code == 404
    # Through operator B's own URL, operator A's report does not exist either.
    assert other.get(f"{API}/operators/{world.other_operator.pk}/perf/reports/{report}/").status_code == 404
    assert api(world.technical).get(f"{API}/perf/reports/{report}/").status_code == 403  # the ANS route


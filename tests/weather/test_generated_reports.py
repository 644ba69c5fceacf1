"""PERF report PDFs too large for a web request (``PERF_PDF_SYNC_MAX_ROWS``, 2 here): laid out by a worker, the person
waits on « Rapport en préparation » (a self-refreshing page that turns into the download), a closed period's
report with unchanged figures is served again without a new layout, and only the operator's people and ANS reach
a report. The file the worker produced passes the same tagged PDF/A checks as the one laid out in a request."""
import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.support import tagged_pdf
from tests.support.api import API, api, error_of
from tests.weather.test_perf import make_box, transitions, utc
from tests.weather.test_reports import boxes  # noqa: F401 - the fixture of the reports' tests
from trustspace import pdf as pdf_module
from trustspace.errors import NotAllowed
from trustspace.models import OutboxMessage
from weather import perf, reports, services
from weather.models import GeneratedReport, GeneratedReportStatus

pytestmark = pytest.mark.django_db
MARCH = {"period": "2025-03"}


@pytest.fixture(autouse=True)
def small_threshold(settings):
    settings.PERF_PDF_SYNC_MAX_ROWS = 2


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
        assert generated_pk(ans_download(client)) != pk


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


"""PERF reports: the CLI (CSV, XLSX, PDF), the operator and ANS pages and downloads."""
import csv
import dataclasses
import io
from datetime import timedelta

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support import tagged_pdf
from tests.weather.test_perf import make_box, paris, transitions, utc
from weather import reports
from weather.models import MeasurementPolicy
from weather.perf import compute

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


@pytest.fixture
def boxes(world):
    """Operator A: 101 (Df 10 h + 1 s → PERF 0,5) and 102 (Df 0); operator B « Cœur »: 201 (Df 21 h → 0)."""
    world.operator_b_box = make_box(world.other_operator, 201)
    a1, a2 = make_box(world.operator, 101), make_box(world.operator, 102)
    transitions(a1, (utc(2025, 2, 1), "operational"), (utc(2025, 3, 5, 8), "down"),
                (utc(2025, 3, 5, 18, 0, 1), "operational"))
    transitions(a2, (utc(2025, 2, 1), "operational"))
    transitions(world.operator_b_box, (utc(2025, 3, 20), "down"), (utc(2025, 3, 20, 21), "operational"))
    return a1, a2


def csv_rows(text):
    lines = text.splitlines()
    blank = lines.index("")
    header = dict(row for row in csv.reader(lines[:blank], delimiter=";"))
    table = list(csv.DictReader(lines[blank + 1:], delimiter=";"))
    return header, table


def test_cli_csv_to_stdout(boxes):
    out = io.StringIO()
    call_command("perf_report", "--period", "2025-03", stdout=out)
    header, table = csv_rows(out.getvalue())
    assert header["Politique de mesure"].startswith("v1 — mois civil (Europe/Paris), toutes les heures")
    assert header["Période"].startswith("mars 2025 (du 01/03/2025 à 00:00 au 01/04/2025 à 00:00")
    assert "Généré le" in header
    assert [(r["Identifiant"], r["Df (secondes)"], r["Df (h:mm)"], r["PERF"], r["Passages en indisponibilité"])
            for r in table] == [("101", "36001", "10:00", "0,5", "1"), ("102", "0", "0:00", "1", "0"),
                                ("201", "75600", "21:00", "0", "1")]
    assert {r["Version de la politique"] for r in table} == {"1"}
    assert table[2]["Opérateur"] == "Opérateur B"


def test_cli_csv_file_has_a_bom_and_semicolons(boxes, tmp_path):
    target = tmp_path / "perf.csv"
    call_command("perf_report", "--period", "2025-03", "--output", str(target), stderr=io.StringIO())
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    header, table = csv_rows(raw.decode("utf-8-sig"))
    assert len(table) == 3 and "Identifiant;FQDN db;Opérateur" in raw.decode("utf-8-sig")


def test_cli_operator_scope(boxes, world):
    out = io.StringIO()
    call_command("perf_report", "--period", "2025-03", "--operator", world.operator.siren, stdout=out)
    header, table = csv_rows(out.getvalue())
    assert [r["Identifiant"] for r in table] == ["101", "102"]
    assert header["Périmètre"] == f"Opérateur A (SIREN {world.operator.siren})"


def test_cli_xlsx(boxes, tmp_path):
    target = tmp_path / "perf.xlsx"
    call_command("perf_report", "--period", "2025-03", "--format", "xlsx", "--output", str(target),
                 stderr=io.StringIO())
    sheet = openpyxl.load_workbook(target).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    meta = {row[0]: row[1] for row in values if row and row[0] and row[1] and not isinstance(row[0], int)}
    assert meta["Politique de mesure"].startswith("v1 — mois civil")
    table = [row for row in values if row and isinstance(row[0], int)]
    assert [(r[0], r[3], r[5], r[6], r[7]) for r in table] == [(101, 36001, 0.5, 1, 1), (102, 0, 1, 0, 1),
                                                               (201, 75600, 0, 1, 1)]
    assert str(table[2][4]) == "21:00:00"  # Df also as a spreadsheet duration, shown [h]:mm
    df_cells = [row[4] for row in sheet.iter_rows() if isinstance(row[0].value, int)]
    assert {cell.number_format for cell in df_cells} == {"[h]:mm"}


def test_cli_pdf_states_the_policy(boxes, tmp_path, world):
    MeasurementPolicy.objects.create(version=2, reference_period="month", support_hours_only=True,
                                     maintenance_counts=True, effective_from=paris(2025, 3, 1))
    target = tmp_path / "perf.pdf"
    call_command("perf_report", "--period", "2025-03", "--format", "pdf", "--output", str(target),
                 stderr=io.StringIO())
    pdf = tagged_pdf.read(target.read_bytes())
    assert pdf.reader.metadata.subject == ("Politique de mesure v2 — mois civil (Europe/Paris), heures ouvrées "
                                           "seulement, maintenance comptée")
    assert "politique-v2" in pdf.reader.metadata["/Keywords"]
    # Tagged PDF/A-3a declaring PDF/UA-1, in French, every text in the structure tree.
    assert pdf.identification() == {"pdfaid:part": "3", "pdfaid:conformance": "A", "pdfuaid:part": "1"}
    assert pdf.catalog["/Lang"] == "fr" and pdf.catalog["/MarkInfo"]["/Marked"].value is True
    assert {"H1", "H2", "Table", "THead", "TBody", "TH", "TD"} <= pdf.tags and pdf.untagged_text_operations == 0
    assert pdf.texts("H1") == ["Rapport PERF — mars 2025"]
    facts = pdf.texts("TH").index("Identifiant")  # the header lines' table comes first
    header = dict(zip(pdf.texts("TH")[:facts], pdf.texts("TD")[:facts], strict=True))
    assert list(header) == ["Période", "Généré le", "Politique de mesure", "Règle PERF", "Nombre de DRIMbox"]
    assert header["Période"] == "mars 2025 (du 01/03/2025 à 00:00 au 01/04/2025 à 00:00, heure de Paris)"
    assert header["Politique de mesure"].startswith("v2 — mois civil")
    # The table: its column headers (every label whole, in its cell), then the rows in reading order.
    assert pdf.texts("TH")[facts:] == ["Identifiant", "FQDN db", "Opérateur", "Df (secondes)", "Df (h:mm)", "PERF",
                                       "Passages en indisponibilité", "Version de la politique"]
    cells = pdf.texts("TD")[facts:]
    rows = [cells[i:i + 8] for i in range(0, len(cells), 8)]
    # The same figures as the CSV of the same period and policy, cell for cell.
    out = io.StringIO()
    call_command("perf_report", "--period", "2025-03", stdout=out)
    _header, table = csv_rows(out.getvalue())
    assert rows == [[r["Identifiant"], r["FQDN db"], r["Opérateur"], r["Df (secondes)"], r["Df (h:mm)"], r["PERF"],
                     r["Passages en indisponibilité"], f"v{r['Version de la politique']}"] for r in table]
    assert [row[0] for row in rows] == ["101", "102", "201"] and rows[2][2] == "Opérateur B"
    # Each data cell names its column header in the structure tree (what a screen reader announces).
    by_column = [(headers, text) for headers, text in pdf.labelled_cells[facts:]]
    assert by_column[:8] == [(("Identifiant",), "101"), (("FQDN db",), rows[0][1]), (("Opérateur",), rows[0][2]),
                             (("Df (secondes)",), rows[0][3]), (("Df (h:mm)",), rows[0][4]), (("PERF",), rows[0][5]),
                             (("Passages en indisponibilité",), rows[0][6]), (("Version de la politique",), "v2")]
    assert {row[7] for row in rows} == {"v2"}


def test_pdf_report_generation_time_is_paris_time(boxes, world):
    # Generated on 1 April 22:30 UTC: 2 April 00:30 in Paris (summer time).
    report = dataclasses.replace(compute("2025-03"), generated_at=utc(2025, 4, 1, 22, 30))
    pdf = tagged_pdf.read(reports.render(report, "pdf"))
    header = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=False))
    assert header["Généré le"] == "02/04/2025 à 00:30 (heure de Paris)"
    assert pdf.reader.metadata["/CreationDate"] == "D:20250401223000Z"


def test_pdf_of_many_drimboxes_repeats_the_column_headers_on_every_page(world):
    for identifiant in range(300, 345):
        transitions(make_box(world.operator, identifiant), (utc(2025, 2, 1), "operational"))
    pdf = tagged_pdf.read(reports.render(compute("2025-03"), "pdf", "Opérateur A"))
    pages = len(pdf.reader.pages)
    assert pages >= 2
    assert pdf.texts("TH").count("Passages en indisponibilité") == pages
    identifiants = [text for text in pdf.texts("TD") if text.isdigit() and 300 <= int(text) < 345]
    assert identifiants == [str(i) for i in range(300, 345)]  # every row once, in order, across the pages
    assert pdf.untagged_text_operations == 0


def test_pdf_of_an_empty_scope_says_so(world):
    pdf = tagged_pdf.read(reports.render(compute("2025-03", drimboxes=[]), "pdf", "Opérateur sans DRIMbox"))
    assert "Aucune DRIMbox pour ce périmètre." in pdf.texts("P")
    assert "Table" in pdf.tags  # the header lines only
    assert pdf.texts("TD")[-2:] == ["Opérateur sans DRIMbox", "0"]


@pytest.mark.parametrize("period", ["2025-13", "mars", "2025-3-1"])
def test_cli_bad_period(world, period):
    with pytest.raises(CommandError) as caught:
        call_command("perf_report", "--period", period)
    assert "Période" in str(caught.value) and caught.value.returncode == 2


def test_cli_unknown_operator(world):
    with pytest.raises(CommandError) as caught:
        call_command("perf_report", "--period", "2025-03", "--operator", "000000000")
    assert caught.value.returncode == 2


# --- pages ---------------------------------------------------------------------------------------------------

def test_operator_page_shows_only_own_drimboxes(boxes, world, client):
    client.force_login(world.technical)
    response = client.get(reverse("operator_perf"), {"period": "2025-03"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "db101.test.example.fr" in body and "db102.test.example.fr" in body
    assert "db201" not in body and "Opérateur B" not in body
    assert "v1 — mois civil" in body and "10:00" in body


def test_operator_download_is_limited_to_own_drimboxes(boxes, world, client):
    client.force_login(world.legal)
    response = client.get(reverse("operator_perf_download", kwargs={"fmt": "csv"}), {"period": "2025-03"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="perf-2025-03-{world.operator.siren}.csv"'
    _header, table = csv_rows(response.content.decode("utf-8-sig"))
    assert [r["Identifiant"] for r in table] == ["101", "102"]


def test_operator_b_sees_its_own(boxes, world, client):
    client.force_login(world.other)
    response = client.get(reverse("operator_perf_download", kwargs={"fmt": "pdf"}), {"period": "2025-03"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response["Content-Type"] == "application/pdf"


def test_ans_page_filters_by_operator_and_downloads(boxes, world, client):
    client.force_login(world.ans)
    body = client.get(reverse("ans_perf"), {"period": "2025-03"}).content.decode()
    assert "db101" in body and "db201" in body
    filtered = client.get(reverse("ans_perf"), {"period": "2025-03", "operator": world.other_operator.pk})
    assert "db201" in filtered.content.decode() and "db101" not in filtered.content.decode()
    xlsx = client.get(reverse("ans_perf_download", kwargs={"fmt": "xlsx"}), {"period": "2025-03"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [r[0] for r in sheet.iter_rows(values_only=True) if r and isinstance(r[0], int)] == [101, 102, 201]


@pytest.mark.parametrize("params", [{"period": "2025-13"}, {"period": "n'importe quoi"},
                                    {"period": "2025-03", "operator": "999999"}, {"operator": "abc"}])
def test_bad_parameters_give_a_french_message(world, client, params):
    client.force_login(world.ans)
    page = client.get(reverse("ans_perf"), params)
    assert page.status_code == 400 and "fr-alert--error" in page.content.decode()
    assert ("Période" in page.content.decode()) or ("Opérateur inconnu" in page.content.decode())
    download = client.get(reverse("ans_perf_download", kwargs={"fmt": "csv"}), params)
    assert download.status_code == 400 and "Erreur 400" in download.content.decode()
    client.force_login(world.technical)
    assert client.get(reverse("operator_perf"), {"period": "2025-13"}).status_code == 400


def test_unknown_format_is_not_routed(world, client):
    client.force_login(world.ans)
    assert client.get("/ans/meteo/perf/rapport.docx").status_code == 404


@pytest.mark.parametrize("name, user", [("ans_perf", "ans"), ("operator_perf", "technical")])
def test_report_pages_run_a_constant_number_of_queries(world, client, name, user):
    client.force_login(getattr(world, user))

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(name), {"period": "2025-03"}).status_code == 200
        return len(captured)

    for n in range(1, 3):
        transitions(make_box(world.operator, n), (utc(2025, 3, 2), "down"), (utc(2025, 3, 2, 3), "operational"))
    count()  # the first request of a session stores the active operator in it
    small = count()
    for n in range(3, 30):
        transitions(make_box(world.operator, n), (utc(2025, 3, 2), "down"), (utc(2025, 3, 2, 3), "operational"))
    assert count() == small


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example","x")', "+33 1 23", "-2+3", "@SUM(A1)",
                                  "\tTab", "\rCR"])
def test_user_texts_cannot_become_spreadsheet_formulas(boxes, world, tmp_path, name):
    world.other_operator.name = name
    world.other_operator.save(update_fields=["name"])
    out = io.StringIO()
    call_command("perf_report", "--period", "2025-03", stdout=out)
    rows = {row[0]: row for row in csv.reader(io.StringIO(out.getvalue(), newline=""), delimiter=";") if row}
    assert rows["201"][2] == "'" + name
    assert rows["101"][3] == "36001"  # numbers untouched
    target = tmp_path / "perf.xlsx"
    call_command("perf_report", "--period", "2025-03", "--format", "xlsx", "--output", str(target))
    sheet = openpyxl.load_workbook(target).active
    cells = [row for row in sheet.iter_rows(values_only=True) if row and row[0] == 201]
    assert cells[0][2] == "'" + name and cells[0][3] == 75600
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

"""PERF reports as CSV, XLSX and PDF (DESIGN §8): every report states its period, when it was generated and
the measurement policy (version and description) that computed it.

CSV choices, for the spreadsheet French users open it in by double click: UTF-8 *with* a BOM (without it
Excel reads « Opérateur » as Latin-1), ``;`` as separator (Excel-FR expects it, since ``,`` is the decimal
separator), decimal comma for PERF, CRLF line ends. The file starts with a few « key;value » lines (title,
period, generation time, policy), then an empty line, then the table with its header row; every table row
also carries the policy version, so a row copied elsewhere still says how it was measured.
"""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime

from trustspace.paris_time import paris_datetime

from .perf import PerfReport

FORMATS = ("csv", "xlsx", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
TITLE = "Rapport PERF — Espace de Confiance DRIM-M"
COLUMNS = ("Identifiant", "FQDN db", "Opérateur", "Df (secondes)", "Df (h:mm)", "PERF", "Passages en indisponibilité",
           "Version de la politique")


def _local(instant: datetime) -> str:
    return paris_datetime(instant)


def header_lines(report: PerfReport, scope: str = "") -> list[tuple[str, str]]:
    """The (label, value) lines every format prints above its table."""
    period = report.period
    lines = [
        ("Rapport", TITLE),
        ("Période", f"{period.label} (du {_local(period.start)} au {_local(period.end)}, heure de Paris)"),
        ("Généré le", f"{_local(report.generated_at)} (heure de Paris)"),
        ("Politique de mesure", report.policy.describe()),
        ("Règle PERF", "1 si Df ≤ 10 h ; 0,5 si 10 h < Df ≤ 20 h ; 0 si Df > 20 h"),
    ]
    if report.partial:
        lines.append(("Mesuré jusqu'au", f"{_local(report.measured_until)} (période en cours)"))
    if scope:
        lines.append(("Périmètre", scope))
    lines.append(("Nombre de DRIMbox", str(len(report.rows))))
    return lines


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A text cell a spreadsheet will not run as a formula: operator names and FQDNs come from users, so a text
    starting with = + - @ (or tab / CR) is prefixed with « ' » (OWASP CSV injection). Numbers are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _safe_row(values) -> list:
    return [safe_cell(value) for value in values]


def _values(row) -> list:
    return [row.identifiant, row.db_fqdn, row.operator_name, row.df_seconds, row.df_hhmm, row.perf_display,
            row.down_count, row.policy_version]


def render_csv(report: PerfReport, scope: str = "") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for label, value in header_lines(report, scope):
        writer.writerow(_safe_row([label, value]))
    writer.writerow([])
    writer.writerow(COLUMNS)
    writer.writerows(_safe_row(_values(row)) for row in report.rows)
    return buffer.getvalue().encode("utf-8-sig")


def render_xlsx(report: PerfReport, scope: str = "") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = "PERF"
    bold = Font(bold=True)
    for label, value in header_lines(report, scope):
        sheet.append(_safe_row([label, value]))
        sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.append([])
    sheet.append(list(COLUMNS))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = bold
    for row in report.rows:
        # Numbers stay numbers (sums and filters work); Df also as a duration shown [h]:mm.
        sheet.append(_safe_row([row.identifiant, row.db_fqdn, row.operator_name, row.df_seconds,
                                row.df.total_seconds() / 86400, float(row.perf), row.down_count, row.policy_version]))
        sheet.cell(row=sheet.max_row, column=5).number_format = "[h]:mm"
    for column, width in zip("ABCDEFGH", (12, 42, 32, 14, 11, 8, 14, 12), strict=True):  # one per COLUMNS
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    workbook.properties.title = f"{TITLE} — {report.period.label}"
    workbook.properties.creator = "Agence du Numérique en Santé"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# The PDF's column classes, one per COLUMNS: widths (in the template) and numbers aligned right.
PDF_COLUMN_CLASSES = ("c-id", "c-fqdn", "c-operator", "c-seconds numeric", "c-hhmm numeric", "c-perf numeric",
                      "c-down numeric", "c-policy numeric")


def render_pdf(report: PerfReport, scope: str = "") -> bytes:
    """A tagged, archivable PDF (trustspace.pdf): the header lines, then the table whose header row repeats on every
    page. The policy also goes in the document properties (Subject, Keywords), where a reader finds it."""
    from trustspace.pdf import render_pdf as render_document

    return render_document("weather/pdf/perf_report.html", {
        "title": TITLE, "report": report, "header": header_lines(report, scope)[1:],
        "columns": list(zip(COLUMNS, PDF_COLUMN_CLASSES, strict=True)),
    }, created=report.generated_at)


def fingerprint(report: PerfReport, scope: str = "") -> str:
    """SHA-256 of everything a report shows except when it was generated: period, measurement policy, scope, how
    far it was measured and every row's figures. Two reports with the same fingerprint print the same table, so a
    stored one may be served in place of a new layout."""
    digest = hashlib.sha256()
    period = report.period
    for part in (period.key, period.start.isoformat(), period.end.isoformat(), report.measured_until.isoformat(),
                 report.policy.describe(), scope):
        digest.update(part.encode() + b"\x1f")
    # The rows' own fields (every printed column derives from them), in one string: 10,000 rows in a few ms.
    digest.update("".join(f"{row.identifiant}\x1f{row.db_fqdn}\x1f{row.operator_name}\x1f{row.df}\x1f{row.down_count}"
                          f"\x1f{row.policy_version}\x1e" for row in report.rows).encode())
    return digest.hexdigest()


RENDERERS = {"csv": render_csv, "xlsx": render_xlsx, "pdf": render_pdf}


def render(report: PerfReport, fmt: str, scope: str = "") -> bytes:
    """The report as bytes in ``fmt`` (csv, xlsx or pdf); ``scope`` names a restriction (e.g. an operator)."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        from trustspace.errors import InvalidData

        raise InvalidData(f"Format « {fmt} » inconnu : csv, xlsx ou pdf.", code="invalid_format") from None
    return renderer(report, scope)


def filename(report: PerfReport, fmt: str, suffix: str = "") -> str:
    return f"perf-{report.period.key}{'-' + suffix if suffix else ''}.{fmt}"

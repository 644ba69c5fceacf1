"""Sortable list pages and their exports (issue 16, item 5): one definition of a table's columns serves the page's
header (sort links, ``aria-sort``), the queryset's order and the CSV/XLSX export of the same rows.

The sort is on the server, read from ``?sort=<column>`` (``-<column>``: descending); only the columns a table
declares sortable are accepted — anything else falls back to the table's default order, never to a field name
taken from the address. An export (``?export=csv`` or ``xlsx``) is the page's own filtered and sorted queryset,
so it shows exactly what the page may show to this person (object-level permissions live in the queryset).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .paris_time import paris_date, paris_datetime

EXPORT_FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ASCENDING, DESCENDING = "ascending", "descending"


@dataclass(frozen=True)
class Column:
    key: str  # the value of ?sort=
    label: str
    order_by: tuple[str, ...] = ()  # ORM expressions; empty: the column is not sortable

    @property
    def sortable(self) -> bool:
        return bool(self.order_by)


@dataclass(frozen=True)
class Header:
    label: str
    url: str  # the link that sorts by this column (the other direction when it is the current one); "" if none
    aria_sort: str  # "ascending", "descending" or "" (not the sorted column)
    action: str  # what following the link does, for screen readers (« Trier par Nom, ordre croissant »)


class SortedTable:
    """The columns of one list page and the order ``request`` asks for (``default``: ``key`` or ``-key``)."""

    def __init__(self, request, columns: Sequence[Column], default: str, *, tiebreak: tuple[str, ...] = ("pk",)):
        self.columns = list(columns)
        self.query = request.GET.copy()
        sortable = {c.key: c for c in self.columns if c.sortable}
        raw = (request.GET.get("sort") or "").strip()
        key, descending = raw.removeprefix("-"), raw.startswith("-")
        if key not in sortable:
            key, descending = default.removeprefix("-"), default.startswith("-")
        self.key, self.descending = key, descending
        self.column = sortable[key]
        self.tiebreak = tiebreak

    @property
    def sort(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def order(self, queryset):
        def directed(expression: str) -> str:
            if not self.descending:
                return expression
            return expression.removeprefix("-") if expression.startswith("-") else f"-{expression}"

        tiebreak = [directed(t) for t in self.tiebreak]
        return queryset.order_by(*(directed(e) for e in self.column.order_by), *tiebreak)

    def _url(self, sort: str) -> str:
        query = self.query.copy()
        for name in ("page", "export"):
            query.pop(name, None)
        query["sort"] = sort
        return f"?{query.urlencode()}"

    @property
    def headers(self) -> list[Header]:
        headers = []
        for column in self.columns:
            if not column.sortable:
                headers.append(Header(column.label, "", "", ""))
                continue
            current = column.key == self.key
            ascending_next = not (current and not self.descending)
            aria = (DESCENDING if self.descending else ASCENDING) if current else ""
            order = "ordre croissant" if ascending_next else "ordre décroissant"
            headers.append(Header(column.label, self._url(column.key if ascending_next else f"-{column.key}"),
                                  aria, f"Trier par {column.label.lower()}, {order}"))
        return headers

    def export_url(self, fmt: str) -> str:
        query = self.query.copy()
        query.pop("page", None)
        query["sort"] = self.sort
        query["export"] = fmt
        return f"?{query.urlencode()}"

    @property
    def exports(self) -> list[tuple[str, str]]:
        """(format label, url) of the export links of the page's rows, as filtered and sorted."""
        return [(fmt.upper(), self.export_url(fmt)) for fmt in EXPORT_FORMATS]

    def query_without_page(self) -> str:
        """The page's filters and sort, for its pagination links."""
        query = self.query.copy()
        query.pop("page", None)
        query.pop("export", None)
        query["sort"] = self.sort
        return query.urlencode()


def requested_export(request) -> str:
    """« csv » or « xlsx » when the page is asked as a file, else ""."""
    fmt = request.GET.get("export", "")
    return fmt if fmt in EXPORT_FORMATS else ""


# --- Exports -------------------------------------------------------------------------------------------------

def safe_cell(value):
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection): names and addresses come from
    people, so a text starting with = + - @ (or tab / CR) is prefixed with « ' ». Numbers and dates are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _local(value: datetime) -> datetime:
    """An instant as Paris wall-clock time without offset (spreadsheets know no time zones)."""
    return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, datetime):
        return paris_datetime(value)
    if isinstance(value, date):
        return paris_date(value)
    if isinstance(value, float | Decimal):
        return f"{value}".replace(".", ",")  # Excel-FR reads the decimal comma
    return str(safe_cell(value))


def _xlsx_value(value):
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, datetime):
        return _local(value)
    return safe_cell(value)


class _Echo:
    def write(self, value):
        return value


def _csv_lines(columns: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(columns)  # the BOM: Excel opens UTF-8 correctly
    for row in rows:
        yield writer.writerow([_csv_text(value) for value in row])


def _xlsx_bytes(title: str, columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for index, label in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(label) + 4))
    header = []
    for label in columns:
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([_xlsx_value(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_response(fmt: str, *, filename: str, title: str, columns: Sequence[str],
                    rows: Iterable[Sequence]) -> HttpResponse | StreamingHttpResponse:
    """The rows as a download: CSV (UTF-8 with BOM, « ; », CRLF, times in Europe/Paris; streamed) or XLSX."""
    if fmt == "csv":
        response: HttpResponse | StreamingHttpResponse = StreamingHttpResponse(
            _csv_lines(columns, rows), content_type=CONTENT_TYPES["csv"])
    elif fmt == "xlsx":
        response = HttpResponse(_xlsx_bytes(title, columns, rows), content_type=CONTENT_TYPES["xlsx"])
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.{fmt}"'
    return response


def table_export(request, table: SortedTable, queryset, *, filename: str, title: str,
                 row: Callable[[object], Sequence], columns: Sequence[str] | None = None):
    """The export ``request`` asks for (``?export=``) of ``queryset`` in ``table``'s order, else None."""
    fmt = requested_export(request)
    if not fmt:
        return None
    rows = (row(obj) for obj in table.order(queryset).iterator(chunk_size=500))
    return export_response(fmt, filename=filename, title=title,
                           columns=list(columns or [c.label for c in table.columns]), rows=rows)

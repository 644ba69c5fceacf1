"""The audit trail as people read it: French labels, field-by-field changes, filters, pages, CSV, chain state.

Nothing here writes or seals a row (that is ``trustspace.audit``); this only reads ``AuditEntry`` rows and says
them in French (labels from ``trustspace.audit_labels``). Pages: the operator's history and ANS's history
(operators.views), which both call :func:`history_page`.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from . import audit_labels as labels
from .alerts import AUDIT_CHAIN_KEY
from .audit import AnchorError, read_anchors, verify_chain
from .forms_util import FilterForm
from .models import Alert, AuditEntry, AuditHead
from .paris_time import paris_date, paris_datetime

PAGE_SIZE = 25
EMPTY = "—"
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Measured (issue 16, item 3): verify_chain takes 0.8 s for 20 000 rows on PostgreSQL and 0.9 s on SQLite (the
# whole ANS page 1.4 s and 0.75 s); above this many rows the page shows the nightly verification's verdict and
# a « Vérifier maintenant » button instead of making every visit wait.
INLINE_VERIFY_MAX_ROWS = 20_000


# --- values -----------------------------------------------------------------------------------------------

def format_datetime(value: datetime) -> str:
    return paris_datetime(value)  # a naive value is read as Paris time, the portal's TIME_ZONE


def format_plain(value: Any) -> str:
    """A recorded value without knowing its field: Oui/Non, dates in Europe/Paris, lists joined, dicts labelled."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, list | tuple):
        return ", ".join(format_plain(item) for item in value)
    if isinstance(value, dict):
        return " ; ".join(f"{labels.field_label(None, str(key))[0]} : {format_plain(item)}"
                          for key, item in value.items())
    if isinstance(value, str):
        if _ISO_DATETIME.match(value) and (parsed := parse_datetime(value)) is not None:
            return format_datetime(parsed)
        if _ISO_DATE.match(value) and (day := parse_date(value)) is not None:
            return paris_date(day)
        return value
    return str(value)


def format_value(value: Any, model_field=None, reference: str | None = None) -> str:
    """A recorded value, with its model field when there is one (choices by label, dates, files, references)."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if reference is not None:
        return reference
    if model_field is not None:
        if model_field.choices and not isinstance(value, list | dict):
            return str(dict(model_field.flatchoices).get(value, value))
        kind = model_field.get_internal_type()
        if kind in ("FileField", "ImageField") and isinstance(value, str):
            return Path(value).name
        if model_field.is_relation and isinstance(value, int):
            return f"n° {value}"
        if kind == "DateField" and isinstance(value, str) and (day := parse_date(value[:10])) is not None:
            return paris_date(day)
    return format_plain(value)


_FINGERPRINT = re.compile(r"\b[0-9A-Fa-f:]{32,}")


def shortened(value: str | None) -> str | None:
    """A value as the page shows it (the CSV keeps it whole): long fingerprints and serial numbers cut, and a
    distinguished name (``CN=…,OU=…``, one long word) allowed to wrap after its commas."""
    if value is None:
        return None
    value = _FINGERPRINT.sub(lambda match: match.group()[:16] + "…", value)
    if "=" in value and "," in value:
        return value.replace(",", ",\u200b")
    return value


@dataclass
class Change:
    label: str
    before: str | None  # None: the row records no value before (a creation)
    after: str | None  # None: the row records no value after
    known: bool  # the label comes from a model's verbose_name or an app's dictionary

    @property
    def before_shown(self) -> str | None:
        return shortened(self.before)

    @property
    def after_shown(self) -> str | None:
        return shortened(self.after)


@dataclass
class HistoryRow:
    entry: AuditEntry
    action_label: str
    object_label: str
    changes: list[Change] = field(default_factory=list)

    @property
    def reason_in_changes(self) -> bool:
        """The row's reason is also a recorded field (a maintenance's « Motif »): said once."""
        return any(change.after == self.entry.reason for change in self.changes)

    @property
    def object_shown(self) -> str | None:
        return shortened(self.entry.object_repr)

    @property
    def created_at(self) -> str:
        return format_datetime(self.entry.created_at)

    def changes_text(self) -> str:
        parts = []
        for change in self.changes:
            if change.before is None:
                parts.append(f"{change.label} : {change.after}")
            elif change.after is None:
                parts.append(f"{change.label} : {change.before} (avant)")
            else:
                parts.append(f"{change.label} : {change.before} → {change.after}")
        return " | ".join(parts)


def _reference_target(model, key: str):
    """The model an id recorded under ``key`` points to, or None."""
    model_field = labels.model_field(model, key)
    if model_field is not None and (model_field.many_to_one or model_field.one_to_one):
        return model_field.related_model
    target = labels.registry().references.get(key)
    return labels.model_of(target) if target else None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else ({} if value is None else {"valeur": value})


def _resolve_references(entries: list[AuditEntry]) -> dict[tuple[Any, Any], str]:
    """Every id recorded under a foreign key, in one query per related model (never one per row)."""
    wanted: dict[Any, set[int]] = {}
    for entry in entries:
        model = labels.model_of(entry.object_type)
        for data in (_as_dict(entry.before), _as_dict(entry.after)):
            for key, value in data.items():
                target = _reference_target(model, key)
                if target is not None and isinstance(value, int) and not isinstance(value, bool):
                    wanted.setdefault(target, set()).add(value)
    user_model = get_user_model()
    resolved: dict[tuple[Any, Any], str] = {}
    for target, ids in wanted.items():
        related = [f.name for f in target._meta.fields if f.many_to_one or f.one_to_one]
        for obj in target._default_manager.select_related(*related).filter(pk__in=ids):
            resolved[(target, obj.pk)] = obj.display_name if target is user_model else str(obj)
    return resolved


def describe(entries: Iterable[AuditEntry]) -> list[HistoryRow]:
    """Rows ready to show: French action and object labels, and the change of each recorded field."""
    entries = list(entries)
    references = _resolve_references(entries)
    rows = []
    for entry in entries:
        model = labels.model_of(entry.object_type)
        before, after = _as_dict(entry.before), _as_dict(entry.after)
        changes = []
        for key in [*before, *(k for k in after if k not in before)]:
            if key in before and key in after and before[key] == after[key]:
                continue
            model_field = labels.model_field(model, key)
            target = _reference_target(model, key)
            label, known = labels.field_label(model, key)
            choices = None
            if (own := labels.action_field(entry.action, key)) is not None:
                (label, choices), known, model_field, target = own, True, None, None

            def shown(data, key=key, model_field=model_field, target=target, choices=choices):
                if key not in data:
                    return None
                value = data[key]
                if choices is not None and isinstance(value, str):
                    return choices.get(value, value)
                reference = references.get((target, value)) if target is not None and isinstance(value, int) else None
                return format_value(value, model_field, reference)

            change = Change(label, shown(before) if entry.before is not None else None,
                            shown(after) if entry.after is not None else None, known)
            if {change.before, change.after} <= {None, EMPTY}:
                continue  # nothing on either side (an empty field of a creation): not a change to read
            changes.append(change)
        rows.append(HistoryRow(entry, labels.action_label(entry.action), labels.object_type_label(entry.object_type),
                               changes))
    return rows


# --- filters ----------------------------------------------------------------------------------------------

class HistoryFilterForm(FilterForm):
    objet = forms.CharField(label="Objet", required=False, max_length=200,
                            help_text="Nom, référence ou numéro de l'objet")
    type_objet = forms.ChoiceField(label="Type d'objet", required=False)
    personne = forms.CharField(label="Personne", required=False, max_length=200, help_text="Nom de l'auteur")
    action = forms.ChoiceField(label="Action", required=False)
    du = forms.DateField(label="Du", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                         help_text="Format : jj/mm/aaaa")
    au = forms.DateField(label="Au", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                         help_text="Format : jj/mm/aaaa")

    def __init__(self, data=None, *, base: QuerySet[AuditEntry], **kwargs):
        super().__init__(data, **kwargs)
        present = base.order_by()
        types = sorted({labels.object_type_label(t): t for t in
                        present.values_list("object_type", flat=True).distinct()}.items())
        self.fields["type_objet"].choices = [("", "Tous")] + [(code, label) for label, code in types]
        codes = set(present.values_list("action", flat=True).distinct())
        self.fields["action"].choices = [("", "Toutes")] + [
            (code, label) for code, label in labels.action_choices() if code in codes]
        for name in ("du", "au"):
            self.fields[name].input_formats = ["%Y-%m-%d", "%d/%m/%Y"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("du") and cleaned.get("au") and cleaned["du"] > cleaned["au"]:
            self.add_error("au", "La date de fin doit suivre la date de début.")
        return cleaned

    def filter(self, queryset: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data.get("objet"):
            text = data["objet"].strip()
            queryset = queryset.filter(Q(object_repr__icontains=text) | Q(object_id=text))
        if data.get("type_objet"):
            queryset = queryset.filter(object_type=data["type_objet"])
        if data.get("personne"):
            queryset = queryset.filter(actor_label__icontains=data["personne"].strip())
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        zone = timezone.get_default_timezone()
        if data.get("du"):
            queryset = queryset.filter(created_at__gte=datetime.combine(data["du"], time.min, tzinfo=zone))
        if data.get("au"):
            end = datetime.combine(data["au"] + timedelta(days=1), time.min, tzinfo=zone)
            queryset = queryset.filter(created_at__lt=end)
        return queryset


# --- CSV --------------------------------------------------------------------------------------------------

CSV_HEADER = ["N°", "Date (heure de Paris)", "Auteur", "Action", "Type d'objet", "Objet", "Modifications", "Motif",
              "Code de l'action", "Identifiant de requête"]


class _Echo:
    def write(self, value):
        return value


def csv_lines(queryset: QuerySet[AuditEntry], chunk: int = 500) -> Iterator[str]:
    """The filtered rows as CSV (semicolons, as French spreadsheets expect), read and described by chunks."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow(CSV_HEADER)
    batch: list[AuditEntry] = []
    for entry in queryset.iterator(chunk_size=chunk):
        batch.append(entry)
        if len(batch) == chunk:
            yield from _csv_rows(writer, batch)
            batch = []
    yield from _csv_rows(writer, batch)


def _csv_rows(writer, batch):
    for row in describe(batch):
        entry = row.entry
        yield writer.writerow([entry.seq, row.created_at, entry.actor_label, row.action_label, row.object_label,
                               entry.object_repr, row.changes_text(), entry.reason, entry.action, entry.request_id])


def csv_response(queryset: QuerySet[AuditEntry], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- chain state ------------------------------------------------------------------------------------------

@dataclass
class ChainState:
    ok: bool
    checked_now: bool  # True: verified for this page; False: the nightly verification's verdict
    count: int
    reason: str = ""
    anchors: int = 0
    since: datetime | None = None


def chain_state(*, force: bool = False) -> ChainState:
    """What ``manage.py audit_verify`` and the nightly task say, now when the chain is small enough (or asked),
    else the nightly task's verdict (an open « chaîne rompue » alert, trustspace.alerts)."""
    rows = AuditHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
    if force or rows <= INLINE_VERIFY_MAX_ROWS:
        anchor_file = Path(settings.AUDIT_ANCHOR_FILE)
        try:
            anchors = read_anchors(anchor_file) if anchor_file.exists() else []
        except AnchorError as exc:
            return ChainState(False, True, rows, f"ancres : {exc}")
        report = verify_chain(anchors=anchors)
        return ChainState(report.ok, True, report.count, report.reason, report.anchors)
    alert = Alert.objects.filter(key=AUDIT_CHAIN_KEY, resolved_at__isnull=True).first()
    if alert is not None:
        return ChainState(False, False, rows, alert.body, since=alert.opened_at)
    return ChainState(True, False, rows)


# --- the page ---------------------------------------------------------------------------------------------

def history_page(request, base: QuerySet[AuditEntry], *, template: str, context: dict[str, Any],
                 filename: str, form_class: type[HistoryFilterForm] = HistoryFilterForm):
    """The filtered, paginated history (``?export=csv``: every filtered row as CSV, same permissions)."""
    form = form_class(request.GET or None, base=base)
    entries = form.filter(base).order_by("-seq")
    if request.GET.get("export") == "csv":
        return csv_response(entries, filename)
    paginator = Paginator(entries, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page.pages_list = list(paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1))
    export_query = request.GET.copy()
    export_query.pop("page", None)
    export_query["export"] = "csv"
    return render(request, template, {
        **context, "form": form, "page": page, "rows": describe(page.object_list),
        "export_query": export_query.urlencode(), "filtered": any(request.GET.get(n) for n in form.fields),
    })

"""The incident history: ANS's across every DRIMbox, an operator's across its own (filters, sort, CSV/XLSX).

One query for the page's incidents (with their DRIMbox, operator, acknowledging person and whether they opened in
a declared maintenance window), whatever their number; the GTI/GTR clocks are computed from those rows."""
from datetime import datetime, time, timedelta

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from operators.context import active_operator
from operators.models import Drimbox
from trustspace.access import ANS_ADMIN, OPERATOR_MEMBER, access
from trustspace.tables import Column, SortedTable, table_export
from weather import history
from weather.clock import PARIS
from weather.forms.incidents import AnsIncidentFilterForm, IncidentFilterForm
from weather.models import Incident
from weather.views.board import page_size, search_filter

COLUMNS = (
    Column("drimbox", "DRIMbox", ("drimbox__identifiant", "-opened_at")),
    Column("operateur", "Opérateur", ("drimbox__operator__name", "-opened_at")),
    Column("debut", "Début", ("opened_at",)),
    Column("prise", "Prise en compte", ("acknowledged_at",)),
    Column("retablissement", "Rétablissement", ("restored_at",)),
    Column("gti", "GTI (30 min)"),
    Column("gtr", "GTR (4 h)"),
)
OPERATOR_COLUMNS = tuple(c for c in COLUMNS if c.key != "operateur")
EXPORT = ["Identifiant DRIMbox", "Nom db", "Opérateur", "Motif", "Début", "Prise en compte", "Pris en compte par",
          "Commentaire", "Rétablissement", "Durée (minutes)", "GTI : temps ouvré (minutes)", "GTI : échéance",
          "GTI", "GTR : temps ouvré (minutes)", "GTR : échéance", "GTR", "Remarque"]


def _verdict(clock):
    if clock.exempt:
        return "non applicable (maintenance déclarée)"
    if clock.overdue:
        return "dépassée"
    return "en cours" if clock.running else "tenue"


def _export_row(incident, now):
    i = history.incident_clocks(incident, now)
    end = i.restored_at or now
    return [i.drimbox.identifiant, i.drimbox.db_fqdn, i.drimbox.operator.name, i.reason, i.opened_at,
            i.acknowledged_at, i.acknowledged_by.display_name if i.acknowledged_by else "",
            i.acknowledgement_comment, i.restored_at, int((end - i.opened_at).total_seconds() // 60),
            int(i.gti.elapsed.total_seconds() // 60), i.gti.due_at, _verdict(i.gti),
            int(i.gtr.elapsed.total_seconds() // 60), i.gtr.due_at, _verdict(i.gtr), i.gti.note]


def _filtered(incidents, data, now):
    if data.get("q"):
        incidents = incidents.filter(drimbox__in=Drimbox.objects.filter(search_filter(data["q"])).values("pk"))
    if (data.get("operator") or "").strip():
        incidents = incidents.filter(drimbox__operator__name__icontains=data["operator"].strip())
    if data.get("state") == "ouvert":
        incidents = incidents.filter(restored_at__isnull=True)
    elif data.get("state") == "retabli":
        incidents = incidents.filter(restored_at__isnull=False)
    if data.get("breach") in ("gti", "gtr"):
        incidents = incidents.filter(history.overdue_filter(data["breach"], now))
    elif data.get("breach") == "gti_gtr":
        incidents = incidents.filter(history.overdue_filter("gti", now) | history.overdue_filter("gtr", now))
    if data.get("since"):
        incidents = incidents.filter(opened_at__gte=datetime.combine(data["since"], time.min, tzinfo=PARIS))
    if data.get("until"):
        incidents = incidents.filter(
            opened_at__lt=datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=PARIS))
    return incidents


def _incident_list(request, incidents, *, form_class, columns, filename, context):
    now = timezone.now()
    form = form_class(request.GET or None)
    if form.is_valid():
        incidents = _filtered(incidents, form.cleaned_data, now)
    incidents = history.with_maintenance_flag(incidents).select_related(
        "drimbox__operator", "acknowledged_by")
    table = SortedTable(request, columns, "-debut")
    if exported := table_export(request, table, incidents, filename=filename, title="Incidents",
                                row=lambda i: _export_row(i, now), columns=EXPORT):
        return exported
    page = Paginator(table.order(incidents), page_size()).get_page(request.GET.get("page"))
    for incident in page:
        history.incident_clocks(incident, now)
    return render(request, "weather/incidents.html", {
        **context, "form": form, "table": table, "page": page, "query": table.query_without_page(), "now": now,
        "filtered": any(request.GET.get(name) for name in form.fields),
    })


@access(ANS_ADMIN)
def ans_incidents(request):
    return _incident_list(request, Incident.objects.all(), form_class=AnsIncidentFilterForm, columns=COLUMNS,
                          filename="incidents", context={"ans": True})


@access(OPERATOR_MEMBER)
def operator_incidents(request):
    operator = active_operator(request)
    incidents = Incident.objects.filter(drimbox__operator=operator)
    return _incident_list(request, history.with_publication(incidents, identifiant="drimbox__identifiant"),
                          form_class=IncidentFilterForm, columns=OPERATOR_COLUMNS,
                          filename=f"incidents-{operator.siren}", context={"ans": False, "operator": operator})

"""PERF reports through the API, for a script with a token: an operator's own DRIMboxes, or ANS's across operators;
the same reports, periods and French errors as the pages' downloads (``weather.views.reports``): as files (CSV,
XLSX, PDF) and as JSON, both from one ``weather.perf.compute``."""
import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from operators.api.views.base import AnsAPIMixin, AnsAPIView, PortalAPIView, get_operator
from operators.models import Operator
from trustspace.api.pagination import MAX_OFFSET, pagination_parameters, whole_number_schema
from trustspace.errors import DomainError
from trustspace.models import ApiScope

from .. import perf, reports
from .serializers import PerfReportSerializer, PolicyVersionSerializer, utc

PERIOD_FORMAT = re.compile(r"2[0-9]{3}-(0[1-9]|1[0-2]|T[1-4])")
PERIOD = OpenApiParameter("period", {"type": "string", "pattern": f"^{PERIOD_FORMAT.pattern}$"},
                          description="Période mesurée : un mois AAAA-MM, ou un trimestre AAAA-Tn si la politique de "
                                      "mesure applicable mesure par trimestre (400 sinon) ; par défaut le mois en "
                                      "cours (mesuré jusqu'à maintenant).")


FILE = {(200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"Le rapport PERF ({fmt.upper()}).")
        for fmt, content_type in reports.CONTENT_TYPES.items()}


def _computed(request, operator):
    """The PERF report of ``?period=`` (by default the current month) for ``operator``'s DRIMboxes (None: all);
    a 400 naming ``period`` when it is not one."""
    key = request.query_params.get("period")
    if key is None:
        key = perf.recent_periods(1)[0]
    elif not PERIOD_FORMAT.fullmatch(key):
        raise ValidationError({"period": [f"Période « {key[:20]} » invalide : attendu AAAA-MM ou AAAA-Tn."]})
    try:
        return perf.compute(key, operator=operator)
    except DomainError as exc:
        raise ValidationError({"period": [exc.message]}) from exc


def _report(request, fmt, operator, scope, suffix):
    if fmt not in reports.FORMATS:
        raise NotFound("Format inconnu : csv, xlsx ou pdf.")
    report = _computed(request, operator)
    response = HttpResponse(reports.render(report, fmt, scope), content_type=reports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{reports.filename(report, fmt, suffix)}"'
    return response


class OperatorPerfReportView(PortalAPIView):
    token_scope = ApiScope.READ

    @extend_schema(parameters=[PERIOD], responses=FILE,
                   summary="Rapport PERF des DRIMbox de l'opérateur (csv, xlsx ou pdf)")
    def get(self, request, pk, fmt):
        operator = get_operator(request, pk)
        return _report(request, fmt, operator, f"{operator.name} (SIREN {operator.siren})", operator.siren)


class AnsPerfReportView(AnsAPIView):
    @extend_schema(parameters=[PERIOD, OpenApiParameter("operator", {"type": "integer", "minimum": 1},
                                                        description="Un opérateur (id) ; toutes les DRIMbox sinon "
                                                                    "(404 pour un opérateur inconnu).")],
                   responses=FILE, summary="Rapport PERF de toutes les DRIMbox ou d'un opérateur (ANS)")
    def get(self, request, fmt):
        raw = (request.query_params.get("operator") or "").strip()
        operator = None
        if raw:
            operator = (Operator.objects.filter(pk=int(raw)).first()
                        if raw.isascii() and raw.isdigit() and int(raw) < 2**31 else None)
            if operator is None:
                raise NotFound("Opérateur inconnu.")
        scope = f"{operator.name} (SIREN {operator.siren})" if operator else "toutes les DRIMbox"
        return _report(request, fmt, operator, scope, operator.siren if operator else "")


# --- The same reports as JSON, page by page -----------------------------------------------------------


def _row(row):
    return {"identifiant": row.identifiant, "db_fqdn": row.db_fqdn,
            "operator": {"id": row.operator_id, "name": row.operator_name}, "df_seconds": row.df_seconds,
            "df_hhmm": row.df_hhmm, "perf": float(row.perf), "down_count": row.down_count,
            "policy_version": row.policy_version}


class PerfJsonMixin:
    """A PERF report (``weather.perf.compute``, as the files) in JSON: the report's figures, then its DRIMboxes
    page by page (every row is computed, the page is a slice: a fixed number of queries)."""

    def report_response(self, report):
        period = report.period
        page = self.paginate_queryset(report.rows)
        return Response({
            "period": {"key": period.key, "kind": period.kind, "label": period.label, "start": utc(period.start),
                       "end": utc(period.end)},
            "policy": PolicyVersionSerializer(report.policy).data,
            "generated_at": utc(report.generated_at), "measured_until": utc(report.measured_until),
            "partial": report.partial, "summary": perf.summary(report.rows),
            "count": self.paginator.count, "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(), "results": [_row(row) for row in page],
        })


class OperatorPerfView(PerfJsonMixin, PortalAPIView, generics.GenericAPIView):
    token_scope = ApiScope.READ

    @extend_schema(parameters=[PERIOD, *pagination_parameters()], responses=PerfReportSerializer,
                   summary="PERF des DRIMbox de l'opérateur sur une période (Df, PERF), en JSON")
    def get(self, request, pk):
        operator = get_operator(request, pk)
        return self.report_response(_computed(request, operator))


def _operator_param(request):
    """``?operator=``: an operator's internal id, in ASCII digits (given empty, refused as the schema says)."""
    raw = request.query_params.get("operator")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_OFFSET:
        raise ValidationError({"operator": ["Un entier positif est attendu (l'identifiant de l'opérateur)."]})
    return int(raw)


class AnsPerfView(PerfJsonMixin, AnsAPIMixin, generics.GenericAPIView):
    @extend_schema(parameters=[PERIOD, OpenApiParameter("operator", whole_number_schema(), description=(
                       "Les DRIMbox d'un opérateur (identifiant interne) ; toutes sinon. Un opérateur inconnu : "
                       "aucune DRIMbox.")), *pagination_parameters()],
                   responses=PerfReportSerializer,
                   summary="PERF de toutes les DRIMbox ou d'un opérateur sur une période (Df, PERF), en JSON (ANS)")
    def get(self, request):
        operator = _operator_param(request)
        return self.report_response(_computed(request, operator))

"""PERF reports through the API, for a script with a token: an operator's own DRIMboxes, or ANS's across operators;
the same reports, periods and French errors as the pages' downloads (``weather.views.reports``)."""
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError

from operators.api.views.base import AnsAPIView, PortalAPIView, get_operator
from operators.models import Operator
from trustspace.errors import DomainError
from trustspace.models import ApiScope

from .. import perf, reports

PERIOD = OpenApiParameter("period", OpenApiTypes.STR, description="Mois mesuré, AAAA-MM (par défaut : le dernier "
                                                                   "mois clos).")
FILE = {(200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"Le rapport PERF ({fmt.upper()}).")
        for fmt, content_type in reports.CONTENT_TYPES.items()}


def _report(request, fmt, operator, scope, suffix):
    if fmt not in reports.FORMATS:
        raise NotFound("Format inconnu : csv, xlsx ou pdf.")
    key = (request.query_params.get("period") or "").strip() or perf.recent_periods(1)[0]
    try:
        report = perf.compute(key, operator=operator)
    except DomainError as exc:
        raise ValidationError({"period": [exc.message]}) from exc
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
    @extend_schema(parameters=[PERIOD, OpenApiParameter("operator", OpenApiTypes.INT,
                                                        description="Un opérateur (id) ; toutes les DRIMbox sinon.")],
                   responses=FILE, summary="Rapport PERF de toutes les DRIMbox ou d'un opérateur (ANS)")
    def get(self, request, fmt):
        raw = (request.query_params.get("operator") or "").strip()
        operator = None
        if raw:
            operator = (Operator.objects.filter(pk=int(raw)).first()
                        if raw.isascii() and raw.isdigit() and int(raw) < 2**31 else None)
            if operator is None:
                raise ValidationError({"operator": ["Opérateur inconnu."]})
        scope = f"{operator.name} (SIREN {operator.siren})" if operator else "toutes les DRIMbox"
        return _report(request, fmt, operator, scope, operator.siren if operator else "")

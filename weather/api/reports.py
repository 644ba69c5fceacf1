"""PERF reports through the API, for a script with a token: an operator's own DRIMboxes, or ANS's across operators;
the same reports, periods and French errors as the pages' downloads (``weather.views.reports``)."""
import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError

from operators.api.views.base import AnsAPIView, PortalAPIView, get_operator
from operators.models import Operator
from trustspace.errors import DomainError
from trustspace.models import ApiScope

from .. import perf, reports

PERIOD_FORMAT = re.compile(r"2[0-9]{3}-(0[1-9]|1[0-2]|T[1-4])")
PERIOD = OpenApiParameter("period", {"type": "string", "pattern": f"^{PERIOD_FORMAT.pattern}$"},
                          description="Période mesurée : un mois AAAA-MM, ou un trimestre AAAA-Tn si la politique de "
                                      "mesure applicable mesure par trimestre (400 sinon) ; par défaut le dernier mois "
                                      "clos.")
FILE = {(200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"Le rapport PERF ({fmt.upper()}).")
        for fmt, content_type in reports.CONTENT_TYPES.items()}


def _report(request, fmt, operator, scope, suffix):
    if fmt not in reports.FORMATS:
        raise NotFound("Format inconnu : csv, xlsx ou pdf.")
    key = request.query_params.get("period")
    if key is None:
        key = perf.recent_periods(1)[0]
    elif not PERIOD_FORMAT.fullmatch(key):
        raise ValidationError({"period": [f"Période « {key[:20]} » invalide : attendu AAAA-MM ou AAAA-Tn."]})
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

"""PERF reports through the API, for a script with a token: an operator's own DRIMboxes, or ANS's across operators;
the same reports, periods and French errors as the pages' downloads (``weather.views.reports``): as files (CSV,
XLSX, PDF) and as JSON, both from one ``weather.perf.compute``."""
import re

from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from operators.api.views.base import AnsAPIMixin, AnsAPIView, PortalAPIView, get_operator
from operators.models import Operator
from trustspace.api.pagination import optional_whole_number, pagination_parameters, whole_number_schema
from trustspace.errors import Conflict, DomainError
from trustspace.models import ApiScope

from .. import perf, reports, services
from ..models import GeneratedReport, GeneratedReportStatus
from ..services import reports as reports_service
from .serializers import GeneratedReportSerializer, PerfReportSerializer, PolicyVersionSerializer, utc

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


def _report(request, fmt, operator, scope, suffix, status_view):
    if fmt not in reports.FORMATS:
        raise NotFound("Format inconnu : csv, xlsx ou pdf.")
    report = _computed(request, operator)
    name = reports.filename(report, fmt, suffix)
    if reports_service.in_background(fmt, report.rows):
        # Too large to lay out here: the stored file of the same figures, or 202 and where to follow the preparation.
        generated, _new = services.request_report(acting_user=request.user, report=report, fmt=fmt, operator=operator,
                                                  scope_label=scope, filename=name)
        if generated.status == GeneratedReportStatus.READY:
            return stored_file(generated)
        kwargs = {"pk": operator.pk} if status_view == "api_operator_perf_generated" else {}
        location = request.build_absolute_uri(reverse(status_view, kwargs={**kwargs, "report": generated.pk}))
        return Response(_generated(request, generated, status_view, kwargs), status=202,
                        headers={"Location": location, "Retry-After": str(reports_service.POLL_SECONDS)})
    response = HttpResponse(reports.render(report, fmt, scope), content_type=reports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _generated(request, generated, status_view, kwargs):
    failure = reports_service.failure(generated)
    ready = generated.status == GeneratedReportStatus.READY
    status = GeneratedReportStatus.FAILED if failure else generated.status
    file_url = (request.build_absolute_uri(reverse(f"{status_view}_file", kwargs={**kwargs, "report": generated.pk}))
                if ready else None)
    return {"id": generated.pk, "status": status, "status_label": generated.status_label(status),
            "period": generated.period_key, "period_label": generated.period_label,
            "operator": generated.operator_id, "scope": generated.scope_label, "format": generated.fmt,
            "rows": generated.rows, "requested_at": utc(generated.created_at), "started_at": utc(generated.started_at),
            "finished_at": utc(generated.finished_at), "error": failure, "file": file_url, "size": generated.size}


def stored_file(generated):
    return FileResponse(generated.file.open("rb"), as_attachment=True, filename=generated.filename,
                        content_type=reports.CONTENT_TYPES[generated.fmt])


def _ready_file(queryset, pk):
    generated = queryset.filter(pk=pk).first()
    if generated is None:
        raise NotFound("Rapport introuvable.")
    if generated.status != GeneratedReportStatus.READY:
        raise Conflict(reports_service.failure(generated) or "Le rapport est encore en préparation : suivez son état "
                       "et téléchargez-le une fois prêt.", code="report_not_ready")
    return stored_file(generated)


ACCEPTED = OpenApiResponse(GeneratedReportSerializer, description=(
    "PDF de plus de DRIMbox que le réglage PERF_PDF_SYNC_MAX_ROWS du service : sa mise en page est faite en "
    "arrière-plan. L'en-tête Location donne l'adresse où suivre sa préparation ; le fichier y est donné une fois "
    "prêt. Le même rapport d'une période close, aux mêmes chiffres, est servi directement (200). Deux demandes "
    "simultanées du même rapport suivent la même préparation. Un rapport terminé est conservé "
    "PERF_REPORT_RETENTION_DAYS jours (7 par défaut), puis supprimé : son adresse répond alors 404."))


class OperatorPerfReportView(PortalAPIView):
    token_scope = ApiScope.READ

    @extend_schema(parameters=[PERIOD], responses={**FILE, 202: ACCEPTED},
                   summary="Rapport PERF des DRIMbox de l'opérateur (csv, xlsx ou pdf)")
    def get(self, request, pk, fmt):
        operator = get_operator(request, pk)
        return _report(request, fmt, operator, f"{operator.name} (SIREN {operator.siren})", operator.siren,
                       "api_operator_perf_generated")


class AnsPerfReportView(AnsAPIView):
    @extend_schema(parameters=[PERIOD, OpenApiParameter("operator", {"type": "integer", "minimum": 1},
                                                        description="Un opérateur (id) ; toutes les DRIMbox sinon "
                                                                    "(404 pour un opérateur inconnu).")],
                   responses={**FILE, 202: ACCEPTED},
                   summary="Rapport PERF de toutes les DRIMbox ou d'un opérateur (ANS)")
    def get(self, request, fmt):
        raw = (request.query_params.get("operator") or "").strip()
        operator = None
        if raw:
            operator = (Operator.objects.filter(pk=int(raw)).first()
                        if raw.isascii() and raw.isdigit() and int(raw) < 2**31 else None)
            if operator is None:
                raise NotFound("Opérateur inconnu.")
        scope = f"{operator.name} (SIREN {operator.siren})" if operator else "toutes les DRIMbox"
        return _report(request, fmt, operator, scope, operator.siren if operator else "", "api_ans_perf_generated")


# --- Reports laid out in the background: their state, then their file ---------------------------------------

GENERATED_FILE = {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="Le rapport.")}


class OperatorPerfGeneratedView(PortalAPIView):
    token_scope = ApiScope.READ

    @extend_schema(responses=GeneratedReportSerializer,
                   summary="Où en est un rapport PERF de l'opérateur préparé en arrière-plan")
    def get(self, request, pk, report):
        operator = get_operator(request, pk)
        generated = GeneratedReport.objects.filter(operator=operator, pk=report).first()
        if generated is None:
            raise NotFound("Rapport introuvable.")
        return Response(_generated(request, generated, "api_operator_perf_generated", {"pk": operator.pk}))


class OperatorPerfGeneratedFileView(PortalAPIView):
    token_scope = ApiScope.READ

    @extend_schema(responses=GENERATED_FILE, summary="Le fichier d'un rapport PERF de l'opérateur, une fois prêt "
                                                     "(409 avant)")
    def get(self, request, pk, report):
        return _ready_file(GeneratedReport.objects.filter(operator=get_operator(request, pk)), report)


class AnsPerfGeneratedView(AnsAPIView):
    @extend_schema(responses=GeneratedReportSerializer,
                   summary="Où en est un rapport PERF préparé en arrière-plan (ANS)")
    def get(self, request, report):
        generated = GeneratedReport.objects.filter(pk=report).first()
        if generated is None:
            raise NotFound("Rapport introuvable.")
        return Response(_generated(request, generated, "api_ans_perf_generated", {}))


class AnsPerfGeneratedFileView(AnsAPIView):
    @extend_schema(responses=GENERATED_FILE, summary="Le fichier d'un rapport PERF, une fois prêt (409 avant ; ANS)")
    def get(self, request, report):
        return _ready_file(GeneratedReport.objects.all(), report)


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
    """``?operator=``: an operator's internal id."""
    return optional_whole_number(request, "operator", "Un entier positif est attendu (l'identifiant de l'opérateur).")


class AnsPerfView(PerfJsonMixin, AnsAPIMixin, generics.GenericAPIView):
    @extend_schema(parameters=[PERIOD, OpenApiParameter("operator", whole_number_schema(), description=(
                       "Les DRIMbox d'un opérateur (identifiant interne) ; toutes sinon. Un opérateur inconnu : "
                       "aucune DRIMbox.")), *pagination_parameters()],
                   responses=PerfReportSerializer,
                   summary="PERF de toutes les DRIMbox ou d'un opérateur sur une période (Df, PERF), en JSON (ANS)")
    def get(self, request):
        operator = _operator_param(request)
        return self.report_response(_computed(request, operator))

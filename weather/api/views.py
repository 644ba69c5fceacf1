"""Weather API: public reading (every DRIMbox, one DRIMbox with 90 days and incidents, incidents), and the
operator's writes (acknowledge an incident, declare and cancel maintenance).

The public list answers 10,000 DRIMboxes from two plain queries (``history.board_rows``), with no
serializer per row. Operator endpoints scope objects to the caller (404 otherwise) and call
``weather.services``, whose French DomainError becomes the structured 4xx answer.
"""
from datetime import UTC, timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from operators.queries import visible_drimboxes
from trustspace.access import AUTHENTICATED, PUBLIC
from trustspace.api.pagination import Pagination, optional_whole_number, pagination_parameters, whole_number_schema
from trustspace.models import ApiScope

from .. import history, services
from ..http_cache import weak_etag
from ..models import Incident, MaintenanceWindow, WeatherStatus
from ..views.board import search_filter
from . import serializers as s
from .serializers import utc


class PublicAPIView(APIView):
    access_rule = PUBLIC
    permission_classes = (AllowAny,)
    authentication_classes = ()


def _int_param(request, name):
    return optional_whole_number(request, name, "Un entier positif est attendu.")


def _status_param(request):
    value = request.query_params.get("status", "").strip()
    if value and value not in WeatherStatus.values:
        raise ValidationError({"status": [f"Valeurs possibles : {', '.join(WeatherStatus.values)}."]})
    return value


FILTERS = [
    OpenApiParameter("status", OpenApiTypes.STR, enum=WeatherStatus.values, description="Ne garder que cet état."),
    OpenApiParameter("operator", whole_number_schema(), description="Identifiant (interne) de l'opérateur."),
    OpenApiParameter("q", OpenApiTypes.STR, description="Début d'un nom db/vi, ou Identifiant de la DRIMbox."),
]


class WeatherListView(PublicAPIView, generics.GenericAPIView):
    @extend_schema(responses=s.WeatherListSerializer, auth=[], operation_id="weather_list",
                   parameters=[*FILTERS, *pagination_parameters()],
                   summary="L'état de chaque DRIMbox de l'espace de confiance (public), page par page")
    def get(self, request):
        now = timezone.now()
        boxes = history.trust_space_drimboxes()
        operator, wanted = _int_param(request, "operator"), _status_param(request)
        if operator is not None:
            boxes = boxes.filter(operator_id=operator)
        q = request.query_params.get("q", "")
        if q.strip():
            boxes = boxes.filter(search_filter(q))
        results = [{"identifiant": identifiant, "db": db, "vi": vi, "operator": operator_name, "status": state,
                    "since": since}
                   for identifiant, db, vi, operator_name, state, since
                   in history.board_rows(boxes, now, status=wanted)]
        page = self.paginate_queryset(results)  # the rows are computed (the state filter too), then sliced
        body = {"count": self.paginator.count, "next": self.paginator.get_next_link(),
                "previous": self.paginator.get_previous_link(), "results": page}
        response = Response({"generated_at": utc(now), **body})
        # The same list a second later differs only by generated_at: the same representation for a cache (304).
        response["ETag"] = weak_etag(body)
        return response


def _incident_rows(queryset, now):
    return [history.incident_clocks(incident, now) for incident in queryset]


class WeatherDetailView(PublicAPIView):
    @extend_schema(responses=s.WeatherDetailSerializer, auth=[], operation_id="weather_drimbox",
                   summary="Une DRIMbox : état, historique jour par jour sur 90 jours, incidents, maintenances")
    def get(self, request, identifiant):
        now = timezone.now()
        box = get_object_or_404(history.with_weather(history.trust_space_drimboxes(), now).select_related("operator"),
                                identifiant=identifiant)
        cells = history.daily_history([box.pk], now=now)[box.pk]
        incidents = _incident_rows(history.with_maintenance_flag(Incident.objects.filter(drimbox=box))
                                   .select_related("drimbox__operator").order_by("-opened_at", "-id")[:50], now)
        windows = (MaintenanceWindow.objects.filter(drimbox=box, cancelled_at__isnull=True,
                                                    ends_at__gte=now - timedelta(days=len(cells)))
                   .select_related("drimbox").order_by("-starts_at")[:50])
        return Response({
            "identifiant": box.identifiant, "db": box.db_fqdn, "vi": box.vi_fqdn or "", "operator": box.operator.name,
            "status": box.display_status, "since": utc(box.display_since), "probed_status": box.probed_status,
            "reason": box.weather_reason or "", "availability_percent": history.availability(cells),
            "history": [cell.as_dict() for cell in cells],
            "incidents": s.IncidentSerializer(incidents, many=True).data,
            "maintenance": s.MaintenanceSerializer(windows, many=True).data,
        })


SINCE_SCHEMA = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}


class IncidentPagination(Pagination):
    """Incidents come in pages of up to 500 (rows are light); the other rules are every list's."""

    default_limit = 100
    max_limit = 500


class IncidentListView(generics.ListAPIView):
    access_rule = PUBLIC
    permission_classes = (AllowAny,)
    authentication_classes = ()
    serializer_class = s.IncidentSerializer
    pagination_class = IncidentPagination

    @extend_schema(auth=[], summary="Les incidents de l'espace de confiance, les plus récents d'abord (public)",
                   parameters=[
                       OpenApiParameter("identifiant", whole_number_schema(), description="Une DRIMbox."),
                       OpenApiParameter("operator", whole_number_schema(),
                                        description="Identifiant (interne) de l'opérateur."),
                       OpenApiParameter("open", OpenApiTypes.BOOL,
                                        description="`true` : en cours ; `false` : rétablis."),
                       OpenApiParameter("since", SINCE_SCHEMA,
                                        description="Ouverts à partir de cet instant (ISO 8601) ou de ce jour."),
                   ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        incidents = history.with_maintenance_flag(
            Incident.objects.filter(drimbox__in=history.trust_space_drimboxes())
            .select_related("drimbox__operator").order_by("-opened_at", "-id"))
        params = self.request.query_params
        identifiant, operator = _int_param(self.request, "identifiant"), _int_param(self.request, "operator")
        if identifiant is not None:
            incidents = incidents.filter(drimbox__identifiant=identifiant)
        if operator is not None:
            incidents = incidents.filter(drimbox__operator_id=operator)
        open_ = params.get("open", "").strip().lower()
        if open_ in ("true", "1", "oui"):
            incidents = incidents.filter(restored_at__isnull=True)
        elif open_ in ("false", "0", "non"):
            incidents = incidents.filter(restored_at__isnull=False)
        elif open_:
            raise ValidationError({"open": ["`true` ou `false` attendu."]})
        if "since" in params:  # given empty, it is refused as any other non-date
            incidents = incidents.filter(opened_at__gte=_instant(params["since"].strip()))
        return incidents

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return _incident_rows(page, timezone.now()) if page is not None else None


def _instant(raw):
    try:
        value = parse_datetime(raw)
        if value is None and parse_date(raw) is not None:
            day = parse_date(raw)
            value = timezone.make_aware(timezone.datetime(day.year, day.month, day.day))
        if value is not None:
            value = value if timezone.is_aware(value) else timezone.make_aware(value)
            # In UTC now: an instant outside years 1–9999 once in UTC (0001-01-01T00:00+05:00) overflows here,
            # not later inside the database adapter (a 500).
            value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise ValidationError({"since": ["Date ISO 8601 attendue (ex. 2026-03-01 ou 2026-03-01T08:00:00Z)."]})
    return value


# --- Operator writes --------------------------------------------------------------------------------


def _visible_box(request, identifiant):
    return get_object_or_404(visible_drimboxes(request.user).select_related("operator"), identifiant=identifiant)


class IncidentAcknowledgeView(APIView):
    token_scope = ApiScope.WEATHER
    access_rule = AUTHENTICATED

    @extend_schema(request=s.AcknowledgeSerializer, responses=s.OperatorIncidentSerializer,
                   summary="Prendre en compte un incident (personne de l'opérateur) : le délai de GTI s'arrête")
    def post(self, request, pk):
        incident = get_object_or_404(Incident.objects.filter(drimbox__in=visible_drimboxes(request.user)), pk=pk)
        data = s.AcknowledgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = services.acknowledge_incident(incident, acting_user=request.user,
                                                          comment=data.validated_data["comment"])
        incident = Incident.objects.select_related("drimbox__operator").get(pk=incident.pk)
        return Response(s.OperatorIncidentSerializer(history.incident_clocks(incident)).data)


class MaintenanceListView(generics.ListAPIView):
    token_scope = ApiScope.WEATHER
    access_rule = AUTHENTICATED
    serializer_class = s.MaintenanceSerializer

    @extend_schema(summary="Les fenêtres de maintenance d'une DRIMbox, les plus récentes d'abord (opérateur, ANS)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        box = _visible_box(self.request, self.kwargs["identifiant"])
        return MaintenanceWindow.objects.filter(drimbox=box).select_related("drimbox").order_by("-starts_at", "-pk")

    @extend_schema(request=s.MaintenanceInputSerializer, responses={201: s.MaintenanceSerializer},
                   summary="Déclarer une maintenance (personne de l'opérateur)")
    def post(self, request, identifiant):
        box = _visible_box(request, identifiant)
        data = s.MaintenanceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        window = services.declare_maintenance(box, acting_user=request.user, **data.validated_data)
        return Response(s.MaintenanceSerializer(window).data, status=status.HTTP_201_CREATED)


class MaintenanceCancelView(APIView):
    token_scope = ApiScope.WEATHER
    access_rule = AUTHENTICATED

    @extend_schema(request=None, responses=s.MaintenanceSerializer,
                   summary="Annuler une maintenance à venir, ou terminer maintenant une maintenance en cours")
    def post(self, request, pk):
        window = get_object_or_404(MaintenanceWindow.objects.filter(drimbox__in=visible_drimboxes(request.user))
                                   .select_related("drimbox"), pk=pk)
        window = services.cancel_maintenance(window, acting_user=request.user)
        return Response(s.MaintenanceSerializer(window).data)

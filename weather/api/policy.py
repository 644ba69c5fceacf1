"""The measurement policy through the API (ANS): the version in force and every version, and a new version through
``weather.services.create_policy_version``, as the policy page creates it (a version is never edited)."""
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from operators.api.views.base import AnsAPIMixin, validated
from trustspace.api.pagination import pagination_parameters

from .. import services
from ..models import MeasurementPolicy
from ..policy import first_of_month, month_start, policy_for
from . import serializers as s


class PolicyView(AnsAPIMixin, generics.GenericAPIView):
    parser_classes = (JSONParser,)  # booleans and a month: JSON says them exactly
    serializer_class = s.PolicyVersionInputSerializer  # what OPTIONS describes

    @extend_schema(responses=s.PolicyListSerializer, parameters=pagination_parameters(),
                   summary="La politique de mesure (ANS) : la version en vigueur, et toutes les versions, la plus "
                           "récente d'abord")
    def get(self, request):
        versions = MeasurementPolicy.objects.select_related("created_by").order_by("-version")
        page = self.paginate_queryset(versions)
        return Response({"current": s.PolicyVersionSerializer(policy_for(month_start(timezone.now()))).data,
                         "count": self.paginator.count, "next": self.paginator.get_next_link(),
                         "previous": self.paginator.get_previous_link(),
                         "results": s.PolicyVersionSerializer(page, many=True).data})

    @extend_schema(request=s.PolicyVersionInputSerializer, responses={201: s.PolicyVersionSerializer},
                   summary="Créer une version de la politique de mesure (ANS), applicable à partir d'un mois en cours "
                           "ou à venir ; les versions existantes ne changent pas")
    def post(self, request):
        data = validated(s.PolicyVersionInputSerializer, request.data)
        try:
            effective_from = first_of_month(data["effective_from"])
        except ValueError:
            raise ValidationError({"effective_from": ["Mois invalide."]}) from None
        policy = services.create_policy_version(
            acting_user=request.user, reference_period=data["reference_period"],
            support_hours_only=data["support_hours_only"], maintenance_counts=data["maintenance_counts"],
            effective_from=effective_from, comment=data["comment"])
        policy = MeasurementPolicy.objects.select_related("created_by").get(pk=policy.pk)
        return Response(s.PolicyVersionSerializer(policy).data, status=status.HTTP_201_CREATED)

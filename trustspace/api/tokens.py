"""The caller's own personal API tokens: list, create (the secret is answered once), revoke.

A call made with a token needs its ``tokens`` scope to create or revoke, and can only make a token no wider
than itself (same or fewer scopes, same operator, same or fewer DRIMboxes, no later expiry): a token never
escalates. Sessions and iSC bearer tokens act with the full rights of the user.
"""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from ..access import AUTHENTICATED
from ..models import ApiScope, ApiToken
from ..services import create_api_token, revoke_api_token

MAX_ID = 2**63 - 1


class ApiTokenSerializer(serializers.ModelSerializer):
    operator = serializers.IntegerField(source="operator_id", allow_null=True, read_only=True,
                                        help_text="Opérateur auquel le jeton est limité (null : tous les vôtres).")
    drimboxes = serializers.ListField(source="drimbox_ids", child=serializers.IntegerField(), read_only=True,
                                      help_text="DRIMbox (leur `id` interne, pas leur identifiant N) auxquelles "
                                                "ses appels de certificats sont limités (vide : toutes).")
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True,
                                   help_text="Portées ; « * » : tous les droits du titulaire (jetons d'avant les "
                                             "portées).")
    state = serializers.ChoiceField(choices=[("active", "actif"), ("expired", "expiré"), ("revoked", "révoqué")],
                                    read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "operator", "drimboxes", "created_at", "last_used_at",
                  "expires_at", "revoked_at", "state"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    secret = serializers.CharField(read_only=True, help_text="Le jeton lui-même : affiché cette fois seulement.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiScope.choices), allow_empty=False,
                                   min_length=1, max_length=len(ApiScope.values))
    operator = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID,
                                        help_text="Limiter le jeton à l'un de vos opérateurs.")
    drimboxes = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
                                      max_length=1000,
                                      help_text="Limiter ses appels de certificats à ces DRIMbox de l'opérateur "
                                                "(portée « certificates ») : leur `id` interne, donné par les "
                                                "réponses qui décrivent une DRIMbox.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True,
                                           help_text="Sans date : le jeton expire après la durée maximale.")


def _via_token(request):
    return request.auth if isinstance(request.auth, ApiToken) else None


@extend_schema_view(get=extend_schema(summary="Mes jetons d'API (portées, dernière utilisation, expiration)"))
class TokenListView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.TOKENS
    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer},
                   summary="Créer un jeton d'API limité (le secret n'est donné qu'une fois) ; avec un jeton : "
                           "portée « tokens », et jamais plus large que lui")
    def post(self, request):
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, raw = create_api_token(acting_user=request.user, name=data["name"], scopes=data["scopes"],
                                      operator_id=data.get("operator"), drimbox_ids=data.get("drimboxes") or (),
                                      expires_at=data.get("expires_at"), via_token=_via_token(request))
        token.secret = raw
        response = Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenDetailView(generics.GenericAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.TOKENS
    serializer_class = ApiTokenSerializer

    def _own(self, pk):
        return get_object_or_404(ApiToken.objects.filter(user=self.request.user), pk=pk)

    @extend_schema(responses=ApiTokenSerializer, summary="Un de mes jetons d'API")
    def get(self, request, pk):
        return Response(ApiTokenSerializer(self._own(pk)).data)

    @extend_schema(request=None, responses={204: None},
                   summary="Révoquer un de mes jetons (avec un jeton : lui-même, ou un jeton plus limité que lui)")
    def delete(self, request, pk):
        revoke_api_token(self._own(pk), acting_user=request.user, via_token=_via_token(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

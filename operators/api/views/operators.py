"""Operators' automation API. Every view scopes objects to the caller's operators."""
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from operators import permissions, queries, services
from operators.api.serializers import operators as s
from operators.api.serializers.lifecycle import RequestSummarySerializer
from operators.api.views.base import AnsAPIMixin, PortalAPIView, get_operator, validated, visible_operators
from operators.models import ContractVersion, DrimboxRequest, Invitation, InvitationStatus, Membership
from trustspace.access import AUTHENTICATED
from trustspace.errors import InvalidData
from trustspace.models import ApiScope, AuditEntry


class MeView(PortalAPIView):
    @extend_schema(responses=s.MeSerializer, summary="L'utilisateur authentifié et ses rôles")
    def get(self, request):
        user = request.user
        data = s.MeSerializer({
            "id": user.pk, "display_name": user.display_name, "email": user.email, "is_ans_admin": user.is_ans_admin,
            "memberships": Membership.objects.filter(user=user, ended_at__isnull=True,
                                                     operator__in=permissions.operators_of(user))
                                             .select_related("operator"),
        }).data
        return Response(data)


@extend_schema_view(get=extend_schema(
    summary="Les opérateurs : tous pour l'ANS, les siens pour un membre ; recherche (nom, SIREN, SIRET, "
            "idNat_Struct) et filtres de la liste ANS (contrat, administrateurs techniques)",
    parameters=[s.OperatorFilterSerializer]))
class OperatorListView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.OPERATOR
    token_refuses_operator_limit = ("POST",)  # applying for a new operator
    serializer_class = s.OperatorListItemSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        filters = validated(s.OperatorFilterSerializer, self.request.query_params)
        return queries.search_operators(visible_operators(self.request.user), **filters)

    @extend_schema(request={"multipart/form-data": s.ApplicationCreateSerializer},
                   responses={202: s.ApplicationCreatedSerializer}, deprecated=True,
                   summary="Déposer la demande d'adhésion d'un opérateur (remplacé par POST /api/v1/applications/, "
                           "qui répond 201)")
    def post(self, request):
        # 202: accepted for review, nothing is active until ANS approves.
        return _file_application(request, status.HTTP_202_ACCEPTED)


def _file_application(request, status_code):
    """File the caller's application as the page « Enregistrer mon opérateur » does (``apply_for_operator``: the
    same checks, the same adhesion or, for a SIREN that already has an operator, « rattachement »)."""
    serializer = s.ApplicationCreateSerializer(data=request.data)
    if not serializer.is_valid():
        raise InvalidData("La demande d'adhésion est incomplète ou mal formée.", field_errors={
            field: [str(message) for message in messages] for field, messages in serializer.errors.items()})
    data = dict(serializer.validated_data)
    contract_document = data.pop("contract_document")
    power_document = data.pop("power_document", None)
    contract_accepted = data.pop("contract_accepted")
    req = services.apply_for_operator(
        acting_user=request.user, data=data, contract_document=contract_document, power_document=power_document,
        contract_accepted=contract_accepted)
    fresh = DrimboxRequest.objects.select_related("operator", "drimbox", "assigned_to").prefetch_related(
        "events__actor", "attachments__uploaded_by").get(pk=req.pk)
    response = Response(s.ApplicationCreatedSerializer(fresh, context={"request": request}).data, status=status_code)
    response["Location"] = reverse("api_request", args=[req.pk])
    return response


class ApplicationListView(generics.ListAPIView):
    """The caller's own applications (an applicant has no operator yet, so no operator-scoped list shows them), and
    filing one: registering an operator."""

    access_rule = AUTHENTICATED
    token_scope = ApiScope.OPERATOR
    token_refuses_operator_limit = True  # applications are about operators the token is not limited to
    serializer_class = RequestSummarySerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.ApplicationCreateSerializer},
        responses={201: s.ApplicationCreatedSerializer},
        summary="Enregistrer un opérateur : déposer sa demande d'adhésion, comme la page « Enregistrer mon "
                "opérateur » (SIREN/SIRET, représentant légal, numéro de sa carte ou justificatif PDF, contrat signé "
                "en PDF et son acceptation). L'ANS l'instruit ; l'opérateur n'existe qu'à son approbation. Un SIREN "
                "déjà enregistré donne une demande de rattachement (`kind` « rattachement », `notice`) ; 409 "
                "`application_pending` ou `already_member`",
        description="Corps multipart (les deux PDF au plus 5 Mo chacun, contrôlés comme sur la page). Chaque champ "
                    "refusé est nommé dans `fields` (400), tous à la fois. Un administrateur ANS ne dépose pas de "
                    "demande (403) ; un jeton limité à un opérateur non plus (403 `token_operator`).")
    def post(self, request):
        return _file_application(request, status.HTTP_201_CREATED)

    @extend_schema(summary="Mes demandes d'adhésion et de rattachement")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return queries.applications_of(self.request.user).select_related("operator", "drimbox",
                                                                                      "assigned_to")


class OperatorDetailView(PortalAPIView):
    token_scope = ApiScope.OPERATOR

    @extend_schema(responses=s.OperatorSerializer, summary="Un opérateur")
    def get(self, request, pk):
        return Response(s.OperatorSerializer(get_operator(request, pk)).data)

    @extend_schema(request=s.OperatorUpdateSerializer, responses=s.OperatorSerializer,
                   summary="Mettre à jour les données de l'opérateur (représentant légal ou mandataire)")
    def patch(self, request, pk):
        operator = get_operator(request, pk)
        serializer = s.OperatorUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        operator = services.update_operator(operator, acting_user=request.user, data=serializer.validated_data)
        return Response(s.OperatorSerializer(operator).data)


class SupportContactView(PortalAPIView):
    token_scope = ApiScope.OPERATOR

    @extend_schema(request=s.SupportContactSerializer, responses=s.OperatorSerializer,
                   summary="Modifier le contact support (administrateur technique)")
    def put(self, request, pk):
        operator = get_operator(request, pk)
        serializer = s.SupportContactSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operator = services.update_support_contact(operator, acting_user=request.user, **serializer.validated_data)
        return Response(s.OperatorSerializer(operator).data)


class PeopleView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.PEOPLE
    serializer_class = s.PersonSerializer

    @extend_schema(summary="Les personnes de l'opérateur et leurs rôles")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        return operator.memberships.filter(ended_at__isnull=True).select_related("user").order_by(
            "role", "created_at", "pk")


class PersonDetailView(PortalAPIView):
    token_scope = ApiScope.PEOPLE

    @extend_schema(request=None, responses={204: None}, summary="Retirer un rôle (effet immédiat)")
    def delete(self, request, pk, membership_pk):
        operator = get_operator(request, pk)
        membership = get_object_or_404(Membership, pk=membership_pk, operator=operator)
        services.remove_membership(membership, acting_user=request.user, reason=request.query_params.get("reason", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationsView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.PEOPLE
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = s.InvitationSerializer

    @extend_schema(summary="Invitations en attente (les plus récentes d'abord)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        return operator.invitations.filter(status=InvitationStatus.PENDING).order_by("-created_at", "-pk")

    @extend_schema(request={"application/json": s.InvitationCreateSerializer,
                            "multipart/form-data": s.InvitationCreateSerializer},
                   responses={201: s.InvitationSerializer}, summary="Inviter une personne par courriel")
    def post(self, request, pk):
        operator = get_operator(request, pk)
        serializer = s.InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, _token = services.invite_person(operator, acting_user=request.user, **serializer.validated_data)
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationRevokeView(PortalAPIView):
    token_scope = ApiScope.PEOPLE

    @extend_schema(request=None, responses={204: None}, summary="Annuler une invitation en attente")
    def delete(self, request, pk, invitation_pk):
        operator = get_operator(request, pk)
        invitation = get_object_or_404(Invitation, pk=invitation_pk, operator=operator)
        services.revoke_invitation(invitation, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptView(PortalAPIView):
    token_scope = ApiScope.PEOPLE
    token_refuses_operator_limit = True  # joining another operator

    @extend_schema(request=s.InvitationAcceptSerializer, responses={201: s.PersonSerializer},
                   summary="Accepter une invitation (le jeton du lien reçu par courriel)")
    def post(self, request):
        serializer = s.InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.accept_invitation(serializer.validated_data["token"], acting_user=request.user,
                                                card_reference=serializer.validated_data["card_reference"])
        return Response(s.PersonSerializer(membership).data, status=status.HTTP_201_CREATED)


class ContractView(PortalAPIView):
    token_scope = ApiScope.OPERATOR

    @extend_schema(responses=s.ContractStatusSerializer, summary="Le contrat en vigueur et son acceptation")
    def get(self, request, pk):
        operator = get_operator(request, pk)
        current, acceptance = services.contract_status(operator)
        return Response(s.ContractStatusSerializer({
            "current": current, "accepted": acceptance is not None,
            "accepted_at": acceptance.accepted_at if acceptance else None,
        }).data)


class ContractAcceptView(PortalAPIView):
    token_scope = ApiScope.OPERATOR

    @extend_schema(request=s.ContractAcceptSerializer, responses={201: s.ContractStatusSerializer},
                   summary="Accepter la version en vigueur du contrat (représentant légal ou mandataire)")
    def post(self, request, pk):
        operator = get_operator(request, pk)
        serializer = s.ContractAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = ContractVersion.objects.filter(version=serializer.validated_data["version"]).first()
        if version is None:
            raise InvalidData("Version du contrat inconnue.", field_errors={"version": ["Version inconnue."]})
        acceptance = services.accept_contract(operator, acting_user=request.user, contract_version=version)
        return Response(s.ContractStatusSerializer({
            "current": version, "accepted": True, "accepted_at": acceptance.accepted_at,
        }).data, status=status.HTTP_201_CREATED)


class HistoryView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    serializer_class = s.AuditEntrySerializer

    def get_queryset(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        permissions.require(self.request.user, "operator.history", operator)
        return AuditEntry.objects.filter(operator_id=operator.pk).order_by("-seq")


# --- Contract versions (ANS) --------------------------------------------------------------------------------


class ContractVersionsView(AnsAPIMixin, generics.ListAPIView):
    serializer_class = s.ContractVersionDetailSerializer

    def get_queryset(self):
        return (ContractVersion.objects.annotate(acceptance_count=Count("acceptances")).select_related("published_by")
                .order_by("-published_at", "-id"))

    def get_serializer_context(self):
        current = ContractVersion.current()
        return {**super().get_serializer_context(), "current_pk": current.pk if current else None}

    @extend_schema(summary="Les versions du contrat d'adhésion, la plus récente d'abord, avec leurs acceptations (ANS)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.ContractVersionCreateSerializer, responses={201: s.ContractVersionDetailSerializer},
                   summary="Publier une nouvelle version du contrat (ANS) : en vigueur aussitôt, chaque opérateur doit "
                           "l'accepter avant toute autre démarche ; 400 si la version existe déjà")
    def post(self, request):
        data = validated(s.ContractVersionCreateSerializer, request.data)
        version = services.publish_contract_version(acting_user=request.user, **data)
        fresh = self.get_queryset().get(pk=version.pk)
        return Response(s.ContractVersionDetailSerializer(fresh, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

"""Financing orders in the API: the operator's orders, one order, its clients, PACS and documents; ANS closes.

Orders are visible to ANS administrators and to the members of their operator (404 for anyone else).
Every write goes through ``operators.services``.
"""
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from operators import services
from operators.api.serializers import financing as s
from operators.api.views.base import AnsAPIView, PortalAPIView, get_operator, validated
from operators.models import FinancingOrder, FinancingOrderClient
from operators.queries import orders_with_details, visible_order
from trustspace.access import AUTHENTICATED
from trustspace.models import ApiScope


def _visible_order(request, pk):
    order = visible_order(request.user, pk)
    if order is None:
        raise Http404
    return order


def _order_response(order, status_code=status.HTTP_200_OK):
    return Response(s.FinancingOrderSerializer(orders_with_details().get(pk=order.pk)).data, status=status_code)


def _client_fields(data):
    return {name: data[name] for name in services.financing_orders.CLIENT_FIELDS if name in data}


@extend_schema_view(get=extend_schema(summary="Les bons de commande de l'opérateur"))
class FinancingOrdersView(generics.ListAPIView):
    token_scope = ApiScope.REQUESTS
    access_rule = AUTHENTICATED
    serializer_class = s.FinancingOrderSerializer

    def get_queryset(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        return orders_with_details().filter(operator=operator).order_by("reference", "pk")

    @extend_schema(request=s.FinancingOrderCreateSerializer, responses={201: s.FinancingOrderSerializer},
                   summary="Enregistrer un bon de commande avec son premier client (représentant légal ou "
                           "mandataire) ; 409 `order_conflict` si un autre bon vient de prendre un de ses numéros")
    def post(self, request, pk):
        operator = get_operator(request, pk)
        data = validated(s.FinancingOrderCreateSerializer, request.data)
        order = services.create_financing_order(
            acting_user=request.user, operator=operator, reference=data["reference"],
            pacs_identifiers=data["pacs_identifiers"], client=_client_fields(data))
        return _order_response(order, status.HTTP_201_CREATED)


class FinancingOrderDetailView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(responses=s.FinancingOrderSerializer, summary="Un bon de commande, ses clients et ce qui lui manque")
    def get(self, request, pk):
        return _order_response(_visible_order(request, pk))


class FinancingOrderClientsView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=s.OrderClientInputSerializer, responses={201: s.FinancingOrderSerializer},
                   summary="Ajouter un client au bon (bon partagé : chaque client le signe)")
    def post(self, request, pk):
        order = _visible_order(request, pk)
        data = validated(s.OrderClientInputSerializer, request.data)
        services.add_order_client(order, acting_user=request.user, client=_client_fields(data))
        return _order_response(order, status.HTTP_201_CREATED)


class FinancingOrderClientView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=s.OrderClientInputSerializer, responses=s.FinancingOrderSerializer,
                   summary="Compléter ou corriger un client du bon (ses listes de FINESS et d'AM sont remplacées)")
    def put(self, request, pk, client_pk):
        order = _visible_order(request, pk)
        client = get_object_or_404(FinancingOrderClient, pk=client_pk, order=order)
        data = validated(s.OrderClientInputSerializer, request.data)
        services.update_order_client(client, acting_user=request.user, client=_client_fields(data))
        return _order_response(order)


class FinancingOrderPacsView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=s.OrderPacsInputSerializer, responses={201: s.FinancingOrderSerializer},
                   summary="Ajouter des PACS au bon")
    def post(self, request, pk):
        order = _visible_order(request, pk)
        data = validated(s.OrderPacsInputSerializer, request.data)
        services.add_order_pacs(order, acting_user=request.user, pacs_identifiers=data["pacs_identifiers"])
        return _order_response(order, status.HTTP_201_CREATED)


class FinancingOrderDocumentsView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request={"multipart/form-data": s.OrderDocumentInputSerializer},
                   responses={201: s.FinancingOrderSerializer},
                   summary="Joindre le bon signé, la page de signature d'un client ou la preuve d'une reprise (PDF)")
    def post(self, request, pk):
        order = _visible_order(request, pk)
        data = validated(s.OrderDocumentInputSerializer, request.data,
                         authorize=lambda: services.financing_orders.require_order_manager(order, request.user))
        client = None
        if data["client"] is not None:
            client = get_object_or_404(FinancingOrderClient, pk=data["client"], order=order)
        services.attach_order_document(order, acting_user=request.user, kind=data["kind"],
                                       uploaded_file=data["file"], client=client)
        return _order_response(order, status.HTTP_201_CREATED)


class FinancingOrderCloseView(AnsAPIView):
    @extend_schema(request=s.OrderCloseSerializer, responses=s.FinancingOrderSerializer,
                   summary="Clore un bon de commande, avec un motif (ANS) ; 409 `order_in_use` s'il finance une "
                           "DRIMbox non retirée")
    def post(self, request, pk):
        order = get_object_or_404(FinancingOrder, pk=pk)
        data = validated(s.OrderCloseSerializer, request.data)
        services.close_financing_order(order, acting_user=request.user, reason=data["reason"])
        return _order_response(order)

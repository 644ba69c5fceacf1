"""The certificate inventory through the API: every certificate with its expiry, across DRIMboxes, for a script
that watches renewals (the certificate dashboards' data, from ``certificates.queries``: one definition for both).

- ``/operators/{id}/certificates/``: the certificates an operator administers (its members, and ANS);
- ``/certificates/``: every certificate for ANS; for anyone else, those of every operator it belongs to (a token
  limited to one operator: that operator's), ``operator=`` choosing one.

Both are filtered (type, state, expiry, DRIMbox) and paginated, nearest expiry first. A token limited to some
DRIMboxes lists their certificates only, and ``drimbox=`` naming another of the caller's DRIMboxes answers 403
(``token_drimbox``) as the certificate views of one DRIMbox do.
"""
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from operators import permissions
from operators.api.views import get_operator, validated
from operators.queries import visible_drimboxes
from trustspace.access import AUTHENTICATED
from trustspace.models import ApiScope, ApiToken

from .. import queries
from ..models import Certificate
from . import serializers as s


class InventoryView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.CERTIFICATES
    serializer_class = s.InventoryItemSerializer
    filter_serializer = s.InventoryFilterSerializer

    @cached_property
    def now(self):
        """One instant for the whole answer: the filters, ``days_left``, ``state`` and ``expiring`` agree."""
        return timezone.now()

    def token_drimbox_id(self):
        """The DRIMbox ``drimbox=`` names, when the caller may see it (a token limited to other DRIMboxes then
        gets 403); None otherwise (the list is narrowed to the token's DRIMboxes in ``get_queryset``)."""
        given = self.filter_serializer(data=self.request.query_params.dict())
        named = given.validated_data.get("drimbox", "") if given.is_valid() else ""  # invalid: 400 from the list
        if not named.strip():
            return None
        return (visible_drimboxes(self.request.user).filter(queries.drimbox_filter(named, prefix=""))
                .values_list("pk", flat=True).first())

    def certificates(self):
        """The certificates this endpoint lists before any filter."""
        raise NotImplementedError

    def get_queryset(self):
        certificates = self.certificates()
        token = self.request.auth
        if isinstance(token, ApiToken) and token.drimbox_ids:
            certificates = certificates.filter(drimbox_id__in=token.drimbox_ids)
        return queries.inventory(certificates, now=self.now,
                                 **validated(self.filter_serializer, self.request.query_params.dict()))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": self.now}


@extend_schema_view(get=extend_schema(
    parameters=[s.InventoryFilterSerializer],
    summary="Les certificats administrés par l'opérateur, avec leur expiration (filtrables, la plus proche "
            "expiration d'abord)"))
class OperatorInventoryView(InventoryView):
    def certificates(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        permissions.require(self.request.user, "certificate.view", operator)
        return Certificate.objects.filter(operator=operator)


@extend_schema_view(get=extend_schema(
    parameters=[s.AllCertificatesFilterSerializer],
    summary="Tous les certificats, avec leur expiration : ANS, toutes les DRIMbox ; sinon ceux de vos opérateurs "
            "(filtrables, la plus proche expiration d'abord)"))
class AllCertificatesView(InventoryView):
    filter_serializer = s.AllCertificatesFilterSerializer

    def certificates(self):
        return queries.visible_certificates(self.request.user)

"""What every operators API view shares: the caller's operators, the base view and its input check.

``PortalAPIView``, ``get_operator``, ``get_drimbox``, ``DrimboxPathMixin`` and ``validated`` are used by the other apps'
APIs too (certificates).
"""
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from operators import permissions
from operators.models import Operator
from operators.queries import visible_drimboxes
from operators.services.common import ANS_ONLY
from trustspace.access import ANS_ADMIN, AUTHENTICATED
from trustspace.api.pagination import whole_number_schema
from trustspace.api.schema import AutoSchema
from trustspace.errors import NotAllowed
from trustspace.models import ApiScope

DRIMBOX_IDENTIFIANT_HELP = ("Identifiant de la DRIMbox : le numéro N de ses noms `db<N>`/`vi<N>`, celui de la liste "
                            "blanche et des demandes (jamais un identifiant interne).")


def visible_operators(user):
    if user.is_ans_admin:
        return Operator.objects.all()
    return permissions.operators_of(user)


def get_operator(request, pk):
    """404 for an operator the caller does not belong to: no existence leak."""
    return get_object_or_404(visible_operators(request.user), pk=pk)


def get_drimbox(request, identifiant, queryset=None):
    """The DRIMbox of this ``identifiant`` the caller may see (members of its current operator, ANS); 404 otherwise,
    so that existence does not leak. ``queryset``: the DRIMboxes to look in, with what the view reads."""
    drimboxes = visible_drimboxes(request.user) if queryset is None else queryset
    return get_object_or_404(drimboxes, identifiant=identifiant)


class DrimboxSchema(AutoSchema):
    """The ``identifiant`` path parameter described as what it is: the DRIMbox's public number."""

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] == "identifiant":
                parameter["schema"] = whole_number_schema(minimum=1)
                parameter["description"] = DRIMBOX_IDENTIFIANT_HELP
        return parameters


class DrimboxPathMixin:
    """A view of one DRIMbox, addressed by its ``identifiant`` (``drimboxes/<int:identifiant>/…``), as the whitelist,
    the requests and the weather name it."""

    schema = DrimboxSchema()


class PortalAPIView(APIView):
    access_rule = AUTHENTICATED
    # The scope a personal API token needs for this view's writes (reading: ``read`` or this one); None: the
    # view only reads. See trustspace.api.permissions.
    token_scope = None


class AnsAPIMixin:
    # ANS administrators only: 401 without credentials, 403 (structured, code "forbidden") otherwise.
    access_rule = ANS_ADMIN
    token_scope = ApiScope.ANS

    def check_permissions(self, request):
        super().check_permissions(request)
        if not getattr(request.user, "is_ans_admin", False):
            raise NotAllowed(ANS_ONLY)


class AnsAPIView(AnsAPIMixin, PortalAPIView):
    """An API view for ANS administrators only."""


def validated(serializer_class, data, *, authorize=None):
    """The validated shape of ``data``; a 400 naming the fields otherwise.

    ``authorize`` (for uploads) runs before a malformed body is reported, so that a caller without the
    role learns that first rather than what is wrong with the file; a well-formed body goes to the
    service, which decides (and words its refusal) as for every other caller.
    """
    serializer = serializer_class(data={} if data is None else data)  # a JSON ``null`` body: nothing given
    if not serializer.is_valid():
        if authorize is not None:
            authorize()
        raise ValidationError(serializer.errors)
    return serializer.validated_data

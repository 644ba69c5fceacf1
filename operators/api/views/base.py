"""What every operators API view shares: the caller's operators, the base view and its input check.

``PortalAPIView``, ``get_operator`` and ``validated`` are used by the other apps' APIs too (certificates).
"""
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from operators import permissions
from operators.models import Operator
from operators.services.common import ANS_ONLY
from trustspace.access import ANS_ADMIN, AUTHENTICATED
from trustspace.errors import NotAllowed
from trustspace.models import ApiScope


def visible_operators(user):
    if user.is_ans_admin:
        return Operator.objects.all()
    return permissions.operators_of(user)


def get_operator(request, pk):
    """404 for an operator the caller does not belong to: no existence leak."""
    return get_object_or_404(visible_operators(request.user), pk=pk)


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

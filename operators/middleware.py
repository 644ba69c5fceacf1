"""The operator a request acts for, made available to the layers below ``operators``.

``trustspace.access`` checks the OPERATOR_MEMBER rule against ``request.active_operator`` without importing
this app: this middleware (after the authentication middleware) sets it, lazily, so requests that never ask
pay no query.
"""
from django.utils.functional import SimpleLazyObject

from .context import active_operator


class ActiveOperatorMiddleware:
    """Sets ``request.active_operator``: the operator the user acts for, or a lazy None (falsy) when none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.active_operator = SimpleLazyObject(lambda: active_operator(request))
        return self.get_response(request)

"""The operator a user is currently acting for (one iSC user may belong to several)."""
from .permissions import operators_of

SESSION_KEY = "active_operator_id"


def active_operator(request):
    if hasattr(request, "_active_operator"):
        return request._active_operator
    operator = None
    user = request.user
    if user.is_authenticated:
        candidates = operators_of(user)
        wanted = request.session.get(SESSION_KEY)
        if wanted is not None:
            operator = candidates.filter(pk=wanted).first()
        if operator is None:
            operator = candidates.order_by("name", "pk").first()
            if operator is not None:
                request.session[SESSION_KEY] = operator.pk
    request._active_operator = operator
    return operator

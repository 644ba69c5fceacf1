"""The operator a user is currently acting for (one iSC user may belong to several)."""
from .permissions import operators_of

SESSION_KEY = "active_operator_id"


def user_operators(request):
    """The operators the user belongs to, loaded once per request (the switcher reuses them)."""
    if not hasattr(request, "_user_operators"):
        user = request.user
        request._user_operators = list(operators_of(user).order_by("name", "pk")) if user.is_authenticated else []
    return request._user_operators


def active_operator(request):
    if hasattr(request, "_active_operator"):
        return request._active_operator
    operators = user_operators(request)
    wanted = request.session.get(SESSION_KEY) if operators else None
    operator = next((op for op in operators if op.pk == wanted), operators[0] if operators else None)
    if operator is not None and operator.pk != wanted:
        request.session[SESSION_KEY] = operator.pk
    request._active_operator = operator
    return operator

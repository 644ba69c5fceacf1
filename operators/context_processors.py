"""Template context of the operator switcher (base.html): the active operator and the user's operators."""
from .context import active_operator, user_operators


def operator_switcher(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"active_operator": active_operator(request), "user_operators": user_operators(request)}

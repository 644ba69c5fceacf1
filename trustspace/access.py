"""Access rules of views, declared on every view and enforced before it runs.

Each view of the portal carries one rule (``view.access_rule``); the authorization
matrix test walks every URL pattern and fails on a view without one. Object-level
checks (an operator's user sees only its own operator's objects) happen in the
view's queryset and in the services (``operators.permissions``).

The OPERATOR_MEMBER rule reads ``request.active_operator``, set by ``operators.middleware`` (this bottom layer
never imports the apps above it).
"""
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

PUBLIC = "public"
AUTHENTICATED = "authenticated"
OPERATOR_MEMBER = "operator_member"
ANS_ADMIN = "ans_admin"

RULES = {PUBLIC, AUTHENTICATED, OPERATOR_MEMBER, ANS_ADMIN}


def access(rule):
    """Decorate a function view with its access rule."""
    if rule not in RULES:
        raise ValueError(f"unknown access rule {rule!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            denial = check(request, rule)
            if denial is not None:
                return denial
            return view(request, *args, **kwargs)

        wrapped.access_rule = rule
        return wrapped

    return decorator


def check(request, rule):
    """None when allowed, else the response that denies."""
    user = request.user
    if rule == PUBLIC:
        return None
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if rule == AUTHENTICATED:
        return None
    if rule == ANS_ADMIN:
        if not user.is_ans_admin:
            raise PermissionDenied("Réservé aux administrateurs ANS.")
        return None
    if rule == OPERATOR_MEMBER:
        # A lazy object (operators.middleware): falsy when the user acts for no operator.
        if not request.active_operator:
            # Logged in but no operator yet: the home page offers to register one or accept an invitation.
            return redirect("home")
        return None
    raise ValueError(rule)

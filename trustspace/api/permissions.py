"""What a personal API token may do: checked here, once, for every authenticated API view.

Each API view declares ``token_scope``, the scope its writes need (``ApiScope``). Reading (GET, HEAD,
OPTIONS) is allowed with the ``read`` scope or with the view's own scope (an automation that may renew a
certificate may also download it); writing needs the view's scope. A view whose writes declare no scope
is closed to scoped tokens. Then:

- a token limited to one operator makes its owner a member of that operator only (``operators.permissions``
  narrows ``operators_of`` and ``roles_of``, so the views' usual 404/403 apply); an ANS administrator's
  token cannot be limited that way, and calls about no operator of the caller yet (joining or applying for
  one: ``token_refuses_operator_limit``, True or the methods concerned) refuse such tokens;
- a token limited to some DRIMboxes reaches the certificate views (those that define
  ``token_drimbox_id()``) only for those DRIMboxes; views about several DRIMboxes (the operator's certificate
  export) keep to them with ``token_drimbox_ids(request)``.

Sessions and iSC bearer tokens keep the full rights of the user: only ``ApiToken`` credentials are checked.
"""
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from ..models import ApiScope, ApiToken


class TokenScopeDenied(exceptions.PermissionDenied):
    default_code = "token_scope"


class TokenOperatorDenied(exceptions.PermissionDenied):
    default_code = "token_operator"


class TokenDrimboxDenied(exceptions.PermissionDenied):
    default_code = "token_drimbox"


def scope_label(scope):
    return f"« {ApiScope(scope).label.split(' (')[0]} » ({scope})"


def granting_scopes(view, method):
    """The scopes, any of which lets a token make this call (empty: no scoped token may)."""
    declared = getattr(view, "token_scope", None)
    if method in SAFE_METHODS:
        return [ApiScope.READ] + ([declared] if declared and declared != ApiScope.READ else [])
    return [declared] if declared else []


def token_drimbox_ids(request):
    """The DRIMboxes (internal ids) a token limits its certificate calls to; None when nothing limits them
    (sessions, iSC bearer tokens, tokens without DRIMboxes)."""
    token = request.auth
    if isinstance(token, ApiToken) and token.drimbox_ids:
        return [int(pk) for pk in token.drimbox_ids]
    return None


class TokenScopePermission(BasePermission):
    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        if not token.has_all_rights:
            granting = granting_scopes(view, request.method)
            if not any(token.has_scope(scope) for scope in granting):
                if not granting:
                    raise TokenScopeDenied("Cet appel n'est ouvert à aucun jeton limité par des portées : "
                                           "utilisez le portail.")
                raise TokenScopeDenied(f"Ce jeton n'a pas la portée {scope_label(granting[-1])} nécessaire "
                                       "à cet appel.")
        if token.operator_id is not None:
            if request.user.is_ans_admin:
                raise TokenOperatorDenied("Un jeton limité à un opérateur ne peut pas servir à un administrateur "
                                          "ANS : créez un jeton sans opérateur.")
            refused = getattr(view, "token_refuses_operator_limit", ())  # True, or the methods concerned
            if refused is True or request.method in refused:
                raise TokenOperatorDenied("Ce jeton est limité à un opérateur : il ne peut pas servir à cet appel.")
        if token.drimbox_ids and hasattr(view, "token_drimbox_id"):
            drimbox_id = view.token_drimbox_id()
            # None: nothing the caller may see; the view answers 404 as for anyone.
            if drimbox_id is not None and drimbox_id not in token.drimbox_ids:
                raise TokenDrimboxDenied("Ce jeton est limité à d'autres DRIMbox que celle-ci.")
        return True

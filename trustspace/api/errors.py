"""Every API error is a structured JSON answer: {"error": {"code", "message", "fields"}}, in French.

DRF's and mozilla-django-oidc's default (English or generic) messages are replaced by French ones; a
refused iSC bearer token answers 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` (RFC 6750).
"""
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import translation
from rest_framework import exceptions, status
from rest_framework.authentication import get_authorization_header
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import DomainError

BEARER_INVALID_CHALLENGE = 'Bearer realm="api", error="invalid_token"'


class BearerTokenInvalid(exceptions.AuthenticationFailed):
    """An iSC access token that is not acceptable (message in French, from trustspace.oidc_tokens)."""


class IdentityProviderUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "identity_provider_unavailable"
    default_detail = ("Le fournisseur d'identité iSC ne répond pas : le jeton n'a pas pu être vérifié. "
                      "Réessayez dans quelques minutes.")


# French messages for DRF's defaults, whatever the active language.
FRENCH_DEFAULTS = {
    exceptions.NotAuthenticated: "Authentification requise : envoyez un jeton d'API (« Authorization: Token … ») "
                                 "ou un jeton d'accès iSC (« Authorization: Bearer … »).",
    exceptions.AuthenticationFailed: "Identifiants d'authentification invalides.",
    exceptions.PermissionDenied: "Vous n'avez pas le droit d'effectuer cette action.",
    exceptions.NotFound: "Ressource introuvable.",
    exceptions.ParseError: "Requête mal formée : le corps n'a pas pu être lu.",
    exceptions.NotAcceptable: "Le format de réponse demandé n'est pas disponible : l'API répond en JSON.",
}
# English messages other libraries raise (mozilla-django-oidc's DRF class, providers' error descriptions).
ENGLISH_MESSAGES = {
    "invalid token provided": "Jeton invalide.",
    "login failed": "Échec de l'authentification.",
    "login failed: no user found for the given access token.": "Aucun compte ne correspond à ce jeton.",
    'invalid "bearer" header: no credentials provided.': "En-tête Authorization invalide : jeton absent.",
    'invalid "bearer" header: credentials string should not contain spaces.':
        "En-tête Authorization invalide : le jeton ne doit pas contenir d'espace.",
    "no error description in www-authenticate": "Jeton refusé par le fournisseur d'identité.",
}


def _is_default_detail(exc, message):
    default = exc.default_detail
    with translation.override("en"):
        english = str(default)
    return message in {english, str(default)}


def french_message(exc, message, request=None):
    """The French text for ``exc`` whose DRF message is ``message``."""
    known = ENGLISH_MESSAGES.get(message.strip().lower())
    if known:
        return known
    if isinstance(exc, exceptions.MethodNotAllowed):
        method = getattr(request, "method", "") if request is not None else ""
        return f"Méthode « {method} » non autorisée sur cette adresse." if method else "Méthode non autorisée."
    if isinstance(exc, exceptions.ParseError):
        # DRF's parsers put the decoder's English error after their own (« JSON parse error - Expecting … »).
        lowered = message.lower()
        if lowered.startswith("json parse error"):
            return "Requête mal formée : le corps n'est pas un JSON valide."
        if lowered.startswith("multipart form parse error"):
            return "Requête mal formée : le formulaire multipart n'a pas pu être lu (séparateur absent ou invalide)."
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return "Type de contenu non pris en charge : envoyez du JSON (ou un formulaire multipart pour un fichier)."
    for exception_class in type(exc).__mro__:
        if exception_class in FRENCH_DEFAULTS and _is_default_detail(exc, message):
            return FRENCH_DEFAULTS[exception_class]
    return message


def _sent_bearer(request):
    try:
        parts = get_authorization_header(request).split()
    except Exception:  # noqa: BLE001 - a header we cannot read is not a bearer token
        return False
    return bool(parts) and parts[0].lower() == b"bearer"


def _flatten(detail):
    if isinstance(detail, dict):
        return {key: [str(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in detail.items()}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(
            {"error": {"code": exc.code, "message": exc.message, "fields": exc.field_errors}}, status=exc.status_code
        )
    if isinstance(exc, exceptions.Throttled):
        from ..throttling import throttled_api_response  # French message and Retry-After

        return throttled_api_response(exc.wait)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Ressource introuvable.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": [str(d) for d in detail]}
        message = "Données invalides."
        code = "invalid"
    else:
        fields = {}
        message = str(detail.get("detail", detail)) if isinstance(detail, dict) else str(detail)
        code = getattr(exc, "default_code", "error")
        message = french_message(exc, message, context.get("request") if context else None)
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    request = context.get("request") if context else None
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        if isinstance(exc, BearerTokenInvalid) or (request is not None and _sent_bearer(request)):
            response["WWW-Authenticate"] = BEARER_INVALID_CHALLENGE
        elif "WWW-Authenticate" not in response:
            response["WWW-Authenticate"] = "Token"
    if isinstance(exc, IdentityProviderUnavailable):
        response["Retry-After"] = "60"
    return response


class ApiNotFoundMiddleware:
    """Under ``/api/``, a 404 is an ``ApiError`` even when Django answers it (no URL matches) with ``DEBUG=1``,
    whose technical page is HTML; ``handler404`` already answers JSON when ``DEBUG=0``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code == status.HTTP_404_NOT_FOUND and request.path.startswith("/api/")
                and not response.get("Content-Type", "").startswith("application/json")):
            from ..views.errors import not_found

            return not_found(request)
        return response

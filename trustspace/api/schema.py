"""The OpenAPI schema: the two authentication schemes, the ``ApiError`` body, and every operation's errors.

Every refusal of the API is an ``ApiError`` (``trustspace.api.errors``). Rather than listing them by hand on each
operation, :class:`AutoSchema` derives them from the view, the way DRF reaches them:

- 400: the operation reads a body or query parameters (malformed JSON, a field or ``limit``/``offset`` refused,
  a business rule such as a SIREN key or an address list, which JSON Schema cannot say);
- 401: the view authenticates (no credentials, wrong, revoked or expired token);
- 403: the view authenticates and checks permissions (role, ANS only, token scope/operator/DRIMbox);
- 404: the path names an object (one the caller may not see answers 404 too: existence never leaks);
- 409: the operation writes (the service refuses a transition the object's state forbids, a race lost);
- 415: the operation reads a body, sent in a content type it does not read;
- 422: an authenticated POST (the optional ``Idempotency-Key`` header, ``trustspace.api.idempotency``): the key
  was already used for another request;
- 429: the view is throttled (per token, per IP), with ``Retry-After``;
- 503: the view accepts iSC bearer tokens, and the identity provider did not answer (``Retry-After``).

A response an operation documents itself (``extend_schema(responses=…)``) is kept as it is.
Only the operations under ``/api/`` get them: ``/acme-dns/`` answers as acme-dns does.
"""
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, AllowAny


class ApiErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Code stable de l'erreur (`invalid`, `not_found`, `token_scope`…).")
    message = serializers.CharField(help_text="Message en français, à montrer tel quel.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Pour une donnée refusée : les messages de chaque champ (ou paramètre).")


class ApiErrorSerializer(serializers.Serializer):
    error = ApiErrorBodySerializer()


ERROR_DESCRIPTIONS = {
    400: "Requête invalide : corps illisible, champ ou paramètre refusé, ou règle métier non respectée "
         "(`fields` nomme les champs).",
    401: "Authentification requise, ou jeton invalide, révoqué ou expiré (`token_expired`).",
    403: "Action non autorisée : rôle, réservé à l'ANS, ou jeton limité (`token_scope`, `token_operator`, "
         "`token_drimbox`).",
    404: "Ressource introuvable, ou que vous ne pouvez pas voir.",
    409: "Conflit : l'état de l'objet ne permet pas cette action, ou une autre requête l'a modifié entre-temps.",
    415: "Type de contenu non pris en charge : envoyez l'un de ceux que l'opération décrit.",
    422: "Clé d'idempotence déjà utilisée pour une autre requête (`idempotency_key_reused`).",
    429: "Trop de requêtes : l'en-tête `Retry-After` donne l'attente en secondes.",
    503: "Jeton d'accès iSC non vérifié : le fournisseur d'identité ne répond pas (réessayez plus tard).",
}


def _retry_after_header():
    return {"Retry-After": {"schema": {"type": "integer"}, "description": "Attente en secondes."}}


class AutoSchema(openapi.AutoSchema):
    def error_statuses(self, operation):
        """The error statuses this operation can answer, derived from the view (see the module's docstring)."""
        view = self.view
        statuses = set()
        authenticates = bool(view.authentication_classes) and not all(
            issubclass(permission, AllowAny) for permission in view.permission_classes)
        if authenticates:
            statuses |= {401, 403}
            if self.method == "POST":
                statuses.add(422)
            if any(getattr(auth, "keyword", "") == "Bearer" for auth in view.authentication_classes):
                statuses.add(503)
        if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", ())):
            statuses.add(400)
        if operation.get("requestBody"):
            statuses.add(415)
        if self.method not in SAFE_METHODS:
            statuses |= {400, 409}
        if "{" in self.path:
            statuses.add(404)
        if view.throttle_classes or getattr(view, "throttle_scope", None):
            statuses.add(429)
        return statuses

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not path.startswith("/api/"):
            return operation
        responses = operation["responses"]
        for code in sorted(self.error_statuses(operation)):
            if str(code) in responses:
                continue
            response = self._get_response_for_code(
                OpenApiResponse(ApiErrorSerializer, description=ERROR_DESCRIPTIONS[code]), str(code))
            if code in (429, 503):
                response["headers"] = _retry_after_header()
            responses[str(code)] = response
        operation["responses"] = dict(sorted(responses.items()))
        return operation


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "trustspace.api.authentication.ApiTokenAuthentication"
    name = "jetonApi"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Jeton d'API personnel, créé dans le portail ou par `POST /api/v1/tokens/` : "
                               "`Token drimm_…`. Un jeton peut être limité à des portées (`read` : toute lecture ; "
                               "`requests`, `certificates`, `people`, `operator`, `weather`, `tokens`, `ans` : "
                               "les écritures correspondantes et leurs lectures), à un opérateur, à des DRIMbox "
                               "(appels de certificats) et expire. Portée manquante : 403 `token_scope` ; jeton "
                               "expiré : 401 `token_expired`."}


class OidcBearerScheme(OpenApiAuthenticationExtension):
    target_class = "trustspace.api.authentication.OidcBearerAuthentication"
    name = "iscBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Jeton d'accès iSC (OpenID Connect)."}


"""OpenAPI descriptions of the two API authentication schemes."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "trustspace.api.authentication.ApiTokenAuthentication"
    name = "jetonApi"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Jeton d'API personnel, créé dans le portail : `Token drimm_…`."}


class OidcBearerScheme(OpenApiAuthenticationExtension):
    target_class = "trustspace.api.authentication.OidcBearerAuthentication"
    name = "iscBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Jeton d'accès iSC (OpenID Connect)."}

from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from mozilla_django_oidc.views import OIDCAuthenticationRequestView
from rest_framework.permissions import AllowAny

from . import views
from .access import PUBLIC
from .admin import site as admin_site
from .oidc import IscCallbackView


def declare(view, rule):
    """Declare the access rule of a view that does not come from our code."""
    view.access_rule = rule
    return view


class SchemaView(SpectacularAPIView):
    access_rule = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = []


class DocsView(SpectacularSwaggerView):
    access_rule = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = []


class RedocView(SpectacularRedocView):
    access_rule = PUBLIC
    permission_classes = [AllowAny]
    authentication_classes = []


api_v1 = [
    path("", include("operators.api.urls")),
    path("", include("certificates.api.urls")),
    path("", include("weather.api.urls")),
    path("schema/", SchemaView.as_view(), name="api_schema"),
    path("docs/", DocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("redoc/", RedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("health", views.health, name="api_health"),
]

urlpatterns = [
    path("", include("operators.urls")),
    path("", include("certificates.urls")),
    path("", include("whitelist.urls")),
    path("", include("weather.urls")),
    path("connexion/", views.login, name="login"),
    path("deconnexion/", views.logout, name="logout"),
    path("oidc/authenticate/", declare(OIDCAuthenticationRequestView.as_view(), PUBLIC), name="oidc_authentication_init"),
    path("oidc/callback/", declare(IscCallbackView.as_view(), PUBLIC), name="oidc_authentication_callback"),
    path("compte/jetons/", views.api_tokens, name="api_tokens"),
    path("compte/jetons/<int:pk>/revoquer/", views.api_token_revoke, name="api_token_revoke"),
    path("api/v1/", include(api_v1)),
    path("acme-dns/", include("certificates.acme_dns_urls")),
    path("admin/", admin_site.urls),
]

handler403 = "trustspace.errors_views.forbidden"
handler404 = "trustspace.errors_views.not_found"
handler500 = "trustspace.errors_views.server_error"
handler400 = "trustspace.errors_views.bad_request"

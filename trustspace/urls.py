from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace, csp_update
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.permissions import AllowAny

from .access import PUBLIC
from .admin import site as admin_site
from .api import tokens as api_tokens
from .metrics import metrics as metrics_view
from .oidc import IscAuthenticationRequestView, IscCallbackView
from .throttling import client_ip, throttle
from .views import alerts, auth, health, outbox, pages


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
    path("", include("whitelist.api.urls")),
    path("schema/", SchemaView.as_view(), name="api_schema"),
    # Swagger UI sets style attributes and Redoc injects <style> elements at run time: inline styles (never
    # scripts, which keep the nonce) are allowed on these two pages only; Redoc also shows Redocly's logo.
    path("docs/", csp_update({"style-src-attr": [UNSAFE_INLINE]})(DocsView.as_view(url_name="api_schema")),
         name="api_docs"),
    path("redoc/", csp_replace({"style-src": [SELF, UNSAFE_INLINE], "worker-src": [SELF, "blob:"],
                                "img-src": [SELF, "data:", "https://cdn.redoc.ly"]})(
        RedocView.as_view(url_name="api_schema")), name="api_redoc"),
    path("health", health.health, name="api_health"),
    path("health/ready", health.health, name="api_health_ready"),
    path("health/live", health.health_live, name="api_health_live"),
    path("tokens/", api_tokens.TokenListView.as_view(), name="api_token_list"),
    path("tokens/<int:pk>/", api_tokens.TokenDetailView.as_view(), name="api_token_detail"),
]

urlpatterns = [
    # The machines' prefixes first: an API or acme-dns request is matched without trying each page's pattern of
    # the apps below (several hundred, included at the root).
    path("api/v1/", include(api_v1)),
    path("acme-dns/", include("certificates.acme_dns_urls")),
    path("", include("dashboards.urls")),
    path("", include("operators.urls")),
    path("", include("certificates.urls")),
    path("", include("whitelist.urls")),
    path("", include("weather.urls")),
    path("connexion/", auth.login, name="login"),
    path("deconnexion/", auth.logout, name="logout"),
    # Per client IP limits (THROTTLE_OIDC_RATE): 429 page past them.
    path("oidc/authenticate/", declare(throttle("oidc_authenticate", client_ip)(IscAuthenticationRequestView.as_view()),
                                       PUBLIC), name="oidc_authentication_init"),
    path("oidc/callback/", declare(throttle("oidc_callback", client_ip)(IscCallbackView.as_view()), PUBLIC),
         name="oidc_authentication_callback"),
    path("mentions-legales/", pages.legal_notice, name="legal_notice"),
    path("donnees-personnelles/", pages.personal_data, name="personal_data"),
    path("accessibilite/", pages.accessibility, name="accessibility"),
    path("plan-du-site/", pages.sitemap, name="sitemap"),
    path("ans/alertes/", alerts.ans_alerts, name="ans_alerts"),
    path("ans/envois/", outbox.ans_outbox, name="ans_outbox"),
    path("ans/envois/<int:pk>/relancer/", outbox.ans_outbox_retry, name="ans_outbox_retry"),
    path("admin/", admin_site.urls),
    path("metrics", metrics_view, name="metrics"),
]

handler403 = "trustspace.views.errors.forbidden"
handler404 = "trustspace.views.errors.not_found"
handler500 = "trustspace.views.errors.server_error"
handler400 = "trustspace.views.errors.bad_request"

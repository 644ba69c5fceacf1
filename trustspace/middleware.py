import functools
import re
import uuid
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.signals import request_finished

from .request_context import current_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID when well-formed), echoed back and audited."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Kept until the response is closed (request_finished below), not reset on the way out: Django logs a
        # 4xx/5xx answer (« Not Found: … ») after the middleware chain has returned, and that line needs the id too.
        current_request_id.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class MethodNotAllowedPageMiddleware:
    """Django answers a GET on a POST-only page (``require_POST``, a class view without ``get``) with an empty
    405: people get a French page leading back instead (JSON under /api/ when DRF did not already answer)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json") \
                and not getattr(response, "streaming", False) and not response.content:
            from .views.errors import method_not_allowed

            return method_not_allowed(request, response)
        return response


def _forget_request_id(**kwargs):
    current_request_id.set("")


request_finished.connect(_forget_request_id, dispatch_uid="trustspace.middleware.forget_request_id")


_ORIGIN_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")


@functools.lru_cache(maxsize=32)
def _origins(urls):
    origins = []
    for url in urls:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.netloc.rpartition("@")[2] if parts else ""
        if parts and parts.scheme in {"https", "http"} and _ORIGIN_HOST.match(host):
            origin = f"{parts.scheme}://{host}"
            if origin not in origins:
                origins.append(origin)
    return tuple(origins)


def identity_provider_origins():
    """Origins of the identity provider: its issuer and its authorization and end-session endpoints, from the
    settings or the discovery document this process holds (read at each request: tests change them)."""
    from .oidc_discovery import known_endpoint

    urls = (getattr(settings, "OIDC_ISSUER", "") or "", known_endpoint("authorization"), known_endpoint("end_session"))
    return _origins(urls)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; form-action also allows the identity provider.

    Browsers apply form-action to the redirects that follow a form submission: the logout form's answer sends
    the browser to the provider's end-session endpoint, which 'self' alone would block.
    """

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        origins = identity_provider_origins()
        if origins:
            update = dict(parts.update or {})
            update["form-action"] = [*update.get("form-action", []), *origins]
            parts.update = update
        return parts


class PermissionsPolicyMiddleware:
    """Permissions-Policy on every response: the browser features of settings.PERMISSIONS_POLICY, {feature: [allowed
    origins]} ("self" or an origin; empty: denied to all)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        header = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}))
        if header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = header
        return response


def permissions_policy_header(policy):
    def allowlist(origins):
        return " ".join(origin if origin in {"self", "*"} else f'"{origin}"' for origin in origins)

    return ", ".join(f"{feature}=({allowlist(origins)})" for feature, origins in policy.items())


class OidcRightsMiddleware:
    """An iSC session re-checks its ANS rights at the provider every OIDC_RIGHTS_RECHECK_SECONDS
    (trustspace.oidc_session: rights follow the claim, an ended provider session logs out)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from .oidc_session import recheck_rights

        recheck_rights(request)
        return self.get_response(request)

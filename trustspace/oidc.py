"""Login with iSC (Industriels Santé Connect) through mozilla-django-oidc.

Users are found by the OIDC ``sub`` of the verified ID token, never by e-mail. The ID
token's signature, issuer, audience, expiry and nonce are checked; the userinfo answer
must carry the same ``sub``. ANS administrators are recognised from a configured claim.
Accounts, names, e-mails and rights are written by ``services`` (``create_user_from_identity``,
``update_user_from_identity``, ``apply_identity_rights``), audited.

Endpoints come from the provider's discovery document (``oidc_discovery``): mozilla reads
them as attributes, which are properties here, resolved when used. An unreachable provider
gives a French page (HTTP 503) at the start of the login and at the callback.
"""
import logging
import time

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from . import oidc_discovery, services
from .oidc_discovery import ProviderError, ProviderUnavailable

logger = logging.getLogger(__name__)

BACKEND_PATH = "trustspace.oidc.IscAuthenticationBackend"
# Session keys (besides mozilla's oidc_id_token / oidc_access_token).
REFRESH_TOKEN_KEY = "oidc_refresh_token"  # noqa: S105 - a session key name, not a secret
CHECKED_AT_KEY = "oidc_rights_checked_at"


def claim_values(claims, claim_name):
    value = claims.get(claim_name)
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
    return [str(item) for item in values]


def claims_say_ans_admin(claims):
    values = claim_values(claims, settings.OIDC_ANS_ADMIN_CLAIM)
    return any(item in settings.OIDC_ANS_ADMIN_VALUES for item in values)


def claims_say_superuser(claims):
    """Superuser (the read-only /admin/): every ANS administrator, or only OIDC_SUPERUSER_VALUES when set."""
    if not settings.OIDC_SUPERUSER_VALUES:
        return claims_say_ans_admin(claims)
    values = claim_values(claims, settings.OIDC_ANS_ADMIN_CLAIM)
    return any(item in settings.OIDC_SUPERUSER_VALUES for item in values)


def apply_rights_from_claims(user, claims, *, source):
    return services.apply_identity_rights(user, is_ans_admin=claims_say_ans_admin(claims),
                                          is_superuser=claims_say_superuser(claims), source=source)


def profile_from_claims(claims):
    """The name and e-mail iSC gives (None when a claim is absent: the account keeps its value)."""
    return {"email": claims.get("email"), "first_name": claims.get("given_name"),
            "last_name": claims.get("family_name")}


def is_isc_session(request):
    """A session opened by the iSC login (not the dev password form, not a test's force_login)."""
    from django.contrib.auth import BACKEND_SESSION_KEY

    session = getattr(request, "session", None)
    return bool(session is not None and session.get(BACKEND_SESSION_KEY) == BACKEND_PATH
                and session.get("oidc_id_token"))


def isc_connected():
    """False in development when the portal has no client secret: no identity provider was registered for it (the
    embedded demo), so « Se connecter avec iSC » could only fail at the real iSC; the login page says so instead."""
    return not settings.DEBUG or bool(settings.OIDC_RP_CLIENT_SECRET)


ISC_NOT_CONNECTED = ("iSC n'est pas relié à ce portail de démonstration (aucun fournisseur d'identité configuré) : "
                     "connectez-vous avec un identifiant de démonstration.")


def provider_unavailable_page(request, exc=None):
    """The French page shown instead of a browser connection error or a 500."""
    if exc is not None:
        logger.warning("OIDC provider unavailable: %s", exc)
    response = render(request, "trustspace/oidc_unavailable.html", {"status": 503}, status=503)
    response["Retry-After"] = "60"
    response["Cache-Control"] = "no-store"
    return response


def _endpoint_attribute(name):
    # mozilla assigns these in __init__; the assignment is ignored and the value resolved when read.
    return property(lambda self: oidc_discovery.endpoint(name), lambda self, value: None)


class IscAuthenticationBackend(OIDCAuthenticationBackend):
    OIDC_OP_TOKEN_ENDPOINT = _endpoint_attribute("token")
    OIDC_OP_USER_ENDPOINT = _endpoint_attribute("userinfo")
    OIDC_OP_JWKS_ENDPOINT = _endpoint_attribute("jwks")
    rights_source = "connexion iSC"

    def __init__(self, *args, **kwargs):
        # Django builds a backend for every request's get_user(): no provider call here (mozilla's
        # __init__ would resolve the JWKS endpoint, i.e. fetch the discovery document).
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        self.OIDC_RP_CLIENT_SECRET = self.get_settings("OIDC_RP_CLIENT_SECRET")
        self.OIDC_RP_SIGN_ALGO = self.get_settings("OIDC_RP_SIGN_ALGO", "HS256")
        self.OIDC_RP_IDP_SIGN_KEY = self.get_settings("OIDC_RP_IDP_SIGN_KEY", None)
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()
        self._token_info = {}

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if not oidc_discovery.same_issuer(payload.get("iss", "")):
            raise SuspiciousOperation("ID token issued by an unexpected issuer")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token not issued for this client")
        if not payload.get("sub"):
            raise SuspiciousOperation("ID token without sub")
        return payload

    def get_token(self, payload):
        self._token_info = super().get_token(payload)
        return self._token_info

    def store_tokens(self, access_token, id_token):
        super().store_tokens(access_token, id_token)
        session = self.request.session
        refresh_token = self._token_info.get("refresh_token")
        if self.get_settings("OIDC_STORE_REFRESH_TOKEN", False) and refresh_token:
            session[REFRESH_TOKEN_KEY] = refresh_token
        else:
            session.pop(REFRESH_TOKEN_KEY, None)
        session[CHECKED_AT_KEY] = time.time()

    def get_userinfo(self, access_token, id_token, payload):
        if not oidc_discovery.optional_endpoint("userinfo"):
            return dict(payload or {})
        userinfo = super().get_userinfo(access_token, id_token, payload)
        # OIDC Core §5.3.2: the userinfo sub must equal the ID token's.
        if payload and userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo sub differs from the ID token sub")
        return {**(payload or {}), **userinfo}

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(oidc_sub=claims["sub"])

    def describe_user_by_claims(self, claims):
        return f"sub {claims.get('sub')}"

    def create_user(self, claims):
        return services.create_user_from_identity(
            sub=claims["sub"], profile=profile_from_claims(claims), is_ans_admin=claims_say_ans_admin(claims),
            is_superuser=claims_say_superuser(claims), source=self.rights_source)

    def update_user(self, user, claims):
        return services.update_user_from_identity(
            user, profile=profile_from_claims(claims), is_ans_admin=claims_say_ans_admin(claims),
            is_superuser=claims_say_superuser(claims), source=self.rights_source)

    def get_user(self, user_id):
        # Unlike ModelBackend, mozilla's get_user() ignores is_active: a deactivated user's session must end.
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class IscAuthenticationRequestView(OIDCAuthenticationRequestView):
    """« Se connecter avec iSC »: a French page when the provider does not answer, rather than a redirect
    the browser cannot follow."""

    OIDC_OP_AUTH_ENDPOINT = _endpoint_attribute("authorization")

    def get(self, request):
        if not isc_connected():
            messages.info(request, ISC_NOT_CONNECTED)
            target = resolve_url("login")
            next_url = request.GET.get("next", "")
            if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                target += "?" + urlencode({"next": next_url})
            return redirect(target)
        try:
            if settings.OIDC_LOGIN_PROBE:
                oidc_discovery.check_reachable()
            else:
                oidc_discovery.endpoint("authorization")
        except ProviderError as exc:
            return provider_unavailable_page(request, exc)
        return super().get(request)


def _provider_down(exc):
    """A network failure or a 5xx from the provider (as opposed to a refusal)."""
    if isinstance(exc, ProviderError):
        return True
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    response = getattr(exc, "response", None)
    return isinstance(exc, requests.HTTPError) and response is not None and response.status_code >= 500


class IscCallbackView(OIDCAuthenticationCallbackView):
    """A wrong state, a tampered token or a refused login ends on the login page with a French message;
    an unreachable provider on a French 503 page."""

    def get(self, request):
        try:
            return super().get(request)
        except (ProviderError, SuspiciousOperation, jwt.PyJWTError, requests.RequestException, KeyError,
                ValueError) as exc:
            if _provider_down(exc):
                return provider_unavailable_page(request, exc)
            # A refused token, an expired one, a provider error: never a 500.
            logger.warning("OIDC callback refused: %s", exc)
            return self.login_failure()

    def login_failure(self):
        messages.error(self.request, "La connexion avec iSC a échoué ou a été refusée. Veuillez réessayer.")
        return super().login_failure()


__all__ = ["IscAuthenticationBackend", "IscAuthenticationRequestView", "IscCallbackView", "ProviderUnavailable",
           "claims_say_ans_admin", "isc_connected", "provider_unavailable_page"]

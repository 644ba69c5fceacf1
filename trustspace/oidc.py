"""Login with iSC (Industriels Santé Connect) through mozilla-django-oidc.

Users are found by the OIDC ``sub`` of the verified ID token, never by e-mail. The ID
token's signature, issuer, audience, expiry and nonce are checked; the userinfo answer
must carry the same ``sub``. ANS administrators are recognised from a configured claim.
"""
import hashlib
import logging

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView

logger = logging.getLogger(__name__)


def claims_say_ans_admin(claims):
    value = claims.get(settings.OIDC_ANS_ADMIN_CLAIM)
    if value is None:
        return False
    values = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
    return any(str(item) in settings.OIDC_ANS_ADMIN_VALUES for item in values)


class IscAuthenticationBackend(OIDCAuthenticationBackend):
    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if payload.get("iss", "").rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("ID token issued by an unexpected issuer")
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token not issued for this client")
        if not payload.get("sub"):
            raise SuspiciousOperation("ID token without sub")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
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
        with transaction.atomic():
            # The username is derived from the sub (stable, unique, bounded length); the sub itself is the key.
            digest = hashlib.sha256(claims["sub"].encode("utf-8")).hexdigest()[:32]
            user = self.UserModel(username=f"isc:{digest}", oidc_sub=claims["sub"])
            user.set_unusable_password()
            self._apply_claims(user, claims)
            user.save()
        return user

    def update_user(self, user, claims):
        self._apply_claims(user, claims)
        user.save(update_fields=["email", "first_name", "last_name", "is_ans_admin"])
        return user

    def get_user(self, user_id):
        # Unlike ModelBackend, mozilla's get_user() ignores is_active: a deactivated user's session must end.
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    @staticmethod
    def _apply_claims(user, claims):
        user.email = (claims.get("email") or user.email or "")[:254]
        user.first_name = (claims.get("given_name") or user.first_name or "")[:150]
        user.last_name = (claims.get("family_name") or user.last_name or "")[:150]
        user.is_ans_admin = claims_say_ans_admin(claims)


class IscCallbackView(OIDCAuthenticationCallbackView):
    """A wrong state, a tampered token or a refused login ends on the login page with a French message."""

    def get(self, request):
        try:
            return super().get(request)
        except (SuspiciousOperation, jwt.PyJWTError, requests.RequestException, KeyError, ValueError) as exc:
            # A refused token, an expired one, a provider error or an unreachable provider: never a 500.
            logger.warning("OIDC callback refused: %s", exc)
            return self.login_failure()

    def login_failure(self):
        messages.error(self.request, "La connexion avec iSC a échoué ou a été refusée. Veuillez réessayer.")
        return super().login_failure()

"""API authentication: personal tokens (``Token …``) and iSC access tokens (``Bearer …``)."""
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from mozilla_django_oidc.contrib.drf import OIDCAuthentication
from rest_framework import authentication, exceptions

from ..models import ApiToken
from ..services import hash_api_key


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("En-tête Authorization invalide : « Token <jeton> » attendu.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Jeton d'API invalide.")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_api_key(raw)).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Jeton d'API invalide ou révoqué.")
        # Throttle the last-use write to once a minute per token.
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class OidcBearerAuthentication(OIDCAuthentication):
    """An iSC access token, checked against the userinfo endpoint (answer cached briefly)."""

    def authenticate(self, request):
        access_token = self.get_access_token(request)
        if not access_token:
            return None
        cache_key = "oidc-bearer:" + hash_api_key(access_token)
        user_id = cache.get(cache_key)
        if user_id is not None:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
            if user is not None:
                return user, access_token
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            raise
        except Exception:
            raise exceptions.AuthenticationFailed("Jeton iSC invalide ou fournisseur d'identité injoignable.")
        if result and not result[0].is_active:
            raise exceptions.AuthenticationFailed("Compte désactivé.")
        if result:
            cache.set(cache_key, result[0].pk, settings.OIDC_BEARER_CACHE_SECONDS)
        return result

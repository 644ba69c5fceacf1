"""API authentication: personal tokens (``Token …``) and iSC access tokens (``Bearer …``)."""
from django.utils import timezone
from rest_framework import authentication, exceptions

from ..models import ApiToken
from ..paris_time import paris_datetime
from ..services import ans_rights_recently_confirmed, hash_api_key, record_api_token_use


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


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
            raise exceptions.AuthenticationFailed("Jeton d'API invalide.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_api_key(raw)).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Jeton d'API invalide ou révoqué.")
        now = timezone.now()
        if token.is_expired(now):
            raise TokenExpired(f"Ce jeton d'API a expiré le {paris_datetime(token.expires_at)} : créez-en un nouveau "
                               "dans le portail.")
        record_api_token_use(token, now)
        # Nothing asks iSC when a personal token is used: its ANS rights last only while iSC confirmed them
        # recently (a login, an iSC bearer call or a session re-check), this request's copy of the user only.
        if token.user.is_ans_admin and not ans_rights_recently_confirmed(token.user, now):
            token.user.is_ans_admin = token.user.is_superuser = token.user.is_staff = False
        # The operator restriction travels with the user: ``operators.permissions`` narrows what it sees.
        token.user.api_token_in_use = token
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class OidcBearerAuthentication(authentication.BaseAuthentication):
    """An iSC access token (``Bearer …``), accepted only when issued for this portal (trustspace.oidc_tokens)."""

    keyword = "Bearer"

    def authenticate(self, request):
        from ..oidc_tokens import authenticate_bearer

        return authenticate_bearer(request)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

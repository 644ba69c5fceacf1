"""Write path for personal API tokens."""
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from . import audit
from .errors import Conflict, InvalidData, NotAllowed
from .models import ApiToken

TOKEN_PREFIX = "drimm_"
MAX_ACTIVE_TOKENS = 20


def hash_api_key(raw):
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_api_token(*, acting_user, name):
    """Create a token for ``acting_user``. Returns (token, raw secret shown once)."""
    if acting_user is None or not acting_user.is_authenticated:
        raise NotAllowed("Connectez-vous pour créer un jeton d'API.")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidData("Donnez au jeton un nom de 1 à 100 caractères.", field_errors={"name": ["1 à 100 caractères."]})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        if ApiToken.objects.filter(user=acting_user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
            raise Conflict(f"Vous avez déjà {MAX_ACTIVE_TOKENS} jetons actifs : révoquez-en un d'abord.")
        token = ApiToken.objects.create(user=acting_user, name=name, prefix=raw[: len(TOKEN_PREFIX) + 6],
                                        key_hash=hash_api_key(raw))
        audit.record(actor=acting_user, action="api_token.created", obj=token, after={"name": name, "prefix": token.prefix})
    return token, raw


def revoke_api_token(token, *, acting_user):
    if token.user_id != acting_user.pk:
        raise NotAllowed("Vous ne pouvez révoquer que vos propres jetons.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise Conflict("Ce jeton est déjà révoqué.")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=acting_user, action="api_token.revoked", obj=token, after={"revoked_at": token.revoked_at})
    return token

"""Write path for personal API tokens."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .. import audit
from ..errors import Conflict, InvalidData, NotAllowed
from ..models import ApiScope, ApiToken, User
from ..text import validate_display_text

TOKEN_PREFIX = "drimm_"  # noqa: S105 - the public prefix of every token, not a secret
MAX_ACTIVE_TOKENS = 20


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _clean_scopes(acting_user: User, scopes: Iterable[str] | None) -> list[str]:
    """The scopes as a sorted list of known values; ``None`` means every right (the tokens of old)."""
    if scopes is None:
        return [ApiToken.ALL_RIGHTS]
    if isinstance(scopes, str) or not all(isinstance(scope, str) for scope in scopes):
        raise InvalidData("Portées invalides.", field_errors={"scopes": ["Une liste de portées est attendue."]})
    scopes = set(scopes)
    if ApiToken.ALL_RIGHTS in scopes:
        if len(scopes) > 1:
            raise InvalidData("« * » (tous les droits) ne se combine pas avec d'autres portées.",
                              field_errors={"scopes": ["« * » ne se combine pas avec d'autres portées."]})
        return [ApiToken.ALL_RIGHTS]
    unknown = sorted(scopes - set(ApiScope.values))
    if unknown:
        message = f"Portée inconnue : {', '.join(unknown)}. Portées possibles : {', '.join(ApiScope.values)}."
        raise InvalidData(message, field_errors={"scopes": [message]})
    if not scopes:
        raise InvalidData("Choisissez au moins une portée.",
                          field_errors={"scopes": ["Choisissez au moins une portée."]})
    if ApiScope.ANS in scopes and not acting_user.is_ans_admin:
        message = "La portée « Instruction ANS » est réservée aux administrateurs ANS."
        raise InvalidData(message, field_errors={"scopes": [message]})
    return sorted(scopes, key=ApiScope.values.index)


def _clean_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    max_days = settings.API_TOKEN_MAX_DAYS
    if expires_at is None:
        return now + timedelta(days=max_days) if max_days > 0 else None
    if expires_at <= now:
        raise InvalidData("La date d'expiration doit être dans le futur.",
                          field_errors={"expires_at": ["Choisissez une date future."]})
    # One day of slack: a date chosen in the page means the end of that day (Europe/Paris).
    if max_days > 0 and expires_at > now + timedelta(days=max_days + 1):
        message = f"Un jeton vit au plus {max_days} jours : choisissez une date d'expiration plus proche."
        raise InvalidData(message, field_errors={"expires_at": [message]})
    return expires_at


def _not_wider_than(bound: ApiToken, *, scopes: Iterable[str], operator_id: int | None, drimbox_ids: Iterable[int],
                    expires_at: datetime | None) -> dict[str, list[str]]:
    """Field errors when a token with these limits would have more rights than ``bound`` (the calling token)."""
    errors = {}
    if not bound.has_all_rights:
        if not set(scopes) <= set(bound.scopes):
            errors["scopes"] = ["Un jeton ne peut pas créer un jeton ayant d'autres portées que les siennes."]
        if bound.operator_id is not None and operator_id != bound.operator_id:
            errors["operator"] = ["Le nouveau jeton doit être limité au même opérateur que le jeton utilisé."]
        if bound.drimbox_ids and not (drimbox_ids and set(drimbox_ids) <= set(bound.drimbox_ids)):
            errors["drimboxes"] = ["Le nouveau jeton doit être limité aux DRIMbox du jeton utilisé (ou à une partie)."]
    if bound.expires_at is not None and (expires_at is None or expires_at > bound.expires_at):
        errors["expires_at"] = ["Le nouveau jeton ne peut pas expirer après le jeton utilisé."]
    return errors


def create_api_token(*, acting_user: User, name: str, scopes: Iterable[str] | None = None,
                     operator_id: int | None = None, drimbox_ids: Iterable[int] | None = (),
                     expires_at: datetime | None = None, via_token: ApiToken | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``acting_user``. Returns (token, raw secret shown once).

    ``scopes`` None gives every right of the owner (what tokens were before scopes; kept for code callers —
    the page and the API always name scopes). ``operator_id`` limits the token to one of the owner's
    operators, ``drimbox_ids`` its certificate calls to some DRIMboxes of that operator. Without
    ``expires_at`` the token expires after ``API_TOKEN_MAX_DAYS``. ``via_token`` is the token the call is
    authenticated with, if any: the new token may not be wider than it.
    """
    if acting_user is None or not acting_user.is_authenticated:
        raise NotAllowed("Connectez-vous pour créer un jeton d'API.")
    if via_token is not None and not via_token.has_scope(ApiScope.TOKENS):
        raise NotAllowed("Ce jeton n'a pas la portée « Jetons » : il ne peut pas créer de jeton.", code="token_scope")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidData("Donnez au jeton un nom de 1 à 100 caractères.",
                          field_errors={"name": ["1 à 100 caractères."]})
    validate_display_text({"name": name}, labels={"name": "nom du jeton"})  # shown to ANS in the audit trail
    now = timezone.now()
    scopes = _clean_scopes(acting_user, scopes)
    drimbox_ids = sorted({int(pk) for pk in drimbox_ids or ()})
    if via_token is not None and expires_at is None:
        expires_at = via_token.expires_at  # a token made by a token lives no longer than it
    expires_at = _clean_expiry(expires_at, now)
    errors = {}
    if operator_id is not None and acting_user.is_ans_admin:
        errors["operator"] = ["Un jeton d'administrateur ANS ne peut pas être limité à un opérateur."]
    elif operator_id is not None or drimbox_ids:
        errors.update(import_string(settings.API_TOKEN_RESTRICTION_CHECKER)(acting_user, operator_id, drimbox_ids))
    if drimbox_ids and ApiScope.CERTIFICATES not in scopes:
        errors.setdefault("drimboxes", []).append(
            "Limiter à des DRIMbox n'a de sens qu'avec la portée « Certificats ».")
    if via_token is not None:
        for field, messages in _not_wider_than(via_token, scopes=scopes, operator_id=operator_id,
                                               drimbox_ids=drimbox_ids, expires_at=expires_at).items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise InvalidData("Le jeton ne peut pas être créé : " + " ".join(m for ms in errors.values() for m in ms),
                          field_errors=errors)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        usable = ApiToken.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), user=acting_user,
                                         revoked_at__isnull=True)
        if usable.count() >= MAX_ACTIVE_TOKENS:
            raise Conflict(f"Vous avez déjà {MAX_ACTIVE_TOKENS} jetons actifs : révoquez-en un d'abord.")
        token = ApiToken.objects.create(user=acting_user, name=name, prefix=raw[: len(TOKEN_PREFIX) + 6],
                                        key_hash=hash_api_key(raw), scopes=scopes, operator_id=operator_id,
                                        drimbox_ids=drimbox_ids, expires_at=expires_at)
        audit.record(actor=acting_user, action="api_token.created", obj=token, operator_id=operator_id,
                     after=_audited(token), reason="créé avec un jeton d'API" if via_token is not None else "")
    return token, raw


def _audited(token: ApiToken) -> dict[str, object]:
    return {"name": token.name, "prefix": token.prefix, "scopes": token.scopes, "operator_id": token.operator_id,
            "drimbox_ids": token.drimbox_ids, "expires_at": token.expires_at}


def revoke_api_token(token: ApiToken, *, acting_user: User, via_token: ApiToken | None = None) -> ApiToken:
    """Revoke one of one's tokens. Through the API with a token: itself, or a token no wider than it."""
    if token.user_id != acting_user.pk:
        raise NotAllowed("Vous ne pouvez révoquer que vos propres jetons.")
    if via_token is not None and via_token.pk != token.pk:
        if not via_token.has_scope(ApiScope.TOKENS):
            raise NotAllowed("Ce jeton n'a pas la portée « Jetons » : il ne peut révoquer que lui-même.",
                             code="token_scope")
        if _not_wider_than(via_token, scopes=token.scopes, operator_id=token.operator_id,
                           drimbox_ids=token.drimbox_ids, expires_at=token.expires_at):
            raise NotAllowed("Un jeton ne peut révoquer qu'un jeton au plus aussi limité que lui : révoquez "
                             "celui-ci depuis le portail.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise Conflict("Ce jeton est déjà révoqué.")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=acting_user, action="api_token.revoked", obj=token, operator_id=token.operator_id,
                     before=_audited(token), after={"revoked_at": token.revoked_at},
                     reason="révoqué avec un jeton d'API" if via_token is not None else "")
    return token


def record_api_token_use(token: ApiToken, now: datetime) -> None:
    """Note when a token was last used, at most once a minute per token (every API call would write otherwise)."""
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)

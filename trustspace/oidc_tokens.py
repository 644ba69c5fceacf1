"""API bearer tokens from iSC: accepted only when issued for this portal.

OIDC_ACCESS_TOKEN_VALIDATION chooses how:

* ``jwt``: the token is a JWT checked here — signature against the provider's JWKS (``kid``, one refetch
  when the kid is unknown: key rotation), algorithm from OIDC_ACCESS_TOKEN_ALGORITHMS (never ``none`` nor
  an HMAC), ``iss`` = OIDC_ISSUER, ``exp``/``nbf`` with a small leeway, and ``aud`` or ``azp`` naming the
  portal (OIDC_RP_CLIENT_ID or one of OIDC_ACCESS_TOKEN_AUDIENCE); never an ID token (it names the portal
  as audience too, and travels through the browser as id_token_hint) nor a refresh token;
* ``introspection``: RFC 7662 at the provider's introspection endpoint with the portal's client
  credentials, then the same checks on the answer (``active``, ``iss``, ``exp``, ``aud``/``azp``/``client_id``);
* ``auto``: a JWT is checked as above, an opaque token introspected when the provider offers it, else refused.

A validated result is cached for OIDC_BEARER_CACHE_SECONDS at most, never past the token's expiry. The user
is found by ``sub`` (never by e-mail), created on first use as the iSC login does, and their ANS rights
follow the token's claims (``services.apply_identity_rights``, audited).
"""
import hashlib
import json
import logging
import time
from urllib.parse import quote

import jwt
from django.conf import settings
from django.core.cache import cache

from . import oidc_discovery
from .oidc_discovery import ProviderError, ProviderUnavailable

logger = logging.getLogger(__name__)

CACHE_PREFIX = "oidc-bearer:v2:"


class TokenRejected(Exception):
    """The token is not acceptable; the message (French) is shown to the API client."""


def _cache_key(raw):
    return CACHE_PREFIX + hashlib.sha256(raw.encode("utf-8")).hexdigest()


def looks_like_jwt(raw):
    parts = raw.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return False
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        return False
    return isinstance(header, dict) and "alg" in header


def accepted_audiences():
    return {settings.OIDC_RP_CLIENT_ID, *settings.OIDC_ACCESS_TOKEN_AUDIENCE}


def _check_audience(claims):
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else ([audience] if audience else [])
    accepted = accepted_audiences()
    if accepted & {item for item in audiences if isinstance(item, str)}:
        return
    azp = claims.get("azp")
    if isinstance(azp, str) and azp in accepted:  # a list or an object in azp is no client id (and no 500)
        return
    raise TokenRejected("Jeton iSC refusé : il a été émis pour une autre application que ce portail.")


def _check_issuer(claims, *, required=True):
    if "iss" not in claims and not required:
        return
    if not oidc_discovery.same_issuer(claims.get("iss")):
        raise TokenRejected("Jeton iSC refusé : il n'a pas été émis par le fournisseur d'identité attendu.")


def _check_times(claims, *, exp_required=True):
    now = time.time()
    leeway = settings.OIDC_ACCESS_TOKEN_LEEWAY_SECONDS
    exp = claims.get("exp")
    if exp is None:
        if exp_required:
            raise TokenRejected("Jeton iSC refusé : sa date d'expiration manque.")
    elif not isinstance(exp, (int, float)) or exp + leeway <= now:
        raise TokenRejected("Jeton iSC refusé : il a expiré.")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, (int, float)) or nbf - leeway > now):
        raise TokenRejected("Jeton iSC refusé : il n'est pas encore valable.")


def _signing_key(header):
    """The JWKS key for this header: by kid (one refetch when unknown), or the only key of its type."""
    alg = header["alg"]
    kid = header.get("kid")
    key_type = {"RS": "RSA", "PS": "RSA", "ES": "EC"}.get(alg[:2])

    def candidates(keys):
        found = []
        for key in keys:
            if key.get("use", "sig") != "sig" or key.get("kty") != key_type:
                continue
            if key.get("alg") and key["alg"] != alg:
                continue
            if kid is not None and key.get("kid") != kid:
                continue
            found.append(key)
        return found

    found = candidates(oidc_discovery.jwks())
    if not found:
        found = candidates(oidc_discovery.jwks(refresh=True))
    if kid is None and len(found) != 1:
        raise TokenRejected("Jeton iSC refusé : clé de signature non identifiée (kid absent).")
    if not found:
        raise TokenRejected("Jeton iSC refusé : clé de signature inconnue du fournisseur d'identité.")
    try:
        return jwt.PyJWK(found[0], algorithm=alg).key
    except jwt.PyJWTError as exc:
        raise TokenRejected("Jeton iSC refusé : clé de signature inutilisable.") from exc


ACCESS_TOKEN_HEADER_TYPES = {"at+jwt", "application/at+jwt"}  # RFC 9068 §2.1


def _looks_like_id_token(header, claims):
    """An OpenID Connect ID token: never typed at+jwt (RFC 9068), and carrying what only ID tokens carry —
    at_hash/c_hash, or the login's nonce (Keycloak before 25 also put the nonce in access tokens, typ Bearer)."""
    if str(header.get("typ", "")).lower() in ACCESS_TOKEN_HEADER_TYPES:
        return False
    if "at_hash" in claims or "c_hash" in claims:
        return True
    return "nonce" in claims and str(claims.get("typ", "")).lower() != "bearer"


def _refuse_other_token_kinds(header, claims):
    if str(claims.get("typ", "")).lower() in {"id", "refresh", "logout"}:  # Keycloak marks its other tokens
        raise TokenRejected("Jeton iSC refusé : ce n'est pas un jeton d'accès.")
    if _looks_like_id_token(header, claims):
        # The ID token names the portal as audience and travels through the browser (id_token_hint).
        raise TokenRejected("Jeton iSC refusé : ce n'est pas un jeton d'accès (jeton d'identité).")


def validate_jwt(raw, *, kind="access"):
    """The claims of a JWT signed by the provider and meant for this portal; TokenRejected otherwise.

    ``kind`` "id": an ID token (refreshed during the session re-check), whose aud must name the client.
    """
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError as exc:
        raise TokenRejected("Jeton iSC illisible.") from exc
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in settings.OIDC_ACCESS_TOKEN_ALGORITHMS:
        raise TokenRejected("Jeton iSC refusé : algorithme de signature non autorisé.")
    key = _signing_key(header)
    try:
        claims = jwt.decode(
            raw, key, algorithms=[alg], leeway=settings.OIDC_ACCESS_TOKEN_LEEWAY_SECONDS,
            options={"verify_aud": False, "verify_iss": False, "require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("Jeton iSC refusé : il a expiré.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRejected("Jeton iSC refusé : il n'est pas encore valable.") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("Jeton iSC refusé : signature invalide.") from exc
    except jwt.PyJWTError as exc:
        raise TokenRejected("Jeton iSC refusé : jeton mal formé ou incomplet.") from exc
    _check_issuer(claims)
    _check_times(claims)
    if kind == "id":
        audience = claims.get("aud")
        if settings.OIDC_RP_CLIENT_ID not in (audience if isinstance(audience, list) else [audience]):
            raise TokenRejected("Jeton d'identité iSC émis pour une autre application.")
        return claims
    _refuse_other_token_kinds(header, claims)
    _check_audience(claims)
    return claims


def client_auth():
    """HTTP Basic client authentication (RFC 6749 §2.3.1: each part form-urlencoded)."""
    return (quote(settings.OIDC_RP_CLIENT_ID, safe=""), quote(settings.OIDC_RP_CLIENT_SECRET, safe=""))


def introspect(raw):
    url = oidc_discovery.endpoint("introspection", required=False)  # ProviderError when it cannot be asked
    if not url:
        raise TokenRejected("Jeton iSC refusé : jeton opaque et le fournisseur d'identité ne propose pas "
                            "l'introspection.")
    response = oidc_discovery.call_provider("POST", url, "introspection",
                                            data={"token": raw, "token_type_hint": "access_token"},
                                            auth=client_auth(), headers={"Accept": "application/json"})
    if response.status_code != 200:
        # 401/403: the portal's own credentials were refused; 5xx: the provider is failing.
        raise ProviderUnavailable(f"introspection : réponse {response.status_code}")
    claims = oidc_discovery.json_object(response, "introspection")
    if claims.get("active") is not True:
        raise TokenRejected("Jeton iSC refusé : jeton inactif, expiré ou révoqué.")
    # « active » is said of any token the provider issued (Keycloak: ID and refresh tokens too).
    _refuse_other_token_kinds({}, claims)
    _check_issuer(claims, required=False)
    _check_times(claims, exp_required=False)
    if claims.get("client_id") and not claims.get("azp"):
        claims = {**claims, "azp": claims["client_id"]}
    _check_audience(claims)
    if not claims.get("sub"):
        raise TokenRejected("Jeton iSC refusé : il ne désigne aucune personne (sub absent).")
    return claims


def validate_access_token(raw):
    """Validated claims of an access token (JWT or introspection, per OIDC_ACCESS_TOKEN_VALIDATION)."""
    mode = settings.OIDC_ACCESS_TOKEN_VALIDATION
    is_jwt = looks_like_jwt(raw)
    if mode == "jwt" or (mode == "auto" and is_jwt):
        if not is_jwt:
            raise TokenRejected("Jeton iSC refusé : un jeton JWT signé est attendu.")
        return validate_jwt(raw)
    if mode in {"introspection", "auto"}:
        return introspect(raw)
    raise ProviderError(f"OIDC_ACCESS_TOKEN_VALIDATION inconnu : {mode!r}")


def _with_rights_claim(raw, claims):
    """The ANS admin claim may be released only by userinfo: ask it when the token does not carry it."""
    if settings.OIDC_ANS_ADMIN_CLAIM in claims:
        return claims
    url = oidc_discovery.optional_endpoint("userinfo")
    if not url:
        return claims
    response = oidc_discovery.call_provider("GET", url, "userinfo", headers={"Authorization": f"Bearer {raw}"})
    if response.status_code in (401, 403):
        raise TokenRejected("Jeton iSC refusé par le fournisseur d'identité.")
    if response.status_code != 200:
        raise ProviderUnavailable(f"userinfo : réponse {response.status_code}")
    userinfo = oidc_discovery.json_object(response, "userinfo")
    if userinfo.get("sub") != claims.get("sub"):
        raise TokenRejected("Jeton iSC refusé : la personne du jeton et celle du fournisseur diffèrent.")
    return {**userinfo, **claims}


def _cacheable(claims):
    # Only JSON-safe values go to the shared cache.
    return json.loads(json.dumps(claims, default=str))


def claims_for_token(raw):
    """Validated claims, from the cache when this token was validated a short while ago."""
    key = _cache_key(raw)
    cached = cache.get(key)
    now = time.time()
    if cached is not None and (cached.get("exp") is None or cached["exp"] > now):
        return cached
    claims = _with_rights_claim(raw, validate_access_token(raw))
    lifetime = settings.OIDC_BEARER_CACHE_SECONDS
    if isinstance(claims.get("exp"), (int, float)):
        lifetime = min(lifetime, int(claims["exp"] - now))
    if lifetime > 0:
        cache.set(key, _cacheable(claims), lifetime)
    return claims


def user_for_token(raw):
    """The active user the token stands for; TokenRejected, or ProviderError when the provider fails."""
    from .oidc import IscAuthenticationBackend

    claims = claims_for_token(raw)
    backend = IscAuthenticationBackend()
    backend.rights_source = "jeton d'accès iSC (API)"
    user = backend.UserModel.objects.filter(oidc_sub=claims["sub"]).first()
    if user is None:
        if not getattr(settings, "OIDC_CREATE_USER", True):
            raise TokenRejected("Aucun compte du portail ne correspond à ce jeton iSC.")
        user = backend.create_user(claims)
    elif not user.is_active:
        raise TokenRejected("Compte désactivé.")
    else:
        from .oidc import apply_rights_from_claims

        apply_rights_from_claims(user, claims, source=backend.rights_source)
    return user


def authenticate_bearer(request):
    """DRF authentication for ``Authorization: Bearer <iSC access token>``: (user, token) or None."""
    from rest_framework.authentication import get_authorization_header

    from .api.errors import BearerTokenInvalid, IdentityProviderUnavailable

    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise BearerTokenInvalid("En-tête Authorization invalide : « Bearer <jeton> » attendu, sans espace dans le "
                                 "jeton.")
    try:
        raw = parts[1].decode("ascii")
    except UnicodeError:
        raise BearerTokenInvalid("Jeton iSC illisible.") from None
    try:
        user = user_for_token(raw)
    except TokenRejected as exc:
        logger.info("API bearer token refused: %s", exc)
        raise BearerTokenInvalid(str(exc)) from None
    except ProviderError as exc:
        logger.warning("API bearer token not checked, identity provider unavailable: %s", exc)
        raise IdentityProviderUnavailable() from None
    return user, raw

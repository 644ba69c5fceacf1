"""A real OpenID Connect provider served on 127.0.0.1 for the tests.

The core is oidc-provider-mock 0.3.4 (an Authlib provider: authorization code + PKCE, token, userinfo,
JWKS, discovery). Its endpoints live at /oauth2/authorize, /oauth2/token, /userinfo and /jwks (not the
Keycloak layout of iSC), so a portal that finds them must have read the discovery document.

0.3.4 (the newest version PyPI serves here) lacks what issue 11 needs to test, so this module extends
the mock's Flask app, on loopback only, with what real providers (Keycloak/iSC) do:

* a provider session (an SSO cookie): a second authorization request from the same browser is answered
  without asking, until RP-initiated logout ends it;
* RP-initiated logout that really ends that session (the mock only shows a page): ``id_token_hint`` is
  verified, the user's tokens are revoked, and the browser is sent to ``post_logout_redirect_uri``;
* token introspection (RFC 7662) with client authentication, advertised in the discovery document;
* JWT access tokens (RFC 9068 style, signed with the provider's key, with a ``kid``) as an option;
* test controls under ``/_test/``: switch those features, rotate the signing key, mint a token signed
  by the provider's key with chosen claims, read the logout requests received.
"""
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import flask
import jwt
import oidc_provider_mock
import requests
import werkzeug.serving
from authlib import jose
from oidc_provider_mock import _app as mock_app
from oidc_provider_mock._storage import AccessToken, storage

from tests.support.serving import serving

PORTAL_CLIENT_ID = "drimm-portal-test"
PORTAL_CLIENT_SECRET = "test-secret"
ENDPOINT = "oidc-provider-mock."
STANDARD_CLAIMS = set(mock_app._STANDARD_CLAIMS) | {"sub"}


class _ProviderState:
    """What the extensions remember (the mock's own storage keeps users, codes and tokens)."""

    def __init__(self, *, access_tokens, introspection, end_session, sso, clients):
        self.lock = threading.Lock()
        self.config = {
            "access_tokens": access_tokens,  # "opaque" (the mock's) or "jwt"
            "introspection": introspection,
            "end_session": end_session,
            "sso": sso,
            "discovery_issuer": None,  # a wrong issuer to announce, for the issuer check
        }
        self.clients = dict(clients)  # client_id -> secret, for introspection's client authentication
        self.token_clients = {}  # access token -> client_id it was issued to
        self.end_session_requests = []
        self.introspection_requests = []


def _jwk_private():
    return jwt.PyJWK(storage.jwk.as_dict(is_private=True)).key


def _current_kid():
    return storage.jwk.as_dict()["kid"]


def _issuer():
    return flask.request.host_url.rstrip("/")


def _custom_claims(user):
    """The user's non-standard claims (groups, roles…), which Keycloak copies into its access tokens."""
    return {name: value for name, value in user.claims.items() if name not in STANDARD_CLAIMS}


def _sign_access_token(claims, headers=None):
    header = {"kid": _current_kid(), "typ": "at+jwt", **(headers or {})}
    return jwt.encode(claims, _jwk_private(), algorithm="RS256", headers=header)


def build_app(*, access_tokens="opaque", introspection=True, end_session=True, sso=True,
              clients=None, **mock_options):
    state = _ProviderState(access_tokens=access_tokens, introspection=introspection, end_session=end_session,
                           sso=sso, clients=clients or {PORTAL_CLIENT_ID: PORTAL_CLIENT_SECRET})

    def generate_access_token(client, grant_type, user, scope):
        if state.config["access_tokens"] == "jwt":
            now = int(time.time())
            token = _sign_access_token({
                "iss": _issuer(), "sub": user.sub, "aud": client.id, "azp": client.id, "client_id": client.id,
                "scope": scope or "", "iat": now, "nbf": now, "exp": now + 3600, "jti": uuid.uuid4().hex,
                **_custom_claims(user),
            })
        else:
            token = secrets.token_urlsafe(32)
        with state.lock:
            state.token_clients[token] = client.id
        return token

    # The Flask app is named after the mock's module so that its templates are found.
    app = flask.Flask(mock_app.__name__)
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = generate_access_token
    app.config["SESSION_COOKIE_NAME"] = "idp_session"  # never mixed with the portal's cookies on 127.0.0.1
    oidc_provider_mock.init_app(app, **mock_options)
    app.secret_key = secrets.token_bytes(16)

    original_discovery = app.view_functions[ENDPOINT + "openid_config"]
    original_authorize = app.view_functions[ENDPOINT + "authorize"]

    def discovery():
        document = original_discovery().get_json()
        if state.config["introspection"]:
            document["introspection_endpoint"] = flask.url_for("introspect", _external=True)
            document["introspection_endpoint_auth_methods_supported"] = ["client_secret_basic"]
        if not state.config["end_session"]:
            document.pop("end_session_endpoint", None)
        if state.config["discovery_issuer"]:
            document["issuer"] = state.config["discovery_issuer"]
        document["token_endpoint_auth_methods_supported"] = ["client_secret_basic", "client_secret_post"]
        return flask.jsonify(document)

    def authorize():
        sub = flask.session.get("sso_sub")
        if (flask.request.method == "GET" and state.config["sso"] and sub
                and flask.request.args.get("prompt") != "login" and storage.get_user(sub)):
            # A provider session exists: issue the code without asking, as a real provider does.
            grant, redirect_uri = mock_app._validate_auth_request_client_params(flask.request)
            response = grant.create_authorization_response(redirect_uri, storage.get_user(sub))
            return mock_app.authorization.handle_response(*response)
        response = original_authorize()
        if (flask.request.method == "POST" and flask.request.form.get("sub")
                and getattr(response, "status_code", 200) == 302 and "code=" in response.headers.get("Location", "")):
            flask.session["sso_sub"] = flask.request.form["sub"]
        return response

    def end_session_view():
        if not state.config["end_session"]:
            return "end_session disabled", 404
        values = flask.request.values.to_dict()
        with state.lock:
            state.end_session_requests.append(values)
        sub = None
        hint = values.get("id_token_hint")
        if hint:
            try:
                claims = jwt.decode(hint, _jwk_private().public_key(), algorithms=["RS256"],
                                    options={"verify_exp": False, "verify_aud": False})
            except jwt.PyJWTError:
                return "invalid id_token_hint", 400
            audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
            if values.get("client_id") and values["client_id"] not in audiences:
                return "client_id does not match id_token_hint", 400
            sub = claims.get("sub")
        sub = sub or flask.session.get("sso_sub")
        flask.session.pop("sso_sub", None)
        if sub:  # ending the session ends its tokens, as Keycloak does
            for token in storage.access_tokens():
                if token.user_id == sub:
                    storage.remove_access_token(token.token)
            for token in storage.refresh_tokens():
                if token.user_id == sub:
                    storage.remove_refresh_token(token.token)
        redirect_uri = values.get("post_logout_redirect_uri")
        if redirect_uri and (hint or values.get("client_id")):
            if values.get("state"):
                parts = urlsplit(redirect_uri)
                query = parse_qs(parts.query, keep_blank_values=True)
                query["state"] = [values["state"]]
                redirect_uri = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
            return flask.redirect(redirect_uri)
        return flask.render_template("end_session_confirm.html", session_ended=True)

    def introspect():
        if not state.config["introspection"]:
            return "introspection disabled", 404
        auth = flask.request.authorization
        client_id, secret = (auth.username, auth.password) if auth else (None, None)
        if not client_id or state.clients.get(client_id) != secret:
            return flask.jsonify({"error": "invalid_client"}), 401, {"WWW-Authenticate": 'Basic realm="introspection"'}
        token_string = flask.request.form.get("token", "")
        with state.lock:
            state.introspection_requests.append({"client_id": client_id, "token": token_string})
        token = storage.get_access_token(token_string)
        if token is None or token.is_expired():
            return flask.jsonify({"active": False})
        issued_to = state.token_clients.get(token_string)
        user = storage.get_user(token.user_id)
        return flask.jsonify({
            **(_custom_claims(user) if user else {}),
            "active": True, "iss": _issuer(), "sub": token.user_id, "client_id": issued_to, "aud": issued_to,
            "azp": issued_to, "scope": token.scope, "token_type": "Bearer",
            "exp": int(token.expires_at.timestamp()),
        })

    def control_config():
        with state.lock:
            state.config.update(flask.request.get_json())
            return flask.jsonify(state.config)

    def control_rotate_key():
        storage.jwk = jose.RSAKey.generate_key(is_private=True)
        return flask.jsonify({"kid": _current_kid()})

    def control_mint():
        """A token signed by the provider's current key, with chosen claims (null removes one)."""
        body = flask.request.get_json()
        now = int(time.time())
        sub = body.get("sub", "minted-user")
        claims = {"iss": _issuer(), "sub": sub, "aud": PORTAL_CLIENT_ID, "azp": PORTAL_CLIENT_ID,
                  "client_id": PORTAL_CLIENT_ID, "scope": "openid", "iat": now, "exp": now + 600,
                  "jti": uuid.uuid4().hex}
        for name, value in body.get("claims", {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        token = _sign_access_token(claims, body.get("header"))
        storage.store_access_token(AccessToken(
            token=token, user_id=sub, scope="openid",
            expires_at=datetime.now(UTC) + timedelta(seconds=max(claims.get("exp", now) - now, 0))))
        with state.lock:
            state.token_clients[token] = claims.get("azp") or PORTAL_CLIENT_ID
        return flask.jsonify({"access_token": token})

    def control_end_session_requests():
        with state.lock:
            return flask.jsonify(state.end_session_requests)

    app.view_functions[ENDPOINT + "openid_config"] = discovery
    app.view_functions[ENDPOINT + "authorize"] = authorize
    app.view_functions[ENDPOINT + "end_session"] = end_session_view
    app.add_url_rule("/oauth2/introspect", "introspect", introspect, methods=["POST"])
    app.add_url_rule("/_test/config", "control_config", control_config, methods=["PUT"])
    app.add_url_rule("/_test/rotate-key", "control_rotate_key", control_rotate_key, methods=["POST"])
    app.add_url_rule("/_test/mint-access-token", "control_mint", control_mint, methods=["POST"])
    app.add_url_rule("/_test/end-session-requests", "control_end_session_requests",
                     control_end_session_requests, methods=["GET"])
    return app


DEFAULT_CONFIG = {"access_tokens": "opaque", "introspection": True, "end_session": True, "sso": True,
                  "discovery_issuer": None}


@contextmanager
def running_provider(**options):
    """Start the provider on a free loopback port; yields its base URL (also its issuer)."""
    options.setdefault("require_nonce", True)
    app = build_app(**options)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}"


def configure_portal(settings, issuer):
    """Point the portal at the provider the way production does: the issuer and the client, nothing else.

    Every endpoint is then found through the discovery document.
    """
    from trustspace import oidc_discovery

    settings.OIDC_ISSUER = issuer
    for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT",
                 "OIDC_OP_JWKS_ENDPOINT", "OIDC_OP_LOGOUT_ENDPOINT", "OIDC_OP_INTROSPECTION_ENDPOINT"):
        setattr(settings, name, "")
    settings.OIDC_RP_CLIENT_ID = PORTAL_CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = PORTAL_CLIENT_SECRET
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    # oidc-provider-mock signs ID tokens without a "kid" header (its JWKS holds a single key);
    # iSC always sends one, so production keeps the kid check on.
    settings.OIDC_VERIFY_KID = False
    oidc_discovery.clear_caches()


def set_provider_config(issuer, **changes):
    """Switch the extensions (see DEFAULT_CONFIG); returns the provider's whole configuration."""
    response = requests.put(f"{issuer}/_test/config", json=changes, timeout=5)
    response.raise_for_status()
    return response.json()


def reset_provider(issuer):
    set_provider_config(issuer, **DEFAULT_CONFIG)


def rotate_key(issuer):
    response = requests.post(f"{issuer}/_test/rotate-key", timeout=5)
    response.raise_for_status()
    return response.json()["kid"]


def mint_access_token(issuer, sub, *, header=None, **claims):
    """An access token signed by the provider's key; ``claim=None`` removes a default claim."""
    response = requests.post(f"{issuer}/_test/mint-access-token",
                             json={"sub": sub, "claims": claims, "header": header or {}}, timeout=5)
    response.raise_for_status()
    return response.json()["access_token"]


def end_session_requests(issuer):
    response = requests.get(f"{issuer}/_test/end-session-requests", timeout=5)
    response.raise_for_status()
    return response.json()


def set_user(issuer, sub, claims):
    """Declare the claims the provider will give ``sub`` (email, names, groups…)."""
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5)
    response.raise_for_status()

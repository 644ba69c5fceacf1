"""iSC login (OpenID Connect) and API bearer tokens, against a real provider on 127.0.0.1.

The provider is oidc-provider-mock (tests/support/oidc_provider.py), served over real HTTP.
The portal side is driven with django.test.Client: we follow the redirects ourselves
(portal -> provider authorize -> portal callback).

For the token-tampering tests a small loopback HTTP proxy (``TokenProxy``) sits between the
portal and the provider's token endpoint: it forwards the portal's POST to the real
``/oauth2/token``, records it, and can rewrite the answer (tamper or re-sign the ID token).
It can also serve its own JWKS, so that a positive control (an ID token re-signed with a
key the portal trusts) proves that the refusals come from the checks under test and not
from a broken harness.
"""
import base64
import hashlib
import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    SESSION_KEY,
    authenticate,
    get_user_model,
)
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.shortcuts import resolve_url
from django.test import Client

from tests.support.oidc_provider import configure_portal, running_provider, set_user
from tests.support.serving import start_serving, stop_serving
from trustspace.models import AuditEntry
from trustspace.oidc import claims_say_ans_admin

pytestmark = pytest.mark.django_db

User = get_user_model()
CALLBACK = "http://testserver/oidc/callback/"
FAILURE_URL = "/connexion/?echec=1"
OIDC_LOGGER = "trustspace.oidc"
OIDC_LOGGERS = {OIDC_LOGGER, "mozilla_django_oidc.auth"}
DROP = object()  # claim value meaning "remove this claim"


# --------------------------------------------------------------------------- helpers


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unverified_claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def _apply(claims, changes):
    claims = dict(claims)
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def tamper_payload(token, **changes):
    """Rewrite the payload of a JWS, keeping the original header and signature."""
    header, payload, signature = token.split(".")
    claims = _apply(json.loads(b64url_decode(payload)), changes)
    return ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])


def resign(token, private_key, *, kid=None, **changes):
    """Re-sign (RS256) the claims of ``token`` with ``private_key``, optionally changing claims."""
    header = jwt.get_unverified_header(token)
    claims = _apply(unverified_claims(token), changes)
    headers = {"kid": kid} if kid else ({"kid": header["kid"]} if "kid" in header else None)
    return jwt.encode(claims, private_key, algorithm="RS256", headers=headers)


def public_jwks(private_key, kid):
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}


def s256(verifier):
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


class TokenProxy:
    """Loopback HTTP server standing in for the provider's token endpoint (and optionally its JWKS)."""

    def __init__(self, issuer):
        self.issuer = issuer
        self.transform = None  # callable(token_response_dict) -> dict
        self.rewrite_request = None  # callable(form_dict) -> form_dict, before forwarding
        self.replace_with = None  # (status, dict): answer this instead of forwarding
        self.jwks = None  # dict served at /jwks; None forwards to the provider's JWKS
        self.token_requests = []  # form fields of each POST received
        self.token_responses = []  # what the real provider answered
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                """Keep the test output quiet: no per-request log line."""

            def _send_json(self, status, data):
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                proxy.token_requests.append(form)
                if proxy.rewrite_request is not None:
                    body = urlencode(proxy.rewrite_request(form)).encode()
                if proxy.replace_with is not None:
                    self._send_json(*proxy.replace_with)
                    return
                headers = {"Content-Type": self.headers.get("Content-Type", "application/x-www-form-urlencoded")}
                if self.headers.get("Authorization"):
                    headers["Authorization"] = self.headers["Authorization"]
                upstream = requests.post(f"{proxy.issuer}/oauth2/token", data=body, headers=headers, timeout=5)
                data = upstream.json()
                proxy.token_responses.append(dict(data))
                if upstream.status_code == 200 and proxy.transform is not None:
                    data = proxy.transform(data)
                self._send_json(upstream.status_code, data)

            def do_GET(self):
                if self.path.split("?")[0] != "/jwks":
                    self._send_json(404, {"error": "not_found"})
                elif proxy.jwks is not None:
                    self._send_json(200, proxy.jwks)
                else:
                    upstream = requests.get(f"{proxy.issuer}/jwks", timeout=5)
                    self._send_json(upstream.status_code, upstream.json())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def token_url(self):
        return f"{self.base_url}/token"

    @property
    def jwks_url(self):
        return f"{self.base_url}/jwks"

    def rewrite_id_token(self, rewrite):
        self.transform = lambda data: {**data, "id_token": rewrite(data["id_token"])}

    def __enter__(self):
        self._thread = start_serving(self._server)
        return self

    def __exit__(self, *exc):
        stop_serving(self._server, self._thread)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def issuer():
    with running_provider() as url:
        yield url


@pytest.fixture(scope="module")
def foreign_key():
    """An RSA key the portal must not trust (an attacker's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def trusted_key():
    """An RSA key the portal trusts only when the proxy serves it as the JWKS."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def portal(settings, issuer):
    configure_portal(settings, issuer)
    # oidc-provider-mock signs its ID tokens without a "kid" header (its JWKS key has one);
    # mozilla-django-oidc would then fail with KeyError('kid') when OIDC_VERIFY_KID is on.
    # iSC (Keycloak) always sends a kid; here the JWKS holds one key, so matching by alg is enough.
    settings.OIDC_VERIFY_KID = False
    cache.clear()  # the bearer authentication caches userinfo answers
    return issuer


@pytest.fixture
def proxy(settings, issuer, portal):
    with TokenProxy(issuer) as running:
        # An OIDC_OP_* override wins over discovery: the portal talks to the proxy for tokens only.
        settings.OIDC_OP_TOKEN_ENDPOINT = running.token_url
        yield running


@pytest.fixture
def sub(request):
    """A subject unique to the test (the provider is shared by the module)."""
    return "isc-" + hashlib.sha1(request.node.nodeid.encode(), usedforsecurity=False).hexdigest()[:16]


def start_login(client):
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    return response["Location"]


def authorize(authorize_url, sub):
    """Log in as ``sub`` at the provider; return the path+query of the portal callback."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert urlunsplit((location.scheme, location.netloc, location.path, "", "")) == CALLBACK
    return f"{location.path}?{location.query}"


def login(client, sub):
    """The whole browser round trip; returns the callback response."""
    return client.get(authorize(start_login(client), sub))


def session_user_pk(client):
    value = client.session.get(SESSION_KEY)
    return None if value is None else int(value)


def assert_refused(response, client, sub=None):
    assert response.status_code == 302
    assert response["Location"] == FAILURE_URL
    assert session_user_pk(client) is None
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("La connexion avec iSC a échoué" in m for m in messages), messages
    if sub is not None:
        assert not User.objects.filter(oidc_sub=sub).exists()


def refusal_reasons(caplog):
    return [r.getMessage() for r in caplog.records if r.name in OIDC_LOGGERS]


# --------------------------------------------------------------------------- 1. full flow


def test_authorization_code_flow_logs_in_and_creates_user_bound_to_sub(client, portal, settings, sub):
    set_user(portal, sub, {"email": "alice@example.fr", "given_name": "Alice", "family_name": "Martin"})

    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert urlunsplit((location.scheme, location.netloc, location.path, "", "")) == f"{portal}/oauth2/authorize"
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == "drimm-portal-test"
    assert params["redirect_uri"] == CALLBACK
    assert "openid" in params["scope"].split()
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32
    assert params["code_challenge_method"] == "S256"
    stored = client.session["oidc_states"][params["state"]]
    assert stored["nonce"] == params["nonce"]
    assert params["code_challenge"] == s256(stored["code_verifier"])

    callback = authorize(response["Location"], sub)
    callback_params = parse_qs(urlsplit(callback).query)
    assert callback_params["state"] == [params["state"]]
    assert callback_params["code"][0]

    response = client.get(callback)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)

    user = User.objects.get(oidc_sub=sub)
    assert (user.email, user.first_name, user.last_name) == ("alice@example.fr", "Alice", "Martin")
    assert user.is_ans_admin is False
    assert user.username == "isc:" + hashlib.sha256(sub.encode()).hexdigest()[:32]
    assert not user.has_usable_password()
    created = AuditEntry.objects.get(action="user.created_from_identity", object_id=str(user.pk))
    assert created.actor_label == "fournisseur d'identité iSC"
    assert created.after == {"username": user.username, "email": "alice@example.fr", "first_name": "Alice",
                             "last_name": "Martin"}
    assert session_user_pk(client) == user.pk
    assert client.session[BACKEND_SESSION_KEY] == "trustspace.oidc.IscAuthenticationBackend"
    assert params["state"] not in client.session["oidc_states"]  # single use
    assert unverified_claims(client.session["oidc_id_token"])["sub"] == sub

    # Replaying the same callback URL is refused (the state was consumed).
    replay = Client()
    assert_refused(replay.get(callback), replay)


def test_token_request_carries_pkce_verifier_and_redirect_uri(client, proxy, sub):
    set_user(proxy.issuer, sub, {"email": "pkce@example.fr"})
    authorize_url = start_login(client)
    challenge = parse_qs(urlsplit(authorize_url).query)["code_challenge"][0]

    response = client.get(authorize(authorize_url, sub))

    assert response.status_code == 302 and response["Location"] != FAILURE_URL
    [token_request] = proxy.token_requests
    assert token_request["grant_type"] == "authorization_code"
    assert token_request["redirect_uri"] == CALLBACK
    assert token_request["client_id"] == "drimm-portal-test"
    assert s256(token_request["code_verifier"]) == challenge
    assert session_user_pk(client) == User.objects.get(oidc_sub=sub).pk


# --------------------------------------------------------------------------- 2. repeated logins, ANS admin claim


def test_second_login_updates_claims_without_creating_a_user_and_tracks_ans_admin(portal, sub):
    set_user(portal, sub, {"email": "bob@example.fr", "given_name": "Bob", "family_name": "Durand"})
    first = Client()
    login(first, sub)
    user = User.objects.get(oidc_sub=sub)
    assert user.is_ans_admin is False

    set_user(portal, sub, {"email": "bob.durand@example.fr", "given_name": "Robert", "family_name": "Durand",
                           "groups": ["staff", "ans-drimm-admin"]})
    second = Client()
    response = login(second, sub)
    assert response["Location"] != FAILURE_URL
    assert User.objects.filter(oidc_sub=sub).count() == 1
    user.refresh_from_db()
    assert (user.email, user.first_name) == ("bob.durand@example.fr", "Robert")
    assert user.is_ans_admin is True
    assert session_user_pk(second) == user.pk
    [updated] = AuditEntry.objects.filter(action="user.updated_from_identity", object_id=str(user.pk))
    assert updated.before == {"email": "bob@example.fr", "first_name": "Bob"}
    assert updated.after == {"email": "bob.durand@example.fr", "first_name": "Robert"}

    set_user(portal, sub, {"email": "bob.durand@example.fr", "given_name": "Robert", "family_name": "Durand",
                           "groups": ["staff"]})
    third = Client()
    login(third, sub)
    user.refresh_from_db()
    assert user.is_ans_admin is False
    assert session_user_pk(third) == user.pk
    assert User.objects.filter(oidc_sub=sub).count() == 1
    # The name and e-mail did not change: no second update in the audit trail.
    assert AuditEntry.objects.filter(action="user.updated_from_identity", object_id=str(user.pk)).count() == 1


def test_names_from_the_provider_lose_bidi_and_invisible_characters(portal, sub):
    set_user(portal, sub, {"email": "eve@example.fr", "given_name": "Eve\u202egnp.exe",
                           "family_name": "Mal\u200bory\u2066"})
    login(Client(), sub)
    user = User.objects.get(oidc_sub=sub)
    assert (user.first_name, user.last_name) == ("Evegnp.exe", "Malory")


@pytest.mark.parametrize("claim, expected", [
    (["ans-drimm-admin"], True),
    ("ans-drimm-admin", True),
    ("staff, ans-drimm-admin", True),
    (["ans-drimm-admin-readonly"], False),
    ("not-ans-drimm-admin", False),
    ([], False),
    (None, False),
])
def test_ans_admin_claim_matches_whole_values_only(settings, claim, expected):
    settings.OIDC_ANS_ADMIN_CLAIM = "groups"
    settings.OIDC_ANS_ADMIN_VALUES = ["ans-drimm-admin"]
    claims = {"sub": "x"} if claim is None else {"sub": "x", "groups": claim}
    assert claims_say_ans_admin(claims) is expected


def test_ans_admin_claim_name_and_values_come_from_settings(settings, portal, client, sub):
    settings.OIDC_ANS_ADMIN_CLAIM = "roles"
    settings.OIDC_ANS_ADMIN_VALUES = ["drimm:admin"]
    set_user(portal, sub, {"email": "carol@example.fr", "groups": ["ans-drimm-admin"], "roles": ["drimm:admin"]})
    login(client, sub)
    assert User.objects.get(oidc_sub=sub).is_ans_admin is True


# --------------------------------------------------------------------------- 3. never matched by e-mail


def test_user_is_never_matched_by_email(client, portal, make_user, sub):
    existing = make_user("dora", email="dora@example.fr", oidc_sub="isc-dora-original", is_ans_admin=True)
    unbound = make_user("dora2", email="Dora@Example.fr", oidc_sub=None)
    set_user(portal, sub, {"email": "dora@example.fr", "given_name": "Impostor", "family_name": "X"})

    response = login(client, sub)

    assert response["Location"] == resolve_url("home")
    new_user = User.objects.get(oidc_sub=sub)
    assert new_user.pk not in {existing.pk, unbound.pk}
    assert session_user_pk(client) == new_user.pk
    assert new_user.is_ans_admin is False
    existing.refresh_from_db()
    unbound.refresh_from_db()
    assert (existing.oidc_sub, existing.first_name, existing.is_ans_admin) == ("isc-dora-original", "Dora", True)
    assert unbound.oidc_sub is None


def test_existing_user_is_found_by_sub_even_when_email_changed(client, portal, make_user, sub):
    existing = make_user("erin", email="erin@old.example.fr", oidc_sub=sub)
    set_user(portal, sub, {"email": "erin@new.example.fr"})
    login(client, sub)
    assert session_user_pk(client) == existing.pk
    existing.refresh_from_db()
    assert existing.email == "erin@new.example.fr"
    assert User.objects.filter(oidc_sub=sub).count() == 1


# --------------------------------------------------------------------------- 4. state


def test_tampered_state_is_refused(client, portal, sub):
    set_user(portal, sub, {"email": "frank@example.fr"})
    callback = urlsplit(authorize(start_login(client), sub))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    query["state"] = "forged-" + query["state"]

    response = client.get(f"{callback.path}?{urlencode(query)}")

    assert_refused(response, client, sub)


def test_callback_from_another_browser_session_is_refused(portal, sub):
    """Login CSRF: a victim must not be logged in with a code+state obtained by an attacker's session."""
    set_user(portal, sub, {"email": "mallory@example.fr"})
    attacker, victim = Client(), Client()
    start_login(victim)  # the victim has a login in progress, with its own state
    attacker_callback = authorize(start_login(attacker), sub)

    response = victim.get(attacker_callback)

    assert_refused(response, victim, sub)


def test_callback_without_login_in_progress_is_refused(client, portal, sub):
    set_user(portal, sub, {"email": "gina@example.fr"})
    callback = authorize(start_login(Client()), sub)
    response = client.get(callback)
    assert response.status_code == 302 and response["Location"] == FAILURE_URL
    assert session_user_pk(client) is None
    assert not User.objects.filter(oidc_sub=sub).exists()


def test_denied_authorization_is_refused(client, portal, sub):
    authorize_url = start_login(client)
    response = requests.post(authorize_url, data={"action": "deny"}, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert parse_qs(location.query)["error"] == ["access_denied"]

    response = client.get(f"{location.path}?{location.query}")

    assert_refused(response, client, sub)


# --------------------------------------------------------------------------- 5. tampered / forged ID tokens


def test_proxy_positive_control_token_signed_by_served_jwks_is_accepted(client, proxy, trusted_key, settings, sub):
    """Without this, the refusals below could come from a broken proxy rather than from the checks."""
    set_user(proxy.issuer, sub, {"email": "henri@example.fr"})
    proxy.jwks = public_jwks(trusted_key, "trusted")
    settings.OIDC_OP_JWKS_ENDPOINT = proxy.jwks_url
    proxy.rewrite_id_token(lambda token: resign(token, trusted_key, kid="trusted"))

    response = login(client, sub)

    assert response["Location"] == resolve_url("home")
    assert session_user_pk(client) == User.objects.get(oidc_sub=sub).pk
    assert len(proxy.token_requests) == 1


def test_id_token_with_modified_payload_is_refused(client, proxy, caplog, sub):
    set_user(proxy.issuer, sub, {"email": "ines@example.fr"})
    forged_sub = sub + "-forged"
    set_user(proxy.issuer, forged_sub, {"email": "victim@example.fr", "groups": ["ans-drimm-admin"]})
    proxy.rewrite_id_token(lambda token: tamper_payload(token, sub=forged_sub, email="victim@example.fr",
                                                        groups=["ans-drimm-admin"]))
    caplog.set_level(logging.WARNING, logger=OIDC_LOGGER)

    response = login(client, sub)

    assert_refused(response, client, forged_sub)
    assert not User.objects.filter(oidc_sub=sub).exists()
    assert any("JWS token verification failed" in reason for reason in refusal_reasons(caplog))
    # The proxy did tamper a genuine token (same header and signature, other payload).
    genuine = proxy.token_responses[0]["id_token"]
    assert unverified_claims(genuine)["sub"] == sub


def test_id_token_signed_by_another_key_with_the_same_kid_is_refused(client, proxy, foreign_key, caplog, sub):
    set_user(proxy.issuer, sub, {"email": "jules@example.fr"})
    provider_kid = requests.get(f"{proxy.issuer}/jwks", timeout=5).json()["keys"][0]["kid"]
    proxy.rewrite_id_token(lambda token: resign(token, foreign_key, kid=provider_kid, groups=["ans-drimm-admin"]))
    caplog.set_level(logging.WARNING, logger=OIDC_LOGGER)

    response = login(client, sub)

    assert_refused(response, client, sub)
    assert any("JWS token verification failed" in reason for reason in refusal_reasons(caplog))


def test_unsigned_id_token_is_refused(client, proxy, caplog, sub):
    set_user(proxy.issuer, sub, {"email": "karl@example.fr"})

    def alg_none(token):
        header = {"alg": "none", "typ": "JWT"}
        return ".".join([b64url_encode(json.dumps(header).encode()), token.split(".")[1], ""])

    proxy.rewrite_id_token(alg_none)
    caplog.set_level(logging.WARNING, logger=OIDC_LOGGER)

    response = login(client, sub)

    assert_refused(response, client, sub)
    assert any("does not match the client's OIDC_RP_SIGN_ALGO" in reason for reason in refusal_reasons(caplog))


def test_id_token_for_another_sub_than_the_access_token_is_refused(client, proxy, trusted_key, settings, caplog, sub):
    """A validly signed ID token whose sub differs from the userinfo sub (token substitution)."""
    set_user(proxy.issuer, sub, {"email": "lea@example.fr"})
    other = sub + "-other"
    proxy.jwks = public_jwks(trusted_key, "trusted")
    settings.OIDC_OP_JWKS_ENDPOINT = proxy.jwks_url
    proxy.rewrite_id_token(lambda token: resign(token, trusted_key, kid="trusted", sub=other))
    caplog.set_level(logging.WARNING, logger="mozilla_django_oidc.auth")

    response = login(client, sub)

    assert_refused(response, client, other)
    assert not User.objects.filter(oidc_sub=sub).exists()
    assert any("userinfo sub differs" in reason for reason in refusal_reasons(caplog))


@pytest.mark.parametrize("changes, reason", [
    ({"aud": "another-client"}, "not issued for this client"),
    ({"aud": ["another-client", "yet-another"]}, "not issued for this client"),
    ({"iss": "https://evil.example"}, "unexpected issuer"),
    ({"iss": DROP}, "unexpected issuer"),
    ({"nonce": "replayed-nonce"}, "Nonce verification failed"),
    ({"nonce": DROP}, "Nonce verification failed"),
])
def test_validly_signed_id_token_with_wrong_claims_is_refused(client, proxy, trusted_key, settings, caplog,
                                                              sub, changes, reason):
    set_user(proxy.issuer, sub, {"email": "marc@example.fr"})
    proxy.jwks = public_jwks(trusted_key, "trusted")
    settings.OIDC_OP_JWKS_ENDPOINT = proxy.jwks_url
    proxy.rewrite_id_token(lambda token: resign(token, trusted_key, kid="trusted", **changes))
    caplog.set_level(logging.WARNING, logger=OIDC_LOGGER)

    response = login(client, sub)

    assert_refused(response, client, sub)
    assert any(reason in message for message in refusal_reasons(caplog)), refusal_reasons(caplog)


def test_expired_id_token_is_refused_with_failure_page(client, proxy, trusted_key, settings, sub):
    set_user(proxy.issuer, sub, {"email": "nina@example.fr"})
    proxy.jwks = public_jwks(trusted_key, "trusted")
    settings.OIDC_OP_JWKS_ENDPOINT = proxy.jwks_url
    now = int(time.time())
    proxy.rewrite_id_token(lambda token: resign(token, trusted_key, kid="trusted", iat=now - 7200, exp=now - 3600))

    response = login(client, sub)

    assert_refused(response, client, sub)


def test_token_endpoint_error_is_refused_with_failure_page(client, proxy, sub):
    set_user(proxy.issuer, sub, {"email": "oscar@example.fr"})
    proxy.replace_with = (400, {"error": "invalid_grant", "error_description": "code expired"})

    response = login(client, sub)

    assert_refused(response, client, sub)


# --------------------------------------------------------------------------- 6. wrong issuer / audience in settings


def test_issuer_different_from_configured_issuer_is_refused(client, portal, settings, caplog, sub):
    set_user(portal, sub, {"email": "paul@example.fr"})
    callback = authorize(start_login(client), sub)
    # The portal now expects another issuer; its endpoints are set explicitly (no discovery, nothing
    # leaves this machine), so only the ID token's "iss" can refuse the login.
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{portal}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{portal}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{portal}/jwks"
    settings.OIDC_ISSUER = "http://127.0.0.1:9/realms/industriels"
    caplog.set_level(logging.WARNING, logger=OIDC_LOGGER)

    response = client.get(callback)

    assert_refused(response, client, sub)
    assert any("unexpected issuer" in reason for reason in refusal_reasons(caplog))


def test_issuer_with_trailing_slash_in_token_is_accepted(client, proxy, trusted_key, settings, sub):
    set_user(proxy.issuer, sub, {"email": "quentin@example.fr"})
    proxy.jwks = public_jwks(trusted_key, "trusted")
    settings.OIDC_OP_JWKS_ENDPOINT = proxy.jwks_url
    proxy.rewrite_id_token(lambda token: resign(token, trusted_key, kid="trusted", iss=proxy.issuer + "/"))

    response = login(client, sub)

    assert response["Location"] == resolve_url("home")
    assert session_user_pk(client) == User.objects.get(oidc_sub=sub).pk


def test_audience_different_from_configured_client_is_refused(client, proxy, settings, caplog, sub):
    """The provider issues an ID token for another client (the one that asked for the code)."""
    set_user(proxy.issuer, sub, {"email": "rose@example.fr"})
    callback = authorize(start_login(client), sub)  # code issued to client "drimm-portal-test"
    settings.OIDC_RP_CLIENT_ID = "another-portal"  # the portal now expects another audience
    # The proxy presents the code with the client_id it was issued to, so the provider answers.
    proxy.rewrite_request = lambda form: {**form, "client_id": "drimm-portal-test"}
    caplog.set_level(logging.WARNING, logger=OIDC_LOGGER)

    response = client.get(callback)

    assert proxy.token_requests[0]["client_id"] == "another-portal"
    audience = unverified_claims(proxy.token_responses[0]["id_token"])["aud"]
    assert audience in ("drimm-portal-test", ["drimm-portal-test"])
    assert_refused(response, client, sub)
    assert any("not issued for this client" in reason for reason in refusal_reasons(caplog))


# --------------------------------------------------------------------------- 7. API bearer tokens


def test_api_accepts_isc_access_token(portal, settings, sub):
    settings.OIDC_STORE_ACCESS_TOKEN = True
    set_user(portal, sub, {"email": "sarah@example.fr", "given_name": "Sarah", "family_name": "Petit",
                           "groups": ["ans-drimm-admin"]})
    browser = Client()
    login(browser, sub)
    access_token = browser.session["oidc_access_token"]
    assert access_token
    user = User.objects.get(oidc_sub=sub)

    api = Client()  # no session: only the bearer token authenticates
    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}")

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["id"] == user.pk
    assert data["email"] == "sarah@example.fr"
    assert data["name"] == "Sarah Petit"
    assert data["is_ans_admin"] is True
    assert data["memberships"] == []
    assert User.objects.filter(oidc_sub=sub).count() == 1


def test_api_refuses_garbage_bearer_token(client, portal):
    for _ in range(2):  # the refusal is not cached as a success
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer not-a-real-token")
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"error"}
        assert body["error"]["code"] == "authentication_failed"
        assert body["error"]["message"]
        assert response.has_header("WWW-Authenticate")


def test_api_refuses_bearer_token_revoked_at_provider_when_not_cached(portal, settings, sub):
    settings.OIDC_STORE_ACCESS_TOKEN = True
    settings.OIDC_BEARER_CACHE_SECONDS = 0
    set_user(portal, sub, {"email": "tom@example.fr"})
    browser = Client()
    login(browser, sub)
    token = browser.session["oidc_access_token"]
    api = Client()
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    requests.post(f"{portal}/users/{sub}/revoke-tokens", timeout=5).raise_for_status()

    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "error" in response.json()


def test_api_bearer_token_of_deactivated_user_is_refused(portal, settings, sub):
    settings.OIDC_STORE_ACCESS_TOKEN = True
    set_user(portal, sub, {"email": "ugo@example.fr"})
    browser = Client()
    login(browser, sub)
    token = browser.session["oidc_access_token"]
    api = Client()
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200  # control

    User.objects.filter(oidc_sub=sub).update(is_active=False)
    cache.clear()

    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_deactivated_user_cannot_log_in_again(portal, sub):
    set_user(portal, sub, {"email": "vera@example.fr"})
    login(Client(), sub)
    User.objects.filter(oidc_sub=sub).update(is_active=False)
    browser = Client()
    response = login(browser, sub)
    assert response["Location"] == FAILURE_URL
    assert session_user_pk(browser) is None


def test_deactivated_user_open_session_is_no_longer_authenticated(client, portal, sub):
    set_user(portal, sub, {"email": "willy@example.fr"})
    login(client, sub)
    assert client.get("/compte/jetons/").status_code == 200  # control: an authenticated page

    User.objects.filter(oidc_sub=sub).update(is_active=False)

    response = client.get("/compte/jetons/")
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url("login"))


def test_api_without_credentials_is_401(client, portal):
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert "error" in response.json()


# --------------------------------------------------------------------------- 8. development password login


@pytest.fixture
def password_user(make_user):
    user = make_user("devuser", oidc_sub=None)
    user.set_password("correct horse battery staple")
    user.save()
    return user


def test_dev_password_login_works_in_debug(client, settings, password_user):
    settings.DEBUG = True
    settings.DEV_PASSWORD_LOGIN = True

    response = client.post("/connexion/", {"username": "devuser", "password": "correct horse battery staple"})

    assert response.status_code == 302
    assert response["Location"] == resolve_url("home")
    assert session_user_pk(client) == password_user.pk
    assert client.session[BACKEND_SESSION_KEY] == "trustspace.auth_backends.DevelopmentPasswordBackend"


def test_dev_password_login_rejects_wrong_password_in_debug(client, settings, password_user):
    settings.DEBUG = True
    settings.DEV_PASSWORD_LOGIN = True
    response = client.post("/connexion/", {"username": "devuser", "password": "wrong"})
    assert response.status_code == 200
    assert session_user_pk(client) is None


def test_password_backend_never_authenticates_without_debug(rf, settings, password_user):
    settings.DEBUG = False
    settings.DEV_PASSWORD_LOGIN = True  # even if forced on
    assert authenticate(username="devuser", password="correct horse battery staple") is None
    assert authenticate(rf.post("/connexion/"), username="devuser", password="correct horse battery staple") is None
    # Control: the same credentials are valid in debug.
    settings.DEBUG = True
    assert authenticate(username="devuser", password="correct horse battery staple") == password_user


def test_password_login_view_is_404_without_debug(client, settings, password_user):
    settings.DEBUG = False
    settings.DEV_PASSWORD_LOGIN = False  # what settings.py computes when DEBUG=0

    response = client.post("/connexion/", {"username": "devuser", "password": "correct horse battery staple"})

    assert response.status_code == 404
    assert session_user_pk(client) is None


def test_password_login_view_does_not_log_in_without_debug_even_if_forced(client, settings, password_user):
    settings.DEBUG = False
    settings.DEV_PASSWORD_LOGIN = True

    response = client.post("/connexion/", {"username": "devuser", "password": "correct horse battery staple"})

    assert response.status_code != 302
    assert session_user_pk(client) is None


def test_password_login_view_is_404_without_debug_even_if_forced(client, settings, password_user):
    settings.DEBUG = False
    settings.DEV_PASSWORD_LOGIN = True

    response = client.post("/connexion/", {"username": "devuser", "password": "correct horse battery staple"})

    assert response.status_code == 404

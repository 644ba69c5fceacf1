"""Issue 11, part 1 — OIDC done by the book, against a real provider on 127.0.0.1.

The provider (tests/support/oidc_provider.py) is oidc-provider-mock extended with a provider session,
RP-initiated logout, introspection and JWT access tokens. Its endpoints are at /oauth2/authorize,
/oauth2/token, /userinfo, /jwks, /oauth2/end_session, /oauth2/introspect — not Keycloak's layout — and
the portal is given only OIDC_ISSUER and its client id/secret: everything else comes from discovery.

The portal is driven with django.test.Client; the browser's side at the provider is a requests.Session,
which keeps the provider's session cookie like a browser would.
"""
import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.test import Client

from tests.support.oidc_provider import (
    PORTAL_CLIENT_ID,
    configure_portal,
    end_session_requests,
    mint_access_token,
    reset_provider,
    rotate_key,
    running_provider,
    set_provider_config,
    set_user,
)
from trustspace import oidc_discovery
from trustspace.models import AuditEntry
from trustspace.oidc import CHECKED_AT_KEY, REFRESH_TOKEN_KEY
from trustspace.oidc_session import RETRY_AT_KEY
from trustspace.oidc_tokens import CACHE_PREFIX

pytestmark = pytest.mark.django_db

User = get_user_model()
ADMIN = {"groups": ["ans-drimm-admin"]}
CLOSED_PORT = "http://127.0.0.1:9"
BEARER_CHALLENGE = 'Bearer realm="api", error="invalid_token"'


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def issuer():
    with running_provider() as url:
        yield url


@pytest.fixture
def portal(settings, issuer):
    configure_portal(settings, issuer)
    reset_provider(issuer)
    settings.OIDC_JWKS_MIN_REFRESH_SECONDS = 0
    cache.clear()
    return issuer


@pytest.fixture
def sub(request):
    import hashlib

    return "isc-" + hashlib.sha1(request.node.nodeid.encode(), usedforsecurity=False).hexdigest()[:16]


@pytest.fixture
def browser():
    """The person's browser as the provider sees it (keeps the provider's session cookie)."""
    with requests.Session() as session:
        yield session


def start_login(client):
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def callback_path(provider_response):
    assert provider_response.status_code == 302, provider_response.text[:500]
    location = urlsplit(provider_response.headers["Location"])
    assert location.path == "/oidc/callback/"
    return f"{location.path}?{location.query}"


def login(client, browser, sub):
    """« Se connecter avec iSC » as ``sub``: the provider's form is filled in; returns the callback response."""
    provider = browser.post(start_login(client), data={"sub": sub}, allow_redirects=False, timeout=5)
    return client.get(callback_path(provider))


def session_user(client):
    pk = client.session.get(SESSION_KEY)
    return None if pk is None else User.objects.get(pk=pk)


def rights(user):
    user.refresh_from_db()
    return user.is_ans_admin, user.is_superuser, user.is_staff


def rights_entries(user):
    return list(AuditEntry.objects.filter(action="user.rights_changed", object_id=str(user.pk)).order_by("seq"))


def api_me(token):
    return Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_bearer_refused(response, *fragments):
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == "authentication_failed"
    message = body["error"]["message"]
    assert message.startswith(("Jeton iSC", "En-tête")), message
    for fragment in fragments:
        assert fragment in message, message
    assert response["WWW-Authenticate"] == BEARER_CHALLENGE


def age_session(client):
    """Make the session's last rights check older than OIDC_RIGHTS_RECHECK_SECONDS."""
    session = client.session
    session[CHECKED_AT_KEY] = time.time() - django_settings.OIDC_RIGHTS_RECHECK_SECONDS - 1
    session.save()


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --------------------------------------------------------------------------- discovery


def test_only_the_issuer_is_configured_and_endpoints_come_from_discovery(client, browser, portal, settings, sub):
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS", "LOGOUT", "INTROSPECTION"):
        assert getattr(settings, f"OIDC_OP_{name}_ENDPOINT") == ""
    set_user(portal, sub, {"email": "decouverte@example.fr"})

    authorize_url = start_login(client)
    assert authorize_url.startswith(f"{portal}/oauth2/authorize?")
    assert "/protocol/openid-connect/" not in authorize_url  # not the Keycloak layout of the old default
    response = login(client, browser, sub)

    assert response.status_code == 302 and response["Location"] == "/"
    user = session_user(client)
    assert user.oidc_sub == sub and user.email == "decouverte@example.fr"
    assert client.session[REFRESH_TOKEN_KEY]  # kept for the rights re-check
    assert oidc_discovery.endpoint("token") == f"{portal}/oauth2/token"
    assert oidc_discovery.endpoint("end_session") == f"{portal}/oauth2/end_session"
    assert oidc_discovery.endpoint("introspection") == f"{portal}/oauth2/introspect"


def test_discovery_document_is_cached_in_process_and_in_the_django_cache(portal, settings, monkeypatch):
    fetched = []
    real_get = oidc_discovery.http_get_json

    def counting_get(url):
        fetched.append(url)
        return real_get(url)

    monkeypatch.setattr(oidc_discovery, "http_get_json", counting_get)
    assert oidc_discovery.endpoint("token") == f"{portal}/oauth2/token"
    assert oidc_discovery.endpoint("userinfo") == f"{portal}/userinfo"
    assert fetched == [f"{portal}/.well-known/openid-configuration"]

    oidc_discovery._documents.clear()  # another worker process: the shared cache answers
    assert oidc_discovery.endpoint("jwks") == f"{portal}/jwks"
    assert len(fetched) == 1

    settings.OIDC_DISCOVERY_TTL_SECONDS = 0  # expired: fetched again
    oidc_discovery.endpoint("token")
    assert len(fetched) == 2


def test_an_oidc_op_setting_overrides_the_discovered_endpoint(portal, settings):
    settings.OIDC_OP_USER_ENDPOINT = f"{portal}/elsewhere/userinfo"
    assert oidc_discovery.endpoint("userinfo") == f"{portal}/elsewhere/userinfo"
    assert oidc_discovery.endpoint("token") == f"{portal}/oauth2/token"


@pytest.mark.parametrize("url, debug, accepted", [
    ("https://auth.example.fr/realms/x/protocol/openid-connect/token", False, True),
    ("http://127.0.0.1:8080/token", False, True),
    ("http://localhost/token", False, True),
    ("http://auth.example.fr/token", False, False),  # a downgrade to plain http is refused in production
    ("http://keycloak:8080/token", True, True),  # a development provider
    ("javascript:alert(1)", False, False),
    ("https:///no-host", False, False),
])
def test_discovered_endpoints_must_be_https_outside_this_machine(settings, url, debug, accepted):
    settings.DEBUG = debug
    assert oidc_discovery._acceptable_url(url) is accepted


def test_discovery_document_announcing_another_issuer_is_refused(client, portal):
    set_provider_config(portal, discovery_issuer="https://evil.example/realms/industriels")

    response = client.get("/oidc/authenticate/")

    assert response.status_code == 503
    assert "Connexion iSC momentanément impossible" in response.content.decode()
    with pytest.raises(oidc_discovery.ProviderMisconfigured):
        oidc_discovery.provider_metadata(fresh=True)


# --------------------------------------------------------------------------- provider down: French page


def assert_french_unavailable_page(response):
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert "Connexion iSC momentanément impossible" in page
    assert "ne répond pas" in page and "fr-alert" in page  # DSFR alert, in French
    assert 'href="/oidc/authenticate/"' in page  # « Réessayer »


def test_provider_unreachable_at_login_gives_a_french_page(client, settings):
    settings.OIDC_ISSUER = CLOSED_PORT + "/realms/industriels"
    assert_french_unavailable_page(client.get("/oidc/authenticate/"))


def test_endpoints_set_by_hand_need_no_discovery_and_are_probed(client, portal, settings):
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{portal}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{portal}/oauth2/token"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{portal}/jwks"
    settings.OIDC_ISSUER = CLOSED_PORT + "/realms/industriels"  # no discovery document to be had
    assert start_login(client).startswith(f"{portal}/oauth2/authorize?")

    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{CLOSED_PORT}/auth"
    assert_french_unavailable_page(client.get("/oidc/authenticate/"))


def test_provider_gone_after_discovery_was_cached_still_gives_the_french_page(client, settings):
    with running_provider() as url:
        configure_portal(settings, url)
        assert start_login(client).startswith(url)  # discovery cached while it was up
    assert_french_unavailable_page(Client().get("/oidc/authenticate/"))


def test_provider_unreachable_at_callback_gives_a_french_page(client, browser, settings, sub):
    with running_provider() as url:
        configure_portal(settings, url)
        set_user(url, sub, {"email": "panne@example.fr"})
        callback = callback_path(browser.post(start_login(client), data={"sub": sub}, allow_redirects=False, timeout=5))
    # The provider went down between its authorization page and the callback (token endpoint unreachable).
    response = client.get(callback)

    assert_french_unavailable_page(response)
    assert session_user(client) is None
    assert not User.objects.filter(oidc_sub=sub).exists()


def test_provider_error_at_callback_gives_a_french_page(client, browser, portal, settings, sub):
    set_user(portal, sub, {"email": "erreur@example.fr"})
    callback = callback_path(browser.post(start_login(client), data={"sub": sub}, allow_redirects=False, timeout=5))
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{CLOSED_PORT}/token"

    assert_french_unavailable_page(client.get(callback))


# --------------------------------------------------------------------------- RP-initiated logout


def test_logout_ends_the_provider_session_and_the_next_login_asks_again(client, browser, portal, sub):
    set_user(portal, sub, {"email": "sortie@example.fr"})
    login(client, browser, sub)
    id_token = client.session["oidc_id_token"]
    # Control: while the provider session lives, « Se connecter avec iSC » is answered without asking.
    silent = browser.get(start_login(Client()), allow_redirects=False, timeout=5)
    assert silent.status_code == 302 and "code=" in silent.headers["Location"]

    response = client.post("/deconnexion/")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{portal}/oauth2/end_session"
    params = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert params == {"id_token_hint": id_token, "post_logout_redirect_uri": "http://testserver/",
                      "client_id": PORTAL_CLIENT_ID}
    assert session_user(client) is None  # the portal session ended first
    back = browser.get(response["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302 and back.headers["Location"] == "http://testserver/"
    assert end_session_requests(portal)[-1]["id_token_hint"] == id_token
    home = client.get("/")
    assert "Vous êtes déconnecté." in [str(m) for m in get_messages(home.wsgi_request)]

    # The provider session is gone: the next login shows the provider's form again.
    asks = browser.get(start_login(client), allow_redirects=False, timeout=5)
    assert asks.status_code == 200
    assert 'name="sub"' in asks.text


def test_post_logout_redirect_uri_setting_overrides_the_home_page(client, browser, portal, settings, sub):
    settings.OIDC_POST_LOGOUT_REDIRECT_URI = "https://portail.example.fr/"
    set_user(portal, sub, {"email": "retour@example.fr"})
    login(client, browser, sub)
    response = client.post("/deconnexion/")
    assert parse_qs(urlsplit(response["Location"]).query)["post_logout_redirect_uri"] == ["https://portail.example.fr/"]


def test_logout_is_local_when_the_provider_offers_no_end_session(client, browser, portal, sub):
    set_user(portal, sub, {"email": "local@example.fr"})
    login(client, browser, sub)
    set_provider_config(portal, end_session=False)
    oidc_discovery.clear_caches()

    response = client.post("/deconnexion/")

    assert response.status_code == 302 and response["Location"] == "/"
    assert session_user(client) is None


def test_logout_from_the_admin_site_ends_the_provider_session_too(client, browser, portal, sub):
    """/admin/'s « Déconnexion » is the portal's logout: the provider session ends, not only the portal's."""
    set_user(portal, sub, {"email": "admin-sortie@example.fr", **ADMIN})
    login(client, browser, sub)
    assert rights(session_user(client))[1] is True  # a superuser: /admin/ opens
    assert client.get("/admin/").status_code == 200
    id_token = client.session["oidc_id_token"]
    assert client.get("/admin/logout/").status_code == 405  # never by GET (a prefetched link, another site)
    assert session_user(client) is not None

    response = client.post("/admin/logout/")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{portal}/oauth2/end_session"
    params = {key: values[0] for key, values in parse_qs(location.query).items()}
    assert params == {"id_token_hint": id_token, "post_logout_redirect_uri": "http://testserver/",
                      "client_id": PORTAL_CLIENT_ID}
    assert session_user(client) is None
    back = browser.get(response["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302 and back.headers["Location"] == "http://testserver/"
    assert end_session_requests(portal)[-1]["id_token_hint"] == id_token
    # The provider asks again at the next login; /admin/ sends to the login page meanwhile.
    assert browser.get(start_login(Client()), allow_redirects=False, timeout=5).status_code == 200
    assert client.get("/admin/")["Location"].startswith("/connexion/")

def test_logout_after_the_dev_password_form_is_local(client, settings, make_user):
    settings.DEBUG = True
    settings.DEV_PASSWORD_LOGIN = True
    settings.OIDC_ISSUER = CLOSED_PORT + "/realms/industriels"  # never asked
    user = make_user("devlogout")
    user.set_password("correct horse battery staple")
    user.save()
    assert client.post("/connexion/", {"username": "devlogout",
                                       "password": "correct horse battery staple"}).status_code == 302

    response = client.post("/deconnexion/")

    assert response.status_code == 302 and response["Location"] == "/"
    assert session_user(client) is None


# --------------------------------------------------------------------------- ANS rights at login


def test_rights_follow_the_claim_at_every_login_and_are_audited(portal, sub):
    set_user(portal, sub, {"email": "admin@example.fr", **ADMIN})
    first = Client()
    login(first, requests.Session(), sub)
    user = User.objects.get(oidc_sub=sub)
    assert rights(user) == (True, True, True)
    assert first.get("/admin/").status_code == 200
    [granted] = rights_entries(user)
    assert granted.before == {"is_ans_admin": False, "is_superuser": False, "is_staff": False}
    assert granted.after == {"is_ans_admin": True, "is_superuser": True, "is_staff": True}
    assert granted.reason == "connexion iSC"
    assert user.ans_rights_confirmed_at is not None  # personal API tokens rely on this confirmation

    set_user(portal, sub, {"email": "admin@example.fr", "groups": ["staff"]})
    second = Client()
    login(second, requests.Session(), sub)

    assert rights(user) == (False, False, False)
    assert second.get("/admin/").status_code in (302, 403)
    assert [entry.after for entry in rights_entries(user)][-1] == {
        "is_ans_admin": False, "is_superuser": False, "is_staff": False}
    login(Client(), requests.Session(), sub)  # no change, no new entry
    assert len(rights_entries(user)) == 2


def test_superuser_can_require_its_own_claim_value(portal, settings, sub):
    settings.OIDC_SUPERUSER_VALUES = ["ans-drimm-superadmin"]
    set_user(portal, sub, {"email": "a@example.fr", **ADMIN})
    login(Client(), requests.Session(), sub)
    user = User.objects.get(oidc_sub=sub)
    assert rights(user) == (True, False, False)

    set_user(portal, sub, {"email": "a@example.fr", "groups": ["ans-drimm-admin", "ans-drimm-superadmin"]})
    login(Client(), requests.Session(), sub)
    assert rights(user) == (True, True, True)


# --------------------------------------------------------------------------- rights re-check of an open session


def test_claim_removed_drops_ans_rights_at_the_next_check_and_is_audited(client, browser, portal, sub):
    set_user(portal, sub, {"email": "recheck@example.fr", **ADMIN})
    login(client, browser, sub)
    user = session_user(client)
    assert client.get("/ans/operateurs/").status_code == 200
    set_user(portal, sub, {"email": "recheck@example.fr", "groups": []})

    assert client.get("/ans/operateurs/").status_code == 200  # not due yet: no provider call
    age_session(client)
    response = client.get("/ans/operateurs/")

    assert response.status_code == 403
    assert rights(user) == (False, False, False)
    assert session_user(client) == user  # still logged in, without ANS rights
    last = rights_entries(user)[-1]
    assert last.reason == "revérification de la session iSC"
    assert last.before["is_ans_admin"] is True and last.after["is_ans_admin"] is False
    assert client.get("/admin/").status_code in (302, 403)


def test_claim_granted_during_the_session_is_applied_at_the_next_check(client, browser, portal, sub):
    set_user(portal, sub, {"email": "promu@example.fr"})
    login(client, browser, sub)
    set_user(portal, sub, {"email": "promu@example.fr", **ADMIN})
    age_session(client)
    assert client.get("/ans/operateurs/").status_code == 200
    assert rights(session_user(client)) == (True, True, True)


def test_session_ended_at_the_provider_logs_out_at_the_next_check(client, browser, portal, sub):
    set_user(portal, sub, {"email": "fin@example.fr", **ADMIN})
    login(client, browser, sub)
    requests.post(f"{portal}/users/{sub}/revoke-tokens", timeout=5).raise_for_status()
    age_session(client)

    response = client.get("/ans/operateurs/")

    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    assert session_user(client) is None
    assert any("Votre session iSC a pris fin" in str(m) for m in get_messages(response.wsgi_request))


def test_provider_unreachable_at_the_check_withholds_ans_rights_until_a_check_succeeds(client, browser, portal,
                                                                                        settings, sub):
    set_user(portal, sub, {"email": "panne2@example.fr", **ADMIN})
    login(client, browser, sub)
    user = session_user(client)
    entries = len(rights_entries(user))
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{CLOSED_PORT}/token"  # the provider stops answering
    age_session(client)

    assert client.get("/ans/operateurs/").status_code == 403  # fail closed for ANS rights
    assert session_user(client) == user  # the session is kept
    assert client.get("/ans/operateurs/").status_code == 403  # still withheld before the retry time
    assert rights(user) == (True, True, True)  # nothing written: the provider did not say so
    assert len(rights_entries(user)) == entries

    settings.OIDC_OP_TOKEN_ENDPOINT = ""  # back
    session = client.session
    session[RETRY_AT_KEY] = 0  # the retry time has come
    session.save()
    assert client.get("/ans/operateurs/").status_code == 200
    assert RETRY_AT_KEY not in client.session


def test_sessions_without_isc_tokens_are_not_rechecked(client, settings, make_user):
    settings.OIDC_ISSUER = CLOSED_PORT + "/realms/industriels"
    admin = make_user("forced", is_ans_admin=True)
    client.force_login(admin)
    session = client.session
    session[CHECKED_AT_KEY] = 0
    session.save()
    assert client.get("/ans/operateurs/").status_code == 200


# --------------------------------------------------------------------------- API bearer tokens: JWT


@pytest.fixture
def jwt_portal(portal, settings):
    set_provider_config(portal, access_tokens="jwt")
    settings.OIDC_ACCESS_TOKEN_VALIDATION = "jwt"
    return portal


def test_jwt_access_token_from_login_is_accepted_and_rights_follow_it(client, browser, jwt_portal, sub):
    set_user(jwt_portal, sub, {"email": "jwt@example.fr", **ADMIN})
    login(client, browser, sub)
    token = client.session["oidc_access_token"]
    assert jwt.get_unverified_header(token)["kid"]

    response = api_me(token)

    assert response.status_code == 200, response.content
    assert response.json()["is_ans_admin"] is True
    # The rights come from the token at every bearer authentication.
    user = User.objects.get(oidc_sub=sub)
    set_user(jwt_portal, sub, {"email": "jwt@example.fr", "groups": []})
    fresh = mint_access_token(jwt_portal, sub, groups=[])
    assert api_me(fresh).json()["is_ans_admin"] is False
    assert rights(user) == (False, False, False)
    assert rights_entries(user)[-1].reason == "jeton d'accès iSC (API)"


def test_first_bearer_use_creates_the_user_bound_to_sub_like_the_login(jwt_portal, sub):
    set_user(jwt_portal, sub, {"email": "nouveau@example.fr"})
    response = api_me(mint_access_token(jwt_portal, sub, email="nouveau@example.fr"))
    assert response.status_code == 200, response.content
    user = User.objects.get(oidc_sub=sub)
    assert user.email == "nouveau@example.fr" and not user.is_ans_admin and not user.has_usable_password()


def test_positive_control_minted_token_for_the_portal_is_accepted(jwt_portal, sub):
    set_user(jwt_portal, sub, {"email": "ok@example.fr", **ADMIN})
    assert api_me(mint_access_token(jwt_portal, sub, **ADMIN)).status_code == 200


@pytest.mark.parametrize("claims, fragment", [
    ({"aud": "another-app", "azp": "another-app", "client_id": "another-app"}, "autre application"),
    ({"aud": ["another-app", "account"], "azp": None}, "autre application"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expiré"),
    ({"nbf": int(time.time()) + 3600}, "pas encore valable"),
    ({"iss": "https://evil.example/realms/industriels"}, "fournisseur d'identité attendu"),
    ({"iss": None}, "fournisseur d'identité attendu"),
    ({"exp": None}, "mal formé"),
    ({"typ": "ID"}, "pas un jeton d'accès"),
])
def test_validly_signed_access_token_with_wrong_claims_is_refused(jwt_portal, sub, claims, fragment):
    set_user(jwt_portal, sub, {"email": "x@example.fr", **ADMIN})
    token = mint_access_token(jwt_portal, sub, **{**ADMIN, **claims})

    assert_bearer_refused(api_me(token), fragment)
    assert not User.objects.filter(oidc_sub=sub, is_ans_admin=True).exists()


def test_another_clients_access_token_carrying_the_admin_claim_is_refused(jwt_portal, sub):
    """The attack of issue 11: a token the same provider issued to another application."""
    set_user(jwt_portal, sub, {"email": "autre@example.fr", **ADMIN})
    token = other_client_token(jwt_portal, sub)
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "other-app"

    assert_bearer_refused(api_me(token), "autre application")
    assert not User.objects.filter(oidc_sub=sub).exists()


def other_client_token(issuer, sub):
    """A real authorization code flow of another application at the same provider."""
    authorize = requests.post(f"{issuer}/oauth2/authorize", params={
        "response_type": "code", "client_id": "other-app", "redirect_uri": "https://other.example/cb",
        "scope": "openid", "state": "s" * 32, "nonce": "n" * 32}, data={"sub": sub}, allow_redirects=False, timeout=5)
    code = parse_qs(urlsplit(authorize.headers["Location"]).query)["code"][0]
    token = requests.post(f"{issuer}/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "https://other.example/cb",
        "client_id": "other-app", "client_secret": "other-secret"}, timeout=5)
    token.raise_for_status()
    return token.json()["access_token"]


def test_unsigned_alg_none_token_is_refused(jwt_portal, sub):
    set_user(jwt_portal, sub, {"email": "none@example.fr", **ADMIN})
    genuine = mint_access_token(jwt_portal, sub, **ADMIN)
    forged = ".".join([b64({"alg": "none", "typ": "JWT"}), genuine.split(".")[1], ""])
    assert_bearer_refused(api_me(forged), "algorithme")


def test_hmac_token_signed_with_the_client_secret_is_refused(jwt_portal, sub):
    claims = jwt.decode(mint_access_token(jwt_portal, sub, **ADMIN), options={"verify_signature": False})
    forged = jwt.encode(claims, "test-secret", algorithm="HS256")
    assert_bearer_refused(api_me(forged), "algorithme")


def test_token_signed_by_another_key_with_the_providers_kid_is_refused(jwt_portal, sub):
    genuine = mint_access_token(jwt_portal, sub, **ADMIN)
    kid = jwt.get_unverified_header(genuine)["kid"]
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(jwt.decode(genuine, options={"verify_signature": False}), attacker, algorithm="RS256",
                        headers={"kid": kid})
    assert_bearer_refused(api_me(forged), "signature invalide")


def test_tampered_payload_is_refused(jwt_portal, sub):
    genuine = mint_access_token(jwt_portal, sub)
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = ".".join([header, b64({**claims, **ADMIN}), signature])
    assert_bearer_refused(api_me(forged), "signature invalide")


def test_unknown_kid_refused_after_one_jwks_refetch(jwt_portal, sub):
    genuine = mint_access_token(jwt_portal, sub)
    forged = jwt.encode(jwt.decode(genuine, options={"verify_signature": False}),
                        rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                        headers={"kid": "unknown-kid"})
    assert_bearer_refused(api_me(forged), "clé de signature inconnue")


def test_key_rotation_refetches_the_jwks(jwt_portal, sub):
    set_user(jwt_portal, sub, {"email": "rotation@example.fr"})
    assert api_me(mint_access_token(jwt_portal, sub)).status_code == 200  # the JWKS is now cached
    new_kid = rotate_key(jwt_portal)
    token = mint_access_token(jwt_portal, sub)
    assert jwt.get_unverified_header(token)["kid"] == new_kid

    assert api_me(token).status_code == 200


def test_audience_may_be_named_by_azp_or_by_the_configured_audience(jwt_portal, settings, sub):
    set_user(jwt_portal, sub, {"email": "aud@example.fr"})
    # Keycloak style: aud "account", azp the client.
    assert api_me(mint_access_token(jwt_portal, sub, aud="account")).status_code == 200
    api_audience = mint_access_token(jwt_portal, sub, aud="drimm-api", azp="gateway", client_id="gateway")
    assert api_me(api_audience).status_code == 401
    settings.OIDC_ACCESS_TOKEN_AUDIENCE = ["drimm-api"]
    cache.clear()
    assert api_me(api_audience).status_code == 200


def test_opaque_token_is_refused_in_jwt_mode(client, browser, portal, settings, sub):
    settings.OIDC_ACCESS_TOKEN_VALIDATION = "jwt"
    set_user(portal, sub, {"email": "opaque@example.fr"})
    login(client, browser, sub)
    assert_bearer_refused(api_me(client.session["oidc_access_token"]), "JWT")


def test_validated_token_is_cached_no_longer_than_its_expiry(jwt_portal, settings, sub, monkeypatch):
    settings.OIDC_BEARER_CACHE_SECONDS = 600
    set_user(jwt_portal, sub, {"email": "cache@example.fr"})
    token = mint_access_token(jwt_portal, sub, exp=int(time.time()) + 20)
    # Record the lifetime given to the cache (LocMem or Redis alike) around the real set().
    lifetimes = {}
    real_set = cache.set

    def recording_set(key, value, timeout=None, **kwargs):
        lifetimes[key] = timeout
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(cache, "set", recording_set)
    assert api_me(token).status_code == 200
    key = CACHE_PREFIX + hashlib.sha256(token.encode()).hexdigest()
    assert key in lifetimes
    assert 0 < lifetimes[key] <= 20
    assert cache.get(key) is not None


# --------------------------------------------------------------------------- API bearer tokens: introspection


def test_opaque_token_is_introspected_with_client_authentication(client, browser, portal, settings, sub):
    settings.OIDC_ACCESS_TOKEN_VALIDATION = "introspection"
    settings.OIDC_BEARER_CACHE_SECONDS = 0
    set_user(portal, sub, {"email": "intro@example.fr", **ADMIN})
    login(client, browser, sub)
    token = client.session["oidc_access_token"]
    assert token.count(".") != 2  # opaque

    response = api_me(token)
    assert response.status_code == 200, response.content
    assert response.json()["is_ans_admin"] is True

    requests.post(f"{portal}/users/{sub}/revoke-tokens", timeout=5).raise_for_status()
    assert_bearer_refused(api_me(token), "inactif")


def test_other_clients_opaque_token_is_refused_by_introspection(portal, settings, sub):
    settings.OIDC_ACCESS_TOKEN_VALIDATION = "introspection"
    set_user(portal, sub, {"email": "intro2@example.fr", **ADMIN})
    assert_bearer_refused(api_me(other_client_token(portal, sub)), "autre application")
    assert not User.objects.filter(oidc_sub=sub).exists()


def test_portal_credentials_refused_by_introspection_is_not_a_success(portal, settings, sub):
    settings.OIDC_ACCESS_TOKEN_VALIDATION = "introspection"
    settings.OIDC_RP_CLIENT_SECRET = "wrong-secret"
    response = api_me("opaque-token-value")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "identity_provider_unavailable"
    assert "ne répond pas" in response.json()["error"]["message"]


def test_auto_mode_refuses_opaque_tokens_when_the_provider_offers_no_introspection(portal, sub):
    set_provider_config(portal, introspection=False)
    assert_bearer_refused(api_me("an-opaque-token"), "introspection")


def test_auto_mode_checks_jwt_locally_and_introspects_opaque_tokens(portal, sub):
    set_user(portal, sub, {"email": "auto@example.fr"})
    assert api_me(mint_access_token(portal, sub)).status_code == 200  # JWT: local check
    assert_bearer_refused(api_me("not-a-real-token"), "inactif")  # opaque: introspection says inactive


def test_provider_down_during_bearer_check_is_a_structured_503(settings):
    settings.OIDC_ISSUER = CLOSED_PORT + "/realms/industriels"
    response = api_me("some-opaque-token")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "identity_provider_unavailable"
    assert response["Retry-After"] == "60"


# --------------------------------------------------------------------------- French structured errors


@pytest.mark.parametrize("header, fragment", [
    ("Bearer", "En-tête Authorization invalide"),
    ("Bearer a b", "En-tête Authorization invalide"),
])
def test_malformed_bearer_header_is_a_french_401(portal, header, fragment):
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert_bearer_refused(response, fragment)


def test_no_credentials_is_a_french_401(portal):
    response = Client().get("/api/v1/me/")
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message.startswith("Authentification requise") and "Authentication" not in message
    assert response["WWW-Authenticate"]


def test_english_messages_of_other_libraries_become_french():
    from rest_framework import exceptions

    from trustspace.api.errors import french_message

    assert french_message(exceptions.AuthenticationFailed("invalid token provided"), "invalid token provided") == (
        "Jeton invalide.")
    assert french_message(exceptions.NotAuthenticated(), "Authentication credentials were not provided.").startswith(
        "Authentification requise")
    assert french_message(exceptions.AuthenticationFailed("Login failed"), "Login failed") == (
        "Échec de l'authentification.")
    assert french_message(exceptions.AuthenticationFailed("Jeton d'API invalide ou révoqué."),
                          "Jeton d'API invalide ou révoqué.") == "Jeton d'API invalide ou révoqué."


# --------------------------------------------------------------------------- review: tokens that are not access tokens


def test_the_portals_own_id_token_is_not_accepted_as_an_api_access_token(client, browser, jwt_portal, sub):
    """The ID token travels through the browser (id_token_hint of the logout URL: history, provider logs):
    it names the portal as audience but is no access token, and must not open the API."""
    set_user(jwt_portal, sub, {"email": "idtoken@example.fr", **ADMIN})
    login(client, browser, sub)
    id_token = client.session["oidc_id_token"]
    assert jwt.decode(id_token, options={"verify_signature": False})["aud"] in (PORTAL_CLIENT_ID, [PORTAL_CLIENT_ID])

    assert_bearer_refused(api_me(id_token), "pas un jeton d'accès")
    # The access token of the same login still works (positive control).
    assert api_me(client.session["oidc_access_token"]).status_code == 200


@pytest.mark.parametrize("claims", [
    {"aud": "another-app", "azp": ["another-app"]},
    {"aud": [{"x": 1}], "azp": None},
    {"aud": 12, "azp": {"a": 1}},
])
def test_odd_audience_types_in_a_signed_token_are_a_401_not_a_500(jwt_portal, sub, claims):
    set_user(jwt_portal, sub, {"email": "odd@example.fr"})
    assert_bearer_refused(api_me(mint_access_token(jwt_portal, sub, **claims)), "autre application")


@pytest.mark.parametrize("answer", [
    # Keycloak introspects its ID tokens as active, typ « ID », audience the client that logged in.
    {"typ": "ID", "nonce": "n" * 32, "at_hash": "abc"},
    {"nonce": "n" * 32},
    {"typ": "Refresh"},
])
def test_introspection_refuses_what_is_not_an_access_token(portal, settings, sub, monkeypatch, answer):
    """Introspection (RFC 7662) says « active » for any token the provider issued, not only access tokens. The
    provider here cannot introspect ID tokens, so its answer is replayed as Keycloak gives it."""
    settings.OIDC_ACCESS_TOKEN_VALIDATION = "introspection"
    body = {"active": True, "iss": portal, "sub": sub, "aud": PORTAL_CLIENT_ID, "azp": PORTAL_CLIENT_ID,
            "exp": int(time.time()) + 300, **ADMIN, **answer}

    class Answer:
        status_code = 200

        @staticmethod
        def json():
            return body

    real_call = oidc_discovery.call_provider

    def introspection_replayed(method, url, what, **kwargs):
        return Answer() if what == "introspection" else real_call(method, url, what, **kwargs)

    monkeypatch.setattr(oidc_discovery, "call_provider", introspection_replayed)
    assert_bearer_refused(api_me("opaque-or-id-token"), "pas un jeton d'accès")
    assert not User.objects.filter(oidc_sub=sub).exists()

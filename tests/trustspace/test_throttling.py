"""Rate limits (trustspace/throttling.py): the N+1th attempt gets a French 429 with Retry-After, the costly work is
not done, the right credential works again after the window, keys are isolated (another token, another IP).

Time never passes for real: ``trustspace.throttling.clock`` is replaced by a clock the tests move. The counters
live in the cache: the ``cache_backend`` fixture runs some tests on LocMem and on a real Redis (database 12).
"""
import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.support.throttling import (
    Clock,
    assert_throttled_json,
    assert_throttled_page,
    counting,
    redis_default_cache,
    set_rates,
)
from trustspace import throttling
from trustspace.services import create_api_token


@pytest.fixture
def clock(monkeypatch):
    return Clock.install(monkeypatch)


@pytest.fixture
def rates(settings):
    return lambda **overrides: set_rates(settings, **overrides)


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    """Run the test on LocMem (the default test cache) and on Redis; the raw Redis client, or None."""
    if request.param == "locmem":
        yield None
        return
    with redis_default_cache(settings) as client:
        yield client


# --- The counting primitive ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "limit", "period"), [
    ("30/min", 30, 60), ("10/5min", 10, 300), ("1200/m", 1200, 60), ("5/s", 5, 1), ("100/hour", 100, 3600),
    ("2/day", 2, 86400), (" 7 / 10 minutes ", 7, 600),
])
def test_rates_are_read(text, limit, period):
    assert throttling.parse_rate(text) == throttling.Rate(limit, period)


@pytest.mark.parametrize("text", ["", "30", "x/min", "30/fortnight", "30/0min", "-1/min"])
def test_unreadable_rates_are_refused(text):
    with pytest.raises(ValueError, match="illisible"):
        throttling.parse_rate(text)


def test_a_window_allows_n_then_refuses_until_it_ends(clock, cache_backend):
    rate = throttling.Rate(3, 60)
    clock.advance(15)
    assert [throttling.hit("unit", "a", rate).allowed for _ in range(4)] == [True, True, True, False]
    refused = throttling.hit("unit", "a", rate)
    assert not refused.allowed and refused.retry_after == 45
    assert throttling.hit("unit", "b", rate).allowed  # another key has its own counter
    clock.advance(45)
    assert throttling.hit("unit", "a", rate).allowed
    if cache_backend is not None:  # the counters are in Redis, under hashed names
        keys = [key.decode() for key in cache_backend.keys("*throttle:unit:*")]
        assert len(keys) == 3 and not any(key.endswith((":a", ":b")) for key in keys)


def test_a_lock_lasts_its_time_and_success_resets_the_failures(clock, cache_backend):
    for _ in range(2):
        assert throttling.record_failure("unit", "user", failures=3, seconds=600) == 0
    throttling.record_success("unit", "user")
    for _ in range(2):
        assert throttling.record_failure("unit", "user", failures=3, seconds=600) == 0
    assert throttling.locked_for("unit", "user") == 0  # 2 + 2 failures, never 3 in a row
    assert throttling.record_failure("unit", "user", failures=3, seconds=600) == 600
    assert throttling.locked_for("unit", "user") == 600
    assert throttling.locked_for("unit", "someone else") == 0
    clock.advance(599)
    assert throttling.locked_for("unit", "user") == 1
    clock.advance(1)
    assert throttling.locked_for("unit", "user") == 0


# --- Client IP behind proxies --------------------------------------------------------------------------


@pytest.mark.parametrize(("num_proxies", "remote", "xff", "expected"), [
    (0, "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # default: X-Forwarded-For ignored (it can be forged)
    (1, "10.0.0.2", "198.51.100.1", "198.51.100.1"),
    (1, "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own forged entry is not trusted
    (2, "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.1", "198.51.100.1"),
    (1, "10.0.0.2", "", "10.0.0.2"),  # no header: the proxy itself
    (0, "2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"),  # IPv6 counts per /64
    (0, "::ffff:192.0.2.7", "", "192.0.2.7"),
])
def test_client_ip(rf, settings, num_proxies, remote, xff, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    request = rf.get("/", REMOTE_ADDR=remote, **({"HTTP_X_FORWARDED_FOR": xff} if xff else {}))
    assert throttling.client_ip(request) == expected


# --- API: per token, per IP --------------------------------------------------------------------------------


def token_client(raw, ip="192.0.2.10"):
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def test_api_tokens_are_limited_each_on_its_own(make_user, clock, rates, cache_backend):
    rates(api_token="3/min")
    user, other_user = make_user("alice"), make_user("bob")
    _token, raw = create_api_token(acting_user=user, name="ci")
    _second, second_raw = create_api_token(acting_user=user, name="autre")
    _other, other_raw = create_api_token(acting_user=other_user, name="ci")

    for _ in range(3):
        assert token_client(raw).get("/api/v1/me/").status_code == 200
    wait = assert_throttled_json(token_client(raw).get("/api/v1/me/"))
    assert wait == 60
    # Another token, even of the same owner from the same address, has its own counter.
    assert token_client(second_raw).get("/api/v1/me/").status_code == 200
    assert token_client(other_raw).get("/api/v1/me/").status_code == 200
    clock.advance(wait)
    response = token_client(raw).get("/api/v1/me/")
    assert response.status_code == 200 and response.json()["id"] == user.pk

    if cache_backend is not None:
        keys = b" ".join(cache_backend.keys("*throttle:api_token:*")).decode()
        assert keys.count("throttle:api_token:") == 4  # 3 tokens, the first one in 2 windows
        assert raw not in keys and second_raw not in keys


@pytest.mark.parametrize("spelling", ["token {raw}", "TOKEN {raw}", "Token  {raw}", "Token\t{raw}", "Token {raw} "])
def test_one_token_has_one_counter_however_its_header_is_spelt(make_user, clock, rates, spelling):
    """DRF reads « Token », « token », extra blanks alike: the counter is the token's, not the header's text."""
    rates(api_token="3/min")
    _token, raw = create_api_token(acting_user=make_user("alice"), name="ci")
    for _ in range(3):
        assert token_client(raw).get("/api/v1/me/").status_code == 200
    other_spelling = APIClient(REMOTE_ADDR="192.0.2.10", HTTP_AUTHORIZATION=spelling.format(raw=raw))
    assert_throttled_json(other_spelling.get("/api/v1/me/"))


def test_a_session_user_is_limited_per_user(make_user, clock, rates):
    rates(api_token="2/min")
    alice, bob = make_user("alice"), make_user("bob")
    client = APIClient()
    client.force_login(alice)
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
    other = APIClient()
    other.force_login(bob)
    assert other.get("/api/v1/me/").status_code == 200


def test_the_anonymous_public_api_is_limited_per_ip(db, clock, rates, settings):
    rates(api_anon="2/min")
    first, second = APIClient(REMOTE_ADDR="192.0.2.1"), APIClient(REMOTE_ADDR="192.0.2.2")
    assert first.get("/api/v1/weather/").status_code == 200
    assert first.get("/api/v1/schema/").status_code == 200  # one counter for every public endpoint
    # A forged X-Forwarded-For changes nothing without a trusted proxy.
    wait = assert_throttled_json(first.get("/api/v1/weather/", HTTP_X_FORWARDED_FOR="198.51.100.7"))
    assert_throttled_json(first.get("/api/v1/schema/"))
    assert second.get("/api/v1/weather/").status_code == 200
    clock.advance(wait)
    assert first.get("/api/v1/weather/").status_code == 200


def test_behind_a_trusted_proxy_clients_are_told_apart(db, clock, rates, settings):
    rates(api_anon="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")
    assert proxy.get("/api/v1/weather/", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 200
    assert proxy.get("/api/v1/weather/", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200
    # The client's own forged first entry does not make it someone else.
    assert_throttled_json(proxy.get("/api/v1/weather/", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1"))


def test_wrong_api_tokens_are_refused_before_any_lookup(make_user, clock, rates, monkeypatch):
    from trustspace.api.authentication import ApiTokenAuthentication

    rates(api_auth_failures="3/min")
    lookups = counting(ApiTokenAuthentication.authenticate)
    monkeypatch.setattr(ApiTokenAuthentication, "authenticate", lookups)
    user = make_user("alice")
    _token, raw = create_api_token(acting_user=user, name="ci")

    for attempt in range(3):
        response = token_client(f"wrong-{attempt}", ip="192.0.2.66").get("/api/v1/me/")
        assert response.status_code == 401
    assert lookups.calls == 3
    # From that address even the right token waits: nothing is looked up any more.
    wait = assert_throttled_json(token_client("wrong-4", ip="192.0.2.66").get("/api/v1/me/"))
    assert_throttled_json(token_client(raw, ip="192.0.2.66").get("/api/v1/me/"))
    assert lookups.calls == 3
    # Another address is not concerned; successes do not count.
    for _ in range(4):
        assert token_client(raw, ip="192.0.2.77").get("/api/v1/me/").status_code == 200
    clock.advance(wait)
    assert token_client(raw, ip="192.0.2.66").get("/api/v1/me/").status_code == 200


def test_throttling_can_be_switched_off(make_user, clock, rates, settings):
    rates(api_token="1/min")
    settings.THROTTLE_ENABLED = False
    _token, raw = create_api_token(acting_user=make_user("alice"), name="ci")
    assert [token_client(raw).get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]


def test_a_cache_that_does_not_answer_lets_requests_through(make_user, clock, rates, settings, caplog):
    rates(api_token="1/min")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}  # nothing listens there
    _token, raw = create_api_token(acting_user=make_user("alice"), name="ci")
    assert [token_client(raw).get("/api/v1/me/").status_code for _ in range(2)] == [200, 200]
    assert "rate limits not applied" in caplog.text


# --- Attestation checks: page and API share one counter per IP -----------------------------------------------


def test_attestation_checks_are_limited_per_ip_without_looking_the_code_up(db, clock, rates, monkeypatch):
    from operators import services as operator_services

    rates(attestation="2/min")
    lookups = counting(operator_services.find_attestation)
    monkeypatch.setattr(operator_services, "find_attestation", lookups)
    browser = Client(REMOTE_ADDR="192.0.2.5")

    assert browser.get("/attestations/verifier/").status_code == 200  # the empty form: not an attempt
    assert browser.get("/attestations/verifier/", {"code": "ATT-AAAA-BBBB-CCCC"}).status_code == 404
    assert browser.get("/api/v1/attestations/ATT-AAAA-BBBB-CCCD/").status_code == 404
    assert lookups.calls == 2
    wait = assert_throttled_page(browser.get("/attestations/verifier/", {"code": "ATT-AAAA-BBBB-CCCE"}))
    assert_throttled_json(browser.get("/api/v1/attestations/ATT-AAAA-BBBB-CCCF/"))
    assert lookups.calls == 2
    assert browser.get("/attestations/verifier/").status_code == 200

    elsewhere = Client(REMOTE_ADDR="192.0.2.6")
    assert elsewhere.get("/api/v1/attestations/ATT-AAAA-BBBB-CCCG/").status_code == 404
    clock.advance(wait)
    assert browser.get("/attestations/verifier/", {"code": "ATT-AAAA-BBBB-CCCH"}).status_code == 404
    assert lookups.calls == 4


# --- Development password login ------------------------------------------------------------------------


@pytest.fixture
def password_login(make_user, settings, monkeypatch):
    from trustspace.auth_backends import DevelopmentPasswordBackend

    settings.DEBUG = True
    settings.DEV_PASSWORD_LOGIN = True
    for name in ("devuser", "otheruser"):
        user = make_user(name, oidc_sub=None)
        user.set_password("correct horse battery staple")
        user.save()
    checks = counting(DevelopmentPasswordBackend.authenticate)
    monkeypatch.setattr(DevelopmentPasswordBackend, "authenticate", checks)
    return checks


def post_login(ip, username, password="wrong"):
    return Client(REMOTE_ADDR=ip).post("/connexion/", {"username": username, "password": password})


def test_password_login_is_limited_per_ip(password_login, clock, rates):
    rates(login_ip="3/5min", login_username="100/5min")
    for name in ("devuser", "otheruser", "someone"):
        assert post_login("192.0.2.20", name).status_code == 200  # the form again, with its error
    assert password_login.calls == 3
    wait = assert_throttled_page(post_login("192.0.2.20", "devuser", "correct horse battery staple"))
    assert wait == 300
    assert password_login.calls == 3
    assert Client(REMOTE_ADDR="192.0.2.20").get("/connexion/").status_code == 200  # showing the form is free
    assert post_login("192.0.2.21", "devuser", "correct horse battery staple").status_code == 302
    clock.advance(wait)
    assert post_login("192.0.2.20", "devuser", "correct horse battery staple").status_code == 302


def test_password_login_is_limited_per_username(password_login, clock, rates):
    rates(login_ip="100/5min", login_username="3/5min")
    for index in range(3):
        assert post_login(f"192.0.2.{30 + index}", "devuser").status_code == 200
    wait = assert_throttled_page(post_login("192.0.2.40", " DevUser ", "correct horse battery staple"))
    assert password_login.calls == 3
    assert post_login("192.0.2.40", "otheruser", "correct horse battery staple").status_code == 302
    clock.advance(wait)
    assert post_login("192.0.2.41", "devuser", "correct horse battery staple").status_code == 302


# --- iSC login endpoints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "scope"), [("/oidc/authenticate/", "oidc_authenticate"),
                                              ("/oidc/callback/", "oidc_callback")])
def test_isc_login_endpoints_are_limited_per_ip(db, clock, rates, path, scope):
    rates(**{scope: "2/min"})
    browser, elsewhere = Client(REMOTE_ADDR="192.0.2.50"), Client(REMOTE_ADDR="192.0.2.51")
    first = browser.get(path, {"state": "x", "code": "y"})
    assert first.status_code != 429
    assert browser.get(path).status_code != 429
    wait = assert_throttled_page(browser.get(path, {"state": "x", "code": "y"}))
    assert elsewhere.get(path).status_code == first.status_code
    clock.advance(wait)
    assert browser.get(path, {"state": "x", "code": "y"}).status_code == first.status_code


def test_the_throttled_page_is_the_portal_page(db, clock, rates):
    rates(oidc_authenticate="1/min")
    client = Client(REMOTE_ADDR="192.0.2.60")
    client.get("/oidc/authenticate/")
    clock.advance(20)
    response = client.get("/oidc/authenticate/")
    assert assert_throttled_page(response) == 40
    page = response.content.decode()
    assert "Espace de Confiance DRIM-M" in page and re.search(r"<h1[^>]*>Trop de requêtes</h1>", page)
    assert response["Cache-Control"] == "no-store"


def test_the_default_limits(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    parsed = {scope: throttling.parse_rate(text) for scope, text in rates.items()}
    assert parsed["api_token"] == throttling.Rate(1200, 60)
    assert parsed["api_anon"] == throttling.Rate(300, 60)
    assert parsed["login_ip"] == parsed["login_username"] == throttling.Rate(10, 300)
    assert parsed["acme_dns_user"] == throttling.Rate(30, 60) and parsed["acme_dns_ip"] == throttling.Rate(60, 60)
    assert parsed["attestation"] == throttling.Rate(30, 60)
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == ["trustspace.throttling.TokenRateThrottle",
                                                                   "trustspace.throttling.AnonRateThrottle"]

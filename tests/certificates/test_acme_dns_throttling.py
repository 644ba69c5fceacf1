"""Rate limits of the acme-dns endpoint: per client IP, per username, and a lock after consecutive failures, all
checked before the key's PBKDF2; unknown usernames cost nothing and are treated like known ones.

``certificates.services.acme_dns.check_password`` is wrapped (the real one runs) to count the costly checks. Time moves
through ``trustspace.throttling.clock``; the success case writes the TXT record on a real BIND 9.
"""
import pytest
from rest_framework.test import APIClient

from certificates import services as cs
from certificates.services import acme_dns
from tests.support.lifecycle import declared_drimbox
from tests.support.throttling import Clock, assert_throttled_json, counting, redis_default_cache, set_rates
from trustspace import throttling

TXT = "a" * 43
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def hashes(monkeypatch):
    """Counts the PBKDF2 checks of acme-dns keys (the real check runs)."""
    counted = counting(acme_dns.check_password)
    monkeypatch.setattr(acme_dns, "check_password", counted)
    return counted


@pytest.fixture
def clock(monkeypatch):
    return Clock.install(monkeypatch)


@pytest.fixture
def rates(settings):
    return lambda **overrides: set_rates(settings, **overrides)


@pytest.fixture
def redis_cache(settings):
    with redis_default_cache(settings) as client:
        yield client


@pytest.fixture
def credentials(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    credential, password = cs.register_acme_dns(drimbox, acting_user=world.technical)
    return {"username": credential.username, "password": password, "subdomain": credential.subdomain}


def update(credentials, *, ip="192.0.2.1", username=None, password=None):
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_X_API_USER=username or credentials["username"],
                       HTTP_X_API_KEY=password or credentials["password"])
    return client.post("/acme-dns/update", {"subdomain": credentials["subdomain"], "txt": TXT}, format="json")


def authenticated(response):
    """The credentials were accepted: without a DNS server the answer is the structured 503, never 401/429."""
    return response.status_code == 503 and response.json()["error"]["code"] == "dns_unavailable"


def test_unknown_usernames_cost_nothing_and_answer_like_a_wrong_key(credentials, hashes):
    unknown = update(credentials, username=UNKNOWN)
    wrong = update(credentials, password="x" * 40)
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown["WWW-Authenticate"] == wrong["WWW-Authenticate"]
    assert hashes.calls == 1  # the wrong key only
    assert authenticated(update(credentials))


def test_per_ip_the_next_attempt_is_refused_before_the_hash(credentials, hashes, clock, rates):
    rates(acme_dns_ip="3/min", acme_dns_user="100/min")
    for _ in range(3):
        assert update(credentials, password="wrong").status_code == 401
    assert hashes.calls == 3
    wait = assert_throttled_json(update(credentials))  # even the right key waits
    assert hashes.calls == 3
    assert authenticated(update(credentials, ip="192.0.2.2"))  # another address is not concerned
    clock.advance(wait)
    assert authenticated(update(credentials))


def test_per_username_whatever_the_address(credentials, hashes, clock, rates):
    rates(acme_dns_ip="100/min", acme_dns_user="3/min")
    for index in range(3):
        assert update(credentials, ip=f"192.0.2.{10 + index}", password="wrong").status_code == 401
    wait = assert_throttled_json(update(credentials, ip="192.0.2.20"))
    assert hashes.calls == 3
    # The same limit, the same answers, for a username that does not exist: nothing tells them apart.
    for index in range(3):
        assert update(credentials, ip=f"192.0.2.{30 + index}", username=UNKNOWN).status_code == 401
    assert_throttled_json(update(credentials, ip="192.0.2.40", username=UNKNOWN))
    assert hashes.calls == 3
    clock.advance(wait)
    assert authenticated(update(credentials, ip="192.0.2.20"))


def test_consecutive_failures_lock_the_username(credentials, hashes, clock, rates, settings):
    rates(acme_dns_ip="100/min", acme_dns_user="100/min")
    settings.THROTTLE_ACME_DNS_LOCKOUT_FAILURES = 3
    settings.THROTTLE_ACME_DNS_LOCKOUT_MINUTES = 15
    for _ in range(2):
        assert update(credentials, password="wrong").status_code == 401
    assert authenticated(update(credentials))  # a success starts the count again
    for _ in range(3):
        assert update(credentials, password="wrong").status_code == 401
    assert hashes.calls == 6

    locked = update(credentials)  # the right key, but the username is locked: no hash computed
    assert locked.status_code == 429 and locked["Retry-After"] == str(15 * 60)
    error = locked.json()["error"]
    assert error["code"] == "throttled" and error["message"] == (
        "Trop d'échecs d'authentification pour cet identifiant acme-dns : réessayez dans 900 s.")
    assert hashes.calls == 6
    clock.advance(14 * 60)
    assert update(credentials).status_code == 429
    clock.advance(60)
    assert authenticated(update(credentials))
    assert hashes.calls == 7

    # An unknown username locks the same way (and costs no hash).
    for _ in range(3):
        assert update(credentials, username=UNKNOWN).status_code == 401
    assert update(credentials, username=UNKNOWN).status_code == 429
    assert hashes.calls == 7


def test_a_suffixed_username_does_not_get_around_the_lock(credentials, hashes, clock, rates, settings):
    """The per-username counters see the header as sent: a suffix must make an unknown username, never the same
    credential under a fresh counter."""
    rates(acme_dns_ip="100/min", acme_dns_user="100/min")
    settings.THROTTLE_ACME_DNS_LOCKOUT_FAILURES = 2
    for _ in range(2):
        assert update(credentials, password="wrong").status_code == 401
    assert update(credentials).status_code == 429
    calls = hashes.calls
    for suffix in ("x", " ", "-" * 40):
        suffixed = update(credentials, username=credentials["username"] + suffix)
        assert suffixed.status_code == 401
    assert hashes.calls == calls  # no key checked against the locked credential


def test_register_is_limited_per_ip(db, clock, rates):
    rates(acme_dns_ip="2/min")
    client = APIClient(REMOTE_ADDR="192.0.2.3")
    assert [client.post("/acme-dns/register", {}, format="json").status_code for _ in range(2)] == [403, 403]
    wait = assert_throttled_json(client.post("/acme-dns/register", {}, format="json"))
    assert APIClient(REMOTE_ADDR="192.0.2.4").post("/acme-dns/register", {}, format="json").status_code == 403
    clock.advance(wait)
    assert client.post("/acme-dns/register", {}, format="json").status_code == 403


def test_with_redis_and_a_dns_server_the_right_key_writes_after_the_lock(world, bind, hashes, clock, rates,
                                                                        settings, redis_cache):
    """The counters in Redis (shared by the workers); the success is a real TXT write."""
    rates(acme_dns_ip="100/min", acme_dns_user="100/min")
    settings.THROTTLE_ACME_DNS_LOCKOUT_FAILURES = 2
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    credential, password = cs.register_acme_dns(drimbox, acting_user=world.technical)
    given = {"username": credential.username, "password": password, "subdomain": credential.subdomain}
    for _ in range(2):
        assert update(given, password="wrong").status_code == 401
    assert update(given).status_code == 429
    keys = b" ".join(redis_cache.keys("*throttle:acme_dns_user*")).decode()
    assert "acme_dns_user:lock" in keys and credential.username not in keys
    assert hashes.calls == 2
    clock.advance(settings.THROTTLE_ACME_DNS_LOCKOUT_MINUTES * 60)
    response = update(given)
    assert response.status_code == 200 and response.json() == {"txt": TXT}
    assert bind.client().lookup(f"_acme-challenge.{drimbox.vi_fqdn}", "TXT") == [TXT]
    assert throttling.locked_for("acme_dns_user", credential.username) == 0

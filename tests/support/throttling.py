"""Helpers of the rate-limit tests: a clock the tests move, rates set per test, a Redis database, 429 checks."""
import contextlib
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from tests.conftest import require_or_skip
from trustspace import throttling


def _scratch_db():
    """Eight below the test process's own Redis database (7 and 6 in CI, whose REDIS_URL counts down from 15), so
    that two runs given different REDIS_URL databases never flush each other's scratch database."""
    own = urlsplit(django_settings.REDIS_URL).path.strip("/") if django_settings.REDIS_URL else ""
    base = int(own) if own.isdigit() else 15 - django_settings.TEST_WORKER_INDEX
    return (base - 8) % 16


REDIS_DB_URL = f"redis://127.0.0.1:6379/{_scratch_db()}"
START = 1_800_000_000.0  # a multiple of every test window (60 s, 300 s): each test starts at a window's start


class Clock:
    """Replaces ``trustspace.throttling.clock``: time moves only when a test says so."""

    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds

    @classmethod
    def install(cls, monkeypatch):
        clock = cls()
        monkeypatch.setattr(throttling, "clock", clock)
        return clock


def set_rates(settings, **overrides):
    """rates(api_token="3/min"): the rates of some scopes for this test."""
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **overrides}
    settings.REST_FRAMEWORK = rest


def redis_available():
    try:
        import redis

        redis.Redis.from_url(REDIS_DB_URL, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - any failure means: no Redis to test with
        return False
    return True


@contextlib.contextmanager
def redis_default_cache(settings):
    """The default cache on Redis database 12, flushed before and after; yields a raw client to read the keys."""
    require_or_skip(redis_available(), "Redis is not reachable on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_DB_URL)
    client.flushdb()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": REDIS_DB_URL}}
    try:
        yield client
    finally:
        client.flushdb()


def assert_throttled_json(response):
    """The structured 429 of the API (and of acme-dns); returns Retry-After."""
    assert response.status_code == 429, response.content[:400]
    wait = int(response["Retry-After"])
    assert wait >= 1
    assert response.json() == {"error": {"code": "throttled",
                                         "message": f"Trop de requêtes : réessayez dans {wait} s.", "fields": {}}}
    return wait


def assert_throttled_page(response):
    """The French 429 page; returns Retry-After."""
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert wait >= 1
    page = response.content.decode()
    assert "Trop de requêtes" in page and f"réessayez dans {wait} s." in page
    return wait


def counting(function):
    """The real function, counting its calls (a function, so that it also binds as a method)."""
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return function(*args, **kwargs)

    wrapper.calls = 0
    return wrapper

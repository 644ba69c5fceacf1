"""With DEBUG=0 the portal refuses the development defaults: SQLite, the filesystem broker, LocMem/Dummy caches."""
import os
import subprocess
import sys
from pathlib import Path

from django.core.checks import run_checks

from trustspace.checks import outbox_key_problems, problems

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "x" * 64 + "production-secret-key-for-the-check",
              "ALLOWED_HOSTS": "drimm.example.fr", "DNS_SERVER": "ns.example.fr", "FQDN_SITE_LABEL": "021",
              "DNS_TSIG_SECRET": "c2VjcmV0", "IGC_SANTE_ANCHORS": "/etc/drimm/igc-sante/racine.pem",
              "AUDIT_HMAC_KEYS": "k1:a2V5LWZvci10aGUtZGVwbG95LWNoZWNrLTMyLWJ5dGVzLWxvbmc=",
              "OUTBOX_ENCRYPTION_KEY": "outbox-key-for-the-deploy-check"}


def ids(errors):
    return sorted(error.id for error in errors)


SQLITE = "django_prometheus.db.backends.sqlite3"
POSTGRESQL = "django_prometheus.db.backends.postgresql"
LOCMEM = "django_prometheus.cache.backends.locmem.LocMemCache"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def test_debug_allows_the_development_defaults():
    assert problems(debug=True, database_engine=SQLITE, broker_url="filesystem://", cache_backend=LOCMEM) == []


def test_each_development_default_is_an_error_with_debug_0():
    assert ids(problems(debug=False, database_engine=SQLITE, broker_url="filesystem://", cache_backend=LOCMEM)) == [
        "trustspace.E101", "trustspace.E102", "trustspace.E103"]
    assert ids(problems(debug=False, database_engine=POSTGRESQL, broker_url="redis://r:6379/0",
                        cache_backend="django.core.cache.backends.dummy.DummyCache")) == ["trustspace.E103"]
    assert problems(debug=False, database_engine=POSTGRESQL, broker_url="redis://r:6379/0",
                    cache_backend=REDIS_CACHE) == []


def test_the_check_is_registered_and_reads_the_settings(settings):
    settings.DEBUG = False
    settings.CELERY_BROKER_URL = "filesystem://"
    assert "trustspace.E102" in ids(run_checks(tags=["production"]))
    settings.DEBUG = True
    assert run_checks(tags=["production"]) == []


def manage(command, env):
    return subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **PRODUCTION, **env})


def test_check_deploy_and_startup_refuse_sqlite_and_the_filesystem_broker(tmp_path):
    development = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""}
    result = manage(["check", "--deploy"], development)
    assert result.returncode != 0
    for error_id in ("trustspace.E101", "trustspace.E102", "trustspace.E103"):
        assert error_id in result.stderr
    # Not only --deploy: a command that runs the checks at start (migrate) refuses too, before touching anything.
    result = manage(["migrate", "--plan"], development)
    assert result.returncode != 0 and "trustspace.E101" in result.stderr
    production = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://drimm@db.example.fr:5432/drimm",
                  "REDIS_URL": "redis://redis.example.fr:6379/0"}
    result = manage(["check", "--deploy"], production)
    assert "trustspace.E10" not in result.stdout + result.stderr


def test_production_must_name_its_outbox_encryption_key(settings, tmp_path):
    assert outbox_key_problems(debug=True, key="") == []
    assert ids(outbox_key_problems(debug=False, key="")) == ["trustspace.E104"]
    assert outbox_key_problems(debug=False, key="une-clé") == []
    settings.DEBUG, settings.OUTBOX_ENCRYPTION_KEY = False, ""
    assert "trustspace.E104" not in ids(run_checks(tags=["production"]))  # only with --deploy: startup is not refused
    assert "trustspace.E104" in ids(run_checks(tags=["production"], include_deployment_checks=True))
    production = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://drimm@db.example.fr:5432/drimm",
                  "REDIS_URL": "redis://redis.example.fr:6379/0", "OUTBOX_ENCRYPTION_KEY": ""}
    result = manage(["check", "--deploy"], production)
    assert result.returncode != 0 and "trustspace.E104" in result.stderr

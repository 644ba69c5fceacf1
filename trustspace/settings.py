"""Settings: every value comes from the environment, with embedded development defaults.

Development (the README's first command): nothing to set; SQLite under ``var/``,
Celery on the filesystem transport, e-mails on the console, password login for the demo.
Production: ``DEBUG=0`` with ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL``,
``REDIS_URL`` and the ``OIDC_*`` values; ``manage.py check --deploy`` then reports nothing.
"""
import base64
import hashlib
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
# Parallel test processes (pytest-xdist sets PYTEST_XDIST_WORKER to gw0, gw1…) never share files or a Redis
# database: each keeps its var/ below the run's and counts Redis databases down from REDIS_URL's. Only the test
# process itself moves (a worker or server a test starts inherits the variable): it exports the values it took,
# so that what it starts uses the same var/ and Redis database unless the test says otherwise.
TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "") if "pytest" in sys.modules else ""
TEST_WORKER_INDEX = int(TEST_WORKER[2:]) if TEST_WORKER.startswith("gw") else 0
if TEST_WORKER:
    VAR_DIR = VAR_DIR / TEST_WORKER
    os.environ["VAR_DIR"] = str(VAR_DIR)


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0.")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production-0123456789abcdef"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Public base URL, used in e-mails (invitation links).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "widget_tweaks",
    "dsfr",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mozilla_django_oidc",
    "trustspace",
    "operators",
    "certificates",
    "whitelist",
    "weather",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "trustspace.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "trustspace.api.errors.ApiNotFoundMiddleware",  # JSON 404 under /api/, even with DEBUG=1
    "trustspace.middleware.MethodNotAllowedPageMiddleware",  # French page instead of Django's empty 405
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "operators.middleware.ActiveOperatorMiddleware",  # request.active_operator, read by trustspace.access
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trustspace.urls"
WSGI_APPLICATION = "trustspace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trustspace.context_processors.portal",
                "operators.context_processors.operator_switcher",
            ],
            # In every template: |paris_date, |paris_datetime (the one format of dates and times for people) and
            # {% error_with_detail %} (an error in French, the outside party's words folded as a technical detail).
            "builtins": ["trustspace.templatetags.paris_time", "trustspace.templatetags.technical_detail"],
        },
    },
]
FORM_RENDERER = "dsfr.forms.DsfrDjangoTemplates"
DSFR_MARK_OPTIONAL_FIELDS = True
# django-dsfr's component tags escape what they are given (alerts, tables…): messages and cells carry user data.
DSFR_CONTENT_IS_SAFE = False

# Database: SQLite under var/ by default; DATABASE_URL (postgres://…) in production.
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE serialises writers from the start of the transaction, which keeps
    # the audit hash chain linear under the embedded worker and the web server.
    # WAL with synchronous=NORMAL: a commit no longer waits for the disk (only checkpoints do; a crash may lose
    # the last commits, never corrupt the file), and readers never block the writer.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20,
                                       "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests run in memory, one database per process (named, because the engine below is wrapped for metrics and
    # pytest-django would otherwise derive a file name per parallel worker from the development database's path).
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "trustspace.User"
AUTHENTICATION_BACKENDS = [
    "trustspace.oidc.IscAuthenticationBackend",
    # The password backend only ever authenticates when DEV_PASSWORD_LOGIN is on
    # (never with DEBUG=0); see trustspace.auth_backends.
    "trustspace.auth_backends.DevelopmentPasswordBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Development-only password login for the embedded demo; impossible when DEBUG=0.
DEV_PASSWORD_LOGIN = DEBUG and env_bool("DEV_PASSWORD_LOGIN", True)

# OpenID Connect: iSC (Industriels Santé Connect). Endpoints come from the issuer's discovery document
# (<OIDC_ISSUER>/.well-known/openid-configuration, trustspace/oidc_discovery.py); each OIDC_OP_* variable,
# when set, overrides the discovered value.
OIDC_ISSUER = env("OIDC_ISSUER", "https://auth.industriels.esante.gouv.fr/realms/industriels").rstrip("/")
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", "drimm-portal")
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = env("OIDC_OP_LOGOUT_ENDPOINT", "")
OIDC_OP_INTROSPECTION_ENDPOINT = env("OIDC_OP_INTROSPECTION_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_VERIFY_SSL = env_bool("OIDC_VERIFY_SSL", True)
OIDC_STORE_ID_TOKEN = True
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
OIDC_CALLBACK_CLASS = "trustspace.oidc.IscCallbackView"
LOGIN_REDIRECT_URL_FAILURE = "/connexion/?echec=1"
# ANS administrators are recognised from this claim (a string or a list) holding one of these values.
OIDC_ANS_ADMIN_CLAIM = env("OIDC_ANS_ADMIN_CLAIM", "groups")
OIDC_ANS_ADMIN_VALUES = env_list("OIDC_ANS_ADMIN_VALUES", "ans-drimm-admin")
# A validated API bearer token is remembered this long at most (never past its expiry).
OIDC_BEARER_CACHE_SECONDS = env_int("OIDC_BEARER_CACHE_SECONDS", 60)

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
# Dates as every page writes them (« 04/12/2026 à 10:54 », trustspace.paris_time), also in the admin.
FORMAT_MODULE_PATH = ["trustspace.formats"]

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded documents (mandates…) are private: served only through permission-checked views.
MEDIA_ROOT = Path(env("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-non-publique/"
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Redis: Celery broker and cache when REDIS_URL is set.
REDIS_URL = env("REDIS_URL", "")
if REDIS_URL and TEST_WORKER:
    _redis = urlsplit(REDIS_URL)
    _redis_db = (int(_redis.path.strip("/") or 0) - TEST_WORKER_INDEX) % 16
    REDIS_URL = os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{_redis_db}"))
# Seconds to connect to / wait for the Redis cache: a Redis that hangs fails throttling, readiness' cache check and
# every cached read fast instead of holding the request.
REDIS_CACHE_TIMEOUT_SECONDS = float(env("REDIS_CACHE_TIMEOUT_SECONDS", "1.5"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": REDIS_CACHE_TIMEOUT_SECONDS,
                                      "socket_timeout": REDIS_CACHE_TIMEOUT_SECONDS}}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        # Kombu's fanout/control exchange files, which would otherwise land in the working directory.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
    CELERY_RESULT_BACKEND = None
    for folder in ("queue", "processed", "control"):
        (VAR_DIR / "celery" / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {"task": "operators.tasks.expire_invitations", "schedule": timedelta(minutes=15)},
    "verify-audit-chain": {"task": "trustspace.tasks.verify_audit_chain", "schedule": crontab(hour=3, minute=17)},
}

# E-mail: console in development, SMTP in production (EMAIL_URL-like variables).
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds an SMTP connection may stay silent: a hanging server fails the outbox attempt (retried later) instead of
# holding the message's row lock until the task's time limit.
EMAIL_TIMEOUT = float(env("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Espace de Confiance DRIM-M <ne-pas-repondre@mesimagesmedicales.fr>")
ADMINS = [("ANS", addr) for addr in env_list("ADMIN_EMAILS")]
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Domain settings.
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "trustspace.api.authentication.ApiTokenAuthentication",
        "trustspace.api.authentication.OidcBearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "trustspace.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "trustspace.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "trustspace.api.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Every API list is paginated (``?limit=``/``?offset=``, checked: 400 on garbage): items per page without
# ``limit``, and the largest page a client may ask for (a larger ``limit`` is brought down to it).
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 100)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200)
SPECTACULAR_SETTINGS = {
    "TITLE": "API de l'Espace de Confiance DRIM-M",
    "DESCRIPTION": "API des opérateurs de DRIMbox : jetons d'API personnels (`Authorization: Token …`) "
    "ou jetons d'accès iSC (`Authorization: Bearer …`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Redoc has no French but lets its labels be replaced (Swagger UI does not: it stays in English).
    "REDOC_UI_SETTINGS": {
        "labels": {
            "enum": "Valeurs possibles", "enumSingleValue": "Valeur", "enumArray": "Éléments", "default": "Par défaut",
            "deprecated": "Obsolète", "example": "Exemple", "examples": "Exemples", "recursive": "Récursif",
            "arrayOf": "Liste de ", "webhook": "Événement", "const": "Valeur", "noResultsFound": "Aucun résultat",
            "download": "Télécharger", "downloadSpecification": "Télécharger la spécification OpenAPI",
            "responses": "Réponses", "callbackResponses": "Réponses du rappel",
            "requestSamples": "Exemples de requête", "responseSamples": "Exemples de réponse",
        },
        "theme": {"typography": {"fontFamily": "Marianne, arial, sans-serif",
                                 "headings": {"fontFamily": "Marianne, arial, sans-serif"}}},
        "hideDownloadButton": True,  # the page offers the schema itself
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}
# The operations' groups keep their English names (machine identifiers, stable for generated clients); each has a
# French label: Redoc shows it in its menu (x-displayName), Swagger UI beside the name (description).
SPECTACULAR_SETTINGS["TAGS"] = [
    {"name": name, "x-displayName": label, "description": label}
    for name, label in (
        ("operators", "Opérateurs"),
        ("applications", "Demandes d'adhésion et de rattachement"),
        ("contract-versions", "Contrat d'adhésion"),
        ("memberships", "Personnes et rôles"),
        ("invitations", "Invitations"),
        ("me", "Mon compte"),
        ("tokens", "Jetons d'API"),
        ("drimboxes", "DRIMbox"),
        ("requests", "Demandes sur les DRIMbox"),
        ("review-queue", "Instruction des demandes (ANS)"),
        ("registry", "Registre des FQDN"),
        ("financing-orders", "Bons de commande"),
        ("va", "Documents VA (vérification d'aptitude)"),
        ("attestations", "Attestations de délégation"),
        ("certificates", "Certificats"),
        ("acme-dns", "acme-dns (défis DNS-01 des certificats vi)"),
        ("weather", "Météo des DRIMbox"),
        ("perf", "PERF (performance mensuelle)"),
        ("whitelist", "Liste blanche"),
    )
]

# Security: strict in production; `check --deploy` is clean with DEBUG=0.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # /api/v1/health is probed by the load balancer over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]

# LOGGING: see the block « Operations: logs, Sentry, alerts » at the end (JSON lines with the request id).

# FQDN registry (DESIGN §4): db<N>.<label>.<zone>; the label is "test" outside production.
FQDN_ZONE = env("FQDN_ZONE", "mesimagesmedicales.fr")
FQDN_SITE_LABEL = env("FQDN_SITE_LABEL", "test")

# The authoritative DNS server of the zone, driven by RFC 2136 updates signed with TSIG (DESIGN §4).
# Without DNS_SERVER (embedded demo) changes are kept queued and shown as « DNS en attente ».
DNS_SERVER = env("DNS_SERVER", "")
DNS_PORT = env_int("DNS_PORT", 53)
DNS_TSIG_KEY_NAME = env("DNS_TSIG_KEY_NAME", "drimm-portal")
DNS_TSIG_SECRET = env("DNS_TSIG_SECRET", "")
DNS_TSIG_ALGORITHM = env("DNS_TSIG_ALGORITHM", "hmac-sha256")
DNS_TIMEOUT = float(env("DNS_TIMEOUT", "5"))
DNS_TTL = env_int("DNS_TTL", 300)
# Retries of a change the server could not take: 30 s, 1 min, 2 min… capped.
DNS_RETRY_BASE_SECONDS = env_int("DNS_RETRY_BASE_SECONDS", 30)
DNS_RETRY_MAX_SECONDS = env_int("DNS_RETRY_MAX_SECONDS", 3600)
# Production accepts only globally routable addresses for DRIMbox names.
DNS_REQUIRE_PUBLIC_ADDRESSES = env_bool("DNS_REQUIRE_PUBLIC_ADDRESSES", not DEBUG)

# Lifecycle (DESIGN §5).
VA_DEADLINE_DAYS = env_int("VA_DEADLINE_DAYS", 30)
VA_REMINDER_DAYS = [int(days) for days in env_list("VA_REMINDER_DAYS", "14,7,1")]
# VA « avec réserves »: months from the client's RIS signal to lift them (AF IMG DB Va2), reminders before.
VA_RESERVATIONS_MONTHS = env_int("VA_RESERVATIONS_MONTHS", 2)
VA_RESERVATIONS_REMINDER_DAYS = [int(days) for days in env_list("VA_RESERVATIONS_REMINDER_DAYS", "15,3")]
REQUEST_MAX_ATTACHMENTS = env_int("REQUEST_MAX_ATTACHMENTS", 20)
CELERY_BEAT_SCHEDULE.update({
    "apply-dns-changes": {"task": "operators.tasks.apply_dns_changes", "schedule": timedelta(minutes=1)},
    "va-reminders": {"task": "operators.tasks.send_va_reminders", "schedule": crontab(hour=7, minute=5)},
})

# Certificates (DESIGN §6). The IGC-Santé hierarchy `db` certificates must chain to: the ANS TEST
# hierarchy is bundled (development, tests); production names the production PEM files.
# Development also trusts a hierarchy generated under DEV_PKI_DIR for the demo (certificates/devpki.py).
_BUNDLED_ANCHORS = BASE_DIR / "certificates" / "anchors" / "igc-sante-test"
DEV_PKI_DIR = VAR_DIR / "pki"
IGC_SANTE_ANCHORS_CONFIGURED = bool(env("IGC_SANTE_ANCHORS"))
_DEV_PKI = DEBUG and not IGC_SANTE_ANCHORS_CONFIGURED
IGC_SANTE_ANCHORS = env_list("IGC_SANTE_ANCHORS") or [
    str(_BUNDLED_ANCHORS / "TEST_AC_RACINE_IGC-SANTE_ELEMENTAIRE.pem"),
    *([str(DEV_PKI_DIR / "root.pem")] if _DEV_PKI else [])]
IGC_SANTE_INTERMEDIATES = env_list("IGC_SANTE_INTERMEDIATES") or [
    str(_BUNDLED_ANCHORS / "TEST_AC_IGC-SANTE_ELEMENTAIRE_ORGANISATIONS.pem"),
    *([str(DEV_PKI_DIR / "intermediate.pem")] if _DEV_PKI else [])]
# Market `vi` certificates uploaded by operators chain to the public web PKI: the Mozilla root store as
# certifi ships it (Debian's ca-certificates bundle when certifi is absent). A PEM bundle path.
try:
    import certifi as _certifi

    _PUBLIC_ROOTS = _certifi.where()
except ImportError:  # pragma: no cover
    _PUBLIC_ROOTS = "/etc/ssl/certs/ca-certificates.crt"
VI_MARKET_TRUST_BUNDLE = env("VI_MARKET_TRUST_BUNDLE", _PUBLIC_ROOTS)
OCSP_TIMEOUT = float(env("OCSP_TIMEOUT", "10"))
CRL_FETCH_TIMEOUT = float(env("CRL_FETCH_TIMEOUT", "10"))
CRL_MAX_BYTES = env_int("CRL_MAX_BYTES", 20 * 1024 * 1024)
CRL_REFRESH_MARGIN_HOURS = env_int("CRL_REFRESH_MARGIN_HOURS", 2)
CRL_MAX_AGE_HOURS = env_int("CRL_MAX_AGE_HOURS", 6)
CERTIFICATE_MAX_BYTES = env_int("CERTIFICATE_MAX_BYTES", 64 * 1024)
CERTIFICATE_EXPIRY_THRESHOLDS = [int(days) for days in env_list("CERTIFICATE_EXPIRY_THRESHOLDS", "60,15")]
DB_REVOCATION_DEADLINE_DAYS = env_int("DB_REVOCATION_DEADLINE_DAYS", 7)
# ACME CA for `vi` certificates (DNS-01 answered through the zone). The account key is stored
# encrypted with ACME_ACCOUNT_KEY_SECRET (a Fernet key); development derives one from SECRET_KEY.
ACME_DIRECTORY_URL = env("ACME_DIRECTORY_URL", "")
ACME_CA_BUNDLE = env("ACME_CA_BUNDLE", "")
ACME_CONTACT_EMAIL = env("ACME_CONTACT_EMAIL", "")
ACME_ACCOUNT_KEY_SECRET = env("ACME_ACCOUNT_KEY_SECRET", "")
ACME_PROPAGATION_TIMEOUT = float(env("ACME_PROPAGATION_TIMEOUT", "60"))
ACME_RENEWAL_FRACTION = float(env("ACME_RENEWAL_FRACTION", str(1 / 3)))
ACME_MAX_ATTEMPTS = env_int("ACME_MAX_ATTEMPTS", 8)
ACME_RETRY_BASE_SECONDS = env_int("ACME_RETRY_BASE_SECONDS", 300)
CELERY_BEAT_SCHEDULE.update({
    "refresh-crls": {"task": "certificates.tasks.refresh_crls", "schedule": timedelta(hours=1)},
    "certificate-expiry-notices": {"task": "certificates.tasks.send_expiry_notices",
                                   "schedule": crontab(hour=6, minute=40)},
    "process-vi-orders": {"task": "certificates.tasks.process_vi_orders", "schedule": timedelta(minutes=5)},
    "renew-vi-certificates": {"task": "certificates.tasks.renew_vi_certificates", "schedule": timedelta(hours=6)},
    "process-revocations": {"task": "certificates.tasks.process_revocations", "schedule": timedelta(minutes=15)},
    "quarterly-certificate-lists": {"task": "certificates.tasks.send_quarterly_export_notices",
                                    "schedule": crontab(day_of_month=1, month_of_year="1,4,7,10", hour=7, minute=0)},
})

# The signed whitelist (DESIGN §7).
WHITELIST_NAMESPACE = env("WHITELIST_NAMESPACE", "https://github.com/ansforge/DRIM-M_DATA")
WHITELIST_SIGNER_CN = env("WHITELIST_SIGNER_CN", "Liste Blanche DRIM-M")
WHITELIST_SIGNER_OU = env("WHITELIST_SIGNER_OU", "318751275100020")
WHITELIST_FOUR_EYES = env_bool("WHITELIST_FOUR_EYES", True)
WHITELIST_SIGNER_P12 = env("WHITELIST_SIGNER_P12", "")
WHITELIST_SIGNER_P12_PASSWORD = env("WHITELIST_SIGNER_P12_PASSWORD", "")
# How long a worker trusts its answer to « which list is current? » (whitelist/public_cache.py), in seconds.
WHITELIST_PUBLIC_CURRENT_SECONDS = float(env("WHITELIST_PUBLIC_CURRENT_SECONDS", "2"))

# --- Whitelist GitHub ---
# Publication of each signed version to a GitHub repository laid out like ansforge/MSS-liste-blanche
# (DESIGN §7) and intake of operators' requests filed there as issues. An empty repository turns both off.
WHITELIST_GITHUB_API_URL = env("WHITELIST_GITHUB_API_URL", "https://api.github.com")
WHITELIST_GITHUB_TOKEN = env("WHITELIST_GITHUB_TOKEN", "")
WHITELIST_GITHUB_REPOSITORY = env("WHITELIST_GITHUB_REPOSITORY", "")
WHITELIST_GITHUB_BRANCH = env("WHITELIST_GITHUB_BRANCH", "main")
WHITELIST_GITHUB_MODE = env("WHITELIST_GITHUB_MODE", "pr")  # "pr" (pull request) or "commit" (direct)
WHITELIST_GITHUB_FILE_NAME = env("WHITELIST_GITHUB_FILE_NAME", "LISTEBLANCHE_DRIM-M.xml")
WHITELIST_GITHUB_ARCHIVE_DIR = env("WHITELIST_GITHUB_ARCHIVE_DIR", "archives")
WHITELIST_GITHUB_TIMEOUT = env_int("WHITELIST_GITHUB_TIMEOUT", 30)
# GitHub asks integrators to space their writes; tests set 0.
WHITELIST_GITHUB_SECONDS_BETWEEN_WRITES = float(env("WHITELIST_GITHUB_SECONDS_BETWEEN_WRITES", "1"))
WHITELIST_GITHUB_RETRY_BASE_SECONDS = env_int("WHITELIST_GITHUB_RETRY_BASE_SECONDS", 60)
WHITELIST_GITHUB_RETRY_MAX_SECONDS = env_int("WHITELIST_GITHUB_RETRY_MAX_SECONDS", 6 * 3600)
# The beat sweep that retries failed publications and resumes abandoned ones; a publication « en cours » for longer
# than WHITELIST_GITHUB_STALE_RUNNING_SECONDS was abandoned (its worker died): longer than the task's time limit.
WHITELIST_GITHUB_SWEEP_SECONDS = env_int("WHITELIST_GITHUB_SWEEP_SECONDS", 300)
WHITELIST_GITHUB_STALE_RUNNING_SECONDS = env_int("WHITELIST_GITHUB_STALE_RUNNING_SECONDS", 900)
WHITELIST_GITHUB_INTAKE_ENABLED = env_bool("WHITELIST_GITHUB_INTAKE_ENABLED", True)
WHITELIST_GITHUB_INTAKE_MINUTES = env_int("WHITELIST_GITHUB_INTAKE_MINUTES", 10)
# Only issues with this label are imported (the label the issue form's `labels:` key adds); empty: no filter.
WHITELIST_GITHUB_INTAKE_LABEL = env("WHITELIST_GITHUB_INTAKE_LABEL", "demande")
# ISO date of the first poll's start; unset: the first poll only starts the cursor now (no old issue imported).
WHITELIST_GITHUB_INTAKE_SINCE = env("WHITELIST_GITHUB_INTAKE_SINCE", "")
CELERY_BEAT_SCHEDULE.update({
    "whitelist-github-publications": {"task": "whitelist.tasks.retry_github_publications",
                                      "schedule": timedelta(seconds=WHITELIST_GITHUB_SWEEP_SECONDS)},
    "whitelist-github-issues": {"task": "whitelist.tasks.poll_github_issues",
                                "schedule": timedelta(minutes=WHITELIST_GITHUB_INTAKE_MINUTES)},
})
# --- Whitelist GitHub ---

# --- Whitelist signing backends ---
# WHITELIST_SIGNER_BACKEND: pkcs12 (WHITELIST_SIGNER_P12 above) | pkcs11 | esignsante (whitelist/signers.py).
WHITELIST_SIGNER_BACKEND = env("WHITELIST_SIGNER_BACKEND", "pkcs12")
# Refuse to sign when the signer's CRL cannot be read (required by default when DEBUG=0; in development an
# unknown status is only logged and shown).
WHITELIST_SIGNER_REQUIRE_CRL = env_bool("WHITELIST_SIGNER_REQUIRE_CRL", not DEBUG)
# The signer's intermediates and root (PEM file path or PEM text) for the list's KeyInfo (signer, then its chain up to
# the root, as ANS's 2026 list), when the PKCS#12 or the PKCS#11 token does not hold them (whitelist/signers.py).
WHITELIST_SIGNER_CHAIN_PEM = env("WHITELIST_SIGNER_CHAIN_PEM", "")
# PKCS#11 (whitelist/pkcs11_signer.py): empty module → the usual SoftHSM2 paths; the PIN from the environment only.
WHITELIST_PKCS11_MODULE = env("WHITELIST_PKCS11_MODULE", "")
WHITELIST_PKCS11_TOKEN_LABEL = env("WHITELIST_PKCS11_TOKEN_LABEL", "")
WHITELIST_PKCS11_PIN = env("WHITELIST_PKCS11_PIN", "")
WHITELIST_PKCS11_KEY_LABEL = env("WHITELIST_PKCS11_KEY_LABEL", "")
WHITELIST_PKCS11_CERT_PEM = env("WHITELIST_PKCS11_CERT_PEM", "")  # empty → the certificate stored on the token
WHITELIST_PKCS11_CHAIN_PEM = env("WHITELIST_PKCS11_CHAIN_PEM", "")
# eSignSanté (whitelist/esignsante.py): base URL of the instance (…/signatures/xadesbaselineb is appended).
WHITELIST_ESIGNSANTE_URL = env("WHITELIST_ESIGNSANTE_URL", "")
WHITELIST_ESIGNSANTE_SIGN_CONF_ID = env("WHITELIST_ESIGNSANTE_SIGN_CONF_ID", "1")
WHITELIST_ESIGNSANTE_SECRET = env("WHITELIST_ESIGNSANTE_SECRET", "")
WHITELIST_ESIGNSANTE_API_KEY = env("WHITELIST_ESIGNSANTE_API_KEY", "")
WHITELIST_ESIGNSANTE_API_KEY_HEADER = env("WHITELIST_ESIGNSANTE_API_KEY_HEADER", "ESANTE-API-KEY")
WHITELIST_ESIGNSANTE_TIMEOUT = float(env("WHITELIST_ESIGNSANTE_TIMEOUT", "30"))
WHITELIST_ESIGNSANTE_CA_BUNDLE = env("WHITELIST_ESIGNSANTE_CA_BUNDLE", "")  # empty → the system CAs
WHITELIST_ESIGNSANTE_SIGNER_PEM = env("WHITELIST_ESIGNSANTE_SIGNER_PEM", "")  # optional: pins the certificate
CELERY_BEAT_SCHEDULE.update({
    "whitelist-signer-watch": {"task": "whitelist.signer_watch.watch_signer_task",
                               "schedule": crontab(hour=6, minute=30)},
})
# --- end Whitelist signing backends ---

# --- Weather probing ---
# The prober (weather/prober.py, weather/tasks.py): one Celery queue per location, « probe.<name> ».
WEATHER_LOCATION = env("WEATHER_LOCATION", "local")  # the location this worker probes from
WEATHER_PROBE_INTERVAL = env_int("WEATHER_PROBE_INTERVAL", 60)  # seconds between rounds
WEATHER_PROBE_TIMEOUT = float(env("WEATHER_PROBE_TIMEOUT", "10"))  # seconds, per attempt
WEATHER_PROBE_RETRIES = env_int("WEATHER_PROBE_RETRIES", 1)  # immediate retries within one probe
WEATHER_PROBE_CONCURRENCY = env_int("WEATHER_PROBE_CONCURRENCY", 200)  # probes in flight per batch
WEATHER_PROBE_BATCH_SIZE = env_int("WEATHER_PROBE_BATCH_SIZE", 500)  # DRIMboxes per probe_batch task
WEATHER_CONFIRMATION_FAILURES = env_int("WEATHER_CONFIRMATION_FAILURES", 3)  # N consecutive failures → down
# Reporting locations that must agree: "majority", a fraction ("0.66", "2/3") or a count ("2").
WEATHER_QUORUM = env("WEATHER_QUORUM", "majority")
WEATHER_STALE_AFTER = env_int("WEATHER_STALE_AFTER", 300)  # seconds; older observations do not count
WEATHER_CERT_EXPIRY_DEGRADED_DAYS = env_int("WEATHER_CERT_EXPIRY_DEGRADED_DAYS", 15)
# Days of hourly response times kept per DRIMbox for its latency chart (weather.services.latency).
WEATHER_LATENCY_DAYS = env_int("WEATHER_LATENCY_DAYS", 90)
# The portal's client certificate for mutual TLS (PEM paths); DEBUG without them: a development one.
WEATHER_CLIENT_CERT = env("WEATHER_CLIENT_CERT", "")
WEATHER_CLIENT_KEY = env("WEATHER_CLIENT_KEY", "")
WEATHER_DB_PATH = env("WEATHER_DB_PATH", "/")  # HEAD <path> on db after the handshake
WEATHER_VI_PATH = env("WEATHER_VI_PATH", "/")
WEATHER_DB_PORT = env_int("WEATHER_DB_PORT", 443)
WEATHER_VI_PORT = env_int("WEATHER_VI_PORT", 443)
WEATHER_VI_CA_BUNDLE = env("WEATHER_VI_CA_BUNDLE", "")  # extra CAs for vi (added to the system ones)
# Pinned addresses, as curl --resolve: "db1.example.fr=10.0.0.1:443,vi1.example.fr=10.0.0.2:443".
WEATHER_PROBE_RESOLVE = dict(item.split("=", 1) for item in env_list("WEATHER_PROBE_RESOLVE") if "=" in item)
CELERY_BEAT_SCHEDULE.update({
    "weather-schedule-probes": {"task": "weather.tasks.schedule_probes",
                                "schedule": timedelta(seconds=WEATHER_PROBE_INTERVAL)},
    "weather-detect-silence": {"task": "weather.tasks.detect_silence",
                               "schedule": timedelta(seconds=WEATHER_PROBE_INTERVAL)},
})
# --- end Weather probing ---

# --- Weather pages ---
# Public weather, operator and ANS weather pages, badge and feed (weather.views, weather.feeds).
WEATHER_HISTORY_DAYS = env_int("WEATHER_HISTORY_DAYS", 90)
WEATHER_PAGE_SIZE = env_int("WEATHER_PAGE_SIZE", 50)
WEATHER_BADGE_MAX_AGE = env_int("WEATHER_BADGE_MAX_AGE", 60)
# Seconds a shared cache may serve the public weather pages and feeds without asking again (then: 304 when
# unchanged, weather/http_cache.py).
WEATHER_PUBLIC_MAX_AGE = env_int("WEATHER_PUBLIC_MAX_AGE", 30)
# Closed days of the public weather are stored (weather.services.summaries): beat stores the missing ones.
WEATHER_DAY_SUMMARY_MINUTES = env_int("WEATHER_DAY_SUMMARY_MINUTES", 15)
CELERY_BEAT_SCHEDULE["weather-close-days"] = {"task": "weather.tasks.close_weather_days",
                                              "schedule": timedelta(minutes=WEATHER_DAY_SUMMARY_MINUTES)}
WEATHER_FEED_ITEMS = env_int("WEATHER_FEED_ITEMS", 50)
# Maintenance windows declared by operators: longest window, how far ahead, how late a start may be.
WEATHER_MAINTENANCE_MAX_HOURS = env_int("WEATHER_MAINTENANCE_MAX_HOURS", 72)
WEATHER_MAINTENANCE_MAX_ADVANCE_DAYS = env_int("WEATHER_MAINTENANCE_MAX_ADVANCE_DAYS", 365)
# Small on purpose: a window counts only from its declaration anyway; a start before an open incident is refused.
WEATHER_MAINTENANCE_PAST_TOLERANCE_MINUTES = env_int("WEATHER_MAINTENANCE_PAST_TOLERANCE_MINUTES", 2)
# PERF report PDFs of more DRIMboxes than this are laid out by a worker, not in the web request (the layout costs
# several ms of CPU per DRIMbox); the person gets a « Rapport en préparation » page (weather.views.reports).
PERF_PDF_SYNC_MAX_ROWS = env_int("PERF_PDF_SYNC_MAX_ROWS", 200)
# A report a worker has not produced after this long is shown as failed and asked again (no worker, or one killed).
PERF_REPORT_MAX_WAIT_SECONDS = env_int("PERF_REPORT_MAX_WAIT_SECONDS", 3600)
# Reports laid out by a worker are kept this many days after they are finished, then deleted with their files
# (beat, hourly); a later request lays the report out again.
PERF_REPORT_RETENTION_DAYS = env_int("PERF_REPORT_RETENTION_DAYS", 7)
if PERF_REPORT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("PERF_REPORT_RETENTION_DAYS must be at least 1.")
CELERY_BEAT_SCHEDULE["weather-purge-perf-reports"] = {"task": "weather.tasks.purge_perf_reports",
                                                      "schedule": timedelta(hours=1)}
# The layouts run on their own Celery queue (minutes of CPU and ~2 GB of memory for 10,000 DRIMboxes): one worker
# with concurrency 1 consumes it, so that probes and outbox delivery on the other queues never wait behind one.
PERF_REPORT_QUEUE = env("PERF_REPORT_QUEUE", "reports")
CELERY_TASK_ROUTES = {"weather.tasks.generate_perf_report": {"queue": PERF_REPORT_QUEUE}}
# --- Weather pages ---

# --- OIDC ---
# The discovery document and the JWKS are kept this long (Django cache + a per-process copy).
OIDC_DISCOVERY_TTL_SECONDS = env_int("OIDC_DISCOVERY_TTL_SECONDS", 3600)
# An access token with an unknown "kid" refetches the JWKS (key rotation), at most this often.
OIDC_JWKS_MIN_REFRESH_SECONDS = env_int("OIDC_JWKS_MIN_REFRESH_SECONDS", 30)
# « Se connecter avec iSC » first checks that the provider answers, so an outage shows a French page.
OIDC_LOGIN_PROBE = env_bool("OIDC_LOGIN_PROBE", True)
# API bearer tokens: "jwt" (checked locally against the JWKS), "introspection" (RFC 7662) or "auto"
# (a JWT is checked locally, an opaque token is introspected when the provider offers it, else refused).
OIDC_ACCESS_TOKEN_VALIDATION = env("OIDC_ACCESS_TOKEN_VALIDATION", "auto")
if OIDC_ACCESS_TOKEN_VALIDATION not in {"jwt", "introspection", "auto"}:
    raise ImproperlyConfigured("OIDC_ACCESS_TOKEN_VALIDATION must be jwt, introspection or auto.")
# Accepted audiences besides OIDC_RP_CLIENT_ID (the token's aud or azp must name one of them).
OIDC_ACCESS_TOKEN_AUDIENCE = env_list("OIDC_ACCESS_TOKEN_AUDIENCE")
OIDC_ACCESS_TOKEN_ALGORITHMS = [
    alg for alg in env_list("OIDC_ACCESS_TOKEN_ALGORITHMS", "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512")
    if alg.lower() != "none" and not alg.upper().startswith("HS")]
OIDC_ACCESS_TOKEN_LEEWAY_SECONDS = env_int("OIDC_ACCESS_TOKEN_LEEWAY_SECONDS", 30)
# Tokens kept in the session for logout (id token), the rights re-check (refresh/access tokens).
OIDC_STORE_ACCESS_TOKEN = True
OIDC_STORE_REFRESH_TOKEN = True
# Where the provider sends the browser back after logout; empty: the absolute URL of the home page.
OIDC_POST_LOGOUT_REDIRECT_URI = env("OIDC_POST_LOGOUT_REDIRECT_URI", "")
# is_superuser/is_staff (the read-only /admin/) follow the claim OIDC_ANS_ADMIN_CLAIM: empty → every
# ANS administrator; otherwise only people whose claim holds one of these values.
OIDC_SUPERUSER_VALUES = env_list("OIDC_SUPERUSER_VALUES")
# An iSC session re-checks its rights at the provider this often; after a failed check, retries this often.
OIDC_RIGHTS_RECHECK_SECONDS = env_int("OIDC_RIGHTS_RECHECK_SECONDS", 300)
OIDC_RIGHTS_RETRY_SECONDS = env_int("OIDC_RIGHTS_RETRY_SECONDS", 30)
# A personal API token carries its owner's ANS rights only if iSC confirmed them within this many hours: a
# working day, so that a claim removed at iSC stops acting through tokens by the next day at the latest.
OIDC_ANS_RIGHTS_TOKEN_HOURS = env_int("OIDC_ANS_RIGHTS_TOKEN_HOURS", 8)
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
                  "trustspace.middleware.OidcRightsMiddleware")
# --- end OIDC ---

# --- Audit evidence ---
# The audit chain is sealed with HMAC-SHA256 keys that never reach the database (see trustspace.audit).
# AUDIT_HMAC_KEYS="k2026:<base64 of >= 32 bytes>,k2027:<…>" lists every key ever used (old ones are needed to
# verify old rows); AUDIT_HMAC_CURRENT_KEY_ID names the one that seals new rows (optional with a single key).
# Changing it rotates the key at the next audited write (or at once with `manage.py audit_rotate_key`).
# DEBUG without keys: a development key "dev" derived from SECRET_KEY; DEBUG=0 without keys refuses to start.
AUDIT_HMAC_KEYS = {}
for _item in env_list("AUDIT_HMAC_KEYS"):
    _key_id, _sep, _secret = _item.partition(":")
    _key_id = _key_id.strip()
    try:
        _key = base64.b64decode(_secret.strip(), validate=True)
    except ValueError:
        _key = b""
    if not _sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", _key_id) or len(_key) < 32:
        raise ImproperlyConfigured(
            "AUDIT_HMAC_KEYS: each item is ID:BASE64 with an ID of letters, digits, '.', '_' or '-' "
            "(at most 32) and a secret of at least 32 bytes.")
    AUDIT_HMAC_KEYS[_key_id] = _key
if not AUDIT_HMAC_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("AUDIT_HMAC_KEYS must be set when DEBUG=0.")
    AUDIT_HMAC_KEYS = {"dev": hashlib.sha256(b"drimm-audit-dev-key\x00" + SECRET_KEY.encode()).digest()}
AUDIT_HMAC_CURRENT_KEY_ID = env("AUDIT_HMAC_CURRENT_KEY_ID", "")
if not AUDIT_HMAC_CURRENT_KEY_ID and len(AUDIT_HMAC_KEYS) == 1:
    AUDIT_HMAC_CURRENT_KEY_ID = next(iter(AUDIT_HMAC_KEYS))
if AUDIT_HMAC_CURRENT_KEY_ID not in AUDIT_HMAC_KEYS:
    raise ImproperlyConfigured("AUDIT_HMAC_CURRENT_KEY_ID must name one of the keys of AUDIT_HMAC_KEYS.")
# External anchors of the chain head (JSON lines, each with its own HMAC), also e-mailed to ADMIN_EMAILS.
# A path ending in "/" or an existing directory gets one file per anchor (e.g. a mounted object store).
AUDIT_ANCHOR_FILE = env("AUDIT_ANCHOR_FILE", str(VAR_DIR / "audit-anchors.jsonl"))
AUDIT_ANCHOR_INTERVAL_HOURS = env_int("AUDIT_ANCHOR_INTERVAL_HOURS", 24)
CELERY_BEAT_SCHEDULE.update({
    "anchor-audit-chain": {"task": "trustspace.tasks.anchor_audit_chain",
                           "schedule": timedelta(hours=AUDIT_ANCHOR_INTERVAL_HOURS)},
})
# --- end Audit evidence ---

# --- Throttling ---
# Rate limits (trustspace/throttling.py): "N/period", period in s, min, h or day, with an optional multiplier
# ("10/5min"). The counters live in the cache: Redis (REDIS_URL) shares them between workers; LocMem is per process.
THROTTLE_ENABLED = env_bool("THROTTLE_ENABLED", True)
THROTTLE_CACHE = env("THROTTLE_CACHE", "default")  # alias in CACHES
# Trusted reverse proxies in front of the portal. 0: the client is REMOTE_ADDR (X-Forwarded-For can be forged);
# 1: behind one TLS proxy that appends the client's address to X-Forwarded-For.
THROTTLE_NUM_PROXIES = env_int("THROTTLE_NUM_PROXIES", 0)
THROTTLE_RATES = {
    "api_token": env("THROTTLE_API_TOKEN_RATE", "1200/min"),  # per API token / iSC bearer token / session user
    "api_anon": env("THROTTLE_API_ANON_RATE", "300/min"),  # anonymous API (public weather, schema), per IP
    "api_auth_failures": env("THROTTLE_API_AUTH_FAILURE_RATE", "30/min"),  # API 401s on a presented token, per IP
    "login_ip": env("THROTTLE_LOGIN_RATE", "10/5min"),  # password login attempts (development), per IP
    "login_username": env("THROTTLE_LOGIN_RATE", "10/5min"),  # … and per username
    "oidc_authenticate": env("THROTTLE_OIDC_RATE", "30/min"),  # /oidc/authenticate/, per IP
    "oidc_callback": env("THROTTLE_OIDC_RATE", "30/min"),  # /oidc/callback/, per IP
    "acme_dns_user": env("THROTTLE_ACME_DNS_USER_RATE", "30/min"),  # /acme-dns/update, per X-Api-User
    "acme_dns_ip": env("THROTTLE_ACME_DNS_IP_RATE", "60/min"),  # /acme-dns/update and /register, per IP
    "attestation": env("THROTTLE_ATTESTATION_RATE", "30/min"),  # attestation checks (page and API), per IP
}
# An unreadable rate stops the portal when trustspace.throttling loads (its middleware is below).
# acme-dns: this many consecutive authentication failures of one X-Api-User lock it for this many minutes.
THROTTLE_ACME_DNS_LOCKOUT_FAILURES = env_int("THROTTLE_ACME_DNS_LOCKOUT_FAILURES", 10)
THROTTLE_ACME_DNS_LOCKOUT_MINUTES = env_int("THROTTLE_ACME_DNS_LOCKOUT_MINUTES", 15)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "trustspace.throttling.TokenRateThrottle",
    "trustspace.throttling.AnonRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = THROTTLE_RATES
REST_FRAMEWORK["NUM_PROXIES"] = THROTTLE_NUM_PROXIES
# Wrong API tokens: counted per IP on the 401s, refused before authentication past the limit.
MIDDLEWARE.insert(MIDDLEWARE.index("trustspace.middleware.RequestIdMiddleware") + 1,
                  "trustspace.throttling.ApiCredentialFailureMiddleware")
# --- end Throttling ---

# --- Security headers and input hygiene ---
# Content-Security-Policy with a fresh nonce per request (django-csp 4; templates write
# nonce="{{ request.csp_nonce }}"). trustspace.middleware.ContentSecurityPolicyMiddleware adds the identity
# provider's origins to form-action (the logout form ends at its end-session endpoint).
# CSP_REPORT_URI: where browsers report violations (optional). CSP_REPORT_ONLY=1: report without enforcing.
INSTALLED_APPS.append("csp")  # its system checks (misspelt or old-style settings)
MIDDLEWARE.insert(MIDDLEWARE.index("trustspace.middleware.RequestIdMiddleware") + 1,
                  "trustspace.middleware.ContentSecurityPolicyMiddleware")
MIDDLEWARE.insert(0, "trustspace.middleware.PermissionsPolicyMiddleware")  # first: on every response
_csp_policy = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],  # the DSFR's CSS draws some icons as data: SVG
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
        **({"report-uri": env("CSP_REPORT_URI")} if env("CSP_REPORT_URI") else {}),
    },
}
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp_policy
else:
    CONTENT_SECURITY_POLICY = _csp_policy
# Browser features the portal never uses, denied to every origin (Permissions-Policy header).
PERMISSIONS_POLICY = {feature: [] for feature in (
    "accelerometer", "autoplay", "bluetooth", "browsing-topics", "camera", "display-capture", "encrypted-media",
    "geolocation", "gyroscope", "hid", "idle-detection", "interest-cohort", "magnetometer", "microphone", "midi",
    "payment", "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "serial", "usb",
    "xr-spatial-tracking",
)}
# A French page (JSON under /api/) instead of Django's English « 403 Forbidden »; the API's session
# authentication answers its CSRF failures as a structured 403 with the code « csrf ».
CSRF_FAILURE_VIEW = "trustspace.views.errors.csrf_failure"
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "trustspace.api.session.SessionAuthentication" if path == "rest_framework.authentication.SessionAuthentication"
    else path for path in REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]]
# --- end Security headers ---

# --- Operator onboarding ---
# A legal representative needs the reference of the legal-representative card (or a document proving the power
# to represent) and a technical administrator the reference of a CPA card or IGC-Santé habilitation before they
# are designated. The test platform may relax it (formats are still checked when given).
ONBOARDING_REQUIRE_CARDS = env_bool("ONBOARDING_REQUIRE_CARDS", True)
# --- end Operator onboarding ---

# --- Scoped API tokens ---
# Longest lifetime of a new personal API token, in days (0: no maximum). A token created without an expiry
# expires after this many days; tokens made before scopes existed keep no expiry.
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
# Checks a token's operator/DRIMbox restriction against the owner's operators: lives in ``operators`` so that
# ``trustspace`` (the bottom layer) never imports it.
API_TOKEN_RESTRICTION_CHECKER = "operators.api_tokens.check_restriction"  # noqa: S105 - a dotted path
# Every authenticated API view: a personal token must carry the scope the call needs (see trustspace.api.permissions).
REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = [
    *REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"], "trustspace.api.permissions.TokenScopePermission",
]
# --- end Scoped API tokens ---

# --- GitHub intake robustness ---
# Longest issue body (UTF-8 bytes) the GitHub intake reads; a longer one is not parsed: the request is kept
# « en quarantaine » with its reason and answered on the issue (GitHub itself caps bodies at 65,536 characters).
WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES = env_int("WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES", 65536)
# --- end GitHub intake robustness ---

# --- Outbox ---
# Every side effect (e-mail, webhook, Celery task) goes through trustspace.outbox: written in the change's
# transaction, delivered after it by a worker; the sweep delivers whatever a lost « kick » left behind.
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 30)
# Failed tries before a message is « en échec » (then only an ANS « Relancer » sends it again).
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 10)
# Delay after the n-th failed try: base × 2^(n-1), capped (30 s, 1 min, 2 min… at most 1 h by default).
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 30)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 3600)
# Longest wait for the broker when a request asks a worker to deliver now; past it the sweep will.
OUTBOX_KICK_TIMEOUT_SECONDS = float(env("OUTBOX_KICK_TIMEOUT_SECONDS", "1"))
# Sent messages are deleted after this many days (0: kept forever).
OUTBOX_KEEP_SENT_DAYS = env_int("OUTBOX_KEEP_SENT_DAYS", 30)
# Key (any string, from the environment) encrypting webhook secrets in the outbox; empty: derived from SECRET_KEY,
# which `check --deploy` refuses with DEBUG=0 (trustspace.E104, deploy/BACKUP.md).
OUTBOX_ENCRYPTION_KEY = env("OUTBOX_ENCRYPTION_KEY", "")
CELERY_BEAT_SCHEDULE.update({
    "outbox-sweep": {"task": "trustspace.tasks.deliver_outbox", "schedule": timedelta(seconds=OUTBOX_SWEEP_SECONDS)},
})
# --- end Outbox ---

# --- Idempotency ---
# Double submits (trustspace/idempotency.py, trustspace/api/idempotency.py). The portal's creating forms carry a
# single-use submission token; the API's POSTs accept an ``Idempotency-Key`` header whose answer is kept this long.
IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24)
# A key still « in progress » after this many seconds belonged to a call that died: it may be claimed again.
IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = env_int("IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS", 600)
# Submission tokens of the portal's forms are forgotten after this many days (a tab that old is reloaded anyway).
IDEMPOTENCY_FORM_TOKEN_DAYS = env_int("IDEMPOTENCY_FORM_TOKEN_DAYS", 7)
REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = [
    *REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"], "trustspace.api.idempotency.IdempotencyKeyPermission",
]
MIDDLEWARE.append("trustspace.api.idempotency.IdempotencyMiddleware")  # innermost: others see the replayed answer
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    *SPECTACULAR_SETTINGS.get("POSTPROCESSING_HOOKS", ["drf_spectacular.hooks.postprocess_schema_enums"]),
    "trustspace.api.idempotency.idempotency_header_hook",
]
CELERY_IMPORTS = [*globals().get("CELERY_IMPORTS", ()), "trustspace.idempotency"]  # its purge task
CELERY_BEAT_SCHEDULE["purge-idempotency-records"] = {
    "task": "trustspace.idempotency.purge_idempotency_records", "schedule": timedelta(hours=1)}
# --- end Idempotency ---

# --- Operations: health, metrics, beat ---
# Readiness (GET /api/v1/health and /api/v1/health/ready, trustspace/health.py): 503 naming each failing part.
HEALTH_BROKER_TIMEOUT_SECONDS = float(env("HEALTH_BROKER_TIMEOUT_SECONDS", "3"))  # connecting to the broker
HEALTH_BEAT_MAX_AGE_SECONDS = env_int("HEALTH_BEAT_MAX_AGE_SECONDS", 180)  # an older beat heartbeat fails
# A probe location silent for longer fails (default: five probe intervals, at least five minutes).
HEALTH_WEATHER_MAX_AGE_SECONDS = env_int("HEALTH_WEATHER_MAX_AGE_SECONDS", max(5 * WEATHER_PROBE_INTERVAL, 300))
HEALTH_OUTBOX_MAX_DELAY_SECONDS = env_int("HEALTH_OUTBOX_MAX_DELAY_SECONDS", 900)  # a pending message due for longer
HEALTH_OUTBOX_MAX_PENDING = env_int("HEALTH_OUTBOX_MAX_PENDING", 1000)  # more pending messages than this fails
# Each Celery worker writes its own heartbeat every WORKER_HEARTBEAT_SECONDS (trustspace/workers.py; 0: never); each
# queue of HEALTH_WORKER_QUEUES needs a worker whose heartbeat is younger than HEALTH_WORKER_MAX_AGE_SECONDS.
WORKER_HEARTBEAT_SECONDS = float(env("WORKER_HEARTBEAT_SECONDS", "15"))
HEALTH_WORKER_MAX_AGE_SECONDS = env_int("HEALTH_WORKER_MAX_AGE_SECONDS", 90)
HEALTH_WORKER_QUEUES = env_list("HEALTH_WORKER_QUEUES", "celery")
# The parts of readiness, in order; each app adds its own (trustspace does not import the apps above it).
HEALTH_CHECKS = [
    "trustspace.health.DatabaseCheck",
    "trustspace.health.CacheCheck",
    "trustspace.health.BrokerCheck",
    "trustspace.health.WorkerCheck",
    "trustspace.health.BeatCheck",
    "trustspace.health.OutboxCheck",
    "weather.health.ProbeLocationsCheck",
]
# Prometheus /metrics (trustspace/metrics.py): open to these client addresses or networks, and/or to
# "Authorization: Bearer <METRICS_TOKEN>"; anyone else gets a 404 (403 for a wrong token).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
METRICS_TOKEN = env("METRICS_TOKEN", "")
# Domain gauges evaluated at scrape time, one collector per app.
METRICS_COLLECTORS = [
    "trustspace.metrics.OutboxCollector",
    "trustspace.metrics.BeatCollector",
    "trustspace.metrics.WorkerCollector",
    "operators.metrics.DnsChangesCollector",
    "certificates.metrics.CertificateExpiryCollector",
    "weather.metrics.WeatherCollector",
    "whitelist.metrics.WhitelistCollector",
]
INSTALLED_APPS += ["django_prometheus", "health_check"]
MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")
# Query and cache metrics: the same backends, instrumented (django-prometheus' Redis cache needs django-redis,
# not installed: Django's own RedisCache stays uninstrumented).
_PROMETHEUS_BACKENDS = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    "django.core.cache.backends.locmem.LocMemCache": "django_prometheus.cache.backends.locmem.LocMemCache",
}
DATABASES["default"]["ENGINE"] = _PROMETHEUS_BACKENDS.get(DATABASES["default"]["ENGINE"],
                                                          DATABASES["default"]["ENGINE"])
CACHES["default"]["BACKEND"] = _PROMETHEUS_BACKENDS.get(CACHES["default"]["BACKEND"], CACHES["default"]["BACKEND"])
if not DEBUG:  # load balancers and Prometheus may probe over plain HTTP
    SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^api/v1/health/(ready|live)$", r"^metrics$"]
# Exactly one beat (trustspace/beat.py): the lock is "auto" (PostgreSQL advisory lock on PostgreSQL, else a file
# lock), "postgresql" or "file"; a waiting beat retries every BEAT_LOCK_RETRY_SECONDS; the holder ticks (and
# writes its heartbeat) at least every BEAT_HEARTBEAT_SECONDS.
CELERY_BEAT_SCHEDULER = "trustspace.beat.SingleBeatScheduler"
BEAT_LOCK = env("BEAT_LOCK", "auto")
if BEAT_LOCK not in {"auto", "postgresql", "file"}:
    raise ImproperlyConfigured("BEAT_LOCK must be auto, postgresql or file.")
BEAT_LOCK_FILE = env("BEAT_LOCK_FILE", str(VAR_DIR / "celerybeat.lock"))
BEAT_LOCK_RETRY_SECONDS = float(env("BEAT_LOCK_RETRY_SECONDS", "10"))
BEAT_HEARTBEAT_SECONDS = float(env("BEAT_HEARTBEAT_SECONDS", "15"))
# Time limits of every task (seconds): the hard limit kills the task (prefork pool), the soft one raises
# SoftTimeLimitExceeded in it first. Tasks that legitimately run long get CELERY_TASK_LONG_TIME_LIMIT.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_LONG_TIME_LIMIT = env_int("CELERY_TASK_LONG_TIME_LIMIT", 1800)
_long_limits = {"time_limit": CELERY_TASK_LONG_TIME_LIMIT,
                "soft_time_limit": max(CELERY_TASK_LONG_TIME_LIMIT - 60, CELERY_TASK_LONG_TIME_LIMIT * 9 // 10)}
CELERY_TASK_ANNOTATIONS = {name: _long_limits for name in (
    "certificates.tasks.process_vi_orders",  # ACME issuance: DNS-01 propagation and polling, per order
    "certificates.tasks.renew_vi_certificates",  # ACME again, for every certificate due
    "certificates.tasks.refresh_crls",  # downloads every CRL
    "weather.tasks.probe_batch",  # a probe round: up to WEATHER_PROBE_BATCH_SIZE DRIMboxes with timeouts and retries
    "weather.tasks.generate_perf_report",  # the PDF layout of thousands of DRIMboxes
    "trustspace.tasks.verify_audit_chain",  # recomputes the whole HMAC chain
    "whitelist.tasks.poll_github_issues",
)}
# A publication still running after its task's hard limit is taken over by the sweep: never while its worker may
# still be pushing (whitelist.tasks.publish_to_github keeps the default limit).
if WHITELIST_GITHUB_STALE_RUNNING_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("WHITELIST_GITHUB_STALE_RUNNING_SECONDS must exceed CELERY_TASK_TIME_LIMIT.")
# A report still being produced is never given up while its worker may still be laying it out.
if PERF_REPORT_MAX_WAIT_SECONDS <= CELERY_TASK_LONG_TIME_LIMIT:
    raise ImproperlyConfigured("PERF_REPORT_MAX_WAIT_SECONDS must exceed CELERY_TASK_LONG_TIME_LIMIT.")
# --- end Operations: health, metrics, beat ---

# --- Operations: logs, Sentry, alerts ---
# Logs: LOG_FORMAT=json (one JSON object per line; default with DEBUG=0) or plain (default in development). Each line
# logged while serving a request carries request_id (also the X-Request-ID response header), each line of a Celery
# task task_id and task_name (trustspace/log_format.py); the worker's own logging uses the same handler.
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "trustspace.log_format.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s%(task_id)s] %(message)s"},
        "json": {"()": "trustspace.log_format.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # WeasyPrint (PDF documents) logs each layout step at INFO.
    "loggers": {"django.db.backends": {"level": "INFO"}, "fontTools": {"level": "WARNING"},
                "weasyprint.progress": {"level": "WARNING"}},
}
# Sentry (optional): set SENTRY_DSN to report unhandled errors of the web and worker processes (no personal data:
# send_default_pii=False, no cookies nor Authorization header). Without it, sentry_sdk is not even imported.
SENTRY_DSN = env("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_RELEASE = env("SENTRY_RELEASE", "")
SENTRY_TRACES_SAMPLE_RATE = float(env("SENTRY_TRACES_SAMPLE_RATE", "0"))
if SENTRY_DSN:
    from trustspace.sentry import init_sentry

    init_sentry(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE,
                traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
# ANS alerts (trustspace/alerts.py): e-mailed to ADMIN_EMAILS and, when set, POSTed as JSON to ALERT_WEBHOOK_URL,
# signed with ALERT_WEBHOOK_SECRET (X-DRIMM-Signature: sha256=HMAC(secret, timestamp + "." + body)), through the
# outbox; an open alert is notified once, and once more when resolved. Listed on « ANS — Alertes ».
ALERT_WEBHOOK_URL = env("ALERT_WEBHOOK_URL", "")
ALERT_WEBHOOK_SECRET = env("ALERT_WEBHOOK_SECRET", "")
if ALERT_WEBHOOK_URL and not ALERT_WEBHOOK_SECRET:
    raise ImproperlyConfigured("ALERT_WEBHOOK_SECRET must be set with ALERT_WEBHOOK_URL.")
ALERT_CHECK_SECONDS = env_int("ALERT_CHECK_SECONDS", 60)
ALERT_BEAT_MAX_SECONDS = env_int("ALERT_BEAT_MAX_SECONDS", 300)  # heartbeat older than this: beat stopped
ALERT_BEAT_EXPECTED = env_bool("ALERT_BEAT_EXPECTED", True)  # no heartbeat at all is an alert too
ALERT_OUTBOX_ATTEMPTS = env_int("ALERT_OUTBOX_ATTEMPTS", 5)  # pending messages retried this often: an alert
ALERT_PROBE_SILENT_INTERVALS = env_int("ALERT_PROBE_SILENT_INTERVALS", 3)  # probe intervals without a round
# {name: check}: each check returns the conditions holding now, keyed "<name>" or "<name>:<detail>" (the apps above
# trustspace contribute theirs here, so trustspace never imports them).
ALERT_CHECKS = {
    "beat": "trustspace.alerts.beat_check",
    "outbox": "trustspace.alerts.outbox_check",
    "weather.silent": "weather.alerts.silent_locations",
    "weather.gti": "weather.alerts.gti_breaches",
    "whitelist.signer": "whitelist.alerts.signer_certificate",
}
# Operator notification channels (operators/channels.py): the webhook secrets are stored encrypted with this key
# (any long random string, kept out of the database). DEBUG without it: derived from SECRET_KEY; DEBUG=0 without it:
# operators cannot set a webhook (their mailbox still works).
OPERATOR_CHANNEL_KEY = env("OPERATOR_CHANNEL_KEY", "")
CELERY_BEAT_SCHEDULE.update({
    "check-alerts": {"task": "trustspace.tasks.check_alerts", "schedule": timedelta(seconds=ALERT_CHECK_SECONDS),
                     "options": {"expires": ALERT_CHECK_SECONDS}},
})
# --- end Operations: logs, Sentry, alerts ---

# --- Demo ---
# The development demo (manage.py demo_trustspace, demo_drimboxes; both refuse to run without DEBUG): the top
# layer, which imports every app and which none imports, installed last.
INSTALLED_APPS.append("demo")
# --- end Demo ---

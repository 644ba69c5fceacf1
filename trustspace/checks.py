"""Production checks: with DEBUG=0 the portal must not run on the development defaults — SQLite, kombu's
filesystem broker, a per-process or dummy cache. A regular system check (not only ``check --deploy``), so that
``migrate``, ``runserver`` and every management command that runs the checks refuse such a configuration at start."""
from django.conf import settings
from django.core.checks import Error, register

PROCESS_LOCAL_CACHES = ("LocMemCache", "DummyCache")


@register("production")
def production_services(app_configs=None, **kwargs):
    return problems(debug=settings.DEBUG, database_engine=settings.DATABASES["default"]["ENGINE"],
                    broker_url=str(getattr(settings, "CELERY_BROKER_URL", "") or ""),
                    cache_backend=settings.CACHES.get("default", {}).get("BACKEND", ""))


def problems(*, debug, database_engine, broker_url, cache_backend):
    if debug:
        return []
    errors = []
    if "sqlite" in database_engine:
        errors.append(Error(
            "DEBUG=0 avec SQLite : définissez DATABASE_URL (PostgreSQL).", id="trustspace.E101",
            hint="DATABASE_URL=postgres://utilisateur@hôte:5432/base"))
    if broker_url.startswith("filesystem://"):
        errors.append(Error(
            "DEBUG=0 avec le transport « fichiers » de Celery : définissez REDIS_URL.", id="trustspace.E102"))
    if cache_backend.rsplit(".", 1)[-1] in PROCESS_LOCAL_CACHES:
        errors.append(Error(
            "DEBUG=0 avec un cache propre à chaque processus (LocMem/Dummy) : définissez REDIS_URL "
            "(limites de débit et caches partagés).", id="trustspace.E103"))
    return errors


@register("production", deploy=True)
def outbox_encryption_key(app_configs=None, **kwargs):
    """``check --deploy``: production names its own OUTBOX_ENCRYPTION_KEY (deploy/BACKUP.md), rather than a key
    derived from SECRET_KEY — rotating SECRET_KEY (sessions) must not make the outbox's webhook secrets unreadable."""
    return outbox_key_problems(debug=settings.DEBUG, key=getattr(settings, "OUTBOX_ENCRYPTION_KEY", ""))


def outbox_key_problems(*, debug, key):
    if debug or key:
        return []
    return [Error(
        "DEBUG=0 sans OUTBOX_ENCRYPTION_KEY : les secrets des webhooks de la boîte d'envoi seraient chiffrés avec "
        "une clé dérivée de SECRET_KEY.", id="trustspace.E104",
        hint="OUTBOX_ENCRYPTION_KEY=<longue chaîne aléatoire> dans /etc/drimm/drimm.env, sauvegardée au coffre-fort.")]

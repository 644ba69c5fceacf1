"""The database step of ``./scripts/run``: migrate when a migration is missing, load the demo when it is not loaded,
and say how long it took; nothing else when both are done. On SQLite it leaves the stamp ``demo.readiness``
checks, so that the next start skips even this command."""
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from demo import readiness
from demo.trust_space import is_loaded, load_trust_space


def pending_migrations(database=DEFAULT_DB_ALIAS):
    """The migrations the database lacks (reads the migration graph and ``django_migrations``, applies nothing)."""
    executor = MigrationExecutor(connections[database])
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


class Command(BaseCommand):
    help = ("Migre la base si une migration manque et charge la démonstration si elle ne l'est pas "
            "(développement uniquement) ; ne fait rien de plus quand tout est prêt.")
    # runserver checks the project right after: not twice on every start.
    requires_system_checks: list[str] = []

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Le jeu de démonstration est réservé au développement (DEBUG=1).")
        started = time.perf_counter()
        done = []
        pending = pending_migrations()
        if pending:
            call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
            done.append(f"{len(pending)} migrations appliquées en {_seconds(time.perf_counter() - started)}")
        if is_loaded():
            summary = "démo déjà chargée"
        else:
            loading = time.perf_counter()
            summary = load_trust_space()
            done.append(f"démo chargée en {_seconds(time.perf_counter() - loading)}")
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor == "sqlite" and str(connection.settings_dict["NAME"]) == str(
                readiness.database_path(settings.VAR_DIR)):
            connection.close()  # everything committed and checkpointed before the stamp reads the file
            readiness.write_stamp(settings.VAR_DIR)
        elapsed = _seconds(time.perf_counter() - started)
        self.stdout.write(f"Base et démo prêtes en {elapsed}" + (f" ({' ; '.join(done)})." if done else
                                                                 " (rien à faire)."))
        self.stdout.write(summary)


def _seconds(value):
    return f"{value:.1f} s".replace(".", ",")

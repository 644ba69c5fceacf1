"""One migrated database per test run, copied by each parallel test process instead of each migrating its own.

Migrating an empty database costs about 9 s of a core here, nearly all of it in Django's migration framework
rendering model states again and again, not in SQL: with three test processes per pass, that was done three times
per pass. Now the pytest-xdist controller starts ``python -m tests.support.template_db DIRECTORY`` once it is
configured, so the migrations run while the test processes start and collect; each test process's
``django_db_setup`` (tests/conftest.py) waits for it and copies it — SQLite through its backup API into the
process's in-memory database, PostgreSQL with ``CREATE DATABASE … TEMPLATE``. The copy holds what ``migrate`` left
(tables, data migrations, content types and permissions), as if the process had migrated itself. Without the
controller (one process, ``-p no:xdist``) each test database is migrated as before.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENVIRONMENT = "DRIMM_TEST_TEMPLATE_DIR"  # set by the controller for its test processes
WAIT_POLLS = 12_000  # checks 50 ms apart: a generous wait on a loaded machine, never a speed assertion
SQLITE_FILE = "template.sqlite3"


def _postgres_template_url(url: str) -> tuple[str, str]:
    """The template database's URL and name, beside the run's test databases (test_<name>_gw0…)."""
    parts = urlsplit(url)
    name = f"test_{parts.path.lstrip('/')}_template"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _maintenance_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def start(database_url: str) -> tuple[subprocess.Popen, Path]:
    """In the controller: start migrating the template; the test processes learn where it is from the
    environment they inherit."""
    directory = Path(tempfile.mkdtemp(prefix="template-db-", dir=os.environ.get("VAR_DIR") or None))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "trustspace.settings")}
    env["DATABASE_URL"] = (_postgres_template_url(database_url)[0] if database_url
                           else f"sqlite:///{directory / SQLITE_FILE}")
    with open(directory / "migrate.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.support.template_db", str(directory)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    os.environ[ENVIRONMENT] = str(directory)
    return process, directory


def stop(process: subprocess.Popen, directory: Path, database_url: str) -> None:
    """In the controller, at the end: the template is no longer needed."""
    if process.poll() is None:
        process.kill()
    process.wait()
    if database_url:
        import psycopg

        with psycopg.connect(_maintenance_url(database_url), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{_postgres_template_url(database_url)[1]}" WITH (FORCE)')
    shutil.rmtree(directory)


def _wait(directory: Path) -> None:
    for _poll in range(WAIT_POLLS):
        if (directory / "ready").exists():
            return
        if (directory / "failed").exists():
            raise RuntimeError(f"migrating the test database template failed:\n{(directory / 'failed').read_text()}")
        time.sleep(0.05)
    raise RuntimeError(f"no test database template after {WAIT_POLLS} checks: see {directory / 'migrate.log'}")


def clone_for_this_process(verbosity: int) -> list | None:
    """In a test process: the test database as a copy of the template, in the form ``setup_databases`` returns
    (for ``teardown_databases``); None when this run has no template."""
    if not os.environ.get(ENVIRONMENT):
        return None
    directory = Path(os.environ[ENVIRONMENT])
    _wait(directory)
    from django.conf import settings
    from django.db import connections

    connection = connections["default"]
    old_name = connection.settings_dict["NAME"]
    creation = connection.creation
    if connection.vendor == "sqlite":
        test_name = creation._create_test_db(verbosity, autoclobber=True, keepdb=False)
    else:
        test_name = creation._get_test_db_name()
        quote = connection.ops.quote_name
        template = _postgres_template_url(os.environ["DATABASE_URL"])[1]
        with creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(test_name)}")
            cursor.execute(f"CREATE DATABASE {quote(test_name)} TEMPLATE {quote(template)}")
    connection.close()
    settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = test_name
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        with sqlite3.connect(directory / SQLITE_FILE) as template_file:
            template_file.backup(connection.connection)
    return [(connection, old_name, True)]


def _migrate(directory: Path) -> None:
    """The subprocess: migrate an empty database (created here on PostgreSQL), then say it is ready."""
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        if connection.vendor == "postgresql":
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            with connection.creation._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")
                cursor.execute(f"CREATE DATABASE {name}")
        call_command("migrate", verbosity=0, interactive=False)
        connection.close()
    except BaseException:
        (directory / "failed").write_text(traceback.format_exc())
        raise
    (directory / "ready").touch()


if __name__ == "__main__":
    _migrate(Path(sys.argv[1]))

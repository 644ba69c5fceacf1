"""deploy/backup and deploy/restore on PostgreSQL: the demo trust space and audited actions are backed up,
restored into a fresh database and a fresh VAR_DIR, and come back identical with an intact audit chain;
a tampered archive is refused before anything is written."""
import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from weather.models import ProbeLocation

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def database_url(name):
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{params['USER']}{password}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{name}"


def row_counts(url):
    with psycopg.connect(url) as conn:
        tables = [row[0] for row in conn.execute(
            "select tablename from pg_tables where schemaname = 'public' order by tablename")]
        count = sql.SQL("select count(*) from {}")
        return {table: conn.execute(count.format(sql.Identifier(table))).fetchone()[0] for table in tables}


def run(script, *args, env):
    return subprocess.run([str(ROOT / "deploy" / script), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def files_under(folder):
    return {path.relative_to(folder): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def source(settings, tmp_path):
    """The demo trust space in the test database, its media and key material under a source VAR_DIR."""
    var = tmp_path / "source-var"
    settings.DEBUG = True
    settings.MEDIA_ROOT = var / "media"
    settings.DEV_PKI_DIR = var / "pki"
    settings.IGC_SANTE_ANCHORS = [str(var / "pki" / "root.pem")]
    settings.IGC_SANTE_INTERMEDIATES = [str(var / "pki" / "intermediate.pem")]
    settings.AUDIT_ANCHOR_FILE = str(var / "audit-anchors.jsonl")
    devnull = io.StringIO()
    call_command("demo_trustspace", stdout=devnull)
    # Audited actions after the demo: a probe location that first reported, activated by ANS, then stopped.
    ProbeLocation.objects.create(name="paris", label="Paris", active=False)
    call_command("weather_locations", "--activate", "paris", "--reason", "avant sauvegarde", stdout=devnull)
    call_command("weather_locations", "--deactivate", "paris", "--reason", "avant sauvegarde", stdout=devnull)
    call_command("audit_anchor", stdout=devnull)
    connection.close()  # pg_dump sees everything committed; nothing held open
    return var


@pytest.fixture
def target_database():
    name = f"{connection.settings_dict['NAME']}_restored"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_then_restore_into_a_fresh_database_and_var_dir(source, target_database, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in {"AUDIT_ANCHOR_FILE", "MEDIA_ROOT"}}
    backup_env = dict(env, DATABASE_URL=database_url(connection.settings_dict["NAME"]), VAR_DIR=str(source))
    backups = tmp_path / "backups"
    result = run("backup", "--output", str(backups), env=backup_env)
    assert result.returncode == 0, result.stderr
    archive = Path(result.stdout.strip().splitlines()[-1])
    assert archive.is_file() and archive.parent == backups

    # A tampered archive (one byte of the media changed) is refused before anything is written.
    tampered = tmp_path / "tampered.tar"
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (piece,) = unpacked.glob("drimm-backup-*/media.tar.gz")
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))
    with tarfile.open(tampered, "w") as tar:
        tar.add(piece.parent, arcname=piece.parent.name)
    restored_var = tmp_path / "restored-var"
    restore_env = dict(env, DATABASE_URL=database_url(target_database), VAR_DIR=str(restored_var))
    refused = run("restore", str(tampered), env=restore_env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "ARCHIVE REFUSÉE" in refused.stderr and "MANIFEST" in refused.stderr
    assert row_counts(database_url(target_database)) == {}
    assert not restored_var.exists()

    restored = run("restore", str(archive), env=restore_env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "OK : chaîne d'audit intacte" in restored.stdout
    assert "1 ancres vérifiées" in restored.stdout

    source_counts = row_counts(database_url(connection.settings_dict["NAME"]))
    assert source_counts["trustspace_auditentry"] > 100 and source_counts["operators_operator"] >= 3
    assert row_counts(database_url(target_database)) == source_counts
    media = files_under(source / "media")
    assert any(str(path).endswith(".pdf") for path in media)
    assert files_under(restored_var / "media") == media
    assert (restored_var / "pki" / "whitelist-signer.p12").read_bytes() == \
        (source / "pki" / "whitelist-signer.p12").read_bytes()
    assert (restored_var / "audit-anchors.jsonl").read_bytes() == (source / "audit-anchors.jsonl").read_bytes()

    # The restored database still verifies on its own, and a second restore into it is refused (not merged).
    verify = subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", "audit_verify", "--anchor",
                             str(restored_var / "audit-anchors.jsonl")], cwd=ROOT, env=restore_env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    again = run("restore", str(archive), env=restore_env)
    assert again.returncode == 3 and "CIBLE NON VIDE" in again.stderr

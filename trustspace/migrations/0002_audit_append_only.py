"""The audit table is append-only at the database level, and its chain head exists from the start.

PostgreSQL refuses UPDATE and DELETE on audit rows. SQLite (development only) refuses UPDATE;
DELETE stays possible there because Django's test flush empties tables with DELETE.
"""
from django.db import migrations

GENESIS_HASH = "0" * 64

PG_UP = """
CREATE OR REPLACE FUNCTION trustspace_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'trustspace_auditentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER trustspace_audit_append_only BEFORE UPDATE OR DELETE ON trustspace_auditentry
    FOR EACH ROW EXECUTE FUNCTION trustspace_audit_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS trustspace_audit_append_only ON trustspace_auditentry;
DROP FUNCTION IF EXISTS trustspace_audit_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER trustspace_audit_no_update BEFORE UPDATE ON trustspace_auditentry
BEGIN SELECT RAISE(ABORT, 'trustspace_auditentry is append-only (UPDATE refused)'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS trustspace_audit_no_update;"


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DOWN, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)


def create_head(apps, schema_editor):
    apps.get_model("trustspace", "AuditHead").objects.get_or_create(id=1, defaults={"seq": 0, "hash": GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [("trustspace", "0001_initial")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]

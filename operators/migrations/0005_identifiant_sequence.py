"""The sequence that hands out DRIMbox Identifiants (DESIGN §4): never reused.

PostgreSQL: a real sequence (``nextval`` is not rolled back, so a value is never handed out twice).
Other databases: a one-row counter updated inside the approving transaction.
"""
from django.db import migrations

SEQUENCE = "operators_drimbox_identifiant_seq"


def create_sequence(apps, schema_editor):
    Drimbox = apps.get_model("operators", "Drimbox")
    last = max(Drimbox.objects.order_by("-identifiant").values_list("identifiant", flat=True)[:1] or [0])
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} MINVALUE 1 START WITH {last + 1}")
    else:
        apps.get_model("operators", "IdentifiantCounter").objects.update_or_create(pk=1, defaults={"last_value": last})


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [("operators", "0004_lifecycle")]
    operations = [migrations.RunPython(create_sequence, drop_sequence)]

import datetime as dt

from django.db import migrations


def create_default_policy(apps, schema_editor):
    MeasurementPolicy = apps.get_model("weather", "MeasurementPolicy")
    if not MeasurementPolicy.objects.exists():
        MeasurementPolicy.objects.create(
            version=1, reference_period="month", support_hours_only=False, maintenance_counts=False,
            effective_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            comment="Politique initiale : mois civil (Europe/Paris), toutes les heures, maintenance déclarée exclue.",
        )


class Migration(migrations.Migration):
    dependencies = [("weather", "0001_initial")]
    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]

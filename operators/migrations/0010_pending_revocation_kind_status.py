"""PendingRevocation: its kind as a choice (it was read from the reason's first word) and a status with one
guarded move, « à traiter » → « terminée » (it was ``completed_at`` alone)."""
from django.db import migrations, models


def classify(apps, schema_editor):
    PendingRevocation = apps.get_model("operators", "PendingRevocation")
    PendingRevocation.objects.filter(reason__startswith="Bascule").update(kind="bascule")
    PendingRevocation.objects.filter(completed_at__isnull=False).update(status="terminee")


class Migration(migrations.Migration):

    dependencies = [
        ("operators", "0009_operator_channels"),
    ]

    operations = [
        migrations.AddField(
            model_name="pendingrevocation",
            name="kind",
            field=models.CharField(choices=[("bascule", "Bascule d'opérateur"), ("retrait", "Retrait")],
                                   default="retrait", max_length=8),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="pendingrevocation",
            name="status",
            field=models.CharField(choices=[("a_traiter", "À traiter"), ("terminee", "Terminée")], default="a_traiter",
                                   max_length=10),
        ),
        migrations.RunPython(classify, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="pendingrevocation",
            index=models.Index(fields=["status"], name="operators_p_status_3848ff_idx"),
        ),
    ]

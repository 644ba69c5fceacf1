"""The database each test process starts from — in a parallel run a copy of the run's migrated template
(tests/support/template_db.py) — is what migrating it would give: every migration applied, and what ``migrate``
writes besides (the content types and permissions of every model, the data migrations' rows)."""
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from weather.models import MeasurementPolicy


def test_every_migration_is_applied(db):
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert executor.loader.applied_migrations.keys() == set(executor.loader.graph.nodes)


def test_what_migrate_writes_besides_the_tables_is_there(db):
    for model in apps.get_models():
        content_type = ContentType.objects.get(app_label=model._meta.app_label, model=model._meta.model_name)
        assert Permission.objects.filter(content_type=content_type, codename=f"view_{model._meta.model_name}")
    assert MeasurementPolicy.objects.exists()  # weather 0002_default_policy

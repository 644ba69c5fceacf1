"""The test harness's shared states: the world, its copies, and the database a test flush leaves."""
from django.core.management import call_command
from django.db.models import Model

from operators.models import Membership, Role
from tests.support.db_snapshot import InstanceCopies
from weather.models import MeasurementPolicy


def test_world_fixture_builds_every_role(world):
    live = Membership.objects.filter(operator=world.operator, ended_at__isnull=True)
    roles = set(live.values_list("role", flat=True))
    assert roles == {Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE, Role.TECHNICAL_ADMIN}


def test_instance_copies_are_what_a_query_gives_and_independent(world):
    instances = {name: value for name, value in vars(world).items() if isinstance(value, Model)}
    copies = InstanceCopies(instances)
    first, second = copies.make(), copies.make()
    for name, made in first.items():
        fresh = type(made)._default_manager.get(pk=instances[name].pk)
        for field in type(made)._meta.concrete_fields:
            assert getattr(made, field.attname) == getattr(fresh, field.attname), (name, field.name)
        assert not made._state.adding and made._state.db == fresh._state.db
    first["operator"].name = "Changé"
    assert second["operator"].name == copies.make()["operator"].name == "Opérateur A"


def test_a_test_flush_leaves_the_database_as_migrated(transactional_db):
    """Transactional tests end with a flush; the rows the data migrations wrote are written back."""
    assert MeasurementPolicy.objects.count() == 1
    call_command("flush", interactive=False, verbosity=0)
    assert MeasurementPolicy.objects.count() == 1

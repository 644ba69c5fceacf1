from operators.models import Membership, Role


def test_world_fixture_builds_every_role(world):
    live = Membership.objects.filter(operator=world.operator, ended_at__isnull=True)
    roles = set(live.values_list("role", flat=True))
    assert roles == {Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE, Role.TECHNICAL_ADMIN}

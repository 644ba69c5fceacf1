"""The statuses of `vi` orders and revocations move only along their TRANSITIONS (trustspace.statemachine)."""
import pytest

from certificates.models import Certificate, Revocation, RevocationStatus, ViOrder, ViOrderStatus
from trustspace.errors import Conflict


@pytest.mark.parametrize("target", [ViOrderStatus.ISSUED, ViOrderStatus.FAILED, ViOrderStatus.CANCELLED])
def test_a_pending_vi_order_ends_issued_failed_or_cancelled(target):
    order = ViOrder(status=ViOrderStatus.PENDING)
    order.transition_to(target)
    assert order.status == target


@pytest.mark.parametrize("source", [ViOrderStatus.ISSUED, ViOrderStatus.FAILED, ViOrderStatus.CANCELLED])
def test_an_ended_vi_order_does_not_move_again(source):
    order = ViOrder(status=source)
    with pytest.raises(Conflict) as refused:
        order.transition_to(ViOrderStatus.PENDING)
    label = dict(ViOrderStatus.choices)[source].lower()
    assert refused.value.message == f"Cette demande de certificat est « {label} »."
    assert refused.value.code == "invalid_transition" and order.status == source


@pytest.mark.parametrize(("source", "target"), [
    (RevocationStatus.PENDING, RevocationStatus.DONE), (RevocationStatus.PENDING, RevocationStatus.FAILED),
    (RevocationStatus.FAILED, RevocationStatus.DONE),
    (RevocationStatus.PENDING, RevocationStatus.IMPOSSIBLE), (RevocationStatus.FAILED, RevocationStatus.IMPOSSIBLE),
])
def test_a_revocation_is_done_directly_or_after_failed_attempts(source, target):
    revocation = Revocation(status=source)
    revocation.transition_to(target)
    assert revocation.status == target


@pytest.mark.parametrize("target", [RevocationStatus.PENDING, RevocationStatus.FAILED])
def test_a_done_revocation_is_final(target):
    revocation = Revocation(status=RevocationStatus.DONE, certificate=Certificate(serial="0A1B"))
    with pytest.raises(Conflict, match="La révocation du certificat n° 0A1B est « faite »") as refused:
        revocation.transition_to(target)
    assert refused.value.status_code == 409 and revocation.status == RevocationStatus.DONE


@pytest.mark.parametrize("target", [RevocationStatus.PENDING, RevocationStatus.FAILED, RevocationStatus.DONE])
def test_an_impossible_revocation_is_final(target):
    revocation = Revocation(status=RevocationStatus.IMPOSSIBLE, certificate=Certificate(serial="0A1B"))
    with pytest.raises(Conflict, match="est « impossible, sans nouvel essai »") as refused:
        revocation.transition_to(target)
    assert refused.value.status_code == 409 and revocation.status == RevocationStatus.IMPOSSIBLE


def test_only_an_impossible_revocation_may_be_closed_without_revocation():
    revocation = Revocation(status=RevocationStatus.IMPOSSIBLE, certificate=Certificate(serial="0A1B"))
    revocation.transition_to(RevocationStatus.CLOSED)
    assert revocation.status == RevocationStatus.CLOSED
    for source in (RevocationStatus.PENDING, RevocationStatus.FAILED, RevocationStatus.DONE):
        assert not Revocation(status=source).can_transition_to(RevocationStatus.CLOSED), source


@pytest.mark.parametrize("target", [RevocationStatus.PENDING, RevocationStatus.FAILED, RevocationStatus.DONE,
                                    RevocationStatus.IMPOSSIBLE])
def test_a_revocation_closed_by_ans_is_final(target):
    revocation = Revocation(status=RevocationStatus.CLOSED, certificate=Certificate(serial="0A1B"))
    with pytest.raises(Conflict, match="est « close sans révocation par l'ans »"):
        revocation.transition_to(target)

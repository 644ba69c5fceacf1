"""Every operators model with a status moves only through its TRANSITIONS, refused in the same French words."""
import pytest

from operators.models import (
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    Invitation,
    InvitationStatus,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from trustspace.errors import Conflict
from trustspace.statemachine import StateMachineMixin


def _refusal(instance, new_status):
    with pytest.raises(Conflict) as excinfo:
        instance.transition_to(new_status)
    return excinfo.value


def test_a_request_refuses_a_move_its_table_does_not_list():
    req = DrimboxRequest(reference="DEM-0000000001", status=RequestStatus.APPROVED)
    refused = _refusal(req, RequestStatus.SUBMITTED)
    assert refused.message == "La demande DEM-0000000001 est « approuvée » : elle ne peut pas passer à « soumise »."
    assert refused.code == "invalid_transition" and req.status == RequestStatus.APPROVED


def test_a_drimbox_refuses_a_move_its_table_does_not_list():
    refused = _refusal(Drimbox(identifiant=7, status=DrimboxStatus.DECLARED), DrimboxStatus.ACTIVE)
    assert refused.message == "La DRIMbox 7 est « déclarée » : elle ne peut pas passer à « active »."
    assert refused.code == "invalid_transition"


def test_a_va_document_refuses_a_move_its_table_does_not_list():
    refused = _refusal(VaDocument(status=VaStatus.VALIDATED), VaStatus.SUBMITTED)
    assert refused.message == "Le document VA est « validé » : il ne peut pas passer à « déposé, à valider »."
    assert refused.code == "invalid_transition"


def test_an_invitation_refuses_a_move_its_table_does_not_list():
    refused = _refusal(Invitation(status=InvitationStatus.ACCEPTED), InvitationStatus.REVOKED)
    assert refused.message == "Cette invitation est « acceptée » : elle ne peut plus être annulée."
    assert refused.code == "conflict"


def test_a_dns_change_is_applied_or_superseded_only_while_pending():
    change = DnsChange(status=DnsChangeStatus.PENDING)
    change.transition_to(DnsChangeStatus.APPLIED)
    assert change.status == DnsChangeStatus.APPLIED
    assert _refusal(change, DnsChangeStatus.SUPERSEDED).code == "invalid_transition"


@pytest.mark.parametrize("model", [DrimboxRequest, Drimbox, VaDocument, Invitation, DnsChange])
def test_every_status_model_uses_the_one_state_machine(model):
    assert issubclass(model, StateMachineMixin) and "transition_to" not in model.__dict__
    choices = {value for value, _label in model._meta.get_field("status").choices}
    assert {status for source, targets in model.TRANSITIONS.items() for status in {source, *targets}} <= choices

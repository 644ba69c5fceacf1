"""What withdrawing a DRIMbox does: it comes back declared unless integrated, its VA documents close, its
attestation stops being current."""
import pytest
from django.urls import reverse

from operators import services
from operators.models import (
    DrimboxStatus,
    RequestKind,
    VaDocument,
    VaStatus,
)
from tests.support.lifecycle import (
    active_drimbox,
    approve,
    declaration_data,
    declared_drimbox,
    submitted_declaration,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _withdraw(world, drimbox):
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                  drimbox=drimbox, data={"reason": "Fermeture"})
    return approve(services.submit_request(req, acting_user=world.legal), world.ans)


def test_a_drimbox_withdrawn_before_integration_comes_back_declared(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    _withdraw(world, drimbox)
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.REINTEGRATION,
                                  drimbox=drimbox)
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.DECLARED
    assert not VaDocument.objects.filter(drimbox=drimbox).exists()


def test_va_documents_close_on_withdrawal_and_switch(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    _withdraw(world, drimbox)
    assert VaDocument.objects.get(drimbox=drimbox).status == VaStatus.CLOSED
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.REINTEGRATION,
                                  drimbox=drimbox)
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    assert VaDocument.objects.filter(drimbox=drimbox, status=VaStatus.DUE).count() == 1
    switch = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox,
                                   data=declaration_data())
    approve(switch, world.ans, override_reason="test")
    assert not VaDocument.objects.filter(drimbox=drimbox, status__in=[VaStatus.DUE, VaStatus.SUBMITTED]).exists()
    far = VaDocument.objects.filter(drimbox=drimbox).latest("due_at").due_at
    assert services.send_va_reminders(now=far) == 0


def test_withdrawn_drimbox_attestation_is_not_shown_as_current(world, client):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    _withdraw(world, drimbox)
    code = drimbox.attestations.get().code
    page = client.get(reverse("attestation_check"), {"code": code}).content.decode()
    assert 'data-attestation-result="retiree"' in page
    assert client.get(f"/api/v1/attestations/{code}/").json()["valid"] is False

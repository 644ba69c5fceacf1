"""Regressions found in review: each test names the defect it keeps away."""
import pytest
from django.core import mail
from django.urls import reverse

from operators import services
from operators.models import (
    DnsChange,
    DnsChangeStatus,
    DrimboxStatus,
    HealthStructure,
    RequestKind,
    VaDocument,
    VaStatus,
)
from tests.conftest import pdf_upload
from tests.support.lifecycle import (
    active_drimbox,
    approve,
    declaration_data,
    declared_drimbox,
    submitted_declaration,
)
from trustspace.errors import Conflict, InvalidData

pytestmark = pytest.mark.django_db(transaction=True)


def _withdraw(world, drimbox):
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                  drimbox=drimbox, data={"reason": "Fermeture"})
    return approve(services.submit_request(req, acting_user=world.legal), world.ans)


def test_scoped_ipv6_is_refused_and_a_bad_record_never_blocks_the_queue(world, bind, settings):
    settings.DNS_REQUIRE_PUBLIC_ADDRESSES = True
    with pytest.raises(InvalidData, match="zone d'interface"):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                data=declaration_data(db="2a00:1450:4007::1%eth0"))
    settings.DNS_REQUIRE_PUBLIC_ADDRESSES = False
    # A record the server cannot take (written here directly: no service accepts it any more).
    broken = DnsChange.objects.create(name=f"db9998.test.{bind.zone}", records=[["AAAA", "2a00::1%eth0"]],
                                      reason="test")
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    services.apply_dns_changes()
    broken.refresh_from_db()
    assert broken.status == DnsChangeStatus.PENDING and broken.attempts >= 1 and broken.last_error
    assert bind.client().lookup(drimbox.db_fqdn, "A") == ["192.0.2.10"]


def test_a_drimbox_withdrawn_before_integration_comes_back_declared(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    _withdraw(world, drimbox)
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.REINTEGRATION,
                                  drimbox=drimbox)
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.DECLARED
    assert not VaDocument.objects.filter(drimbox=drimbox).exists()


def test_an_operator_never_renames_a_shared_health_structure(world):
    data = declaration_data()
    approve(submitted_declaration(world.operator, world.legal, data=data), world.ans, override_reason="test")
    other = submitted_declaration(world.other_operator, world.other, data={**data, "structure_name": "AUTRE NOM"})
    approve(other, world.ans, override_reason="test")
    assert HealthStructure.objects.get(siren=data["structure_siren"]).name == data["structure_name"]


@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b"])
def test_nul_and_lone_surrogates_are_refused(world, client, value):
    with pytest.raises(InvalidData, match="caractères invalides"):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                data={"pacs": value})
    client.force_login(world.legal)
    response = client.post(f"/api/v1/operators/{world.operator.pk}/requests/",
                           {"kind": "declaration", "data": {"pacs": value}}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["message"]


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


def test_no_new_va_file_while_ans_reviews_one(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    va = services.upload_va(VaDocument.objects.get(drimbox=drimbox), acting_user=world.technical,
                            uploaded_file=pdf_upload("va.pdf"))
    with pytest.raises(Conflict):
        services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("autre.pdf"))


def test_withdrawn_drimbox_attestation_is_not_shown_as_current(world, client):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    _withdraw(world, drimbox)
    code = drimbox.attestations.get().code
    page = client.get(reverse("attestation_check"), {"code": code}).content.decode()
    assert 'data-attestation-result="retiree"' in page
    assert client.get(f"/api/v1/attestations/{code}/").json()["valid"] is False


def test_plain_text_mails_are_not_html_escaped_and_skip_removed_authors(world):
    req = submitted_declaration(world.operator, world.mandataire)
    services.assign_request(req, acting_user=world.ans)
    mail.outbox.clear()
    services.comment_request(req, acting_user=world.ans, text="Joignez l'attestation <signée> & datée.")
    (message,) = [m for m in mail.outbox if "commentaire" in m.subject]
    assert "Joignez l'attestation <signée> & datée." in message.body
    assert "mandataire@example.fr" in message.to
    services.remove_membership(world.mandataire_membership, acting_user=world.legal)
    mail.outbox.clear()
    services.comment_request(req, acting_user=world.ans, text="Relance.")
    assert all("mandataire@example.fr" not in m.to for m in mail.outbox)


def test_attachments_per_request_are_limited(world, settings):
    settings.REQUEST_MAX_ATTACHMENTS = 2
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION)
    for _ in range(2):
        services.add_attachment(req, acting_user=world.legal, kind="autre", uploaded_file=pdf_upload())
    with pytest.raises(InvalidData, match="au plus 2 pièces"):
        services.add_attachment(req, acting_user=world.legal, kind="autre", uploaded_file=pdf_upload())

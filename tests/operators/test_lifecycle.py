"""DRIMbox requests through the services: state machines, approval effects, eligibility, switch, VA."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from operators import permissions, registry, services
from operators.models import (
    ONBOARDING_KINDS,
    Attestation,
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    HealthStructure,
    PendingRevocation,
    RequestEventKind,
    RequestKind,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from tests.conftest import pdf_upload
from tests.support.lifecycle import (
    active_drimbox,
    approve,
    declaration_data,
    declared_drimbox,
    give_certificates,
    make_order,
    submitted_declaration,
)
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_declaration_round_trip_with_changes_requested(world, settings):
    settings.FQDN_SITE_LABEL = "test"
    order = make_order(world.operator, world.legal)
    req = submitted_declaration(world.operator, world.legal, data=declaration_data(order=order))
    assert req.status == RequestStatus.SUBMITTED
    assert any("Nouvelle soumission" in m.subject for m in mail.outbox if "ans@example.fr" in m.to)

    services.assign_request(req, acting_user=world.ans)
    services.request_changes(req, acting_user=world.ans, comment="Précisez l'adresse vi.")
    req.refresh_from_db()
    assert req.status == RequestStatus.CHANGES_REQUESTED
    assert any("Modifications demandées" in m.subject and "legal@example.fr" in m.to for m in mail.outbox)

    services.update_request(req, acting_user=world.mandataire, data={"vi_addresses": "2001:db8::11"})
    services.submit_request(req, acting_user=world.mandataire)
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED
    assert req.assigned_to == world.ans  # stays with its reviewer, who is told
    services.assign_request(req, acting_user=world.ans)
    approve(req, world.ans)

    req.refresh_from_db()
    drimbox = req.drimbox
    assert req.status == RequestStatus.APPROVED
    assert drimbox.operator == world.operator and drimbox.status == DrimboxStatus.DECLARED
    assert drimbox.db_fqdn == f"db{drimbox.identifiant}.test.mesimagesmedicales.fr"
    assert drimbox.vi_fqdn == f"vi{drimbox.identifiant}.test.mesimagesmedicales.fr"
    assert drimbox.vi_records == [["AAAA", "2001:db8::11"]]
    assert drimbox.financing_order == order
    attestation = Attestation.objects.get(drimbox=drimbox)
    assert attestation.pdf.read().startswith(b"%PDF-")
    assert services.find_attestation(attestation.code.lower().replace("-", " ")) == attestation
    # DNS changes are queued for both names (no server configured here).
    assert set(DnsChange.objects.filter(status=DnsChangeStatus.PENDING).values_list("name", flat=True)) == {
        drimbox.db_fqdn, drimbox.vi_fqdn}
    timeline = [(e.kind, e.to_status) for e in req.events.all()]
    assert (RequestEventKind.STATUS, RequestStatus.CHANGES_REQUESTED) in timeline
    assert timeline[-1] == (RequestEventKind.STATUS, RequestStatus.APPROVED)
    actions = set(AuditEntry.objects.filter(object_type="operators.drimboxrequest").values_list("action", flat=True))
    assert {"request.created", "request.submitted", "request.assigned", "request.changes_requested",
            "request.updated", "request.approved"} <= actions


def test_identifiants_come_from_a_sequence_and_are_never_reused(world):
    first = declared_drimbox(world.operator, world.legal, world.ans)
    second = declared_drimbox(world.operator, world.legal, world.ans)
    assert second.identifiant > first.identifiant
    withdrawal = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                         drimbox=second, data={"reason": "Fin de contrat"})
    approve(services.submit_request(withdrawal, acting_user=world.legal), world.ans)
    third = declared_drimbox(world.operator, world.legal, world.ans)
    assert third.identifiant > second.identifiant
    second.refresh_from_db()
    assert second.status == DrimboxStatus.WITHDRAWN and second.db_fqdn.startswith(f"db{second.identifiant}.")


def test_a_submitted_request_cannot_be_edited_and_an_approved_one_not_approved_again(world):
    req = submitted_declaration(world.operator, world.legal)
    with pytest.raises(Conflict, match="plus modifiable"):
        services.update_request(req, acting_user=world.legal, data={"pacs": "AUTRE"})
    approve(req, world.ans)
    with pytest.raises(Conflict) as excinfo:
        services.approve_request(req, acting_user=world.ans)
    assert excinfo.value.code == "invalid_transition"
    assert Drimbox.objects.count() == 1


def test_submission_requires_the_signed_cgi_and_every_field(world):
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                  data={"structure_name": "Clinique"})
    with pytest.raises(InvalidData) as excinfo:
        services.submit_request(req, acting_user=world.legal)
    assert {"structure_siren", "pacs", "db_addresses", "cgi"} <= set(excinfo.value.field_errors)  # all at once
    services.update_request(req, acting_user=world.legal, data=declaration_data())
    with pytest.raises(InvalidData, match="Conditions Générales d'Intégration"):
        services.submit_request(req, acting_user=world.legal)
    req.refresh_from_db()
    assert req.status == RequestStatus.DRAFT


def test_unfunded_drimbox_needs_an_audited_override(world):
    req = submitted_declaration(world.operator, world.legal, data=declaration_data())  # no order
    services.assign_request(req, acting_user=world.ans)
    with pytest.raises(Conflict) as excinfo:
        services.approve_request(req, acting_user=world.ans)
    assert excinfo.value.code == "not_funded" and "non financée" in excinfo.value.message
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_REVIEW and not Drimbox.objects.exists()
    services.approve_request(req, acting_user=world.ans, override_reason="Site pilote financé par l'ARS")
    req.refresh_from_db()
    assert req.drimbox.eligibility_override_reason == "Site pilote financé par l'ARS"
    entry = AuditEntry.objects.get(action="drimbox.eligibility_overridden")
    assert entry.reason == "Site pilote financé par l'ARS" and entry.actor == world.ans


def test_order_must_match_the_structure_and_pacs(world):
    order = make_order(world.operator, world.legal)
    data = declaration_data(order=order)
    data["pacs"] = "UN-AUTRE-PACS"
    req = submitted_declaration(world.operator, world.legal, data=data)
    services.assign_request(req, acting_user=world.ans)
    with pytest.raises(Conflict, match="ne figure pas dans le bon de commande"):
        services.approve_request(req, acting_user=world.ans)


def test_integration_makes_the_drimbox_active_and_the_va_due(world, settings):
    settings.VA_DEADLINE_DAYS = 30
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    req = services.create_request(acting_user=world.technical, operator=world.operator, kind=RequestKind.INTEGRATION,
                                  drimbox=drimbox)
    # Without its certificates the DRIMbox cannot enter the trust space (the checklist says why).
    with pytest.raises(Conflict, match="Certificat db .IGC-Santé. — aucun certificat") as excinfo:
        services.submit_request(req, acting_user=world.technical)
    assert excinfo.value.code == "integration_checks_failed"
    give_certificates(drimbox)
    services.submit_request(req, acting_user=world.technical)
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.INTEGRATING
    approve(req, world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.ACTIVE
    va = VaDocument.objects.get(drimbox=drimbox)
    assert va.status == VaStatus.DUE
    assert abs((va.due_at - timezone.now()) - timedelta(days=30)) < timedelta(minutes=1)


def test_a_rejected_integration_returns_the_drimbox_to_declared(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox)
    req = services.submit_request(services.create_request(acting_user=world.legal, operator=world.operator,
                                              kind=RequestKind.INTEGRATION, drimbox=drimbox), acting_user=world.legal)
    services.assign_request(req, acting_user=world.ans)
    with pytest.raises(InvalidData):
        services.reject_request(req, acting_user=world.ans, reason="  ")
    services.reject_request(req, acting_user=world.ans, reason="Certificat db absent")
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.DECLARED


def test_one_open_request_per_drimbox(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.UPDATE, drimbox=drimbox)
    with pytest.raises(Conflict, match="déjà en cours"):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                drimbox=drimbox, data={"reason": "x"})


def test_update_changes_addresses_and_queues_only_the_changed_name(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    DnsChange.objects.update(status=DnsChangeStatus.APPLIED)
    req = services.create_request(acting_user=world.technical, operator=world.operator, kind=RequestKind.UPDATE,
                                  drimbox=drimbox)
    assert req.data["db_addresses"] == "192.0.2.10"  # prefilled from the DRIMbox
    services.update_request(req, acting_user=world.technical, data={"db_addresses": "drimbox.example-hebergeur.fr"})
    approve(services.submit_request(req, acting_user=world.technical), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.db_records == [["CNAME", "drimbox.example-hebergeur.fr"]]
    pending = DnsChange.objects.filter(status=DnsChangeStatus.PENDING)
    assert [(c.name, c.records) for c in pending] == [(drimbox.db_fqdn, [["CNAME", "drimbox.example-hebergeur.fr"]])]


def test_withdrawal_and_reintegration_keep_the_fqdns(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    fqdns = (drimbox.identifiant, drimbox.db_fqdn, drimbox.vi_fqdn)
    approve(services.submit_request(services.create_request(
        acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL, drimbox=drimbox,
        data={"reason": "Fermeture du site"}), acting_user=world.legal), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.WITHDRAWN
    assert registry.desired_records(drimbox) == {drimbox.db_fqdn: [], drimbox.vi_fqdn: []}
    assert DnsChange.objects.filter(name=drimbox.db_fqdn, status=DnsChangeStatus.PENDING, records=[]).exists()
    with pytest.raises(Conflict):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.INTEGRATION,
                                drimbox=drimbox)
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.REINTEGRATION,
                                  drimbox=drimbox)
    assert req.data["db_addresses"] == "192.0.2.10"
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == DrimboxStatus.ACTIVE
    assert (drimbox.identifiant, drimbox.db_fqdn, drimbox.vi_fqdn) == fqdns
    assert VaDocument.objects.filter(drimbox=drimbox).count() == 2


def test_operator_switch_moves_the_drimbox_and_the_rights(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    old_attestation = Attestation.objects.get(drimbox=drimbox)
    stale = services.create_request(acting_user=world.technical, operator=world.operator, kind=RequestKind.UPDATE,
                                    drimbox=drimbox)
    assert permissions.can(world.technical, "drimbox.view", drimbox.operator)
    new_order = make_order(world.other_operator, world.other)
    req = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox,
                                data=declaration_data(order=new_order))
    approve(req, world.ans)
    drimbox.refresh_from_db()
    assert drimbox.operator == world.other_operator
    assert drimbox.status == DrimboxStatus.DECLARED
    assert not Drimbox.objects.filter(pk=drimbox.pk, operator__in=permissions.operators_of(world.technical)).exists()
    stale.refresh_from_db()
    assert stale.status == RequestStatus.CANCELLED
    revocation = PendingRevocation.objects.get(drimbox=drimbox)
    assert revocation.previous_operator == world.operator and revocation.completed_at is None
    old_attestation.refresh_from_db()
    assert old_attestation.superseded_at is not None
    assert Attestation.objects.get(drimbox=drimbox, superseded_at__isnull=True).operator == world.other_operator
    assert any("reprise par un autre opérateur" in m.subject and "technical@example.fr" in m.to for m in mail.outbox)
    with pytest.raises(NotAllowed):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                drimbox=drimbox, data={"reason": "x"})


def test_switch_of_ones_own_drimbox_is_refused(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    with pytest.raises(Conflict, match="déjà exploitée par votre opérateur"):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.SWITCH,
                                drimbox=drimbox)


def test_roles_and_operators_are_enforced(world):
    with pytest.raises(NotAllowed, match="représentant légal et les mandataires"):
        services.create_request(acting_user=world.technical, operator=world.operator, kind=RequestKind.DECLARATION)
    req = submitted_declaration(world.operator, world.legal)
    with pytest.raises(NotAllowed):
        services.cancel_request(req, acting_user=world.other)
    with pytest.raises(NotAllowed):
        services.approve_request(req, acting_user=world.legal)
    with pytest.raises(NotAllowed):
        services.assign_request(req, acting_user=world.legal)
    with pytest.raises(Conflict, match="Prenez d'abord en charge"):
        services.approve_request(req, acting_user=world.ans)


def test_cancel_and_comments(world):
    req = submitted_declaration(world.operator, world.legal)
    services.comment_request(req, acting_user=world.ans, text="Nous regardons.")
    services.comment_request(req, acting_user=world.technical, text="Merci.")
    with pytest.raises(InvalidData):
        services.comment_request(req, acting_user=world.technical, text="   ")
    services.cancel_request(req, acting_user=world.mandataire, reason="Doublon")
    req.refresh_from_db()
    assert req.status == RequestStatus.CANCELLED
    assert [e.by_ans for e in req.events.filter(kind=RequestEventKind.COMMENT)] == [True, False]
    with pytest.raises(Conflict):
        services.submit_request(req, acting_user=world.legal)


def test_va_upload_validation_refusal_and_reminders(world, settings):
    settings.VA_REMINDER_DAYS = [14, 7, 1]
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    va = VaDocument.objects.get(drimbox=drimbox)
    now = timezone.now()
    assert services.send_va_reminders(now=now) == 0  # 30 days left: no threshold crossed
    mail.outbox.clear()
    # A run missed at J-14: at J-6 one e-mail covers both 14 and 7, and it is not sent again.
    assert services.send_va_reminders(now=va.due_at - timedelta(days=6)) == 1
    assert services.send_va_reminders(now=va.due_at - timedelta(days=5)) == 0
    va.refresh_from_db()
    assert va.reminders_sent == [14, 7]
    assert len([m for m in mail.outbox if "Rappel" in m.subject]) == 1
    with pytest.raises(InvalidData, match="PDF"):
        services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va.pdf", b"pas un pdf"))
    with pytest.raises(NotAllowed):
        services.upload_va(va, acting_user=world.other, uploaded_file=pdf_upload("va.pdf"))
    services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va.pdf"))
    assert any("Document VA déposé" in m.subject and "ans@example.fr" in m.to for m in mail.outbox)
    services.refuse_va(va, acting_user=world.ans, reason="Signature manquante")
    assert any("Document VA refusé" in m.subject and "technical@example.fr" in m.to for m in mail.outbox)
    va.refresh_from_db()
    assert va.status == VaStatus.REFUSED
    services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va2.pdf"))
    services.validate_va(va, acting_user=world.ans)
    va.refresh_from_db()
    assert va.status == VaStatus.VALIDATED and not va.is_overdue
    with pytest.raises(Conflict):
        services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va3.pdf"))


def test_overdue_va(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    va = VaDocument.objects.get(drimbox=drimbox)
    VaDocument.objects.filter(pk=va.pk).update(due_at=timezone.now() - timedelta(days=1))
    va.refresh_from_db()
    assert va.is_overdue


def test_requests_are_listed_per_operator(world):
    submitted_declaration(world.operator, world.legal)
    submitted_declaration(world.other_operator, world.other)
    assert DrimboxRequest.objects.filter(operator__in=permissions.operators_of(world.technical)).exclude(
        kind__in=ONBOARDING_KINDS).count() == 1


def test_switch_may_keep_the_drimbox_order_which_follows_it(world):
    order = make_order(world.operator, world.legal)
    drimbox = declared_drimbox(world.operator, world.legal, world.ans, data=declaration_data(order=order))
    data = declaration_data(order=order)
    # Another operator's order is not usable; the switched DRIMbox's own order is.
    other_order = make_order(world.operator, world.legal)
    with pytest.raises(InvalidData, match="n'existe pas chez votre opérateur"):
        services.create_request(acting_user=world.other, operator=world.other_operator, kind=RequestKind.SWITCH,
                                drimbox=drimbox, data={**data, "financing_order": str(other_order.pk)})
    req = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox,
                                data=data)
    approve(req, world.ans)  # funded: no override needed
    order.refresh_from_db()
    drimbox.refresh_from_db()
    assert drimbox.financing_order == order and order.operator == world.other_operator
    assert AuditEntry.objects.filter(action="financing_order.transferred").count() == 1


def test_django_admin_lists_the_lifecycle_models_read_only(world, client, make_user):
    active_drimbox(world.operator, world.legal, world.ans)
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    for model in ("drimbox", "drimboxrequest", "dnschange", "financingorder", "attestation", "vadocument",
                  "pendingrevocation", "healthstructure", "requestevent", "requestattachment", "financingordersite"):
        assert client.get(f"/admin/operators/{model}/").status_code == 200, model
    drimbox = Drimbox.objects.get()
    assert client.post(f"/admin/operators/drimbox/{drimbox.pk}/change/", {"pacs": "x"}).status_code == 403


def test_an_operator_never_renames_a_shared_health_structure(world):
    data = declaration_data()
    approve(submitted_declaration(world.operator, world.legal, data=data), world.ans, override_reason="test")
    other = submitted_declaration(world.other_operator, world.other, data={**data, "structure_name": "AUTRE NOM"})
    approve(other, world.ans, override_reason="test")
    assert HealthStructure.objects.get(siren=data["structure_siren"]).name == data["structure_name"]


def test_no_new_va_file_while_ans_reviews_one(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    va = services.upload_va(VaDocument.objects.get(drimbox=drimbox), acting_user=world.technical,
                            uploaded_file=pdf_upload("va.pdf"))
    with pytest.raises(Conflict):
        services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("autre.pdf"))


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

"""Operator onboarding reviewed by ANS (issue 11): an application, never an operator, until ANS approves."""
import html

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from operators import onboarding, services
from operators.models import (
    ContractAcceptance,
    DrimboxRequest,
    Membership,
    Operator,
    RequestKind,
    RequestStatus,
    Role,
)
from tests.conftest import CARD, HABILITATION, application_data, apply, make_siren, pdf_upload
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry


def text(response):
    return html.unescape(response.content.decode())


def form(seed=55555555, name="Imagerie Nouvelle SAS", **overrides):
    return {**application_data(seed, name), "contract_document": pdf_upload("contrat.pdf"),
            "contract_accepted": "on", **overrides}


def counts():
    return (Operator.objects.count(), Membership.objects.count(), ContractAcceptance.objects.count(),
            DrimboxRequest.objects.count(), AuditEntry.objects.count())


def approve(req, ans):
    return services.approve_request(services.assign_request(req, acting_user=ans), acting_user=ans)


def actions_of(req):
    return list(AuditEntry.objects.filter(object_id=str(req.pk), action__startswith="request.").values_list(
        "action", flat=True))


def test_self_registration_gives_no_rights_until_ans_approves(world, client, make_user,
                                                              django_capture_on_commit_callbacks):
    applicant = make_user("applicant")
    client.force_login(applicant)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/espace/operateur/enregistrer/", form())
    req = DrimboxRequest.objects.get(created_by=applicant)
    assert response.status_code == 302 and response["Location"] == f"/demandes/{req.pk}/"
    assert (req.kind, req.status, req.operator) == (RequestKind.ADHESION, RequestStatus.SUBMITTED, None)
    assert set(req.attachments.values_list("kind", flat=True)) == {"contrat"}
    assert not Operator.objects.filter(siren=make_siren(55555555)).exists()
    assert world.ans.email in {address for m in mail.outbox for address in m.to}  # ANS is told

    # No operator rights at all: no operator pages, no API access; the home page shows the application.
    assert not Membership.objects.filter(user=applicant).exists()
    assert client.get("/espace/operateur/")["Location"] == "/"
    assert client.get("/espace/demandes/")["Location"] == "/"
    home = text(client.get("/"))
    assert req.reference in home and "Soumise" in home and "aucun droit" in home
    assert client.get("/api/v1/operators/").json()["count"] == 0
    assert [a["reference"] for a in client.get("/api/v1/applications/").json()["results"]] == [req.reference]
    assert client.get(f"/demandes/{req.pk}/").status_code == 200

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        req = approve(req, world.ans)
    operator = Operator.objects.get(siren=make_siren(55555555))
    assert req.operator == operator and req.status == RequestStatus.APPROVED
    membership = Membership.objects.get(operator=operator, user=applicant)
    assert membership.role == Role.LEGAL_REPRESENTATIVE and membership.card_reference == CARD
    acceptance = ContractAcceptance.objects.get(operator=operator)
    assert acceptance.accepted_by == applicant and acceptance.contract_version == world.contract
    actions = set(AuditEntry.objects.filter(operator_id=operator.pk).values_list("action", flat=True))
    assert {"operator.registered", "membership.created", "contract.accepted", "request.approved"} <= actions
    assert {"request.created", "request.attachment_added", "request.submitted", "request.assigned"} <= set(
        actions_of(req))
    assert any(applicant.email in m.to and "approuvée" in m.subject for m in mail.outbox)
    assert client.get("/espace/operateur/").status_code == 200
    assert operator.name in text(client.get("/"))
    assert client.get(f"/api/v1/operators/{operator.pk}/").status_code == 200


def test_a_second_registration_of_a_siren_becomes_a_rattachement(world, make_user, client,
                                                                  django_capture_on_commit_callbacks):
    newcomer = make_user("newcomer")
    operators = Operator.objects.count()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        req = apply(newcomer, 12345678, "Opérateur A (doublon)")
    assert req.kind == RequestKind.ATTACHMENT and req.operator == world.operator
    assert "aucun second opérateur n'est créé" in onboarding.attachment_notice(req)
    # The existing legal representative and ANS hear about it.
    assert any(world.legal.email in m.to and "demande à devenir représentant légal" in m.subject for m in mail.outbox)
    assert any(world.ans.email in m.to for m in mail.outbox)
    # The operator's people follow it; the newcomer still has no role.
    client.force_login(world.legal)
    assert client.get(f"/demandes/{req.pk}/").status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()

    approve(req, world.ans)
    assert Operator.objects.count() == operators
    membership = Membership.objects.get(user=newcomer)
    assert (membership.operator, membership.role) == (world.operator, Role.LEGAL_REPRESENTATIVE)
    # Applying again for the same SIREN as its legal representative is refused.
    with pytest.raises(Conflict):
        apply(newcomer, 12345678, "Opérateur A")


def test_a_rattachement_to_a_pending_adhesion_waits_for_it(world, make_user):
    first, second = make_user("first"), make_user("second")
    adhesion = apply(first, 66666666, "Imagerie Pendante")
    attachment = apply(second, 66666666, "Imagerie Pendante")
    assert attachment.kind == RequestKind.ATTACHMENT and attachment.operator is None
    with pytest.raises(Conflict, match="instruisez d'abord"):
        approve(attachment, world.ans)
    assert DrimboxRequest.objects.get(pk=attachment.pk).status == RequestStatus.IN_REVIEW
    operator = approve(adhesion, world.ans).operator
    attachment.refresh_from_db()
    assert attachment.operator == operator  # now addressed to the operator: its legal representative follows it
    assert "request.addressed" in actions_of(attachment)
    assert onboarding.addressees(attachment) == sorted({first.email, second.email})
    approve(attachment, world.ans)
    assert set(operator.memberships.values_list("user__username", flat=True)) == {"first", "second"}
    assert Operator.objects.filter(siren=make_siren(66666666)).count() == 1
    with pytest.raises(Conflict):  # the same applicant twice for one SIREN
        apply(first, 77777777, "Autre")
        apply(first, 77777777, "Autre")


def test_refusal_with_a_reason_creates_nothing(world, make_user, django_capture_on_commit_callbacks):
    applicant = make_user("refused")
    req = services.assign_request(apply(applicant, 55555555, "Imagerie Refusée"), acting_user=world.ans)
    with pytest.raises(InvalidData):
        services.reject_request(req, acting_user=world.ans, reason="")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        req = services.reject_request(req, acting_user=world.ans, reason="Le K-bis ne correspond pas à l'entreprise.")
    assert req.status == RequestStatus.REJECTED and req.operator is None
    assert not Operator.objects.filter(siren=make_siren(55555555)).exists()
    assert not Membership.objects.filter(user=applicant).exists()
    assert "request.rejected" in actions_of(req)
    refusal = [m for m in mail.outbox if applicant.email in m.to]
    assert refusal and "Le K-bis ne correspond pas" in refusal[0].body
    with pytest.raises(Conflict):
        services.approve_request(req, acting_user=world.ans)


def test_changes_requested_then_resubmitted_through_the_pages(world, make_user, client):
    applicant = make_user("changes")
    req = services.assign_request(apply(applicant, 55555555, "Imagerie À Compléter"), acting_user=world.ans)
    services.request_changes(req, acting_user=world.ans, comment="Joignez le K-bis.")
    client.force_login(applicant)
    page = text(client.get(f"/demandes/{req.pk}/"))
    assert "Joignez le K-bis." in page and "Modifications demandées" in page
    edit_url = f"/demandes/{req.pk}/modifier/"
    assert client.get(edit_url).status_code == 200
    data = {**application_data(55555555, "Imagerie Complétée"), "power_document": pdf_upload("kbis.pdf")}
    response = client.post(edit_url, data)
    assert response.status_code == 302, text(response)[:2000]
    req.refresh_from_db()
    assert req.data["name"] == "Imagerie Complétée" and req.attachments.filter(kind="pouvoir").exists()
    # The SIREN of a filed application does not change (the field is disabled; the service refuses it too).
    with pytest.raises(InvalidData, match="SIREN"):
        services.update_request(req, acting_user=applicant, data={"siren": make_siren(44444444)})
    client.post(f"/demandes/{req.pk}/soumettre/")
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED
    assert [e.to_status for e in req.events.filter(kind="statut")] == [
        RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW, RequestStatus.CHANGES_REQUESTED, RequestStatus.SUBMITTED]
    # The reviewer sees the same timeline.
    client.force_login(world.ans)
    assert "Joignez le K-bis." in text(client.get(f"/demandes/{req.pk}/"))


def test_another_applicant_cannot_see_or_act_on_an_application(world, make_user, client):
    applicant, stranger = make_user("owner"), make_user("stranger")
    req = apply(applicant, 55555555, "Imagerie Privée")
    for user in (stranger, world.other):
        client.force_login(user)
        assert client.get(f"/demandes/{req.pk}/").status_code == 404
        assert client.get(f"/api/v1/requests/{req.pk}/").status_code == 404
        assert client.post(f"/demandes/{req.pk}/annuler/").status_code == 404
        listed = client.get("/api/v1/applications/").json()["results"]
        assert req.reference not in [item["reference"] for item in listed]
    with pytest.raises(NotAllowed):
        services.cancel_request(req, acting_user=stranger)
    with pytest.raises(NotAllowed):
        services.comment_request(req, acting_user=stranger, text="Je regarde")
    with pytest.raises(NotAllowed):  # an application is filed through apply_for_operator only
        services.create_request(acting_user=stranger, operator=None, kind=RequestKind.ADHESION, data={})
    services.cancel_request(req, acting_user=applicant, reason="Erreur de saisie")
    assert DrimboxRequest.objects.get(pk=req.pk).status == RequestStatus.CANCELLED


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"siren": "123456789"}, "siren", "n'est pas valide"),
    ({"legal_rep_card": "12AB"}, "legal_rep_card", "10 chiffres"),
    ({"legal_rep_card": ""}, "legal_rep_card", "carte de représentant légal ou joignez un justificatif"),
    ({"contract_accepted": ""}, "contract_accepted", "Acceptez la version 2026-01"),
    ({"contract_document": SimpleUploadedFile("c.pdf", b"pas un pdf", "application/pdf")}, "contract_document",
     "doit être un fichier PDF"),
    ({"power_document": SimpleUploadedFile("k.pdf", b"%PDF-" + b"x" * (6 * 1024 * 1024), "application/pdf")},
     "power_document", "taille maximale"),
    ({"representative_function": ""}, "representative_function", "obligatoire"),
])
def test_bad_input_gives_french_field_errors_and_writes_nothing(world, make_user, client, overrides, field,
                                                                 message):
    client.force_login(make_user("typo"))
    before = counts()
    response = client.post("/espace/operateur/enregistrer/", form(**overrides))
    assert response.status_code == 200
    body = text(response)
    assert message in body and "data-error-summary" in body
    assert counts() == before
    api = client.post("/api/v1/operators/", {k: v for k, v in form(**overrides).items() if v != ""})
    assert api.status_code == 400, api.content[:500]
    error = api.json()["error"]
    assert field in error["fields"] and error["message"]
    assert counts() == before


def test_card_is_required_unless_proof_or_relaxed(world, make_user, settings):
    with pytest.raises(InvalidData) as excinfo:
        services.apply_for_operator(
            acting_user=make_user("nocard"), data=application_data(55555555, "Sans carte", legal_rep_card=""),
            contract_document=pdf_upload(), contract_accepted=True)
    assert "legal_rep_card" in excinfo.value.field_errors
    with_proof = services.apply_for_operator(
        acting_user=make_user("proof"), data=application_data(55555555, "Avec K-bis", legal_rep_card=""),
        contract_document=pdf_upload(), power_document=pdf_upload("kbis.pdf"), contract_accepted=True)
    operator = approve(with_proof, world.ans).operator
    membership = operator.memberships.get()
    assert membership.card_reference == "" and membership.mandate_document.name.endswith(".pdf")
    settings.ONBOARDING_REQUIRE_CARDS = False
    relaxed = apply(make_user("relaxed"), 44444444, "Plateforme de test", legal_rep_card="")
    assert relaxed.status == RequestStatus.SUBMITTED


def test_technical_administrators_give_their_cpa_reference(world, make_user, client, settings):
    invitee = make_user("cpa")
    client.force_login(invitee)
    page = client.get(f"/invitation/{world.pending_token}/")
    assert "Référence de votre carte" in text(page)
    response = client.post(f"/invitation/{world.pending_token}/", {"card_reference": ""})
    assert response.status_code == 200 and "carte CPA" in text(response)
    response = client.post(f"/invitation/{world.pending_token}/", {"card_reference": "abc"})
    assert "carte CPA (10 chiffres)" in text(response)
    assert not Membership.objects.filter(user=invitee).exists()
    response = client.post(f"/invitation/{world.pending_token}/", {"card_reference": "igcs-hab 2026 0042"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=invitee)
    assert membership.card_reference == "IGCS-HAB20260042"
    # Shown to the operator's people page and to ANS.
    client.force_login(world.legal)
    assert "IGCS-HAB20260042" in text(client.get("/espace/personnes/"))
    client.force_login(world.ans)
    assert "IGCS-HAB20260042" in text(client.get(f"/ans/operateurs/{world.operator.pk}/"))
    # Relaxed on the test platform.
    settings.ONBOARDING_REQUIRE_CARDS = False
    _invitation, token = services.invite_person(world.operator, acting_user=world.legal, email="ta9@a.fr",
                                                role=Role.TECHNICAL_ADMIN)
    assert services.accept_invitation(token, acting_user=make_user("nocpa")).card_reference == ""


def test_a_legal_representative_invitation_needs_a_card_or_a_proof(world, make_user):
    _invitation, token = services.invite_person(world.operator, acting_user=world.legal, email="rl2@a.fr",
                                                role=Role.LEGAL_REPRESENTATIVE)
    with pytest.raises(InvalidData, match="carte de représentant légal"):
        services.accept_invitation(token, acting_user=make_user("rl2"))
    assert services.accept_invitation(token, acting_user=make_user("rl3"), card_reference=CARD).card_reference == CARD
    _invitation, token = services.invite_person(world.operator, acting_user=world.legal, email="rl4@a.fr",
                                                role=Role.LEGAL_REPRESENTATIVE, mandate_document=pdf_upload("kbis.pdf"))
    assert services.accept_invitation(token, acting_user=make_user("rl4")).mandate_document
    _invitation, token = services.invite_person(world.operator, acting_user=world.legal, email="rl5@a.fr",
                                                role=Role.LEGAL_REPRESENTATIVE)
    with pytest.raises(InvalidData, match="10 chiffres"):  # a habilitation is not a legal-representative card
        services.accept_invitation(token, acting_user=make_user("rl5"), card_reference=HABILITATION)


def test_api_registration_returns_the_application_and_ans_reviews_it_by_api(world, make_user, client):
    applicant = make_user("apiuser")
    client.force_login(applicant)
    payload = {**application_data(55555555, "Imagerie API"), "contract_document": pdf_upload("contrat.pdf"),
               "contract_accepted": "true"}
    response = client.post("/api/v1/operators/", payload)
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert body["kind"] == "adhesion" and body["status"] == "soumise" and body["operator"] is None
    assert body["party_name"] == "Imagerie API" and body["notice"] == ""
    assert client.get(f"/api/v1/requests/{body['id']}/").status_code == 200
    approve_url = f"/api/v1/requests/{body['id']}/approve/"
    assert client.post(approve_url, {}, content_type="application/json").status_code == 403
    client.force_login(world.ans)
    queue = client.get("/api/v1/review-queue/", {"kind": "adhesion"}).json()
    assert [item["reference"] for item in queue["results"]] == [body["reference"]]
    assert client.post(f"/api/v1/requests/{body['id']}/assign/", {}, content_type="application/json").status_code == 200
    approved = client.post(f"/api/v1/requests/{body['id']}/approve/", {}, content_type="application/json").json()
    assert approved["status"] == "approuvee" and approved["operator"]["name"] == "Imagerie API"
    # The back office queue lists applications with their company name, filterable by kind.
    page = text(client.get("/ans/demandes/", {"kind": "adhesion", "status": "toutes", "operator": "API"}))
    assert body["reference"] in page and "Imagerie API" in page


def test_a_member_applying_for_another_company_follows_it_and_ans_sees_the_origin(world, client):
    req = apply(world.technical, 55555555, "Filiale Imagerie")
    client.force_login(world.technical)
    home = text(client.get("/"))
    assert world.operator.name in home and req.reference in home and "Filiale Imagerie" in home
    operator = approve(req, world.ans).operator
    client.force_login(world.ans)
    detail = text(client.get(f"/ans/operateurs/{operator.pk}/"))
    assert req.reference in detail and "Approuvée" in detail and CARD in detail


def test_drimbox_request_paths_never_file_an_application(world, make_user, client):
    client.force_login(world.legal)
    assert client.get("/espace/demandes/nouvelle/adhesion/")["Location"] == "/espace/operateur/enregistrer/"
    api = client.post(f"/api/v1/operators/{world.operator.pk}/requests/", {"kind": "adhesion", "data": {}},
                      content_type="application/json")
    assert api.status_code in (400, 403) and api.json()["error"]["message"]
    applicant = make_user("uploader")
    req = apply(applicant, 55555555, "Imagerie Pièces")
    client.force_login(applicant)
    bad = client.post(f"/api/v1/requests/{req.pk}/attachments/", {"kind": "pouvoir"})
    assert bad.status_code == 400  # the applicant, a malformed upload: the fields, never a 500
    client.force_login(world.legal)
    assert client.post(f"/api/v1/requests/{req.pk}/attachments/", {"kind": "pouvoir"}).status_code == 404


# --- Review (issue 11, part 2): object permissions, races, hand-overs, e-mails, files, queries ---------------


def _requalify_as_adhesion(req):
    """What two applications filed at the same instant for a new SIREN leave behind: two adhesions."""
    DrimboxRequest.objects.filter(pk=req.pk).update(kind=RequestKind.ADHESION)
    return DrimboxRequest.objects.get(pk=req.pk)


def test_an_application_is_shown_to_the_legal_representatives_only_not_to_other_roles(world, make_user, client):
    """A rattachement carries the applicant's card and K-bis: the operator's legal representatives judge it,
    its technical administrators and mandataires have no business reading or commenting it."""
    applicant = make_user("newcomer2")
    req = services.apply_for_operator(
        acting_user=applicant, data=application_data(12345678, "Opérateur A"), contract_document=pdf_upload(),
        power_document=pdf_upload("kbis.pdf"), contract_accepted=True)
    assert req.kind == RequestKind.ATTACHMENT and req.operator == world.operator
    adhesion = DrimboxRequest.objects.get(kind=RequestKind.ADHESION, operator=world.operator)
    attachment = req.attachments.get(kind="pouvoir")
    for user in (world.technical, world.mandataire):
        client.force_login(user)
        for pk in (req.pk, adhesion.pk):
            assert client.get(f"/demandes/{pk}/").status_code == 404
            assert client.get(f"/api/v1/requests/{pk}/").status_code == 404
        assert client.get(f"/demandes/{req.pk}/pieces/{attachment.pk}/").status_code == 404
        assert req.reference not in text(client.get("/espace/demandes/"))
        listed = client.get(f"/api/v1/operators/{world.operator.pk}/requests/").json()["results"]
        assert not {item["reference"] for item in listed} & {req.reference, adhesion.reference}
        with pytest.raises(NotAllowed):
            services.comment_request(req, acting_user=user, text="Je ne devrais pas pouvoir commenter.")
    client.force_login(world.legal)
    assert client.get(f"/demandes/{req.pk}/").status_code == 200
    assert client.get(f"/demandes/{req.pk}/pieces/{attachment.pk}/").status_code == 200
    assert req.reference in text(client.get("/espace/demandes/"))
    services.comment_request(req, acting_user=world.legal, text="Je confirme : Claire est notre nouvelle présidente.")


def test_a_token_limited_to_an_operator_does_not_reach_its_owner_s_other_applications(world, client):
    from trustspace.services import create_api_token

    req = apply(world.technical, 55555555, "Filiale d'un technicien")
    _token, raw = create_api_token(acting_user=world.technical, name="acme", scopes=["read", "requests"],
                                   operator_id=world.operator.pk)
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    assert client.get(f"/api/v1/requests/{req.pk}/", **auth).status_code == 404
    assert client.post(f"/api/v1/requests/{req.pk}/cancel/", {"reason": "x"}, content_type="application/json",
                       **auth).status_code == 404
    assert DrimboxRequest.objects.get(pk=req.pk).status == RequestStatus.SUBMITTED
    client.force_login(world.technical)  # the session itself is not limited
    assert client.get(f"/api/v1/requests/{req.pk}/").status_code == 200


def test_two_adhesions_for_one_siren_never_make_two_operators(world, make_user,
                                                             django_capture_on_commit_callbacks):
    first, second = make_user("first"), make_user("second")
    one = services.assign_request(apply(first, 66666666, "Imagerie Jumelle"), acting_user=world.ans)
    two = services.assign_request(_requalify_as_adhesion(apply(second, 66666666, "Imagerie Jumelle")),
                                  acting_user=world.ans)
    stale = DrimboxRequest.objects.get(pk=two.pk)  # the second reviewer's page, opened before the first decision
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        operator = approve(one, world.ans).operator
    two.refresh_from_db()
    # The other adhesion is now a rattachement to the operator just approved, and its people hear about it.
    assert (two.kind, two.operator, two.status) == (RequestKind.ATTACHMENT, operator, RequestStatus.IN_REVIEW)
    assert "request.requalified" in actions_of(two)
    assert any(first.email in m.to and "demande à devenir représentant légal" in m.subject for m in mail.outbox)
    assert any(second.email in m.to and "rattachement" in m.body for m in mail.outbox)
    # The second reviewer approving the page they read (an adhesion) gets a 409, not a surprise legal representative.
    with pytest.raises(Conflict) as excinfo:
        services.approve_request(stale, acting_user=world.ans)
    assert excinfo.value.code == "kind_changed"
    assert not Membership.objects.filter(user=second).exists()
    services.approve_request(two, acting_user=world.ans)
    assert Operator.objects.filter(siren=make_siren(66666666)).count() == 1
    assert set(operator.memberships.values_list("user__username", flat=True)) == {"first", "second"}


def test_a_refused_adhesion_hands_over_to_the_rattachement_waiting_for_it(world, make_user,
                                                                          django_capture_on_commit_callbacks):
    squatter, owner, third = make_user("squatter"), make_user("owner2"), make_user("third")
    bogus = apply(squatter, 66666666, "Imagerie Usurpée")
    waiting = apply(owner, 66666666, "Imagerie Véritable")
    later = apply(third, 66666666, "Imagerie Véritable")
    assert {waiting.kind, later.kind} == {RequestKind.ATTACHMENT}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_request(services.assign_request(bogus, acting_user=world.ans), acting_user=world.ans,
                                reason="Le demandeur ne représente pas l'entreprise.")
    waiting.refresh_from_db()
    later.refresh_from_db()
    # The oldest waiting application is now the adhesion, the other one waits for it: never stuck.
    assert (waiting.kind, waiting.operator) == (RequestKind.ADHESION, None)
    assert later.kind == RequestKind.ATTACHMENT
    assert "request.requalified" in actions_of(waiting)
    assert any(owner.email in m.to and "adhésion" in m.body for m in mail.outbox)
    operator = approve(waiting, world.ans).operator
    assert operator.name == "Imagerie Véritable"
    assert set(operator.memberships.values_list("user__username", flat=True)) == {"owner2"}
    later.refresh_from_db()
    assert later.operator == operator
    approve(later, world.ans)
    assert not Membership.objects.filter(user=squatter).exists()


def test_a_cancelled_adhesion_hands_over_too(world, make_user):
    first, second = make_user("first"), make_user("second")
    adhesion = apply(first, 66666666, "Imagerie Annulée")
    waiting = apply(second, 66666666, "Imagerie Annulée")
    services.cancel_request(adhesion, acting_user=first, reason="Mon associée dépose la demande.")
    waiting.refresh_from_db()
    assert waiting.kind == RequestKind.ADHESION
    assert approve(waiting, world.ans).operator.siren == make_siren(66666666)


def _media_files(settings):
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def test_a_failed_submission_leaves_no_file_behind(world, make_user, settings, monkeypatch):
    applicant = make_user("files")
    before = _media_files(settings)

    def refuse(req, *, acting_user):
        raise Conflict("La demande n'a pas pu être soumise.")

    monkeypatch.setattr(services.onboarding, "submit_request", refuse)  # the call apply_for_operator makes
    with pytest.raises(Conflict):
        services.apply_for_operator(
            acting_user=applicant, data=application_data(55555555, "Imagerie Sans Trace"),
            contract_document=pdf_upload(), power_document=pdf_upload("kbis.pdf"), contract_accepted=True)
    assert not DrimboxRequest.objects.filter(created_by=applicant).exists()
    assert _media_files(settings) == before
    monkeypatch.undo()
    # Editing: the second document is refused (too many pieces) after the first was written.
    req = services.assign_request(apply(applicant, 55555555, "Imagerie Sans Trace"), acting_user=world.ans)
    services.request_changes(req, acting_user=world.ans, comment="Joignez le K-bis.")
    settings.REQUEST_MAX_ATTACHMENTS = req.attachments.count() + 1
    before = _media_files(settings)
    with pytest.raises(InvalidData):
        services.edit_application(req, acting_user=applicant, data={}, contract_document=pdf_upload(),
                                  power_document=pdf_upload("kbis.pdf"))
    assert req.attachments.count() == 1
    assert _media_files(settings) == before


def test_the_review_queue_costs_the_same_queries_for_many_applications(world, make_user, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queue_queries():
        client.force_login(world.ans)
        with CaptureQueriesContext(connection) as page:
            assert client.get("/ans/demandes/", {"status": "toutes"}).status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert client.get("/api/v1/review-queue/", {"status": "toutes"}).status_code == 200
        return len(page), len(api)

    for n in range(2):
        services.assign_request(apply(make_user(f"few{n}"), 20000000 + n, f"Imagerie {n}"), acting_user=world.ans)
    few = queue_queries()
    for n in range(2, 14):
        req = apply(make_user(f"many{n}"), 20000000 + n, f"Imagerie {n}")
        if n % 2:
            approve(req, world.ans)
    many = queue_queries()
    assert many == few, (few, many)


def test_a_reviewer_approving_a_stale_adhesion_page_gets_a_409_on_the_page_and_the_api(world, make_user, client):
    first, second = make_user("first"), make_user("second")
    one = services.assign_request(apply(first, 66666666, "Imagerie Jumelle"), acting_user=world.ans)
    two = services.assign_request(_requalify_as_adhesion(apply(second, 66666666, "Imagerie Jumelle")),
                                  acting_user=world.ans)
    client.force_login(world.ans)
    assert 'name="kind" value="adhesion"' in text(client.get(f"/demandes/{two.pk}/"))
    approve(one, world.ans)
    page = client.post(f"/demandes/{two.pk}/approuver/", {"kind": "adhesion", "comment": ""}, follow=True)
    assert "pendant que vous la lisiez" in text(page)
    api = client.post(f"/api/v1/requests/{two.pk}/approve/", {"expected_kind": "adhesion"},
                      content_type="application/json")
    assert api.status_code == 409 and api.json()["error"]["code"] == "kind_changed"
    assert not Membership.objects.filter(user=second).exists()
    assert client.post(f"/api/v1/requests/{two.pk}/approve/", {"expected_kind": "rattachement"},
                       content_type="application/json").status_code == 200
    assert Membership.objects.get(user=second).role == Role.LEGAL_REPRESENTATIVE


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_reviewers_approving_two_adhesions_of_one_siren_at_once(world, make_user):
    """Both reviewers click « Approuver » at the same instant: one operator, one 409, no deadlock, no 500."""
    import threading

    from django.db import connection

    one = services.assign_request(apply(make_user("first"), 66666666, "Imagerie Jumelle"), acting_user=world.ans)
    two = services.assign_request(_requalify_as_adhesion(apply(make_user("second"), 66666666, "Imagerie Jumelle")),
                                  acting_user=world.ans)
    barrier = threading.Barrier(2)
    outcomes = {}

    def decide(pk):
        try:
            req = DrimboxRequest.objects.get(pk=pk)
            barrier.wait(timeout=10)
            services.approve_request(req, acting_user=world.ans)
            outcomes[pk] = "approved"
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            outcomes[pk] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(pk,)) for pk in (one.pk, two.pk)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = list(outcomes.values())
    assert results.count("approved") == 1, results
    (refused,) = [r for r in results if r != "approved"]
    assert isinstance(refused, Conflict) and refused.code == "kind_changed", repr(refused)
    assert Operator.objects.filter(siren=make_siren(66666666)).count() == 1
    assert Membership.objects.filter(operator__siren=make_siren(66666666)).count() == 1


def test_the_ans_page_of_an_application_shows_what_the_reviewer_checks(world, make_user, client):
    first, second = make_user("first"), make_user("second")
    adhesion = apply(first, 66666666, "Imagerie Vérifiée")
    waiting = apply(second, 66666666, "Imagerie Vérifiée")
    client.force_login(world.ans)
    page = text(client.get(f"/demandes/{adhesion.pk}/"))
    assert f"SIREN {make_siren(66666666)}" in page and "pas encore enregistrée comme opérateur" in page
    assert f"annuaire-entreprises.data.gouv.fr/entreprise/{make_siren(66666666)}" in page
    assert waiting.reference in page  # the other application for the same SIREN
    rattachement = apply(make_user("third"), 12345678, "Opérateur A")
    page = text(client.get(f"/demandes/{rattachement.pk}/"))
    assert f"Représentants légaux en place : {world.legal.display_name}" in page
    # The applicant sees none of this, and may attach only what an application takes.
    client.force_login(first)
    page = text(client.get(f"/demandes/{adhesion.pk}/"))
    assert "Vérifications" not in page and waiting.reference not in page
    services.request_changes(services.assign_request(adhesion, acting_user=world.ans), acting_user=world.ans,
                             comment="K-bis ?")
    page = text(client.get(f"/demandes/{adhesion.pk}/"))
    assert 'value="pouvoir"' in page and 'value="cgi"' not in page


def test_an_empty_form_names_every_missing_piece_at_once(world, make_user, client):
    client.force_login(make_user("hasty"))
    body = text(client.post("/espace/operateur/enregistrer/", {}))
    for message in ("Ce champ est obligatoire.", "carte de représentant légal ou joignez un justificatif",
                    "Acceptez la version 2026-01"):
        assert message in body
    assert (not DrimboxRequest.objects.exists()
            or DrimboxRequest.objects.filter(created_by__username="hasty").count() == 0)


def test_an_ans_administrator_does_not_approve_its_own_application(world, make_user):
    """ANS administrators never act in an operator's name: they do not apply, and one who was given ANS rights
    after applying does not approve its own application."""
    with pytest.raises(NotAllowed, match="administrateur ANS ne dépose pas"):
        apply(world.ans, 55555555, "Imagerie de l'Instructeur")
    applicant = make_user("future.ans")
    req = services.assign_request(apply(applicant, 55555555, "Imagerie de l'Instructeur"), acting_user=world.ans)
    applicant.is_ans_admin = True
    applicant.save(update_fields=["is_ans_admin"])
    with pytest.raises(NotAllowed, match="votre propre demande"):
        services.approve_request(req, acting_user=applicant)
    assert not Operator.objects.filter(siren=make_siren(55555555)).exists()
    assert services.approve_request(req, acting_user=world.ans).operator.siren == make_siren(55555555)


def test_the_applicant_and_the_legal_representatives_hear_each_other_s_comments(world, make_user,
                                                                                django_capture_on_commit_callbacks):
    applicant = make_user("newcomer3")
    req = apply(applicant, 12345678, "Opérateur A")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_request(req, acting_user=world.legal, text="Qui êtes-vous ?")
    assert any(applicant.email in m.to and "Qui êtes-vous ?" in m.body for m in mail.outbox)
    assert not any(world.legal.email in m.to for m in mail.outbox)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_request(req, acting_user=applicant, text="La nouvelle présidente.")
    assert any(world.legal.email in m.to and "La nouvelle présidente." in m.body for m in mail.outbox)
    assert any(world.ans.email in m.to for m in mail.outbox)
    assert not any(applicant.email in m.to for m in mail.outbox)


def test_a_hand_over_does_not_show_one_applicant_s_name_to_another(world, make_user):
    first, second = make_user("zoe.discrete"), make_user("second")
    adhesion = apply(first, 66666666, "Imagerie Discrète")
    waiting = apply(second, 66666666, "Imagerie Discrète")
    services.cancel_request(adhesion, acting_user=first)
    event = waiting.events.order_by("-pk").first()
    assert event.actor is None and first.display_name not in event.text
    entry = AuditEntry.objects.get(action="request.requalified", object_id=str(waiting.pk))
    assert entry.actor == first

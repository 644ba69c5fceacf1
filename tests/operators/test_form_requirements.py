"""Forms that say what they need (issue 16, item 2): the required markers are the submission rules of each kind of
request; every error is shown next to its field and counted in the summary, action forms included; a submission
reports all its problems at once; an action form sent twice acts once."""
import pytest
from django.urls import reverse

from operators import services
from operators.forms.onboarding import ApplicationForm
from operators.models import (
    DECLARATION_KINDS,
    ONBOARDING_KINDS,
    AttachmentKind,
    DrimboxRequest,
    RequestEvent,
    RequestKind,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from operators.request_data import REQUIRED, required_to_submit
from operators.services.requests import submittable_data
from tests.conftest import application_data, pdf_upload
from tests.operators.test_double_submit import token_of_field
from tests.support import form_html
from tests.support import lifecycle as lc
from tests.support.weather import make_drimboxes
from trustspace.errors import InvalidData
from trustspace.models import AuditEntry, FormSubmission

pytestmark = pytest.mark.django_db


def form_page(client, kind, drimbox):
    url = reverse("request_create", args=[kind])
    return client.get(url + (f"?drimbox={drimbox.pk}" if kind not in DECLARATION_KINDS else ""))


# --- required markers: the submission rules ------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(RequestKind))
def test_the_required_markers_are_the_submission_rules_of_every_kind(world, client, kind):
    """What a page marks as required is exactly what submitting refuses to go without (the empty request)."""
    drimbox = make_drimboxes(world.operator, 1)[0]
    if kind in ONBOARDING_KINDS:  # filed through « Enregistrer mon opérateur »
        client.force_login(world.other)
        response = client.get(reverse("operator_register"))
        # The service sets the contract version; accepting the contract is asked when filing only.
        expected = (set(required_to_submit(kind)) - {"contract_version"}) | {"contract_accepted"}
    else:
        client.force_login(world.legal)
        response = form_page(client, kind, drimbox)
        expected = set(required_to_submit(kind)) | ({"drimbox_ref"} if kind == RequestKind.SWITCH else set())
    assert response.status_code == 200
    form = response.context["form"]
    doc = form_html.parse(response)
    marked = {field.name for field in form.visible_fields() if form_html.marked_required(doc, field)}
    assert marked == expected, kind

    # The rule itself: an empty request of this kind is refused on exactly those fields and pieces (a card or a
    # proof of power, either, for an application: its two fields are each optional).
    names_none = kind in {RequestKind.DECLARATION} | ONBOARDING_KINDS
    req = DrimboxRequest.objects.create(kind=kind, operator=world.operator, data={}, created_by=world.legal,
                                        drimbox=None if names_none else drimbox)
    try:
        submittable_data(req)
        refused = set()
    except InvalidData as exc:
        refused = set(exc.field_errors) - {"legal_rep_card"}
    assert refused == set(required_to_submit(kind)), kind


def test_a_declaration_marks_its_five_fields_and_the_cgi_not_optional(world, client):
    client.force_login(world.legal)
    response = form_page(client, RequestKind.DECLARATION, None)
    doc = form_html.parse(response)
    form = response.context["form"]
    for name in ["structure_name", "structure_siren", "pacs", "db_addresses", "support_contact", "cgi"]:
        assert form_html.OPTIONAL not in form_html.label_text(doc, form[name]), name
    for name in ["structure_finess_juridique", "vi_addresses", "responsable_contact", "financing_order"]:
        assert form_html.OPTIONAL in form_html.label_text(doc, form[name]), name
    hint = doc.xpath("//*[@data-required-hint]")[0]
    assert "obligatoires pour soumettre" in form_html.text_of(hint)
    assert len(REQUIRED[RequestKind.DECLARATION]) == 5


def test_a_draft_may_still_leave_required_fields_empty(world, client):
    client.force_login(world.legal)
    response = client.post(reverse("request_create", args=["declaration"]), {"structure_name": "Clinique"})
    assert response.status_code == 302
    draft = DrimboxRequest.objects.get(kind=RequestKind.DECLARATION, operator=world.operator)
    assert draft.status == RequestStatus.DRAFT and draft.data["structure_name"] == "Clinique"


def test_an_attached_cgi_is_no_longer_asked_for_when_editing(world, client):
    client.force_login(world.legal)
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                  data=lc.declaration_data())
    doc_before = form_html.parse(client.get(reverse("request_edit", args=[req.pk])))
    assert "(Optionnel)" not in form_html.text_of(doc_before.xpath("//label[@for='id_cgi']")[0])
    services.add_attachment(req, acting_user=world.legal, kind=AttachmentKind.CGI, uploaded_file=lc.cgi_upload())
    doc_after = form_html.parse(client.get(reverse("request_edit", args=[req.pk])))
    assert "(Optionnel)" in form_html.text_of(doc_after.xpath("//label[@for='id_cgi']")[0])


def test_the_ans_decision_forms_mark_what_the_services_require(world, client):
    req = lc.submitted_declaration(world.operator, world.legal, data=lc.declaration_data())  # not funded
    services.assign_request(req, acting_user=world.ans)
    client.force_login(world.ans)
    response = client.get(reverse("request_detail", args=[req.pk]))
    doc = form_html.parse(response)
    context = response.context
    assert form_html.marked_required(doc, context["reject_form"]["reason"])  # « Motif du refus »: required
    assert form_html.marked_required(doc, context["changes_form"]["comment"])
    assert form_html.marked_required(doc, context["approve_form"]["override_reason"])
    assert not form_html.marked_required(doc, context["approve_form"]["comment"])
    assert "Motif du refus" in form_html.label_text(doc, context["reject_form"]["reason"])
    # And the services refuse the empty ones (the markers are not decoration).
    for run in (lambda: services.reject_request(req, acting_user=world.ans, reason=""),
                lambda: services.request_changes(req, acting_user=world.ans, comment=""),
                lambda: services.approve_request(req, acting_user=world.ans)):
        with pytest.raises(Exception) as excinfo:
            run()
        assert excinfo.value.field_errors
    services.cancel_request(req, acting_user=world.legal, reason="")  # the cancel reason is optional


def test_the_application_form_marks_its_documents(world, client):
    client.force_login(world.other)
    response = client.get(reverse("operator_register"))
    doc = form_html.parse(response)
    form = response.context["form"]
    assert form_html.marked_required(doc, form["contract_document"])
    assert form_html.marked_required(doc, form["contract_accepted"])
    assert not form_html.marked_required(doc, form["contact_phone"])
    editing = ApplicationForm(editing=True)
    assert not editing.fields["contract_document"].required  # already attached when editing


# --- every error next to its field, counted in the summary ----------------------------------------------------


def test_the_declaration_form_shows_each_error_on_its_field(world, client):
    client.force_login(world.legal)
    response = client.post(reverse("request_create", args=["declaration"]), {
        **lc.declaration_data(), "structure_siren": "123", "structure_finess_geographique": "ABC",
        "support_contact": "<script>x</script>", "db_addresses": "pas une adresse !"})
    assert response.status_code == 200
    form = response.context["form"]
    assert {"structure_siren", "structure_finess_geographique", "support_contact", "db_addresses"} <= set(form.errors)
    form_html.assert_form_errors_shown(response, form)


def test_the_application_form_shows_every_problem_at_once(world, client, make_user):
    client.force_login(make_user("distrait"))
    data = application_data(88888888, "", siren="123456789", postal_code="ABCDE")
    response = client.post(reverse("operator_register"), {**data, "contract_document": pdf_upload("contrat.pdf")})
    assert response.status_code == 200
    form = response.context["form"]
    # The form's own (name, contract) and the service's rules (SIREN's key, postal code) on the first attempt.
    assert {"name", "siren", "postal_code", "contract_accepted"} <= set(form.errors)
    form_html.assert_form_errors_shown(response, form)


def test_the_operator_form_shows_each_error_on_its_field(world, client):
    client.force_login(world.legal)
    operator = world.operator
    response = client.post(reverse("operator_update"), {
        "name": "", "siret": operator.siret, "address_line": operator.address_line, "postal_code": "ABCDE",
        "city": operator.city, "contact_email": "non", "contact_phone": "<script>x</script>"})
    form_html.assert_form_errors_shown(response, response.context["form"])


# --- action forms -------------------------------------------------------------------------------------------


def in_review(world):
    req = lc.submitted_declaration(world.operator, world.legal,
                                   data=lc.declaration_data(order=lc.make_order(world.operator, world.legal)))
    return services.assign_request(req, acting_user=world.ans)


def test_a_refusal_without_reason_is_shown_next_to_the_reason(world, client):
    req = in_review(world)
    client.force_login(world.ans)
    token = token_of_field(client.get(reverse("request_detail", args=[req.pk])), "reject-submission_token")
    before = (AuditEntry.objects.count(), RequestEvent.objects.count())
    response = client.post(reverse("request_reject", args=[req.pk]), {"reject-reason": "  ",
                                                                      "reject-submission_token": token})
    assert response.status_code == 200  # the page again, with the form as sent: no redirect, no banner only
    form = response.context["reject_form"]
    assert form.errors["reason"] == ["Le motif du refus est obligatoire."]
    doc = form_html.assert_form_errors_shown(response, form)
    assert form_html.summary_of(doc)[1] == [("Motif du refus : Le motif du refus est obligatoire.",
                                             "#id_reject-reason")]
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_REVIEW
    assert (AuditEntry.objects.count(), RequestEvent.objects.count()) == before
    # Then with a reason (the form shown again keeps its token: nothing was done): refused once.
    assert token_of_field(response, "reject-submission_token") == token
    done = client.post(reverse("request_reject", args=[req.pk]), {"reject-reason": "Hors périmètre.",
                                                                  "reject-submission_token": token})
    assert done.status_code == 302
    req.refresh_from_db()
    assert req.status == RequestStatus.REJECTED and req.decision_reason == "Hors périmètre."


@pytest.mark.parametrize(("url_name", "form_name", "data", "field"), [
    ("request_changes", "changes_form", {"changes-comment": ""}, "comment"),
    ("request_comment", "comment_form", {"comment-text": ""}, "text"),
    ("request_cancel", "cancel_form", {"cancel-reason": "x" * 2001}, "reason"),
    ("request_approve", "approve_form", {"kind": "declaration", "approve-comment": "ok\u202e"}, "comment"),
])
def test_every_action_form_shows_its_errors_next_to_its_field(world, client, url_name, form_name, data, field):
    req = in_review(world)
    client.force_login(world.legal if url_name == "request_cancel" else world.ans)
    response = client.post(reverse(url_name, args=[req.pk]), data)
    assert response.status_code == 200
    form = response.context[form_name]
    assert field in form.errors
    form_html.assert_form_errors_shown(response, form)
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_REVIEW


def test_an_unfunded_approval_asks_for_the_derogation_on_its_field(world, client):
    req = services.assign_request(lc.submitted_declaration(world.operator, world.legal, data=lc.declaration_data()),
                                  acting_user=world.ans)
    client.force_login(world.ans)
    response = client.post(reverse("request_approve", args=[req.pk]), {"kind": "declaration"})
    assert response.status_code == 200
    form = response.context["approve_form"]
    assert form.errors["override_reason"][0].startswith("DRIMbox non financée")
    form_html.assert_form_errors_shown(response, form)


def test_a_submission_reports_every_problem_at_once_next_to_each(world, client):
    """The missing CGI is said on the first attempt, with the missing and malformed fields."""
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                  data={"structure_name": "Clinique", "structure_finess_geographique": lc.finess(7)})
    client.force_login(world.legal)
    response = client.post(reverse("request_submit", args=[req.pk]))
    assert response.status_code == 200
    doc = form_html.parse(response)
    problems = doc.xpath("//*[@data-submit-problems]//li")
    texts = [form_html.text_of(item) for item in problems]
    assert any(text.startswith("SIREN de la structure") and "obligatoire" in text for text in texts)
    assert any("Conditions Générales d'Intégration" in text for text in texts)
    assert any(text.startswith("Identifiant du PACS") for text in texts)
    title = form_html.text_of(doc.xpath("//*[@data-submit-problems]//*[contains(@class, 'fr-alert__title')]")[0])
    assert title == f"La demande n'est pas soumise : {len(problems)} points à corriger"
    for name in ["structure_siren", "pacs", "db_addresses"]:
        value = by_field(doc, name)
        assert value.get("aria-describedby") == f"champ-{name}-erreur"
        assert "fr-error-text" in form_html.by_id(doc, f"champ-{name}-erreur").xpath(".//span")[0].get("class")
    # The missing piece: on the attachment form's file input, its kind chosen.
    attachment = response.context["attachment_form"]
    assert attachment["kind"].value() == AttachmentKind.CGI
    form_html.assert_error_next_to_field(doc, attachment["file"])
    for _text, href in [(t, item.xpath(".//a/@href")[0]) for t, item in zip(texts, problems, strict=True)]:
        assert form_html.by_id(doc, href[1:]) is not None
    req.refresh_from_db()
    assert req.status == RequestStatus.DRAFT


def by_field(doc, name):
    term = form_html.by_id(doc, f"champ-{name}")
    return term.getnext()


# --- no double submit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url_name", "prefix", "data", "actor"), [
    ("request_submit", "submit", {}, "legal"),
    ("request_reject", "reject", {"reject-reason": "Hors périmètre."}, "ans"),
    ("request_changes", "changes", {"changes-comment": "Précisez le PACS."}, "ans"),
    ("request_approve", "approve", {"kind": "declaration"}, "ans"),
    ("request_cancel", "cancel", {"cancel-reason": ""}, "legal"),
    ("request_assign", "assign", {}, "ans"),
])
def test_an_action_form_sent_twice_acts_once(world, client, url_name, prefix, data, actor):
    if url_name == "request_submit":
        req = services.create_request(acting_user=world.legal, operator=world.operator,
                                      kind=RequestKind.DECLARATION, data=lc.declaration_data(
                                          order=lc.make_order(world.operator, world.legal)))
        services.add_attachment(req, acting_user=world.legal, kind=AttachmentKind.CGI, uploaded_file=lc.cgi_upload())
    elif url_name == "request_assign":
        req = lc.submitted_declaration(world.operator, world.legal)
    else:
        req = in_review(world)
    client.force_login(getattr(world, actor))
    page = client.get(reverse("request_detail", args=[req.pk]))
    token = token_of_field(page, f"{prefix}-submission_token")
    events, audits = RequestEvent.objects.filter(request=req).count(), AuditEntry.objects.count()

    first = client.post(reverse(url_name, args=[req.pk]), {**data, f"{prefix}-submission_token": token})
    assert first.status_code == 302, first.content.decode()[:2000]
    req.refresh_from_db()
    status, events_after, audits_after = req.status, RequestEvent.objects.filter(request=req).count(), \
        AuditEntry.objects.count()
    assert events_after > events and audits_after > audits

    second = client.post(reverse(url_name, args=[req.pk]), {**data, f"{prefix}-submission_token": token})
    assert second.status_code == 302 and second["Location"] == reverse("request_detail", args=[req.pk])
    followed = client.get(second["Location"])
    assert "Ce formulaire a déjà été envoyé" in followed.content.decode()
    req.refresh_from_db()
    assert req.status == status
    assert RequestEvent.objects.filter(request=req).count() == events_after
    assert AuditEntry.objects.count() == audits_after
    assert FormSubmission.objects.filter(user=getattr(world, actor), token=token).count() == 1


def test_every_action_form_of_the_request_page_carries_a_token(world, client):
    req = in_review(world)
    client.force_login(world.ans)
    doc = form_html.parse(client.get(reverse("request_detail", args=[req.pk])))
    for form in doc.xpath("//form[@method='post']"):
        if form.get("action") in {reverse("logout"), reverse("switch_operator")}:
            continue
        assert form.xpath(".//input[contains(@name, 'submission_token')]"), form.get("action")


# --- VA documents -------------------------------------------------------------------------------------------


@pytest.fixture
def submitted_va(world):
    drimbox = lc.active_drimbox(world.operator, world.legal, world.ans)
    va = VaDocument.objects.get(drimbox=drimbox)
    return services.upload_va(va, acting_user=world.technical, uploaded_file=pdf_upload("va.pdf"))


def test_a_va_refusal_without_reason_is_shown_next_to_its_field(world, client, submitted_va):
    client.force_login(world.ans)
    page = client.get(reverse("ans_va"))
    doc = form_html.parse(page)
    assert form_html.marked_required(doc, page.context["to_review"][0].refuse_form["reason"])
    response = client.post(reverse("va_refuse", args=[submitted_va.pk]), {"reason": ""})
    assert response.status_code == 200
    form = response.context["failed_form"]
    assert form.errors["reason"] == ["Le motif du refus est obligatoire."]
    form_html.assert_form_errors_shown(response, form)
    submitted_va.refresh_from_db()
    assert submitted_va.status == VaStatus.SUBMITTED


def test_a_va_deposit_without_file_is_shown_next_to_the_file(world, client):
    drimbox = lc.active_drimbox(world.operator, world.legal, world.ans)
    va = VaDocument.objects.get(drimbox=drimbox)
    client.force_login(world.technical)
    response = client.post(reverse("va_upload", args=[va.pk]), {})
    assert response.status_code == 200
    form = response.context["failed_form"]
    assert form.errors["file"] == ["Choisissez le document VA à déposer (PDF)."]
    form_html.assert_form_errors_shown(response, form)


def test_a_va_decision_sent_twice_is_taken_once(world, client, submitted_va):
    client.force_login(world.ans)
    token = token_of_field(client.get(reverse("ans_va")), "submission_token")  # the first form: « Valider »
    audits = AuditEntry.objects.count()
    first = client.post(reverse("va_validate", args=[submitted_va.pk]), {"submission_token": token})
    assert first.status_code == 302
    submitted_va.refresh_from_db()
    assert submitted_va.status == VaStatus.VALIDATED
    after = AuditEntry.objects.count()
    assert after > audits
    second = client.post(reverse("va_validate", args=[submitted_va.pk]), {"submission_token": token})
    assert second.status_code == 302
    assert "Ce formulaire a déjà été envoyé : le document VA est déjà validé." in client.get(
        second["Location"]).content.decode()
    assert AuditEntry.objects.count() == after

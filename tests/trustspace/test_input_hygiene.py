"""Bidi and other control characters are refused in every text published or shown to others, with a French
message on the field (UI) or a structured 400 (API), and nothing written; the whitelist builder never publishes
them."""
import dataclasses
import html
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from operators import services
from operators.models import DrimboxRequest, Operator
from tests.conftest import pdf_upload
from tests.support import lifecycle as lc
from tests.support.api import API, api, error_of
from trustspace.errors import Conflict, InvalidData
from trustspace.models import AuditEntry
from trustspace.services import create_api_token
from trustspace.text import (
    BIDI_CONTROLS,
    describe_character,
    display_text_error,
    find_forbidden_character,
    remove_forbidden_characters,
    validate_display_text,
)

RLO = "\u202e"
RLO_MESSAGE = ("Caractère de contrôle interdit (U+202E RIGHT-TO-LEFT OVERRIDE) : il pourrait tromper la lecture de "
               "ce texte.")


def page_text(response):
    return html.unescape(response.content.decode())


# --- the central function ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ch", sorted(BIDI_CONTROLS))
def test_every_bidi_control_is_refused_even_in_multiline_text(ch):
    assert find_forbidden_character(f"Opérateur{ch}A") == ch
    assert find_forbidden_character(f"ligne 1\nligne{ch} 2", multiline=True) == ch


@pytest.mark.parametrize(("ch", "name"), [
    ("\x00", "U+0000 NULL"), ("\x1b", "U+001B ESCAPE"), ("\x7f", "U+007F DELETE"), ("\x85", "U+0085 NEXT LINE"),
    ("\u200b", "U+200B ZERO WIDTH SPACE"), ("\u200d", "U+200D ZERO WIDTH JOINER"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"), ("\u2060", "U+2060 WORD JOINER"), ("\u00ad", "U+00AD SOFT HYPHEN"),
    ("\ue000", "U+E000 PRIVATE USE"), ("\U000f0000", "U+F0000 PRIVATE USE"), ("\ud800", "U+D800 SURROGATE"),
    ("\U0010fffe", "U+10FFFE UNASSIGNED"), ("\u2028", "U+2028 LINE SEPARATOR"),
])
def test_control_format_private_and_unassigned_characters_are_refused_and_named(ch, name):
    assert find_forbidden_character(f"a{ch}b") == ch
    assert find_forbidden_character(f"a{ch}b", multiline=True) == ch
    assert describe_character(ch) == name
    assert f"({name})" in display_text_error(f"a{ch}b")


def test_line_breaks_and_tabs_only_in_multiline_text():
    for ch, name in (("\n", "LINE FEED"), ("\r", "CARRIAGE RETURN"), ("\t", "CHARACTER TABULATION")):
        assert find_forbidden_character(f"a{ch}b", multiline=True) is None
        assert display_text_error(f"a{ch}b") == (
            f"Retour à la ligne ou tabulation interdit dans ce champ (U+{ord(ch):04X} {name}).")


@pytest.mark.parametrize("value", [
    "Opérateur Œuvre & Fils — « Imagerie » n° 2", "Ŝtraße ĳ 日本語 العربية עברית", "a\u00a0b\u202fc", "👍 😀",
    "", "   ",
])
def test_ordinary_text_of_any_script_passes(value):
    assert find_forbidden_character(value) is None


def test_names_from_the_identity_provider_can_be_cleaned_instead_of_refused():
    assert remove_forbidden_characters(f"Ali{RLO}ce\u200b Martin\n") == "Alice Martin"
    assert remove_forbidden_characters("Ligne\n2", multiline=True) == "Ligne\n2"
    assert remove_forbidden_characters("Élodie") == "Élodie"


def test_the_message_names_the_character():
    assert display_text_error(f"Opérateur{RLO}A") == RLO_MESSAGE


def test_validate_display_text_names_every_offending_field():
    with pytest.raises(InvalidData) as raised:
        validate_display_text({"name": f"x{RLO}", "city": "Paris", "comment": "a\nb", "contact": "a\u200bb"},
                              multiline={"comment"}, labels={"name": "raison sociale"})
    assert raised.value.code == "forbidden_character"
    assert set(raised.value.field_errors) == {"name", "contact"}
    assert raised.value.field_errors["name"] == [RLO_MESSAGE]
    assert "« raison sociale »" in raised.value.message and "U+202E" in raised.value.message


# --- operators: names and contacts -------------------------------------------------------------------------


def test_operator_name_with_bidi_is_refused_in_the_ui_on_the_field(world, client):
    client.force_login(world.legal)
    before = AuditEntry.objects.count()
    data = {"name": f"Opérateur {RLO}A", "siret": world.operator.siret, "address_line": world.operator.address_line,
            "postal_code": world.operator.postal_code, "city": world.operator.city,
            "contact_email": world.operator.contact_email, "contact_phone": world.operator.contact_phone}
    response = client.post(reverse("operator_update"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [RLO_MESSAGE]
    assert RLO_MESSAGE in page_text(response)
    world.operator.refresh_from_db()
    assert world.operator.name == "Opérateur A"
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("field", ["name", "address_line", "city", "contact_phone"])
def test_operator_fields_with_control_characters_are_a_structured_400_in_the_api(world, field):
    before = AuditEntry.objects.count()
    response = api(world.legal).patch(f"{API}/operators/{world.operator.pk}/", {field: "x\u2066y"}, format="json")
    error = error_of(response, 400)
    assert error["code"] == "forbidden_character"
    assert "U+2066 LEFT-TO-RIGHT ISOLATE" in error["fields"][field][0]
    world.operator.refresh_from_db()
    assert "\u2066" not in getattr(world.operator, field)
    assert AuditEntry.objects.count() == before


def test_support_contact_refused_in_the_ui_and_the_api(world, client):
    before = AuditEntry.objects.count()
    client.force_login(world.technical)
    response = client.post(reverse("support_contact_update"), {"support_contact": f"support@a.fr{RLO}"})
    assert response.status_code == 200
    assert response.context["form"].errors["support_contact"] == [RLO_MESSAGE]
    response = api(world.technical).put(f"{API}/operators/{world.operator.pk}/support-contact/",
                                        {"support_contact": "support@a.fr\u200f"}, format="json")
    assert "U+200F RIGHT-TO-LEFT MARK" in error_of(response, 400)["fields"]["support_contact"][0]
    world.operator.refresh_from_db()
    assert world.operator.support_contact == "" or find_forbidden_character(world.operator.support_contact) is None
    assert AuditEntry.objects.count() == before


def test_contract_text_may_span_lines_but_holds_no_bidi(world):
    with pytest.raises(InvalidData) as raised:
        services.publish_contract_version(acting_user=world.ans, version="2026-09", title="V9",
                                          body=f"Article 1\n\tTexte{RLO} inversé.")
    assert set(raised.value.field_errors) == {"body"}
    with pytest.raises(InvalidData) as raised:
        services.publish_contract_version(acting_user=world.ans, version="2026-09", title="V9\nbis", body="Texte.")
    assert set(raised.value.field_errors) == {"title"}
    contract = services.publish_contract_version(acting_user=world.ans, version="2026-09", title="V9",
                                                 body="Article 1\n\tTexte.\r\nArticle 2")
    assert contract.body.startswith("Article 1\n\t")


# --- DRIMbox requests: data fields and comments ------------------------------------------------------------


@pytest.mark.parametrize("field", ["structure_name", "responsable_contact", "support_contact", "pacs"])
def test_request_data_fields_refused_in_the_api(world, field):
    data = lc.declaration_data()
    data[field] = data[field] + "\u202d"
    response = api(world.legal).post(f"{API}/operators/{world.operator.pk}/requests/",
                                     {"kind": "declaration", "data": data}, format="json")
    error = error_of(response, 400)
    assert "U+202D LEFT-TO-RIGHT OVERRIDE" in error["fields"][field][0]
    assert not DrimboxRequest.objects.filter(kind="declaration").exists()


def test_request_data_refused_in_the_ui_on_the_field(world, client):
    client.force_login(world.legal)
    data = lc.declaration_data()
    data["responsable_contact"] = f"responsable@example.fr{RLO}"
    response = client.post(reverse("request_create", args=["declaration"]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["responsable_contact"] == [RLO_MESSAGE]
    assert not DrimboxRequest.objects.filter(kind="declaration").exists()


def test_request_comments_refused_in_the_ui_and_the_api_multiline_accepted(world, client):
    req = lc.submitted_declaration(world.operator, world.legal)
    events = req.events.count()
    client.force_login(world.legal)
    response = client.post(reverse("request_comment", args=[req.pk]), {"comment-text": f"Bonjour{RLO}"}, follow=True)
    assert RLO_MESSAGE in page_text(response)
    response = api(world.ans).post(f"{API}/requests/{req.pk}/comments/", {"text": "a\x1bb"}, format="json")
    assert "U+001B ESCAPE" in error_of(response, 400)["fields"]["text"][0]
    assert req.events.count() == events
    services.comment_request(req, acting_user=world.legal, text="Ligne 1\nLigne 2")
    assert req.events.count() == events + 1


def test_ans_decisions_refused_with_nothing_written(world):
    req = services.assign_request(lc.submitted_declaration(world.operator, world.legal), acting_user=world.ans)
    before = (AuditEntry.objects.count(), req.events.count())
    for call, field in (
        (lambda: services.request_changes(req, acting_user=world.ans, comment=f"Corrigez{RLO}"), "comment"),
        (lambda: services.reject_request(req, acting_user=world.ans, reason=f"Refus{RLO}"), "reason"),
        (lambda: services.approve_request(req, acting_user=world.ans, comment=f"OK{RLO}"), "comment"),
        (lambda: services.approve_request(req, acting_user=world.ans, override_reason=f"Dérogation{RLO}"),
         "override_reason"),
        (lambda: services.cancel_request(req, acting_user=world.legal, reason=f"Annulée{RLO}"), "reason"),
    ):
        with pytest.raises(InvalidData) as raised:
            call()
        assert raised.value.field_errors == {field: [RLO_MESSAGE]}
    req.refresh_from_db()
    assert (AuditEntry.objects.count(), req.events.count()) == before


def test_va_refusal_reason_refused_in_the_api(world):
    drimbox = lc.active_drimbox(world.operator, world.legal, world.ans)
    va = services.upload_va(drimbox.va_documents.get(), acting_user=world.technical, uploaded_file=pdf_upload("va.pdf"))
    response = api(world.ans).post(f"{API}/va/{va.pk}/refuse/", {"reason": f"Illisible{RLO}"}, format="json")
    assert error_of(response, 400)["fields"]["reason"] == [RLO_MESSAGE]
    va.refresh_from_db()
    assert va.refusal_reason == ""


# --- weather, whitelist, GitHub answers, API tokens, people ------------------------------------------------


def test_weather_comment_and_maintenance_reason_refused(world):
    from tests.support.weather import incident
    from weather import services as weather_services

    drimbox = lc.active_drimbox(world.operator, world.legal, world.ans)
    now = timezone.now()
    opened = incident(drimbox, now - timedelta(minutes=30))
    with pytest.raises(InvalidData) as raised:
        weather_services.acknowledge_incident(opened, acting_user=world.technical, comment=f"Vu{RLO}")
    assert raised.value.field_errors == {"comment": [RLO_MESSAGE]}
    opened.refresh_from_db()
    assert opened.acknowledged_at is None
    with pytest.raises(InvalidData) as raised:
        weather_services.declare_maintenance(drimbox, acting_user=world.technical, starts_at=now + timedelta(hours=1),
                                              ends_at=now + timedelta(hours=2), reason=f"Mise à jour{RLO}")
    assert raised.value.field_errors == {"reason": [RLO_MESSAGE]}
    assert not drimbox.maintenance_windows.exists()


def test_whitelist_version_comment_refused(world):
    from whitelist import services as whitelist_services
    from whitelist.models import WhitelistVersion

    with pytest.raises(InvalidData) as raised:
        whitelist_services.prepare_version(acting_user=world.ans, comment=f"Publication{RLO}")
    assert raised.value.field_errors == {"comment": [RLO_MESSAGE]}
    assert not WhitelistVersion.objects.exists()


def test_github_answer_refused(world):
    from whitelist import services as whitelist_services
    from whitelist.models import GitHubIssueRequest, GitHubIssueStatus

    request = GitHubIssueRequest.objects.create(
        repository="ansforge/DRIM-M_DATA", issue_number=7, title="[Update]: DRIMbox", kind="update",
        author_login="someone", html_url="https://github.com/ansforge/DRIM-M_DATA/issues/7",
        github_created_at=timezone.now(), status=GitHubIssueStatus.TO_REVIEW)
    with pytest.raises(InvalidData) as raised:
        whitelist_services.decide(request, acting_user=world.ans, accept=False, comment=f"Refusé{RLO}")
    assert raised.value.field_errors == {"comment": [RLO_MESSAGE]}
    request.refresh_from_db()
    assert request.status == GitHubIssueStatus.TO_REVIEW


def test_api_token_name_refused(world):
    with pytest.raises(InvalidData) as raised:
        create_api_token(acting_user=world.legal, name=f"supervision{RLO}")
    assert raised.value.field_errors == {"name": [RLO_MESSAGE]}
    assert not world.legal.api_tokens.exists()


def test_membership_end_reason_refused(world):
    with pytest.raises(InvalidData) as raised:
        services.remove_membership(world.technical_membership, acting_user=world.legal, reason=f"Départ{RLO}")
    assert raised.value.field_errors == {"reason": [RLO_MESSAGE]}
    world.technical_membership.refresh_from_db()
    assert world.technical_membership.ended_at is None


# --- notification channels ---------------------------------------------------------------------------------
# There is no API for the channels (the legal representative sets them in the portal): the service, which a
# command or a future API would call, refuses them the same way.


@pytest.mark.parametrize(("field", "value"), [
    ("technical_mailbox", f"exploitation@op-a.fr{RLO}"),
    ("webhook_url", f"https://hooks.op-a.fr/drimm{RLO}"),
])
def test_notification_channels_refused_in_the_ui_on_the_field(world, client, field, value):
    client.force_login(world.legal)
    before = AuditEntry.objects.count()
    data = {"technical_mailbox": "", "webhook_url": "", field: value}
    response = client.post(reverse("operator_channels", args=[world.operator.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [RLO_MESSAGE]
    assert RLO_MESSAGE in page_text(response)
    world.operator.refresh_from_db()
    assert (world.operator.technical_mailbox, world.operator.webhook_url) == ("", "")
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(("field", "value", "named"), [
    ("technical_mailbox", "exploi\x1btation@op-a.fr", "U+001B ESCAPE"),
    ("technical_mailbox", "exploitation@op-a.fr\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("webhook_url", "https://hooks.op-a.fr/\u200bdrimm", "U+200B ZERO WIDTH SPACE"),
    ("webhook_url", "https://hooks.op-a.fr/a\nb", "U+000A LINE FEED"),
])
def test_notification_channels_refused_by_the_service(world, field, value, named):
    before = AuditEntry.objects.count()
    with pytest.raises(InvalidData) as raised:
        services.set_channels(world.operator, acting_user=world.legal,
                              **{"technical_mailbox": "", "webhook_url": "", field: value})
    assert raised.value.code == "forbidden_character"
    assert named in raised.value.field_errors[field][0]
    world.operator.refresh_from_db()
    assert (world.operator.technical_mailbox, world.operator.webhook_url) == ("", "")
    assert AuditEntry.objects.count() == before


# --- financing orders: every text of an order ----------------------------------------------------------------

ORDER_FIELDS = {  # field -> a value with a forbidden character (the UI and the API send the same names)
    "reference": f"BC-{RLO}2026",
    "client_name": f"Centre d'imagerie {RLO}du Lac",
    "ris_order_reference": f"RIS-{RLO}1",
    "takeover_name": f"Cabinet {RLO}Ancien",
    "pacs_identifiers": f"PACS-{RLO}LAC",
}


def _order_form(**changes):
    data = {"reference": "BC-HYG-1", "pacs_identifiers": "PACS-HYG-1", "client_siren": lc.siren(46000001),
            "client_name": "Imagerie du Lac", "activity_2023": "oui", "finess_geographiques": lc.finess(9801),
            "am_numbers": lc.am_number(9801), "ris_wave": "vague_2", "ris_order_reference": "R-1"}
    return {**data, **changes}


@pytest.mark.parametrize("field", sorted(ORDER_FIELDS))
def test_financing_order_text_refused_in_the_ui_on_the_field(world, client, field):
    from operators.models import FinancingOrder

    client.force_login(world.legal)
    before = AuditEntry.objects.count()
    response = client.post(reverse("financing_orders"), _order_form(**{field: ORDER_FIELDS[field]}))
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [RLO_MESSAGE]
    assert RLO_MESSAGE in page_text(response)
    assert not FinancingOrder.objects.exists()
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("field", sorted(ORDER_FIELDS))
def test_financing_order_text_refused_in_the_api(world, field):
    from operators.models import FinancingOrder

    body = {"reference": "BC-HYG-2", "pacs_identifiers": ["PACS-HYG-2"], **lc.client_fields(9802)}
    value = ORDER_FIELDS[field].replace(RLO, "\u2067")
    body[field] = [value] if field == "pacs_identifiers" else value
    before = AuditEntry.objects.count()
    response = api(world.legal).post(f"{API}/operators/{world.operator.pk}/financing-orders/", body, format="json")
    error = error_of(response, 400)
    assert error["code"] == "forbidden_character"
    assert "U+2067 RIGHT-TO-LEFT ISOLATE" in error["fields"][field][0]
    assert not FinancingOrder.objects.exists()
    assert AuditEntry.objects.count() == before


def test_financing_order_changes_refused_in_the_ui_and_the_api(world, client):
    """Adding or correcting a client, adding PACS, closing: the same refusal, nothing written."""
    order = lc.make_order(world.operator, world.legal)
    row = order.clients.get()
    ris_reference = row.ris_order_reference
    client.force_login(world.legal)
    before = (AuditEntry.objects.count(), order.clients.count(), len(order.pacs_list))
    response = client.post(reverse("financing_order_client_add", args=[order.pk]), {
        "client-client_siren": lc.siren(46000002), "client-client_name": f"Clinique{RLO}",
        "client-activity_2023": "oui", "client-finess_geographiques": lc.finess(9803)})
    assert response.status_code == 200
    assert response.context["client_form"].errors["client_name"] == [RLO_MESSAGE]
    response = client.post(reverse("financing_order_pacs_add", args=[order.pk]), {"pacs-pacs_identifiers": f"P{RLO}"})
    assert response.context["pacs_form"].errors["pacs_identifiers"] == [RLO_MESSAGE]

    legal = api(world.legal)
    base = f"{API}/financing-orders/{order.pk}/"
    for response, field in (
        (legal.post(base + "clients/", {**lc.client_fields(9804), "takeover_name": "a\x1bb"}, format="json"),
         "takeover_name"),
        (legal.put(base + f"clients/{row.pk}/", {**lc.client_fields(9805, siren_value=row.siren),
                                                  "ris_order_reference": "RIS\u202a"}, format="json"),
         "ris_order_reference"),
        (legal.post(base + "pacs/", {"pacs_identifiers": ["PACS\tB"]}, format="json"), "pacs_identifiers"),
        (api(world.ans).post(base + "close/", {"reason": f"Fermée{RLO}"}, format="json"), "reason"),
    ):
        error = error_of(response, 400)
        assert error["code"] == "forbidden_character" and list(error["fields"]) == [field], error
    order.refresh_from_db()
    row.refresh_from_db()
    assert (AuditEntry.objects.count(), order.clients.count(), len(order.pacs_list)) == before
    assert order.is_active and row.ris_order_reference == ris_reference


def test_uploaded_file_names_are_shown_without_hidden_characters(world):
    """The name of an uploaded PDF is the link to it (order page, request timeline, VA): a U+202E would make
    « …fdp.exe » read « …exe.pdf ». The browser's multipart upload already loses it; other callers too."""
    def named(name):
        return SimpleUploadedFile(name, lc.signed_order_upload().read(), "application/pdf")

    order = lc.make_order(world.operator, world.legal, signed=False)
    services.attach_order_document(order, acting_user=world.legal, kind="bon_signe",
                                   uploaded_file=named(f"bon{RLO}fdp.exe"))
    order.refresh_from_db()
    assert order.signed_original_name == "bonfdp.exe"
    services.attach_order_document(order, acting_user=world.legal, kind="bon_signe",
                                   uploaded_file=named(f"{RLO}\u200b"))
    order.refresh_from_db()
    assert order.signed_original_name == "bon-de-commande.pdf"  # nothing left: the default name
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind="declaration",
                                  data=lc.declaration_data())
    attachment = services.add_attachment(req, acting_user=world.legal, kind="autre",
                                         uploaded_file=named(f"piece{RLO}.pdf"))
    assert attachment.original_name == "piece.pdf"
    assert req.events.filter(text__contains=RLO).count() == 0


# --- what DRIMboxes and probes send: certificates and probe errors ------------------------------------------


def test_a_certificate_whose_subject_holds_a_bidi_control_is_refused(world):
    from certificates.models import Certificate

    drimbox = lc.declared_drimbox(world.operator, world.legal, world.ans)
    pem = lc.shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=world.operator.id_nat_struct,
                                         organization=f"Opérateur {RLO}A").chain_pem
    response = api(world.technical).post(f"{API}/drimboxes/{drimbox.identifiant}/certificates/",
                                         {"file": SimpleUploadedFile("db.pem", pem)}, format="multipart")
    error = error_of(response, 400)
    assert error["code"] == "invalid_certificate"
    assert error["message"] == ("Le certificat est refusé : son sujet contient un caractère qui ne s'affiche pas "
                                f"tel quel. {RLO_MESSAGE}")
    assert not Certificate.objects.filter(drimbox=drimbox).exists()


def test_a_probe_error_is_stored_without_hidden_characters(world):
    from tests.support import weather as wx
    from weather import services as weather_services
    from weather.models import LocationObservation

    box = wx.make_drimboxes(world.operator, 1)[0]
    weather_services.record_observations("paris", [{
        "identifiant": box.identifiant, "checked_at": timezone.now(), "status": "failing", "db_ok": False,
        "db_error": f"db : le certificat présenté est « evil{RLO}moc.etneS »\x1b[31m", "vi_ok": True,
        "vi_error": "", "latency_ms": 5}])
    observation = LocationObservation.objects.get(drimbox=box)
    assert observation.db_error == "db : le certificat présenté est « evilmoc.etneS »[31m"


# --- the signed whitelist never publishes them -------------------------------------------------------------


def test_the_builder_refuses_a_stored_value_with_a_bidi_control(world):
    """Defence in depth: a value written around the services (older data, SQL) stops the build in French."""
    from whitelist import builder
    from whitelist import services as whitelist_services
    from whitelist.models import WhitelistVersion

    lc.active_drimbox(world.operator, world.legal, world.ans)
    entries = builder.current_entries()
    assert entries and builder.render(entries, generated_at=timezone.now())
    Operator.objects.filter(pk=world.operator.pk).update(name=f"Opérateur {RLO}A")
    with pytest.raises(Conflict) as raised:
        builder.render(builder.current_entries(), generated_at=timezone.now())
    assert raised.value.code == "forbidden_character"
    assert "Denomination" in raised.value.message and "U+202E RIGHT-TO-LEFT OVERRIDE" in raised.value.message
    with pytest.raises(Conflict):
        whitelist_services.prepare_version(acting_user=world.ans)
    assert not WhitelistVersion.objects.exists()
    for field in ("support_contact", "responsable_contact", "dn_certificat_operateur"):
        tainted = dataclasses.replace(entries[0], **{field: getattr(entries[0], field) + "\x07"})
        with pytest.raises(Conflict, match="U\\+0007"):
            builder.render([tainted], generated_at=timezone.now())


def test_the_email_from_the_identity_provider_loses_bidi_and_invisible_characters_too(db):
    """The e-mail is shown to others (people pages, ANS back office) like the names."""
    from trustspace import services
    from trustspace.oidc import profile_from_claims

    claims = {"email": f"eve{RLO}moc.liam@exa\u200bmple.fr", "given_name": "Eve", "family_name": "Malory"}
    user = services.create_user_from_identity(sub="x", profile=profile_from_claims(claims), is_ans_admin=False,
                                              is_superuser=False, source="connexion iSC")
    assert user.email == "evemoc.liam@example.fr"

"""django-dsfr's component tags where the portal had hand-written markup (issue 16, item 1), and the DSFR markup
where a tag does not fit: the one-time messages as alerts (escaped, polite unless an error), the pagination with
page numbers keeping the filters, the status badges, the steppers of the operator's journey and of a request's
instruction."""
import re
from html import unescape
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.paginator import Paginator
from django.template.loader import render_to_string
from django.test import RequestFactory

from operators.models import RequestStatus
from operators.templatetags.journey_dsfr import journey_stepper, next_step_callout, request_stepper
from trustspace.views import pages


def _request(path="/mentions-legales/"):
    request = RequestFactory().get(path)
    request.user, request.session = AnonymousUser(), SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_messages_are_dsfr_alerts_of_their_level_with_their_text_escaped():
    request = _request()
    messages.success(request, "Demande DEM-1 enregistrée.")
    messages.warning(request, "Révocation non vérifiable.")
    messages.error(request, "Nom refusé : <script>alert(1)</script>")
    html = pages.legal_notice(request).content.decode()
    alerts = re.findall(r'<div class="fr-alert fr-alert--(\w+) fr-alert--sm" role="(\w+)"><p>(.*?)</p>', html, re.S)
    # only an error interrupts a screen reader (role alert); the others are announced politely (role status)
    assert alerts == [("success", "status", "Demande DEM-1 enregistrée."),
                      ("warning", "status", "Révocation non vérifiable."),
                      ("error", "alert", "Nom refusé : &lt;script&gt;alert(1)&lt;/script&gt;")]
    assert "<script>alert(1)" not in html


class _Anchors(HTMLParser):
    """(text, href, aria-current) of each link."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            attributes = dict(attrs)
            self.links.append(["", attributes.get("href"), attributes.get("aria-current") == "page"])

    def handle_data(self, data):
        if self.links:
            self.links[-1][0] += data


def _pagination(count, number, query="statut=envoye"):
    page = Paginator(range(count), 10).get_page(number)
    parser = _Anchors()
    parser.feed(render_to_string("operators/includes/pagination.html", {"page": page},
                                 request=RequestFactory().get(f"/ans/envois/?{query}&page={number}")))
    return [(" ".join(text.split()), href, current) for text, href, current in parser.links]


def test_the_pagination_lists_pages_around_the_current_one_and_keeps_the_filters():
    links = _pagination(100, 5)
    assert [text for text, _href, _current in links] == [
        "Première page", "Page précédente", "1", "2", "3", "4", "5", "6", "…", "9", "10", "Page suivante",
        "Dernière page"]
    assert ("5", "?statut=envoye&page=5", True) in links
    assert ("Page suivante", "?statut=envoye&page=6", False) in links
    first = _pagination(100, 1)
    assert ("Première page", None, False) in first and ("Page précédente", None, False) in first  # no link back
    assert render_to_string("operators/includes/pagination.html",
                            {"page": Paginator(range(5), 10).get_page(1)}).strip() == ""


def test_status_badges_come_from_the_dsfr_tag():
    html = render_to_string("operators/includes/request_status.html", {"status": "a_completer",
                                                                       "label": "Modifications demandées"})
    assert re.fullmatch(r'\s*<p class="fr-badge fr-badge--warning fr-badge--sm">\s*Modifications demandées\s*</p>\s*',
                        html)
    html = render_to_string("operators/includes/drimbox_status.html", {"status": "active", "dns_pending": True})
    assert re.search(r'<p class="fr-badge fr-badge--success fr-badge--sm">\s*Active\s*</p>', html)
    assert "data-dns-pending>DNS en attente" in html
    html = render_to_string("certificates/includes/state.html", {"state": "revoque"})
    assert re.search(r'<p class="fr-badge fr-badge--error fr-badge--sm">\s*Révoqué\s*</p>', html)


def _step(title, done):
    return SimpleNamespace(title=title, done=done)


def test_the_journey_stepper_stands_on_the_first_step_not_done():
    steps = [_step("Contrat d'adhésion", True), _step("Représentant légal", True),
             _step("Administrateurs techniques", False), _step("Déclarations de DRIMbox", True),
             _step("Certificats", False)]
    assert journey_stepper(steps) == {
        "current_step_id": 3, "total_steps": 5, "current_step_title": "Administrateurs techniques",
        "next_step_title": "Déclarations de DRIMbox", "heading_tag": "h3"}
    assert journey_stepper([_step(s.title, True) for s in steps]) is None  # all done: the home says so
    html = render_to_string("dsfr/stepper.html", {"self": journey_stepper(steps)})
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
    assert text == "Étape 3 sur 5 Administrateurs techniques Étape suivante : Déclarations de DRIMbox"
    assert 'data-fr-current-step="3"' in html and 'data-fr-steps="5"' in html


def test_the_next_step_is_a_dsfr_callout_with_its_button():
    step = SimpleNamespace(title="Contrat d'adhésion", detail="La version 2026-01 est à accepter avant toute démarche.",
                           url="/espace/contrat/", action="Lire et accepter le contrat")
    html = render_to_string("dsfr/callout.html", {"self": next_step_callout(step)})
    assert re.search(r'<div class="fr-callout\s+fr-mb-4w">\s*<h2 class="fr-callout__title">\s*Prochaine étape : '
                     r"Contrat d&#x27;adhésion\s*</h2>", html)
    assert re.search(r'<p class="fr-callout__text">\s*La version 2026-01 est à accepter', html)
    assert '<a href="/espace/contrat/" class="fr-btn">Lire et accepter le contrat</a>' in html
    step.url = ""  # a step nobody can open from here: no button
    assert "fr-btn" not in render_to_string("dsfr/callout.html", {"self": next_step_callout(step)})


@pytest.mark.parametrize(("status", "step", "title"), [
    (RequestStatus.DRAFT, 1, "Préparation de la demande"),
    (RequestStatus.CHANGES_REQUESTED, 1, "Demande à compléter (modifications demandées par l'ANS)"),
    (RequestStatus.SUBMITTED, 2, "Soumise à l'ANS"),
    (RequestStatus.IN_REVIEW, 3, "Instruction par l'ANS"),
    (RequestStatus.APPROVED, 4, "Approuvée par l'ANS"),
    (RequestStatus.REJECTED, 4, "Refusée par l'ANS"),
])
def test_the_request_stepper_follows_the_instruction(status, step, title):
    data = request_stepper(SimpleNamespace(status=status))
    assert (data["current_step_id"], data["total_steps"], data["current_step_title"]) == (step, 4, title)
    assert bool(data["next_step_title"]) == (step < 4)


def test_a_cancelled_request_has_no_stepper():
    assert request_stepper(SimpleNamespace(status=RequestStatus.CANCELLED)) is None


def test_the_signer_alert_is_of_its_level_with_its_text_escaped():
    html = render_to_string("whitelist/_signer_status.html", {"signer": SimpleNamespace(
        level="expired", alert="error", message="Certificat <b>expiré</b>", backend="PKCS#11")})
    assert re.search(r'<div class="fr-alert fr-alert--error fr-alert--sm fr-mb-3w" role="alert" '
                     r'data-signer-level="expired"><div><span data-error-message>Certificat &lt;b&gt;expiré&lt;/b&gt;'
                     r'</span>\s*</div></div>', html)


def test_the_personal_data_table_comes_from_the_dsfr_tag():
    html = unescape(pages.personal_data(_request("/donnees-personnelles/")).content.decode())
    table = html[html.index('<div class="fr-table fr-table--multiline">'):html.index("</table>")]
    assert re.search(r"<caption>\s*Données personnelles traitées par le portail\s*</caption>", table)
    assert re.findall(r'<th scope="col">\s*(.*?)\s*</th>', table) == ["Catégorie", "Données", "Origine"]
    rows = re.findall(r"<tr>\s*<td>\s*(.*?)\s*</td>", table)
    assert rows[0] == "Identité de connexion" and rows[-1] == "Journaux techniques" and len(rows) == 7


def _filter_forms():
    from operators.forms.history import AnsHistoryFilterForm
    from operators.forms.lifecycle import RegistrySearchForm, ReviewQueueFilterForm
    from operators.forms.lists import RequestFilterForm
    from operators.forms.space import OperatorSearchForm
    from trustspace.models import AuditEntry
    from weather.forms.board import AnsFilterForm, PublicFilterForm
    from weather.forms.incidents import AnsIncidentFilterForm, IncidentFilterForm
    return [RequestFilterForm(), ReviewQueueFilterForm(), RegistrySearchForm(), OperatorSearchForm(),
            AnsHistoryFilterForm(base=AuditEntry.objects.none()), PublicFilterForm(operators=[(1, "E-MEDIA")]),
            AnsFilterForm(), IncidentFilterForm(), AnsIncidentFilterForm()]


@pytest.mark.django_db
def test_search_forms_mark_no_field_optional_since_all_are():
    for form in _filter_forms():
        assert all(not field.required for field in form.fields.values()), type(form).__name__
        html = "".join(field.as_field_group() for field in form.visible_fields())
        labels = re.findall(r'<label for="id_(\w+)" class="fr-label">\s*(.*?)\s*</label>', html, re.S)
        assert [name for name, _ in labels] == [field.name for field in form.visible_fields()], type(form).__name__
        assert "Optionnel" not in html and "fr-input-group" in html, type(form).__name__
    # A form with required fields still marks its optional ones (DSFR_MARK_OPTIONAL_FIELDS).
    from operators.forms.space import OperatorForm
    assert "(Optionnel)" in OperatorForm()["siret"].as_field_group()

"""The breadcrumb (issue 16, item 1) from its one rule (trustspace.breadcrumbs): the menu entry the page belongs to
for this visitor, the pages in between, the page's title; kept when a form comes back with its errors from an
action address; absent from the home and error pages. The crawl test (tests/test_crawl.py) checks every page of
the demo for each role."""
import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from tests.support import lifecycle as lc

pytestmark = pytest.mark.django_db


def _trail(user, path, method="get", data=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    response = getattr(client, method)(path, data or {})
    html = unescape(response.content.decode())
    trail = re.search(r'<ol class="fr-breadcrumb__list">(.*?)</ol>', html, re.S)
    if trail is None:
        return response.status_code, None
    steps = re.findall(r'<a class="fr-breadcrumb__link"(?: href="([^"]+)")?( aria-current="page")?>\s*(.*?)\s*</a>',
                       trail.group(1), re.S)
    return response.status_code, [(href or None, text) if not current else ("page", text)
                                  for href, current, text in steps]


def test_a_page_two_levels_down_names_the_pages_in_between(world):
    drimbox = lc.active_drimbox(world.operator, world.legal, world.ans)
    path = reverse("drimbox_certificates", args=[drimbox.pk])
    name = f"DRIMbox {drimbox.identifiant}"
    assert _trail(world.technical, path) == (200, [
        ("/", "Accueil"), ("/espace/drimbox/", "Mes DRIMbox"), (f"/drimbox/{drimbox.pk}/", name),
        ("page", f"Certificats de la {name}")])
    # ANS reaches the same page from its registry.
    assert _trail(world.ans, path)[1][1] == ("/ans/registre/", "Registre des DRIMbox")


def test_a_form_sent_back_from_its_action_address_keeps_the_trail_of_its_page(world):
    drimbox = lc.active_drimbox(world.operator, world.legal, world.ans)
    name = f"DRIMbox {drimbox.identifiant}"
    status, trail = _trail(world.technical, reverse("certificate_db_upload", args=[drimbox.pk]), "post")
    assert status == 200  # no file: the page again, the error on its field
    assert trail == [("/", "Accueil"), ("/espace/drimbox/", "Mes DRIMbox"), (f"/drimbox/{drimbox.pk}/", name),
                     ("page", f"Certificats de la {name}")]


def test_each_visitor_reaches_a_page_from_the_menu_entry_holding_it(world):
    assert _trail(world.legal, reverse("request_list")) == (200, [("/", "Accueil"), ("page", "Demandes")])
    assert _trail(world.legal, reverse("person_invite")) == (
        200, [("/", "Accueil"), ("/espace/personnes/", "Personnes"), ("page", "Désigner une personne")])
    # A public page is in no menu of a logged-in operator: found among all menus, it is its own step.
    for user in (None, world.legal, world.ans):
        assert _trail(user, reverse("attestation_check")) == (
            200, [("/", "Accueil"), ("page", "Vérifier une attestation de délégation")]), user
    # ANS opens a request from its review queue, the operator from its requests.
    req = lc.submitted_declaration(world.operator, world.legal)
    assert _trail(world.ans, reverse("request_detail", args=[req.pk]))[1][1] == (
        "/ans/demandes/", "Demandes à instruire")
    assert _trail(world.legal, reverse("request_detail", args=[req.pk]))[1][1] == ("/espace/demandes/", "Mes demandes")


def test_no_breadcrumb_on_the_home_and_error_pages(world):
    for user in (None, world.legal, world.technical):
        assert _trail(user, "/") == (200, None), user
    assert _trail(world.ans, reverse("ans_home")) == (200, None)  # ANS's home: its work waiting
    assert _trail(world.legal, "/page-qui-n-existe-pas/") == (404, None)
    assert _trail(world.other, reverse("drimbox_certificates",
                                       args=[lc.active_drimbox(world.operator, world.legal, world.ans).pk])) == (
        404, None)

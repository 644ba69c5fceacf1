"""French error pages (issue 16, item 7): a form's action URL opened directly answers a French 405 page leading
back to the form's page, with the ``Allow`` header and the portal's CSP; the API keeps its structured errors."""
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from trustspace.services import create_api_token

pytestmark = pytest.mark.django_db


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_opening_a_form_action_answers_a_french_page_leading_back(world):
    token, _secret = create_api_token(acting_user=world.legal, name="ci")
    response = _client(world.legal).get(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 405 and response["Allow"] == "POST"
    html = unescape(response.content.decode())
    assert "elle ne s'affiche pas seule" in html and "Rien n'a été enregistré" in html
    # /compte/jetons/<pk>/ is no page: the link goes to the nearest page above, the token list.
    assert f'href="{reverse("api_tokens")}"' in html and "Revenir à la page du formulaire" in html
    assert "nonce-" in response["Content-Security-Policy"]
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_request_action_leads_back_to_its_request(world):
    from tests.support import lifecycle as lc

    submitted = lc.submitted_declaration(world.operator, world.legal)
    response = _client(world.legal).get(reverse("request_submit", args=[submitted.pk]))
    assert response.status_code == 405
    assert f'href="{reverse("request_detail", args=[submitted.pk])}"' in response.content.decode()


def test_the_api_keeps_its_structured_405(world):
    client = _client(world.legal)
    response = client.delete(reverse("api_me"))
    assert response.status_code == 405
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed", error
    assert "not allowed" not in error["message"], error  # French, not DRF's English default


def test_the_403_and_404_pages_are_french_pages_of_the_portal(world):
    client = _client(world.legal)
    denied = client.get(reverse("ans_alerts"))
    assert denied.status_code == 403
    html = unescape(denied.content.decode())
    assert "Vous n'avez pas accès à cette page." in html and "Retour à l'accueil" in html
    missing = client.get("/nulle-part/")
    assert missing.status_code == 404
    html = unescape(missing.content.decode())
    assert "Cette page n'existe pas ou vous n'y avez pas accès." in html and "<html" in html
    for response in (denied, missing):
        assert "nonce-" in response["Content-Security-Policy"]

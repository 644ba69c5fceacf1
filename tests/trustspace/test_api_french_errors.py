"""The API answers people in French too (issue 16, item 7): DRF's and Django's default messages (validation, 404,
405, parse errors, authentication) come out in French, with the machine ``code`` kept for programs."""
import re

import pytest
from django.urls import reverse

from tests.support.api import API, api, error_of

pytestmark = pytest.mark.django_db

# Words of DRF's and Django's English defaults; none may reach a person.
ENGLISH = re.compile(r"\b(this field|is required|enter a valid|is not a valid|not found|not allowed|invalid|"
                     r"authentication credentials|parse error|unsupported media|valid integer|must be)\b", re.I)


def assert_french(error):
    texts = [error["message"], *(text for texts in error["fields"].values() for text in texts)]
    assert not [text for text in texts if ENGLISH.search(text)], texts


def test_400_validation_messages_are_french_with_the_code_kept(world):
    client = api(world.legal)
    url = reverse("api_invitations", args=[world.operator.pk])
    missing = error_of(client.post(url, {"role": "administrateur_technique"}, format="json"), 400)
    assert missing["code"] == "invalid" and missing["message"] == "Données invalides."
    assert missing["fields"]["email"] == ["Ce champ est obligatoire."]
    wrong = error_of(client.post(url, {"email": "pas-un-courriel", "role": "roi"}, format="json"), 400)
    assert set(wrong["fields"]) == {"email", "role"}
    assert_french(missing)
    assert_french(wrong)


def test_400_bad_body_and_bad_parameters_are_french(world):
    client = api(world.legal)
    url = reverse("api_invitations", args=[world.operator.pk])
    broken = error_of(client.generic("POST", url, "{not json", content_type="application/json"), 400)
    assert broken["code"] == "parse_error" and broken["message"].startswith("Requête mal formée")
    paged = client.get(reverse("api_operators"), {"limit": "beaucoup"})
    assert_french(error_of(paged, 400))
    media = error_of(client.generic("POST", url, "email=x", content_type="text/plain"), 415)
    assert media["code"] == "unsupported_media_type"
    for error in (broken, media):
        assert_french(error)


def test_404_is_french_for_an_object_and_for_an_unknown_address(world):
    client = api(world.legal)
    absent = error_of(client.get(reverse("api_operator", args=[999_999])), 404)
    assert absent["code"] == "not_found"
    unknown = error_of(client.get(f"{API}/nulle-part/"), 404)
    assert unknown["code"] == "not_found"
    for error in (absent, unknown):
        assert_french(error)


def test_405_is_french_with_its_code(world):
    error = error_of(api(world.legal).delete(reverse("api_me")), 405)
    assert error["code"] == "method_not_allowed" and "DELETE" in error["message"]
    assert_french(error)


def test_401_is_french_with_its_code():
    error = error_of(api().get(reverse("api_me")), 401)
    assert error["code"] == "not_authenticated"
    assert_french(error)

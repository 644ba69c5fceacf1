"""The measurement policy through the API (ANS): the version in force and every version, page by page; a new
version through ``weather.services.create_policy_version`` (audited), its refusals as structured 400/409 with
nothing written."""
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.support.api import API, api, error_of
from tests.weather.test_policy import create, next_month
from trustspace.models import ApiScope, AuditEntry
from trustspace.services import create_api_token
from weather.clock import PARIS
from weather.models import MeasurementPolicy

pytestmark = pytest.mark.django_db
URL = f"{API}/weather/policy/"


def _month(instant):
    return f"{instant:%Y-%m}"


def _body(**overrides):
    return {"reference_period": "month", "support_hours_only": True, "maintenance_counts": False,
            "effective_from": _month(next_month()), "comment": "Heures ouvrées seulement.", **overrides}


def test_ans_reads_the_version_in_force_and_every_version(world):
    create(world.ans, effective_from=next_month(2), comment="Plus tard.")
    body = api(world.ans).get(URL).json()
    assert body["current"]["version"] == 1 and body["current"]["created_by"] is None
    assert [v["version"] for v in body["results"]] == [2, 1] and body["count"] == 2
    newest = body["results"][0]
    assert newest["comment"] == "Plus tard." and newest["support_hours_only"] is True
    assert newest["created_by"] == world.ans.display_name and newest["reference_period"] == "month"
    assert newest["description"] == MeasurementPolicy.objects.get(version=2).describe()
    assert datetime.fromisoformat(newest["effective_from"]) == next_month(2)
    page = api(world.ans).get(URL, {"limit": 1}).json()
    assert [v["version"] for v in page["results"]] == [2] and page["next"] and page["current"]["version"] == 1


def test_ans_creates_a_version_as_the_page_does(world):
    _, raw = create_api_token(acting_user=world.ans, name="politique", scopes=[ApiScope.ANS])
    response = api(token=raw).post(URL, _body(maintenance_counts=True), format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["version"], created["maintenance_counts"], created["support_hours_only"]) == (2, True, True)
    policy = MeasurementPolicy.objects.get(version=2)
    assert policy.effective_from == next_month() and policy.created_by == world.ans
    entry = AuditEntry.objects.get(action="weather.measurement_policy_created")
    assert entry.reason == "Heures ouvrées seulement."
    # The version in force is still v1 until next month.
    assert api(world.ans).get(URL).json()["current"]["version"] == 1


def test_a_quarterly_version_for_a_quarter_start(world):
    local = timezone.now().astimezone(PARIS)
    quarter = datetime(local.year + 1, 4, 1, tzinfo=PARIS)
    response = api(world.ans).post(URL, _body(reference_period="quarter", effective_from=_month(quarter)),
                                   format="json")
    assert response.status_code == 201, response.content
    assert response.json()["reference_period"] == "quarter"


LAST_MONTH = _month(timezone.now().astimezone(PARIS).replace(day=1) - timedelta(days=1))


@pytest.mark.parametrize(("overrides", "field"), [
    ({"effective_from": LAST_MONTH}, "effective_from"),  # a closed period keeps its policy
    ({"effective_from": "2026-13"}, "effective_from"),
    ({"effective_from": "0000-01"}, "effective_from"),
    ({"effective_from": " 2099-01"}, "effective_from"),
    ({"effective_from": "2099-02", "reference_period": "quarter"}, "effective_from"),  # not a quarter start
    ({"reference_period": "week"}, "reference_period"),
    ({"support_hours_only": "true"}, "support_hours_only"),
    ({"maintenance_counts": 0}, "maintenance_counts"),
    ({"comment": ""}, "comment"),
    ({"comment": "x" * 2001}, "comment"),
    ({"comment": "Motif \u202e caché"}, "comment"),
])
def test_invalid_versions_are_a_structured_400_and_nothing_is_written(world, overrides, field):
    error = error_of(api(world.ans).post(URL, _body(**overrides), format="json"), 400)
    assert field in error["fields"] and error["message"]
    assert MeasurementPolicy.objects.count() == 1 and not AuditEntry.objects.filter(
        action="weather.measurement_policy_created").exists()


def test_a_version_must_follow_the_latest_one(world):
    create(world.ans, effective_from=next_month(2))
    error = error_of(api(world.ans).post(URL, _body(), format="json"), 409)
    assert error["code"] == "policy_not_after_latest" and "effective_from" in error["fields"]
    assert MeasurementPolicy.objects.count() == 2


def test_a_form_body_is_not_read(world):
    response = api(world.ans).post(URL, {**_body(), "support_hours_only": "on"})
    assert error_of(response, 415)["code"] == "unsupported_media_type"
    assert MeasurementPolicy.objects.count() == 1


@pytest.mark.parametrize("role", ["legal", "technical", "other"])
def test_operators_neither_read_nor_create_the_policy(world, role):
    client = api(getattr(world, role))
    assert error_of(client.get(URL), 403)["code"] == "forbidden"
    assert error_of(client.post(URL, _body(), format="json"), 403)["code"] == "forbidden"
    error_of(api().get(URL), 401)
    assert MeasurementPolicy.objects.count() == 1


def test_options_describes_the_post(world):
    response = api(world.ans).options(URL)
    assert response.status_code == 200 and "effective_from" in response.json()["actions"]["POST"]


def test_a_retried_creation_with_its_idempotency_key_creates_one_version(world):
    client = api(world.ans)
    first = client.post(URL, _body(), format="json", HTTP_IDEMPOTENCY_KEY="politique-1")
    again = client.post(URL, _body(), format="json", HTTP_IDEMPOTENCY_KEY="politique-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert MeasurementPolicy.objects.count() == 2

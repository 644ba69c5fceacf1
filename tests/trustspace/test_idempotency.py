"""``Idempotency-Key`` on the API's POSTs: one effect per key, the stored answer replayed, misuse refused."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from operators import services as operator_services
from operators.models import DrimboxRequest, FinancingOrder, RequestKind
from tests.support.api import API, api, error_of
from tests.support.concurrency import in_parallel
from tests.support.lifecycle import client_fields, declaration_data, finess, make_order, siren
from trustspace.api.idempotency import HEADER
from trustspace.idempotency import purge_idempotency_records
from trustspace.models import ApiToken, FormSubmission, IdempotencyKey
from trustspace.services import create_api_token

KEY = "5f0c6a1e-2b7d-4c1e-9a3f-0d8e7b6c5a41"


def orders_url(operator):
    return f"{API}/operators/{operator.pk}/financing-orders/"


def order_body(n=1):
    return {"reference": f"BC-IDEM-{n}", "pacs_identifiers": [f"PACS-IDEM-{n}"],
            **client_fields(7100 + n, siren_value=siren(41000100 + n), sites=[finess(7100 + n)])}


def post(client, url, body, key=KEY):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


@pytest.fixture
def legal(world):
    _token, raw = create_api_token(acting_user=world.legal, name="automate")
    return api(token=raw)


@pytest.mark.django_db
def test_a_repeat_replays_the_stored_answer_without_a_second_effect(world, legal):
    first = post(legal, orders_url(world.operator), order_body())
    assert first.status_code == 201 and HEADER not in first and "Idempotent-Replayed" not in first

    again = post(legal, orders_url(world.operator), order_body())
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and again["Content-Type"] == first["Content-Type"]
    assert FinancingOrder.objects.filter(reference="BC-IDEM-1").count() == 1


@pytest.mark.django_db
def test_without_a_key_nothing_changes(world, legal):
    assert post(legal, orders_url(world.operator), order_body(), key=None).status_code == 201
    assert post(legal, orders_url(world.operator), order_body(2), key=None).status_code == 201
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422(world, legal):
    assert post(legal, orders_url(world.operator), order_body()).status_code == 201
    error = error_of(post(legal, orders_url(world.operator), order_body(2)), 422)
    assert error["code"] == "idempotency_key_reused" and "nouvelle clé" in error["message"]
    error = error_of(post(legal, f"{API}/operators/{world.operator.pk}/support-contact/", {}), 422)
    assert error["code"] == "idempotency_key_reused"  # another path, same key
    assert not FinancingOrder.objects.filter(reference="BC-IDEM-2").exists()


@pytest.mark.django_db
def test_the_same_key_while_the_first_call_runs_is_a_409_then_a_dead_call_frees_it(world, legal, settings):
    assert post(legal, orders_url(world.operator), order_body()).status_code == 201
    claim = IdempotencyKey.objects.get()
    IdempotencyKey.objects.filter(pk=claim.pk).update(completed=False, status_code=None)  # still running

    error = error_of(post(legal, orders_url(world.operator), order_body()), 409)
    assert error["code"] == "idempotency_in_progress"

    # Its process died: past IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS the key may be claimed again.
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS + 1))
    retried = post(legal, orders_url(world.operator), order_body())
    assert retried.status_code == 400 and "Idempotent-Replayed" not in retried  # ran again: the order exists
    assert FinancingOrder.objects.filter(reference="BC-IDEM-1").count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_principal(world, legal):
    """Another user, or another token of the same user, with the same key: a call of its own."""
    assert post(legal, orders_url(world.operator), order_body()).status_code == 201
    _token, other_raw = create_api_token(acting_user=world.other, name="autre")
    other = post(api(token=other_raw), orders_url(world.other_operator), order_body(3))
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    _token, second_raw = create_api_token(acting_user=world.legal, name="second")
    second = post(api(token=second_raw), orders_url(world.operator), order_body(4))
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    session = post(api(world.legal), orders_url(world.operator), order_body(5))  # the user itself, no token
    assert session.status_code == 201 and "Idempotent-Replayed" not in session
    assert FinancingOrder.objects.filter(reference__startswith="BC-IDEM-").count() == 4
    assert IdempotencyKey.objects.filter(key=KEY).count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "a" * 256, "clé-accentuée", "tab\there"])
def test_a_malformed_key_is_a_structured_400(world, legal, key):
    error = error_of(post(legal, orders_url(world.operator), order_body(), key=key), 400)
    assert error["code"] == "idempotency_key_invalid" and HEADER in error["fields"]
    assert not FinancingOrder.objects.exists()


@pytest.mark.django_db
def test_a_4xx_is_kept_and_replayed(world, legal):
    body = {**order_body(), "client_siren": "123"}
    first = post(legal, orders_url(world.operator), body)
    assert first.status_code == 400
    again = post(legal, orders_url(world.operator), body)
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true" and again.json() == first.json()


@pytest.mark.django_db
def test_a_5xx_is_not_kept_the_retry_runs(world, monkeypatch):
    _token, raw = create_api_token(acting_user=world.legal, name="automate")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    real = operator_services.create_financing_order
    monkeypatch.setattr(operator_services, "create_financing_order", lambda **kwargs: 1 / 0)  # a crash inside
    assert post(client, orders_url(world.operator), order_body()).status_code == 500
    assert not IdempotencyKey.objects.exists()

    monkeypatch.setattr(operator_services, "create_financing_order", real)
    retried = post(client, orders_url(world.operator), order_body())
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    assert FinancingOrder.objects.count() == 1


@pytest.mark.django_db
def test_an_answer_with_a_secret_is_not_kept(world, legal):
    """A token's secret is shown once: its repeat says the call was made, without the secret, and makes nothing."""
    body = {"name": "automate 2", "scopes": ["read"]}
    first = post(api(world.legal), f"{API}/tokens/", body)
    assert first.status_code == 201 and first.json()["secret"]
    record = IdempotencyKey.objects.get()
    assert first.json()["secret"] not in record.body
    error = error_of(post(api(world.legal), f"{API}/tokens/", body), 409)
    assert error["code"] == "idempotency_replay_unavailable"
    assert ApiToken.objects.filter(name="automate 2").count() == 1


@pytest.mark.django_db
def test_reads_ignore_the_header(world, legal):
    response = legal.get(orders_url(world.operator), HTTP_IDEMPOTENCY_KEY=KEY)
    assert response.status_code == 200 and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_the_schema_documents_the_header_on_authenticated_posts(client):
    schema = client.get(f"{API}/schema/", {"format": "json"}).json()
    posts = {path: ops["post"] for path, ops in schema["paths"].items() if "post" in ops}
    assert posts
    for path, operation in posts.items():
        names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
        assert ("header", HEADER) in names, path
    assert not any(p.get("name") == HEADER for ops in schema["paths"].values() if "get" in ops
                   for p in ops["get"].get("parameters", []))


@pytest.mark.django_db
def test_the_purge_forgets_expired_keys_and_old_form_tokens(world, legal, settings):
    assert post(legal, orders_url(world.operator), order_body()).status_code == 201
    assert post(legal, orders_url(world.operator), order_body(2), key="other-key").status_code == 201
    IdempotencyKey.objects.filter(key=KEY).update(expires_at=timezone.now() - timedelta(seconds=1))
    FormSubmission.objects.create(user=world.legal, token="old" * 8,
                                  created_at=timezone.now() - timedelta(days=settings.IDEMPOTENCY_FORM_TOKEN_DAYS + 1))
    FormSubmission.objects.create(user=world.legal, token="new" * 8)

    assert purge_idempotency_records() == {"keys": 1, "form_tokens": 1}
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["other-key"]
    assert list(FormSubmission.objects.values_list("token", flat=True)) == ["new" * 8]
    # An expired key is a new key: the same call runs again.
    assert settings.CELERY_BEAT_SCHEDULE["purge-idempotency-records"]["task"] == (
        "trustspace.idempotency.purge_idempotency_records")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_calls_with_one_key_have_one_effect_and_no_500(world):
    """The measured case: a new declaration (a draft, which nothing else deduplicates) sent twenty times at once."""
    _token, raw = create_api_token(acting_user=world.legal, name="automate")
    body = {"kind": "declaration", "data": declaration_data(order=make_order(world.operator, world.legal))}

    def call():
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
        response = post(client, f"{API}/operators/{world.operator.pk}/requests/", body)
        return response.status_code, response.get("Idempotent-Replayed"), response.json()

    results, errors = in_parallel(20, call)

    assert errors == [] and len(results) == 20
    assert DrimboxRequest.objects.filter(kind=RequestKind.DECLARATION).count() == 1
    assert {status for status, _, _ in results} <= {201, 409}
    created = [body for status, replayed, body in results if status == 201 and replayed is None]
    assert len(created) == 1
    assert all(body == created[0] for status, _, body in results if status == 201)
    assert all(body["error"]["code"] == "idempotency_in_progress" for status, _, body in results if status == 409)

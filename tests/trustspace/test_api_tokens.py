"""Personal API tokens with scopes, an operator, DRIMboxes and an expiry: the page, the API, the audit trail,
expiry, and the tokens made before scopes (all rights)."""
import html
import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone

from tests.support import weather as wx
from trustspace.errors import InvalidData, NotAllowed
from trustspace.models import ApiToken, AuditEntry
from trustspace.services import create_api_token, revoke_api_token

SUPPORT_URL = "api_support_contact"


def _auth(raw):
    return {"HTTP_AUTHORIZATION": f"Token {raw}"}


def _post_json(client, url, data, raw=None):
    return client.post(url, json.dumps(data), content_type="application/json", **(_auth(raw) if raw else {}))


# --- The page ---------------------------------------------------------------------------------------


def test_page_lists_tokens_with_their_limits(world, client):
    box = wx.make_drimboxes(world.operator, 1)[0]
    create_api_token(acting_user=world.technical, name="acme", scopes=["certificates"],
                     operator_id=world.operator.pk, drimbox_ids=[box.pk],
                     expires_at=timezone.now() + timedelta(days=30))
    old, _raw = create_api_token(acting_user=world.technical, name="ancien")
    ApiToken.objects.filter(pk=old.pk).update(expires_at=None, last_used_at=timezone.now())
    gone, _raw = create_api_token(acting_user=world.technical, name="expiré", scopes=["read"])
    ApiToken.objects.filter(pk=gone.pk).update(expires_at=timezone.now() - timedelta(days=1))
    client.force_login(world.technical)
    page = client.get(reverse("api_tokens")).content.decode()
    assert "acme" in page and world.operator.name in page and box.db_fqdn in page
    assert "Certificats" in page and "Tous les droits de son titulaire" in page
    assert "Actif" in page and "Expiré" in page and "jamais" in page
    assert world.other_operator.name not in page  # neither in the table nor in the operator choices


def test_page_creates_a_scoped_token(world, client):
    box = wx.make_drimboxes(world.operator, 1)[0]
    client.force_login(world.technical)
    day = timezone.localdate() + timedelta(days=10)
    response = client.post(reverse("api_tokens"), {
        "name": "renouvellement", "scopes": ["certificates", "read"], "operator": str(world.operator.pk),
        "drimboxes": [str(box.pk)], "expires_at": day.isoformat()})
    assert response.status_code == 200
    assert 'data-testid="api-token-secret"' in response.content.decode()
    token = ApiToken.objects.get(user=world.technical, name="renouvellement")
    assert token.scopes == ["read", "certificates"] and token.operator_id == world.operator.pk
    assert token.drimbox_ids == [box.pk]
    local = timezone.localtime(token.expires_at)
    assert (local.date(), local.hour, local.minute) == (day, 23, 59)
    assert response["Cache-Control"] == "no-store"


def test_page_errors_are_french_and_next_to_their_fields(world, client):
    other_box = wx.make_drimboxes(world.other_operator, 1)[0]
    client.force_login(world.technical)
    response = client.post(reverse("api_tokens"), {
        "name": "x", "scopes": [], "operator": str(world.other_operator.pk), "drimboxes": [str(other_box.pk)],
        "expires_at": (timezone.localdate() + timedelta(days=900)).isoformat()})
    form = response.context["form"]
    assert "scopes" in form.errors and "operator" in form.errors and "drimboxes" in form.errors
    assert not ApiToken.objects.filter(user=world.technical).exists()
    response = client.post(reverse("api_tokens"), {
        "name": "x", "scopes": ["read"], "expires_at": (timezone.localdate() + timedelta(days=900)).isoformat()})
    assert "au plus 365 jours" in " ".join(response.context["form"].errors["expires_at"])
    response = client.post(reverse("api_tokens"), {
        "name": "x", "scopes": ["certificates"], "drimboxes": [str(other_box.pk)]})
    assert response.context["form"].errors["drimboxes"]


def test_ans_scope_is_offered_to_ans_administrators_only(world, client):
    client.force_login(world.legal)
    assert 'value="ans"' not in client.get(reverse("api_tokens")).content.decode()
    with pytest.raises(InvalidData):
        create_api_token(acting_user=world.legal, name="x", scopes=["ans"])
    client.force_login(world.ans)
    assert 'value="ans"' in client.get(reverse("api_tokens")).content.decode()
    with pytest.raises(InvalidData) as refused:
        create_api_token(acting_user=world.ans, name="x", scopes=["ans"], operator_id=world.operator.pk)
    assert "operator" in refused.value.field_errors


# --- The service: limits, lifetime, audit -----------------------------------------------------------


def test_new_tokens_expire_after_the_maximum_lifetime(world, settings):
    token, _raw = create_api_token(acting_user=world.legal, name="x", scopes=["read"])
    assert timedelta(days=364) < token.expires_at - timezone.now() <= timedelta(days=365)
    with pytest.raises(InvalidData):
        create_api_token(acting_user=world.legal, name="x", scopes=["read"],
                         expires_at=timezone.now() + timedelta(days=400))
    with pytest.raises(InvalidData):
        create_api_token(acting_user=world.legal, name="x", scopes=["read"],
                         expires_at=timezone.now() - timedelta(minutes=1))
    settings.API_TOKEN_MAX_DAYS = 0
    token, _raw = create_api_token(acting_user=world.legal, name="x", scopes=["read"])
    assert token.expires_at is None


def test_creation_and_revocation_are_audited_with_their_limits(world):
    box = wx.make_drimboxes(world.operator, 1)[0]
    token, _raw = create_api_token(acting_user=world.technical, name="acme", scopes=["certificates"],
                                   operator_id=world.operator.pk, drimbox_ids=[box.pk])
    created = AuditEntry.objects.get(action="api_token.created", object_id=str(token.pk))
    assert created.after["scopes"] == ["certificates"] and created.after["drimbox_ids"] == [box.pk]
    assert created.operator_id == world.operator.pk and created.after["expires_at"]
    revoke_api_token(token, acting_user=world.technical)
    revoked = AuditEntry.objects.get(action="api_token.revoked", object_id=str(token.pk))
    assert revoked.before["scopes"] == ["certificates"] and revoked.after["revoked_at"]


# --- Authentication: expiry, revocation -------------------------------------------------------------


def test_expired_token_gets_a_french_401(world, client):
    token, raw = create_api_token(acting_user=world.legal, name="x", scopes=["read"])
    assert client.get(reverse("api_me"), **_auth(raw)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("api_me"), **_auth(raw))
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "token_expired" and "a expiré le" in error["message"]
    assert response["WWW-Authenticate"] == "Token"


def test_missing_scope_is_a_structured_403(world, client):
    _token, raw = create_api_token(acting_user=world.technical, name="x", scopes=["read"])
    response = client.put(reverse(SUPPORT_URL, kwargs={"pk": world.operator.pk}),
                          json.dumps({"support_contact": "a@b.fr"}), content_type="application/json", **_auth(raw))
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "token_scope", "fields": {},
        "message": "Ce jeton n'a pas la portée « Opérateur » (operator) nécessaire à cet appel."}


def test_tokens_made_before_scopes_keep_every_right(world, client):
    """The migration marks existing tokens « * » with no expiry; such a token acts as its owner."""
    token, raw = create_api_token(acting_user=world.technical, name="ancien", scopes=["read"])
    ApiToken.objects.filter(pk=token.pk).update(scopes=[], expires_at=None)
    migration = importlib.import_module("trustspace.migrations.0004_api_token_scopes")
    migration.mark_existing_tokens_full(django_apps, None)
    token.refresh_from_db()
    assert token.scopes == ["*"] and token.expires_at is None and token.state == "active"
    response = client.put(reverse(SUPPORT_URL, kwargs={"pk": world.operator.pk}),
                          json.dumps({"support_contact": "support@a.fr"}), content_type="application/json",
                          **_auth(raw))
    assert response.status_code == 200, response.content


def test_token_limited_to_an_operator_sees_only_that_operator(world, client):
    from operators.models import Role
    from tests.conftest import add_role

    add_role(world.other_operator, world.other, world.legal, Role.MANDATAIRE)
    _token, raw = create_api_token(acting_user=world.legal, name="b", scopes=["read"],
                                   operator_id=world.other_operator.pk)
    listed = client.get(reverse("api_operators"), **_auth(raw)).json()
    assert [row["id"] for row in listed["results"]] == [world.other_operator.pk]
    me = client.get(reverse("api_me"), **_auth(raw)).json()
    assert {m["operator"]["id"] if isinstance(m["operator"], dict) else m["operator"]
            for m in me["memberships"]} == {world.other_operator.pk}
    assert client.get(reverse("api_operator", kwargs={"pk": world.operator.pk}), **_auth(raw)).status_code == 404
    # The same user's session is not limited.
    client.force_login(world.legal)
    assert client.get(reverse("api_operator", kwargs={"pk": world.operator.pk})).status_code == 200


# --- The API of one's tokens ------------------------------------------------------------------------


def test_api_creates_lists_and_revokes_with_a_session(world, client):
    client.force_login(world.legal)
    response = _post_json(client, reverse("api_token_list"), {"name": "ci", "scopes": ["read", "requests"],
                                                             "operator": world.operator.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("drimm_") and body["scopes"] == ["read", "requests"]
    assert body["operator"] == world.operator.pk and body["state"] == "active" and body["expires_at"]
    assert response["Cache-Control"] == "no-store"
    listed = client.get(reverse("api_token_list")).json()["results"]
    assert [row["id"] for row in listed] == [body["id"]] and "secret" not in listed[0]
    assert client.get(reverse("api_me"), **_auth(body["secret"])).status_code == 200
    detail = client.get(reverse("api_token_list"), **_auth(body["secret"])).json()["results"][0]
    assert detail["last_used_at"] is not None
    assert client.delete(reverse("api_token_detail", kwargs={"pk": body["id"]})).status_code == 204
    assert client.get(reverse("api_me"), **_auth(body["secret"])).status_code == 401


def test_api_refuses_bad_input_in_french(world, client):
    client.force_login(world.legal)
    url = reverse("api_token_list")
    for data, field in [({"name": "x", "scopes": ["everything"]}, "scopes"), ({"name": "x", "scopes": []}, "scopes"),
                        ({"name": "x", "scopes": ["read"], "operator": world.other_operator.pk}, "operator"),
                        ({"name": "x", "scopes": ["read"], "operator": 2**70}, "operator"),
                        ({"name": "x", "scopes": ["read"], "expires_at": "demain"}, "expires_at"),
                        ({"name": "x", "scopes": ["ans"]}, "scopes")]:
        response = _post_json(client, url, data)
        assert response.status_code == 400, (data, response.content)
        assert field in response.json()["error"]["fields"], (data, response.json())
    assert not ApiToken.objects.filter(user=world.legal).exists()


def test_a_token_cannot_make_a_wider_token(world, client):
    url = reverse("api_token_list")
    _t, reader = create_api_token(acting_user=world.legal, name="lecture", scopes=["read"])
    response = _post_json(client, url, {"name": "x", "scopes": ["read"]}, reader)
    assert response.status_code == 403 and response.json()["error"]["code"] == "token_scope"

    bound, raw = create_api_token(acting_user=world.legal, name="rotation", scopes=["read", "tokens"],
                                  operator_id=world.operator.pk, expires_at=timezone.now() + timedelta(days=5))
    for data, field in [({"name": "x", "scopes": ["read", "requests"], "operator": world.operator.pk}, "scopes"),
                        ({"name": "x", "scopes": ["read"]}, "operator"),
                        ({"name": "x", "scopes": ["read"], "operator": world.operator.pk,
                          "expires_at": (timezone.now() + timedelta(days=30)).isoformat()}, "expires_at")]:
        response = _post_json(client, url, data, raw)
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (data, response.json())
    response = _post_json(client, url, {"name": "successeur", "scopes": ["read", "tokens"],
                                        "operator": world.operator.pk}, raw)
    assert response.status_code == 201, response.content
    successor = ApiToken.objects.get(pk=response.json()["id"])
    assert successor.expires_at <= bound.expires_at  # lives no longer than the token that made it
    assert AuditEntry.objects.get(action="api_token.created", object_id=str(successor.pk)).reason

    # Revoking: a narrower token or itself, never a wider one.
    wide, _raw = create_api_token(acting_user=world.legal, name="large")
    response = client.delete(reverse("api_token_detail", kwargs={"pk": wide.pk}), **_auth(raw))
    assert response.status_code == 403
    assert client.delete(reverse("api_token_detail", kwargs={"pk": successor.pk}), **_auth(raw)).status_code == 204
    assert client.delete(reverse("api_token_detail", kwargs={"pk": bound.pk}), **_auth(raw)).status_code == 204
    with pytest.raises(NotAllowed):
        revoke_api_token(wide, acting_user=world.technical)


def test_api_tokens_are_in_the_openapi_schema(client):
    schema = client.get(reverse("api_schema") + "?format=json").json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/tokens/"])
    assert "delete" in schema["paths"]["/api/v1/tokens/{id}/"]
    created = schema["components"]["schemas"]["ApiTokenCreated"]["properties"]
    assert {"secret", "scopes", "expires_at", "last_used_at"} <= set(created)


# --- Review: bad input never answers 500 ------------------------------------------------------------


@pytest.mark.parametrize("body, content_type", [
    ([], "application/json"),
    ("null", "application/json"),
    ('{"name": "x", "scopes": "read"}', "application/json"),
    ('{"name": "x", "scopes": [["read"]]}', "application/json"),
    ('{"name": "x\\u0000", "scopes": ["read"]}', "application/json"),
    ('{"name": "x\\u202e", "scopes": ["read"]}', "application/json"),
    ('{"name": "x", "scopes": ["read"], "expires_at": "9999-12-31T23:59:59+14:00"}', "application/json"),
    ('{"name": "x", "scopes": ["read"], "expires_at": "0001-01-01T00:00:00-12:00"}', "application/json"),
    ('{"name": "x", "scopes": ["read"], "expires_at": 1e300}', "application/json"),
    ('{"name": "x", "scopes": ["certificates"], "drimboxes": [1, "a"]}', "application/json"),
    ('{"name": "x", "scopes": ["certificates"], "drimboxes": {"1": 2}}', "application/json"),
    ('{"name": "x", "scopes": ["certificates"], "drimboxes": [9223372036854775807]}', "application/json"),
    ('{"name": "x", "scopes": ["read"], "operator": "1; drop"}', "application/json"),
    ('{"name": "x", "scopes": ["read"], "operator": true}', "application/json"),
    ('{"name": ' + '"' + "x" * 5000 + '", "scopes": ["read"]}', "application/json"),
    ("\xff\xfe", "application/json"),
    ("{", "application/json"),
])
def test_token_api_answers_bad_input_with_a_french_4xx(world, client, body, content_type):
    client.force_login(world.legal)
    data = json.dumps(body) if isinstance(body, list) else body
    response = client.post(reverse("api_token_list"), data, content_type=content_type)
    assert 400 <= response.status_code < 500, (body, response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["message"] and "Invalid" not in json.dumps(error) and "This field" not in json.dumps(error)
    assert not ApiToken.objects.filter(user=world.legal).exists()


@pytest.mark.parametrize("data", [
    {"name": "x", "scopes": ["read"], "expires_at": "9999-12-31"},
    {"name": "x", "scopes": ["read"], "expires_at": "0001-01-01"},
    {"name": "x", "scopes": ["read"], "expires_at": "2026-02-30"},
    {"name": "x", "scopes": ["nope"]},
    {"name": "x\u202e", "scopes": ["read"]},
    {"name": "x", "scopes": ["certificates"], "drimboxes": ["abc"]},
    {"name": "x", "scopes": ["certificates"], "drimboxes": ["99999999999999999999999"]},
    {"name": "x", "scopes": ["read"], "operator": "99999999999999999999999"},
])
def test_token_page_answers_bad_input_with_a_form_error(world, client, data):
    client.force_login(world.legal)
    response = client.post(reverse("api_tokens"), data)
    assert response.status_code == 200, (data, response.status_code)
    assert 'data-testid="api-token-secret"' not in response.content.decode()
    assert not ApiToken.objects.filter(user=world.legal).exists()


@pytest.mark.parametrize("pk", [0, 2**63, 2**70])
def test_token_detail_and_revoke_with_out_of_range_ids_are_404(world, client, pk):
    client.force_login(world.legal)
    assert client.get(f"/api/v1/tokens/{pk}/").status_code == 404
    assert client.delete(f"/api/v1/tokens/{pk}/").status_code == 404
    assert client.post(f"/compte/jetons/{pk}/revoquer/").status_code == 404


def test_token_page_and_api_list_do_not_query_per_token(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    boxes = wx.make_drimboxes(world.operator, 3)
    client.force_login(world.technical)

    def counts():
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("api_tokens")).status_code == 200
        with CaptureQueriesContext(connection) as api:
            assert client.get(reverse("api_token_list")).status_code == 200
        return len(page.captured_queries), len(api.captured_queries)

    create_api_token(acting_user=world.technical, name="t0", scopes=["certificates"], operator_id=world.operator.pk,
                     drimbox_ids=[boxes[0].pk])
    counts()  # the first request also saves the session
    one = counts()
    for number in range(1, 8):
        create_api_token(acting_user=world.technical, name=f"t{number}", scopes=["read", "certificates"],
                         operator_id=world.operator.pk, drimbox_ids=[box.pk for box in boxes[:number % 3 + 1]])
    assert counts() == one


@pytest.mark.parametrize("body, content_type, fragment", [
    ("{", "application/json", "JSON"),
    ("\xff", "application/json", "JSON"),
    ("--x", "multipart/form-data", "multipart"),
])
def test_unreadable_bodies_are_told_in_french(world, client, body, content_type, fragment):
    """DRF's parsers say « JSON parse error - Expecting value: line 1 column 1 (char 0) »: not to API clients."""
    client.force_login(world.legal)
    response = client.post(reverse("api_token_list"), body, content_type=content_type)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert error["message"].startswith("Requête mal formée") and fragment in error["message"], error
    assert "parse error" not in error["message"] and "Expecting" not in error["message"]


def test_ans_rights_of_a_personal_token_last_only_while_isc_confirmed_them_recently(world, client, settings):
    """Nothing asks iSC when a personal token is used: the owner's ANS rights count only if a login, an iSC bearer
    call or a session re-check confirmed them within OIDC_ANS_RIGHTS_TOKEN_HOURS."""
    from trustspace.models import User
    from trustspace.services import apply_identity_rights

    settings.OIDC_ANS_RIGHTS_TOKEN_HOURS = 24
    _token, raw = create_api_token(acting_user=world.ans, name="revue")
    assert client.get("/api/v1/review-queue/", **_auth(raw)).status_code == 200
    User.objects.filter(pk=world.ans.pk).update(ans_rights_confirmed_at=timezone.now() - timedelta(hours=23))
    assert client.get("/api/v1/review-queue/", **_auth(raw)).status_code == 200
    User.objects.filter(pk=world.ans.pk).update(ans_rights_confirmed_at=timezone.now() - timedelta(hours=25))
    stale = client.get("/api/v1/review-queue/", **_auth(raw))
    assert stale.status_code == 403
    assert User.objects.get(pk=world.ans.pk).is_ans_admin  # only that request's copy lost the rights
    # iSC says it again (a login, a bearer call, a re-check): the token is an ANS token again.
    apply_identity_rights(User.objects.get(pk=world.ans.pk), is_ans_admin=True, is_superuser=True, source="test")
    assert client.get("/api/v1/review-queue/", **_auth(raw)).status_code == 200
    # People who never log in with iSC (the development demo's password accounts) are not concerned.
    User.objects.filter(pk=world.ans.pk).update(oidc_sub=None, ans_rights_confirmed_at=None)
    assert client.get("/api/v1/review-queue/", **_auth(raw)).status_code == 200


def test_by_default_an_ans_token_keeps_ans_rights_for_a_working_day_after_the_last_isc_login(world, client):
    """OIDC_ANS_RIGHTS_TOKEN_HOURS defaults to 8: an ANS administrator who has not logged in with iSC for longer
    (their claim may have been removed since) has a token without ANS rights; the token page says so."""
    from django.conf import settings

    from trustspace.models import User

    assert settings.OIDC_ANS_RIGHTS_TOKEN_HOURS == 8  # the default (no environment override in the tests)
    assert world.ans.oidc_sub  # an iSC user
    _token, raw = create_api_token(acting_user=world.ans, name="revue")
    User.objects.filter(pk=world.ans.pk).update(ans_rights_confirmed_at=timezone.now() - timedelta(hours=7))
    assert client.get("/api/v1/review-queue/", **_auth(raw)).status_code == 200
    User.objects.filter(pk=world.ans.pk).update(ans_rights_confirmed_at=timezone.now() - timedelta(hours=9))
    stale = client.get("/api/v1/review-queue/", **_auth(raw))
    assert stale.status_code == 403
    assert client.get("/api/v1/me/", **_auth(raw)).json()["is_ans_admin"] is False

    client.force_login(world.ans)
    page = html.unescape(client.get(reverse("api_tokens")).content.decode())
    assert ("Vos jetons ne portent vos droits d'administrateur ANS que si vous vous êtes connecté au portail "
            "avec iSC depuis moins de 8 heures.") in page
    client.force_login(world.technical)
    assert 'data-testid="ans-rights-notice"' not in client.get(reverse("api_tokens")).content.decode()

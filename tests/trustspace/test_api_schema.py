"""The OpenAPI schema says what the API answers: errors of every operation, typed request data, pagination;
and the API keeps to it: limit/offset checked and capped, every list paginated, JSON 404 even with DEBUG=1."""
import pytest
from django.urls import reverse

from operators.models import ONBOARDING_KINDS, RequestKind
from operators.request_data import FIELDS, MAX_LENGTH
from tests.support import weather as wx
from trustspace.services import create_api_token


@pytest.fixture
def served(client):
    return client.get(reverse("api_schema"), {"format": "json"}).json()


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _error_ref(operation, status):
    return operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]


def test_every_operation_documents_its_errors_with_the_api_error_schema(served):
    seen = 0
    for path, method, operation in _operations(served):
        if not path.startswith("/api/"):
            continue
        seen += 1
        responses = operation["responses"]
        public = operation.get("security", []) in ([], [{}])
        if not public:
            for status in ("401", "403"):
                assert _error_ref(operation, status) == "#/components/schemas/ApiError", (method, path, status)
            assert "429" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if method != "get":
            assert {"400", "409"} <= set(responses), (method, path)
            if "400" in responses and "CertificateRejected" not in _error_ref(operation, "400"):
                assert _error_ref(operation, "400") == "#/components/schemas/ApiError", (method, path)
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in responses, (method, path)
    assert seen > 60
    body = served["components"]["schemas"]["ApiError"]["properties"]["error"]["$ref"]
    assert set(served["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]) == {"code", "message", "fields"}
    # acme-dns answers as acme-dns does: nothing is added to its operations.
    assert set(served["paths"]["/acme-dns/register"]["post"]["responses"]) == {"403", "429"}


def test_request_data_is_typed_per_kind_from_the_rules(served):
    components = served["components"]["schemas"]
    create = components["RequestCreateRequest"]
    mapping = create["discriminator"]["mapping"]
    assert create["discriminator"]["propertyName"] == "kind"
    assert set(mapping) == {kind.value for kind in RequestKind if kind not in ONBOARDING_KINDS}
    for kind in RequestKind:
        name = "RequestData" + "".join(part.capitalize() for part in kind.value.split("_"))
        data = components[name]
        assert list(data["properties"]) == FIELDS[kind] and data["additionalProperties"] is False
        for field, field_schema in data["properties"].items():
            assert field_schema["maxLength"] == MAX_LENGTH.get(field, 500)
        if kind.value in mapping:
            variant = components[mapping[kind.value].rsplit("/", 1)[1]]
            assert variant["properties"]["data"]["$ref"].endswith("/" + name)
            assert ("drimbox" in variant["required"]) == (kind != RequestKind.DECLARATION)
    update = components["PatchedRequestUpdateRequest"]["properties"]["data"]["anyOf"]
    assert len(update) == len(RequestKind)


def test_lists_are_paginated_with_a_bounded_limit(served):
    for path in ("/api/v1/weather/", "/api/v1/operators/{id}/people/", "/api/v1/operators/{id}/requests/",
                 "/api/v1/weather/{identifiant}/maintenance/", "/api/v1/operators/{id}/invitations/",
                 "/api/v1/certificates/", "/api/v1/operators/{id}/certificates/", "/api/v1/weather/policy/",
                 "/api/v1/perf/", "/api/v1/operators/{id}/perf/"):
        parameters = {p["name"]: p["schema"] for p in served["paths"][path]["get"]["parameters"] if p["in"] == "query"}
        assert parameters["limit"]["minimum"] == 1 and parameters["offset"]["minimum"] == 0, path


@pytest.mark.parametrize("params, field", [
    ({"limit": "abc"}, "limit"), ({"limit": "-1"}, "limit"), ({"limit": "0"}, "limit"), ({"limit": "²"}, "limit"),
    ({"offset": "-5"}, "offset"), ({"offset": "x"}, "offset"), ({"offset": str(2**31)}, "offset"),
])
def test_garbage_limit_or_offset_is_a_french_400(world, client, params, field):
    client.force_login(world.legal)
    for url in (reverse("api_operators"), reverse("api_people", args=[world.operator.pk]), reverse("api_weather")):
        response = client.get(url, params)
        assert response.status_code == 400, url
        error = response.json()["error"]
        assert error["code"] == "invalid" and field in error["fields"]
        assert "nombre entier" in error["fields"][field][0]


def test_page_size_is_capped_by_the_setting(world, client, settings):
    settings.API_MAX_PAGE_SIZE = 2
    wx.make_drimboxes(world.operator, 3)
    body = client.get(reverse("api_weather"), {"limit": "100000"}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and "offset=2" in body["next"]
    assert body["previous"] is None
    last = client.get(reverse("api_weather"), {"offset": "2"}).json()
    assert len(last["results"]) == 1 and last["next"] is None and last["previous"] is not None
    client.force_login(world.legal)
    people = client.get(reverse("api_people", args=[world.operator.pk]), {"limit": "50"}).json()
    assert people["count"] == 3 and len(people["results"]) == 2  # legal, mandataire, technical


def test_people_are_paginated_for_a_token_too(world, client):
    _, raw = create_api_token(acting_user=world.legal, name="lecture", scopes=["read"])
    response = client.get(reverse("api_people", args=[world.operator.pk]), {"limit": 1, "offset": 1},
                          HTTP_AUTHORIZATION=f"Token {raw}")
    body = response.json()
    assert response.status_code == 200 and body["count"] == 3 and len(body["results"]) == 1


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_urls_answer_a_json_404_even_with_debug(client, settings, debug):
    settings.DEBUG = debug
    for url in ("/api/v1/nexiste-pas/", "/api/v2/", "/api/v1/requests/abc/"):
        response = client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", url
        assert response.json()["error"]["code"] == "not_found"
    # A missing final slash is still redirected (APPEND_SLASH), and pages keep their HTML 404.
    assert client.get("/api/v1/me").status_code == 301
    assert client.get("/nexiste-pas/")["Content-Type"].startswith("text/html")

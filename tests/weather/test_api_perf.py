"""PERF as JSON through the API: ANS across operators (``/perf/``, ``operator=``), an operator its own DRIMboxes
(``/operators/{id}/perf/``); the very report the CSV, XLSX and PDF files carry (one ``weather.perf.compute``),
page by page, in a number of queries that does not grow with the DRIMboxes."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.api import API, api, error_of
from tests.weather.test_perf import make_box, transitions, utc
from tests.weather.test_reports import boxes, csv_rows  # noqa: F401 - the fixture of the reports' tests
from trustspace.models import ApiScope
from trustspace.services import create_api_token
from weather.models import MeasurementPolicy

pytestmark = pytest.mark.django_db
ANS_URL = f"{API}/perf/"
MARCH = {"period": "2025-03"}


def _operator_url(operator):
    return f"{API}/operators/{operator.pk}/perf/"


def _rows(response):
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


def test_ans_gets_every_drimbox_with_df_and_perf(world, boxes):  # noqa: F811
    body = api(world.ans).get(ANS_URL, MARCH).json()
    assert body["period"]["key"] == "2025-03" and body["period"]["kind"] == "month"
    assert body["period"]["label"] == "mars 2025"
    assert (body["period"]["start"], body["period"]["end"]) == ("2025-02-28T23:00:00Z", "2025-03-31T22:00:00Z")
    assert body["policy"]["version"] == 1 and body["partial"] is False and body["count"] == 3
    assert body["summary"] == {"full": 1, "half": 1, "zero": 1}
    assert [(r["identifiant"], r["df_seconds"], r["df_hhmm"], r["perf"], r["down_count"]) for r in body["results"]] == [
        (101, 10 * 3600 + 1, "10:00", 0.5, 1), (102, 0, "0:00", 1.0, 0), (201, 21 * 3600, "21:00", 0.0, 1)]
    assert body["results"][2]["operator"] == {"id": world.other_operator.pk, "name": "Opérateur B"}
    assert all(r["policy_version"] == 1 for r in body["results"])


def test_json_and_files_are_the_same_report(world, boxes):  # noqa: F811
    rows = _rows(api(world.ans).get(ANS_URL, MARCH))
    header, table = csv_rows(api(world.ans).get(f"{API}/perf/report.csv", MARCH).content.decode("utf-8-sig"))
    assert header["Nombre de DRIMbox"] == str(len(rows))
    assert [(int(t["Identifiant"]), int(t["Df (secondes)"]), t["PERF"], int(t["Passages en indisponibilité"]))
            for t in table] == [(r["identifiant"], r["df_seconds"], str(r["perf"]).rstrip("0").rstrip(".")
                                 .replace(".", ","), r["down_count"]) for r in rows]


def test_ans_filters_by_operator(world, boxes):  # noqa: F811
    client = api(world.ans)
    assert [r["identifiant"] for r in _rows(client.get(ANS_URL, {**MARCH, "operator": world.operator.pk}))] == [
        101, 102]
    assert [r["identifiant"] for r in _rows(client.get(ANS_URL, {**MARCH, "operator": world.other_operator.pk}))
            ] == [201]
    assert _rows(client.get(ANS_URL, {**MARCH, "operator": 999999})) == []
    for garbage in ("B", "", " 1", "1.0", "-1", str(2**31)):
        assert "operator" in error_of(client.get(ANS_URL, {**MARCH, "operator": garbage}), 400)["fields"]


def test_an_operator_gets_its_own_drimboxes_only(world, boxes):  # noqa: F811
    for user in (world.legal, world.technical, world.ans):
        body = api(user).get(_operator_url(world.operator), MARCH).json()
        assert [r["identifiant"] for r in body["results"]] == [101, 102] and body["summary"]["half"] == 1
    assert [r["identifiant"] for r in _rows(api(world.other).get(_operator_url(world.other_operator), MARCH))] == [
        201]
    error_of(api(world.other).get(_operator_url(world.operator), MARCH), 404)
    _, raw = create_api_token(acting_user=world.legal, name="lecture", scopes=[ApiScope.READ])
    assert len(_rows(api(token=raw).get(_operator_url(world.operator), MARCH))) == 2


@pytest.mark.parametrize("role", ["legal", "technical", "other"])
def test_perf_across_operators_is_for_ans(world, role):
    assert error_of(api(getattr(world, role)).get(ANS_URL), 403)["code"] == "forbidden"
    error_of(api().get(ANS_URL), 401)


def test_pages_hold_the_rows_and_the_summary_counts_them_all(world, boxes):  # noqa: F811
    client = api(world.ans)
    first = client.get(ANS_URL, {**MARCH, "limit": 2}).json()
    assert [r["identifiant"] for r in first["results"]] == [101, 102] and first["count"] == 3
    assert first["summary"] == {"full": 1, "half": 1, "zero": 1} and first["previous"] is None
    second = client.get(first["next"]).json()
    assert [r["identifiant"] for r in second["results"]] == [201] and second["next"] is None


def test_the_current_month_is_the_default_and_partial(world, boxes):  # noqa: F811
    body = api(world.ans).get(ANS_URL).json()
    assert body["partial"] is True and body["measured_until"] < body["period"]["end"]


@pytest.mark.parametrize("period", ["2025-13", "25-03", "2025-3", "1999-01", "mars", ""])
def test_a_bad_period_is_a_structured_400(world, period):
    for url in (ANS_URL, _operator_url(world.operator)):
        error = error_of(api(world.ans).get(url, {"period": period}), 400)
        assert "period" in error["fields"]


def test_a_quarter_under_a_monthly_policy_is_refused_naming_the_policy(world):
    error = error_of(api(world.ans).get(ANS_URL, {"period": "2025-T1"}), 400)
    assert "trimestre" in error["fields"]["period"][0] and "v1" in error["fields"]["period"][0]


def test_a_quarterly_policy_measures_a_quarter(world, boxes):  # noqa: F811
    MeasurementPolicy.objects.filter(version=1).update(reference_period="quarter")
    body = api(world.ans).get(ANS_URL, {"period": "2025-T1"}).json()
    assert body["period"]["key"] == "2025-T1" and body["period"]["kind"] == "quarter"
    assert [r["df_seconds"] for r in body["results"]] == [10 * 3600 + 1, 0, 21 * 3600]


@pytest.mark.parametrize("url", ["ans", "operator"])
def test_the_number_of_queries_does_not_grow_with_the_drimboxes(world, url):
    _, raw = create_api_token(acting_user=world.ans if url == "ans" else world.technical, name="compte",
                              scopes=[ApiScope.READ])
    client = api(token=raw)
    target = ANS_URL if url == "ans" else _operator_url(world.operator)

    def count():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target, {**MARCH, "limit": 200})
            assert response.status_code == 200
        return len(captured), response.json()["count"]

    def down_for_an_hour(first, last):
        for n in range(first, last):
            transitions(make_box(world.operator, n), (utc(2025, 3, 2), "down"),
                        (utc(2025, 3, 2) + timedelta(hours=1), "operational"))

    down_for_an_hour(1, 3)
    count()
    small, rows = count()
    down_for_an_hour(3, 40)
    big, more_rows = count()
    assert (rows, more_rows) == (2, 39) and big == small

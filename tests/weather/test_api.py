"""Weather API: public reading (list, one DRIMbox, incidents) and the operator's writes."""
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from operators.models import DrimboxStatus
from tests.support import weather as wx
from trustspace.models import AuditEntry
from weather.models import Incident, MaintenanceWindow
from weather.models import WeatherStatus as S

pytestmark = pytest.mark.django_db


def _json(client, name, expected=200, *, args=None, **params):
    response = client.get(reverse(name, args=args), params)
    assert response.status_code == expected, response.content[:300]
    return response.json()


def test_list_gives_every_drimbox_of_the_trust_space(world, client):
    now = timezone.now()
    up, down, serviced = wx.make_drimboxes(world.operator, 3)
    other, = wx.make_drimboxes(world.other_operator, 1)
    wx.make_drimboxes(world.operator, 1, status=DrimboxStatus.DECLARED)
    wx.timeline(up, [(now - timedelta(days=2), S.OPERATIONAL)])
    wx.timeline(down, [(now - timedelta(days=2), S.OPERATIONAL), (now - timedelta(minutes=30), S.DOWN)])
    wx.timeline(serviced, [(now - timedelta(days=2), S.OPERATIONAL)])
    window = wx.maintenance(serviced, world.technical, now - timedelta(minutes=5), now + timedelta(hours=1))
    body = _json(client, "api_weather")
    assert body["count"] == 4 and body["generated_at"].endswith("Z")
    rows = {row["identifiant"]: row for row in body["results"]}
    assert set(rows) == {up.identifiant, down.identifiant, serviced.identifiant, other.identifiant}
    assert rows[down.identifiant] == {
        "identifiant": down.identifiant, "db": down.db_fqdn, "vi": down.vi_fqdn, "operator": "Opérateur A",
        "status": "down", "since": (now - timedelta(minutes=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert rows[serviced.identifiant]["status"] == "maintenance"
    assert rows[serviced.identifiant]["since"] == window.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[other.identifiant] == {**rows[other.identifiant], "status": "no_data", "since": None,
                                       "operator": "Opérateur B"}
    # Filters.
    def only(status):
        return [r["identifiant"] for r in _json(client, "api_weather", status=status)["results"]]

    assert only("down") == [down.identifiant]
    assert only("maintenance") == [serviced.identifiant]
    assert only("operational") == [up.identifiant]  # the DRIMbox in maintenance is shown as such
    assert only("no_data") == [other.identifiant]
    assert only("degraded") == []
    assert {r["identifiant"] for r in _json(client, "api_weather", operator=world.other_operator.pk)["results"]} == {
        other.identifiant}
    assert [r["identifiant"] for r in _json(client, "api_weather", q=up.db_fqdn)["results"]] == [up.identifiant]
    error = _json(client, "api_weather", 400, status="en-panne")["error"]
    assert error["code"] == "invalid" and "status" in error["fields"]
    assert "operator" in _json(client, "api_weather", 400, operator="x")["error"]["fields"]


def test_list_answers_in_a_constant_number_of_queries(world, client):
    now = timezone.now()
    wx.populate(wx.make_drimboxes(world.operator, 3), now, user=world.technical)
    with CaptureQueriesContext(connection) as few:
        assert _json(client, "api_weather")["count"] == 3
    wx.populate(wx.make_drimboxes(world.other_operator, 60), now, user=world.technical)
    with CaptureQueriesContext(connection) as many:
        assert _json(client, "api_weather")["count"] == 63
    assert len(few) == len(many) == 2  # the rows, and the maintenance windows covering now


def test_detail_has_90_days_incidents_with_clocks_and_maintenance(world, client):
    now = timezone.now()
    box, = wx.make_drimboxes(world.operator, 1)
    wx.timeline(box, [(now - timedelta(days=30), S.OPERATIONAL), (now - timedelta(days=3, hours=2), S.DOWN),
                      (now - timedelta(days=3), S.OPERATIONAL)])
    incident = wx.incident(box, now - timedelta(days=3, hours=2), restored_at=now - timedelta(days=3))
    wx.maintenance(box, world.technical, now + timedelta(days=2), now + timedelta(days=2, hours=1), reason="Migration")
    body = _json(client, "api_weather_drimbox", args=[box.identifiant])
    assert body["identifiant"] == box.identifiant and body["status"] == "operational"
    assert len(body["history"]) == 90
    assert body["history"][0]["status"] == "no_data" and body["history"][-1]["status"] == "operational"
    assert sum(day["down_minutes"] for day in body["history"]) in (119, 120)
    assert 0 < body["availability_percent"] < 100
    [item] = body["incidents"]
    assert item["id"] == incident.pk and item["restored_at"] is not None
    assert set(item["gti"]) == {"elapsed_seconds", "target_seconds", "due_at", "stopped_at", "overdue", "note"}
    assert item["gti"]["target_seconds"] == 1800 and item["gtr"]["target_seconds"] == 4 * 3600
    assert "acknowledgement_comment" not in item  # the operator's comment stays in its space
    assert [w["reason"] for w in body["maintenance"]] == ["Migration"]
    _json(client, "api_weather_drimbox", 404, args=[424242])


def test_incidents_are_paginated_and_filtered(world, client):
    now = timezone.now()
    boxes = wx.make_drimboxes(world.operator, 3)
    for index, box in enumerate(boxes):
        wx.incident(box, now - timedelta(days=10 + index), restored_at=now - timedelta(days=9 + index))
    current = wx.incident(boxes[0], now - timedelta(hours=1))
    page = _json(client, "api_weather_incidents", limit=2)
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    assert page["results"][0]["id"] == current.pk  # most recent first
    assert [i["id"] for i in _json(client, "api_weather_incidents", open="true")["results"]] == [current.pk]
    assert _json(client, "api_weather_incidents", open="false")["count"] == 3
    assert _json(client, "api_weather_incidents", identifiant=boxes[1].identifiant)["count"] == 1
    since = (now - timedelta(days=10, hours=12)).isoformat()
    assert _json(client, "api_weather_incidents", since=since)["count"] == 2
    assert "since" in _json(client, "api_weather_incidents", 400, since="hier")["error"]["fields"]
    assert "open" in _json(client, "api_weather_incidents", 400, open="peut-être")["error"]["fields"]


def test_schema_documents_the_weather_endpoints(client):
    schema = client.get(reverse("api_schema"), {"format": "json"}).content.decode()
    for path in ("/api/v1/weather/", "/api/v1/weather/{identifiant}/", "/api/v1/weather/incidents/",
                 "/api/v1/weather/incidents/{id}/acknowledge/", "/api/v1/weather/{identifiant}/maintenance/"):
        assert path in schema


# --- operator writes ------------------------------------------------------------------------------------


def _post(client, user, name, args, data):
    if user is not None:
        client.force_login(user)
    return client.post(reverse(name, args=args), data, content_type="application/json")


def test_acknowledge_through_the_api(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    incident = wx.incident(box, timezone.now() - timedelta(minutes=10))
    assert _post(client, None, "api_weather_incident_acknowledge", [incident.pk], {}).status_code == 401
    assert _post(client, world.other, "api_weather_incident_acknowledge", [incident.pk], {}).status_code == 404
    denied = _post(client, world.ans, "api_weather_incident_acknowledge", [incident.pk], {})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    response = _post(client, world.technical, "api_weather_incident_acknowledge", [incident.pk],
                     {"comment": "Redémarrage en cours"})
    assert response.status_code == 200, response.content
    assert response.json()["acknowledgement_comment"] == "Redémarrage en cours"
    assert response.json()["gti"]["stopped_at"] is not None
    again = _post(client, world.legal, "api_weather_incident_acknowledge", [incident.pk], {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "incident_acknowledged"
    incident.refresh_from_db()
    assert incident.acknowledged_by == world.technical


def test_maintenance_through_the_api(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    url_args = [box.identifiant]
    start = timezone.now() + timedelta(days=1)
    good = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
            "reason": "Mise à jour"}
    assert _post(client, world.other, "api_weather_maintenance", url_args, good).status_code == 404
    assert _post(client, world.ans, "api_weather_maintenance", url_args, good).status_code == 403
    created = _post(client, world.technical, "api_weather_maintenance", url_args, good)
    assert created.status_code == 201, created.content
    backwards = _post(client, world.legal, "api_weather_maintenance", url_args,
                      {**good, "ends_at": (start - timedelta(hours=1)).isoformat()})
    assert backwards.status_code == 400 and "ends_at" in backwards.json()["error"]["fields"]
    overlap = _post(client, world.legal, "api_weather_maintenance", url_args,
                    {**good, "starts_at": (start + timedelta(hours=1)).isoformat(),
                     "ends_at": (start + timedelta(hours=3)).isoformat()})
    assert overlap.status_code == 409 and overlap.json()["error"]["code"] == "maintenance_overlap"
    garbage = _post(client, world.legal, "api_weather_maintenance", url_args, {**good, "starts_at": "demain"})
    assert garbage.status_code == 400 and "starts_at" in garbage.json()["error"]["fields"]
    assert MaintenanceWindow.objects.filter(drimbox=box).count() == 1
    client.force_login(world.ans)
    assert len(client.get(reverse("api_weather_maintenance", args=url_args)).json()["results"]) == 1
    window_id = created.json()["id"]
    assert _post(client, world.other, "api_weather_maintenance_cancel", [window_id], {}).status_code == 404
    cancelled = _post(client, world.legal, "api_weather_maintenance_cancel", [window_id], {})
    assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"] is not None
    assert _post(client, world.legal, "api_weather_maintenance_cancel", [window_id], {}).status_code == 409
    assert AuditEntry.objects.filter(action__startswith="weather.maintenance_").count() == 2
    assert not Incident.objects.exists()


@pytest.mark.parametrize("params", [{"identifiant": "²"}, {"operator": "٣"}, {"identifiant": str(2**31)},
                                    {"operator": "99999999999999999999999"}, {"identifiant": "-1"},
                                    {"identifiant": ""}, {"operator": " 3"}])
def test_integer_parameters_are_ascii_and_bounded(client, params):
    name = next(iter(params))
    body = _json(client, "api_weather_incidents", 400, **params)
    assert body["error"]["fields"][name] == ["Un entier positif est attendu."]
    if name == "operator":
        assert name in _json(client, "api_weather", 400, **params)["error"]["fields"]


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01"])
def test_instants_out_of_range_in_utc_are_a_400(client, since):
    body = _json(client, "api_weather_incidents", 400, since=since)
    assert "since" in body["error"]["fields"]


def test_incident_page_size_is_capped(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    start = timezone.now() - timedelta(days=400)
    Incident.objects.bulk_create([
        Incident(drimbox=box, opened_at=start + timedelta(hours=i), restored_at=start + timedelta(hours=i, minutes=5),
                 gti_due_at=start + timedelta(hours=i, minutes=30), gtr_due_at=start + timedelta(hours=i + 4))
        for i in range(0, 1204, 2)])
    page = _json(client, "api_weather_incidents", limit=100000)
    assert page["count"] == 602 and len(page["results"]) == 500
    assert len(_json(client, "api_weather_incidents")["results"]) == 100


def test_a_window_may_not_start_before_an_open_incident(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    now = timezone.now()
    wx.incident(box, now - timedelta(seconds=30))
    early = {"starts_at": (now - timedelta(minutes=1)).isoformat(), "ends_at": (now + timedelta(hours=2)).isoformat(),
             "reason": "Mise à jour"}
    refused = _post(client, world.technical, "api_weather_maintenance", [box.identifiant], early)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "maintenance_before_open_incident"
    assert "incident en cours" in refused.json()["error"]["message"]
    assert not MaintenanceWindow.objects.exists()
    later = {**early, "starts_at": (now + timedelta(minutes=5)).isoformat()}
    assert _post(client, world.technical, "api_weather_maintenance", [box.identifiant], later).status_code == 201

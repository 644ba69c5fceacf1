"""Operator weather pages (acknowledge, maintenance), the services behind them, and the ANS overview."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.support import weather as wx
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry
from weather import services
from weather.models import MaintenanceWindow
from weather.models import WeatherStatus as S

pytestmark = pytest.mark.django_db


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


# --- services -----------------------------------------------------------------------------------------


def test_acknowledge_stops_the_gti_clock_once_and_is_audited(world):
    box, = wx.make_drimboxes(world.operator, 1)
    incident = wx.incident(box, timezone.now() - timedelta(minutes=5))
    with pytest.raises(NotAllowed, match="administrateurs ANS"):
        services.acknowledge_incident(incident, acting_user=world.ans)
    with pytest.raises(NotAllowed):
        services.acknowledge_incident(incident, acting_user=world.other)
    acknowledged = services.acknowledge_incident(incident, acting_user=world.legal, comment="  Vu  ")
    assert acknowledged.acknowledged_by == world.legal and acknowledged.acknowledgement_comment == "Vu"
    entry = AuditEntry.objects.get(action="weather.incident_acknowledged")
    assert entry.operator_id == world.operator.pk and entry.before["acknowledged_at"] is None
    with pytest.raises(Conflict, match="déjà été pris en compte"):
        services.acknowledge_incident(incident, acting_user=world.technical)
    closed = wx.incident(wx.make_drimboxes(world.operator, 1)[0], timezone.now() - timedelta(hours=2),
                         restored_at=timezone.now())
    with pytest.raises(Conflict, match="clos"):
        services.acknowledge_incident(closed, acting_user=world.technical)


def test_declare_maintenance_rules(world, settings):
    settings.WEATHER_MAINTENANCE_MAX_HOURS = 12
    box, = wx.make_drimboxes(world.operator, 1)
    now = timezone.now()

    def declare(start, end, reason="Mise à jour", user=None):
        return services.declare_maintenance(box, acting_user=user or world.technical, starts_at=start, ends_at=end,
                                      reason=reason)

    with pytest.raises(InvalidData, match="postérieure"):
        declare(now + timedelta(hours=2), now + timedelta(hours=1))
    with pytest.raises(InvalidData, match="passé"):
        declare(now - timedelta(hours=1), now + timedelta(hours=1))
    with pytest.raises(InvalidData, match="12 heures"):
        declare(now + timedelta(hours=1), now + timedelta(hours=14))
    with pytest.raises(InvalidData, match="motif"):
        declare(now + timedelta(hours=1), now + timedelta(hours=2), reason="  ")
    with pytest.raises(NotAllowed):
        declare(now + timedelta(hours=1), now + timedelta(hours=2), user=world.ans)
    with pytest.raises(InvalidData, match="passé"):
        declare(now - timedelta(minutes=5), now + timedelta(hours=2))  # WEATHER_MAINTENANCE_PAST_TOLERANCE = 2 min
    window = declare(now - timedelta(minutes=1), now + timedelta(hours=2))  # a minute late is tolerated
    with pytest.raises(Conflict, match="chevauche"):
        declare(now + timedelta(hours=1), now + timedelta(hours=3))
    after = declare(now + timedelta(hours=2), now + timedelta(hours=3))  # touching is not overlapping
    assert MaintenanceWindow.objects.filter(drimbox=box).count() == 2
    # Cancelling a window in progress ends it now; a future one is cancelled.
    ended = services.cancel_maintenance(window, acting_user=world.legal)
    assert ended.cancelled_at is None and ended.ends_at <= timezone.now()
    cancelled = services.cancel_maintenance(after, acting_user=world.legal)
    assert cancelled.cancelled_at is not None
    with pytest.raises(Conflict):
        services.cancel_maintenance(cancelled, acting_user=world.legal)
    with pytest.raises(Conflict, match="terminée"):
        services.cancel_maintenance(ended, acting_user=world.legal)
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="weather.").order_by("seq")] == [
        "weather.maintenance_declared", "weather.maintenance_declared", "weather.maintenance_ended_early",
        "weather.maintenance_cancelled"]


# --- operator pages -----------------------------------------------------------------------------------


def test_operator_page_shows_only_its_drimboxes_in_constant_queries(world, client, settings):
    settings.WEATHER_PAGE_SIZE = 20
    now = timezone.now()
    mine = wx.make_drimboxes(world.operator, 3)
    theirs = wx.make_drimboxes(world.other_operator, 2)
    wx.populate(mine + theirs, now, user=world.technical)
    wx.incident(mine[1], now - timedelta(minutes=40))
    wx.incident(theirs[0], now - timedelta(minutes=40))
    client.force_login(world.technical)
    client.get(reverse("operator_weather"))  # the first request stores the active operator in the session
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("operator_weather"))
    body = response.content.decode()
    assert response.status_code == 200
    assert all(f'data-identifiant="{b.identifiant}"' in body for b in mine)
    assert not any(f'data-identifiant="{b.identifiant}"' in body or b.db_fqdn in body for b in theirs)
    assert "Prendre en compte" in body
    more = wx.make_drimboxes(world.operator, 12)
    wx.populate(more, now, user=world.technical)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("operator_weather")).status_code == 200
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]


def test_acknowledge_from_the_page_with_csrf(world):
    box, = wx.make_drimboxes(world.operator, 1)
    incident = wx.incident(box, timezone.now() - timedelta(minutes=10))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.technical)
    url = reverse("operator_weather_acknowledge", args=[incident.pk])
    assert browser.post(url, {"comment": "x"}).status_code == 403  # no CSRF token
    page = browser.get(reverse("operator_weather"))
    token = page.cookies["csrftoken"].value
    assert f'action="{url}"' in page.content.decode()
    response = browser.post(url, {"comment": "On s'en occupe", "csrfmiddlewaretoken": token}, follow=True)
    assert "pris en compte" in response.content.decode()
    incident.refresh_from_db()
    assert incident.acknowledged_by == world.technical and incident.acknowledgement_comment == "On s'en occupe"
    again = browser.post(url, {"csrfmiddlewaretoken": token}, follow=True)
    assert "déjà été pris en compte" in again.content.decode()


def test_other_operator_gets_404_everywhere(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    incident = wx.incident(box, timezone.now() - timedelta(minutes=10))
    window = wx.maintenance(box, world.technical, timezone.now() + timedelta(days=1),
                            timezone.now() + timedelta(days=1, hours=1))
    client.force_login(world.other)
    start = timezone.now() + timedelta(days=3)
    assert client.post(reverse("operator_weather_acknowledge", args=[incident.pk])).status_code == 404
    assert client.get(reverse("operator_weather_maintenance", args=[box.pk])).status_code == 404
    assert client.post(reverse("operator_weather_maintenance", args=[box.pk]), {
        "starts_at": _local(start), "ends_at": _local(start + timedelta(hours=1)), "reason": "x"}).status_code == 404
    assert client.post(reverse("operator_weather_maintenance_cancel", args=[window.pk])).status_code == 404
    incident.refresh_from_db()
    window.refresh_from_db()
    assert incident.acknowledged_at is None and window.cancelled_at is None
    assert MaintenanceWindow.objects.count() == 1


@pytest.mark.parametrize(("starts", "ends", "message"), [
    ("+2h", "+1h", "La fin doit être postérieure au début."),
    ("demain", "+1h", "Date et heure invalides"),
    ("-3h", "+1h", "Le début est dans le passé."),
    ("+1h", "+100h", "Durée maximale : 72 heures."),
    ("+30h", "+31h", "Chevauche une maintenance déclarée."),
])
def test_maintenance_form_bad_input_gives_a_french_message_and_no_row(world, client, starts, ends, message):
    box, = wx.make_drimboxes(world.operator, 1)
    now = timezone.now()
    wx.maintenance(box, world.technical, now + timedelta(hours=29), now + timedelta(hours=32))

    def value(text):
        if text[0] not in "+-":
            return text
        return _local(now + timedelta(hours=int(text[1:-1])) * (1 if text[0] == "+" else -1))

    client.force_login(world.legal)
    response = client.post(reverse("operator_weather_maintenance", args=[box.pk]),
                           {"starts_at": value(starts), "ends_at": value(ends), "reason": "Mise à jour"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert MaintenanceWindow.objects.filter(drimbox=box).count() == 1


def test_declare_and_cancel_from_the_pages(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    wx.timeline(box, [(timezone.now() - timedelta(days=1), S.OPERATIONAL)])
    client.force_login(world.technical)
    start = timezone.now() + timedelta(days=2)
    response = client.post(reverse("operator_weather_maintenance", args=[box.pk]), {
        "starts_at": _local(start), "ends_at": _local(start + timedelta(hours=2)), "reason": "Changement de baie"},
        follow=True)
    assert "Maintenance déclarée" in response.content.decode()
    window = MaintenanceWindow.objects.get(drimbox=box)
    assert window.reason == "Changement de baie" and window.declared_by == world.technical
    assert "Changement de baie" in client.get(reverse("operator_weather")).content.decode()
    public = client.get(reverse("weather_drimbox", args=[box.identifiant])).content.decode()
    assert "Changement de baie" in public
    response = client.post(reverse("operator_weather_maintenance_cancel", args=[window.pk]), follow=True)
    assert "Maintenance annulée" in response.content.decode()
    window.refresh_from_db()
    assert window.cancelled_at is not None


# --- ANS ----------------------------------------------------------------------------------------------


def test_ans_overview_filters(world, client):
    now = timezone.now()
    quiet, late, fresh = wx.make_drimboxes(world.operator, 3)
    other, = wx.make_drimboxes(world.other_operator, 1)
    for box in (quiet, other):
        wx.timeline(box, [(now - timedelta(days=1), S.OPERATIONAL)])
    for box in (late, fresh):
        wx.timeline(box, [(now - timedelta(days=10), S.DOWN)])
    wx.incident(late, now - timedelta(days=10))  # both deadlines long gone
    wx.incident(fresh, now - timedelta(minutes=1), acknowledged_at=now, acknowledged_by=world.technical)
    client.force_login(world.ans)

    def shown(**params):
        response = client.get(reverse("ans_weather"), params)
        assert response.status_code == 200
        body = response.content.decode()
        return {b.identifiant for b in (quiet, late, fresh, other) if f'data-identifiant="{b.identifiant}"' in body}

    assert shown() == {quiet.identifiant, late.identifiant, fresh.identifiant, other.identifiant}
    assert shown(status="down") == {late.identifiant, fresh.identifiant}
    assert shown(incident="ouvert") == {late.identifiant, fresh.identifiant}
    assert shown(incident="gti_depassee") == {late.identifiant}
    assert shown(incident="gtr_depassee") == {late.identifiant}
    assert shown(operator="Opérateur B") == {other.identifiant}
    assert "dépassée" in client.get(reverse("ans_weather"), {"incident": "gti_depassee"}).content.decode()


def test_acknowledgement_time_given_later_must_fall_inside_the_incident(world):
    box = wx.make_drimboxes(world.operator, 1)[0]
    incident = wx.incident(box, timezone.now() - timedelta(hours=2))
    for wrong in (incident.opened_at - timedelta(minutes=1), timezone.now() + timedelta(minutes=5)):
        with pytest.raises(InvalidData):
            services.acknowledge_incident(incident, acting_user=world.technical, at=wrong)
    at = incident.opened_at + timedelta(minutes=20)
    acknowledged = services.acknowledge_incident(incident, acting_user=world.technical, at=at)
    assert acknowledged.acknowledged_at == at

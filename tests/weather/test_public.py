"""Public weather: the 90-day history, the list page (filters, pagination, constant queries) and one DRIMbox."""
import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from operators.models import DrimboxStatus
from tests.support import weather as wx
from trustspace.paris_time import paris_datetime
from weather import history
from weather.clock import PARIS
from weather.models import WeatherStatus as S
from whitelist.models import PublishedEntry

pytestmark = pytest.mark.django_db


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


# --- history ----------------------------------------------------------------------------------------


def test_daily_cells_worst_status_and_down_minutes(world):
    box, = wx.make_drimboxes(world.operator, 1)
    now = paris(2026, 3, 31, 12, 0)
    wx.timeline(box, [(paris(2026, 1, 5), S.OPERATIONAL), (paris(2026, 3, 20, 12, 0), S.DOWN),
                      (paris(2026, 3, 20, 14, 30), S.OPERATIONAL), (paris(2026, 3, 21, 23, 0), S.DEGRADED),
                      (paris(2026, 3, 22, 1, 0), S.OPERATIONAL)])
    cells = history.daily_history([box.pk], now=now)[box.pk]
    assert len(cells) == 90
    assert cells[-1].day == now.date() and cells[0].day == now.date() - timedelta(days=89)
    by_day = {c.day: c for c in cells}
    down_day = by_day[paris(2026, 3, 20).date()]
    assert (down_day.status, down_day.down_minutes) == (S.DOWN, 150)
    assert "indisponible 2 h 30 min" in down_day.summary
    # Degraded across midnight: one hour on each day.
    for day in (paris(2026, 3, 21).date(), paris(2026, 3, 22).date()):
        assert (by_day[day].status, by_day[day].degraded_minutes) == (S.DEGRADED, 60)
    assert by_day[paris(2026, 3, 19).date()].status == S.OPERATIONAL
    # Before the first transition the probes knew nothing.
    assert cells[0].status == S.NO_DATA
    # 29 March 2026 is the spring DST change in Paris: that day lasts 23 hours.
    dst = by_day[paris(2026, 3, 29).date()]
    assert sum(dst.seconds.values()) == 23 * 3600
    # Today is measured up to now only.
    assert sum(cells[-1].seconds.values()) == 12 * 3600


def test_maintenance_covers_downtime_on_the_bars(world):
    box, = wx.make_drimboxes(world.operator, 1)
    now = paris(2026, 5, 15, 18, 0)
    wx.timeline(box, [(paris(2026, 5, 1), S.OPERATIONAL), (paris(2026, 5, 10, 20, 0), S.DOWN),
                      (paris(2026, 5, 10, 23, 0), S.OPERATIONAL)])
    wx.maintenance(box, world.technical, paris(2026, 5, 10, 19, 0), paris(2026, 5, 10, 22, 0))
    wx.maintenance(box, world.technical, paris(2026, 5, 12, 1, 0), paris(2026, 5, 12, 2, 0),
                   cancelled_at=paris(2026, 5, 11))
    cells = {c.day: c for c in history.daily_history([box.pk], now=now)[box.pk]}
    day = cells[paris(2026, 5, 10).date()]
    assert day.status == S.DOWN  # one hour down after the window ended
    assert (day.down_minutes, day.maintenance_minutes) == (60, 180)
    assert cells[paris(2026, 5, 12).date()].status == S.OPERATIONAL  # cancelled window: nothing shown


def test_history_queries_do_not_grow_with_drimboxes(world):
    now = timezone.now()
    small = wx.make_drimboxes(world.operator, 3)
    large = wx.make_drimboxes(world.operator, 30)
    wx.populate(small + large, now, user=world.technical)
    with CaptureQueriesContext(connection) as few:
        history.daily_history([b.pk for b in small], now=now)
    with CaptureQueriesContext(connection) as many:
        result = history.daily_history([b.pk for b in large], now=now)
    assert len(few) == len(many) == 4  # the stored days, then today: initial status, transitions, windows
    assert all(len(cells) == 90 for cells in result.values())
    assert any(c.status == S.DOWN for c in result[large[1].pk])


# --- the list page ----------------------------------------------------------------------------------


def _page(client, **params):
    response = client.get(reverse("weather"), params)
    assert response.status_code == 200
    return response, response.content.decode()


def test_public_page_lists_the_trust_space_with_status_and_bars(world, client):
    now = timezone.now()
    up, down, serviced = wx.make_drimboxes(world.operator, 3)
    declared, = wx.make_drimboxes(world.operator, 1, status=DrimboxStatus.DECLARED)
    published_withdrawn, = wx.make_drimboxes(world.other_operator, 1, status=DrimboxStatus.WITHDRAWN)
    PublishedEntry.objects.create(identifiant=published_withdrawn.identifiant, fields_sha256="0" * 64, date_maj=now)
    wx.timeline(up, [(now - timedelta(days=3), S.OPERATIONAL)])
    wx.timeline(down, [(now - timedelta(days=3), S.OPERATIONAL), (now - timedelta(hours=2), S.DOWN)])
    wx.timeline(serviced, [(now - timedelta(days=3), S.OPERATIONAL)])
    wx.maintenance(serviced, world.technical, now - timedelta(minutes=10), now + timedelta(hours=1))
    wx.incident(down, now - timedelta(hours=2))
    _response, body = _page(client)
    for box in (up, down, serviced, published_withdrawn):
        assert f'data-identifiant="{box.identifiant}"' in body
        assert box.db_fqdn in body
    assert f'data-identifiant="{declared.identifiant}"' not in body
    assert "Opérateur A" in body and "Opérateur B" in body

    def row(box):
        start = body.index(f'data-identifiant="{box.identifiant}"')
        return body[start:body.index("</tr>", start)]

    assert 'data-status="down"' in row(down) and 'data-status="operational"' in row(up)
    assert 'data-status="maintenance"' in row(serviced)
    assert 'data-status="no_data"' in row(published_withdrawn)
    # Inline SVG bars: parseable, labelled, 90 days each with a title per bar.
    start = row(down).index("<svg")
    svg = etree.fromstring(row(down)[start:row(down).index("</svg>") + 6].encode())
    assert svg.get("role") == "img" and str(down.identifiant) in svg.get("aria-label")
    rects = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 90 and all(r.find("{http://www.w3.org/2000/svg}title") is not None for r in rects)
    assert rects[-1].get("fill") == "#ce0500"  # today: down
    assert "Légende de l'historique" in body and "Pas de données" in body
    assert f'id="incident-{down.weather_incidents.get().pk}"' in body  # open incident listed
    assert 'data-count="down">1<' in body and 'data-count="maintenance">1<' in body


def test_public_filters(world, client):
    now = timezone.now()
    a1, a2 = wx.make_drimboxes(world.operator, 2)
    b1, = wx.make_drimboxes(world.other_operator, 1)
    wx.timeline(a1, [(now - timedelta(days=1), S.DOWN)])
    wx.timeline(a2, [(now - timedelta(days=1), S.OPERATIONAL)])
    wx.timeline(b1, [(now - timedelta(days=1), S.OPERATIONAL)])

    def shown(**params):
        body = _page(client, **params)[1]
        return {b.identifiant for b in (a1, a2, b1) if f'data-identifiant="{b.identifiant}"' in body}

    assert shown() == {a1.identifiant, a2.identifiant, b1.identifiant}
    assert shown(status="down") == {a1.identifiant}
    assert shown(operator=world.other_operator.pk) == {b1.identifiant}
    assert shown(q=a2.db_fqdn) == {a2.identifiant}
    assert shown(q=str(b1.identifiant)) == {b1.identifiant}
    assert shown(q=f"vi{a1.identifiant}.") == {a1.identifiant}
    # A garbage filter is ignored with a message on the field, not a 500.
    response, body = _page(client, operator="abc", status="???")
    assert "Sélectionnez un choix valide" in body


def test_public_page_paginates_and_keeps_its_query_count(world, client, settings):
    settings.WEATHER_PAGE_SIZE = 10
    now = timezone.now()
    boxes = wx.make_drimboxes(world.operator, 4)
    wx.populate(boxes, now, user=world.technical)
    with CaptureQueriesContext(connection) as few:
        _page(client)
    more = wx.make_drimboxes(world.other_operator, 21)
    wx.populate(more, now, user=world.technical)
    with CaptureQueriesContext(connection) as many:
        body = _page(client)[1]
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]
    assert re.search(r'aria-current="page"\s+title="Page 1"', body) and 'title="Page 3"' in body
    last = _page(client, page=3)[1]
    assert last.count("data-identifiant=") == 5


# --- one DRIMbox --------------------------------------------------------------------------------------


def test_drimbox_page_shows_history_incidents_with_both_clocks_and_maintenance(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    now = timezone.now()
    wx.timeline(box, [(now - timedelta(days=40), S.OPERATIONAL)])
    # Friday 18:45 → acknowledged Saturday 9:10 (GTI 25 min, kept) → restored Monday 9:30 (GTR 4 h 45, missed).
    incident = wx.incident(box, paris(2026, 3, 6, 18, 45), acknowledged_at=paris(2026, 3, 7, 9, 10),
                           acknowledged_by=world.technical, restored_at=paris(2026, 3, 9, 9, 30))
    wx.maintenance(box, world.technical, now + timedelta(days=1), now + timedelta(days=1, hours=2),
                   reason="Changement de disque")
    response = client.get(reverse("weather_drimbox", args=[box.identifiant]))
    assert response.status_code == 200
    body = response.content.decode()
    assert box.db_fqdn in body and "Opérateur A" in body
    start = body.index(f'id="incident-{incident.pk}"')
    row = body[start:body.index("</tr>", start)]
    assert "25 min / 30 min" in row and "tenue" in row
    assert "4 h 45 min / 4 h" in row and "dépassée" in row
    assert "Changement de disque" in body
    assert reverse("weather_badge", args=[box.identifiant]) in body
    assert "Technical" not in body  # who acknowledged stays inside the operator's space


def _clock_cells(client, box, incident):
    body = unescape(client.get(reverse("weather_drimbox", args=[box.identifiant])).content.decode())
    start = body.index(f'id="incident-{incident.pk}"')
    return body[start:body.index("</tr>", start)]


def test_a_gtr_reached_at_closing_time_then_restored_later_is_missed_with_both_instants(world, client):
    """The issue's « échéance 13:00, rétablie 14:30, GTR tenue »: Friday 22:00 → 4 support hours end at Saturday
    13:00 (closing); restored at 14:30, the support time is still « 4 h / 4 h », but the deadline passed."""
    box, = wx.make_drimboxes(world.operator, 1)
    wx.timeline(box, [(timezone.now() - timedelta(days=40), S.OPERATIONAL)])
    incident = wx.incident(box, paris(2026, 3, 6, 22, 0), acknowledged_at=paris(2026, 3, 7, 9, 10),
                           acknowledged_by=world.technical, restored_at=paris(2026, 3, 7, 14, 30))
    assert incident.gtr_due_at == paris(2026, 3, 7, 13, 0)
    clocked = history.incident_clocks(incident, now=paris(2026, 3, 20, 12, 0))
    assert clocked.gtr.elapsed == clocked.gtr.target  # the support clock alone cannot tell
    assert clocked.gtr.overdue and clocked.gtr.outcome == "dépassée"
    assert clocked.gti.outcome == "tenue"
    assert list(box.weather_incidents.filter(history.overdue_filter("gtr", timezone.now()))) == [incident]
    row = _clock_cells(client, box, incident)
    assert "Rétablissement le 07/03/2026 à 14:30, hors délai (échéance le 07/03/2026 à 13:00)" in row
    assert "Prise en compte le 07/03/2026 à 09:10, dans le délai (échéance le 07/03/2026 à 09:30)" in row
    assert "4 h / 4 h" in row and ">tenue<" in row and row.count("dépassée") == 1
    api = client.get(reverse("api_weather_drimbox", args=[box.identifiant])).json()
    gtr = next(i for i in api["incidents"] if i["id"] == incident.pk)["gtr"]
    assert gtr["overdue"] is True  # the API says what the page says


def test_the_clocks_of_open_incidents_name_their_deadline(world, client):
    box, other = wx.make_drimboxes(world.operator, 2)
    now = timezone.now()
    for b in (box, other):
        wx.timeline(b, [(now - timedelta(days=40), S.OPERATIONAL)])
    late = wx.incident(box, now - timedelta(days=3))
    row = _clock_cells(client, box, late)
    gti_due = history.incident_clocks(late, now).gti.due_at
    assert f"Pas de prise en compte à l'échéance du {paris_datetime(gti_due)}" in row
    assert "Pas de rétablissement à l'échéance du" in row and ">tenue<" not in row
    fresh = wx.incident(other, now)
    clocked = history.incident_clocks(fresh, now)
    assert not clocked.gtr.overdue and clocked.gtr.outcome == "en cours"
    assert clocked.gtr.summary == f"échéance le {paris_datetime(clocked.gtr.due_at)}"


def test_drimbox_page_404_outside_the_trust_space(world, client):
    declared, = wx.make_drimboxes(world.operator, 1, status=DrimboxStatus.DECLARED)
    assert client.get(reverse("weather_drimbox", args=[declared.identifiant])).status_code == 404
    assert client.get(reverse("weather_drimbox", args=[999999])).status_code == 404


def test_gti_stops_at_a_restoration_without_acknowledgement(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    wx.timeline(box, [(timezone.now() - timedelta(days=40), S.OPERATIONAL)])
    # Tuesday 10:00 → restored 10:20 without any acknowledgement: GTI stops at 20 min (kept), not running forever.
    incident = wx.incident(box, paris(2026, 3, 10, 10, 0), restored_at=paris(2026, 3, 10, 10, 20))
    clocked = history.incident_clocks(incident, now=paris(2026, 3, 20, 12, 0))
    assert clocked.gti.elapsed == timedelta(minutes=20) and not clocked.gti.running
    assert clocked.gti.stopped_at == paris(2026, 3, 10, 10, 20) and not clocked.gti.overdue
    assert clocked.gti.note == "non pris en compte"
    late = wx.incident(box, paris(2026, 3, 11, 10, 0), restored_at=paris(2026, 3, 11, 11, 0))
    assert history.incident_clocks(late, now=paris(2026, 3, 20, 12, 0)).gti.elapsed == timedelta(hours=1)
    overdue = box.weather_incidents.filter(history.overdue_filter("gti", timezone.now()))
    late_ids = set(overdue.values_list("pk", flat=True))
    assert late_ids == {late.pk}
    body = client.get(reverse("weather_drimbox", args=[box.identifiant])).content.decode()
    start = body.index(f'id="incident-{incident.pk}"')
    row = body[start:body.index("</tr>", start)]
    assert "20 min / 30 min" in row and "non pris en compte" in row and "en cours" not in row
    api = client.get(reverse("api_weather_drimbox", args=[box.identifiant])).json()
    gti = next(i for i in api["incidents"] if i["id"] == incident.pk)["gti"]
    assert gti["elapsed_seconds"] == 1200 and gti["note"] == "non pris en compte" and gti["stopped_at"]


def test_an_incident_opened_inside_a_declared_window_is_never_overdue(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    wx.timeline(box, [(timezone.now() - timedelta(days=40), S.OPERATIONAL)])
    wx.maintenance(box, world.technical, paris(2026, 3, 10, 9, 0), paris(2026, 3, 10, 18, 0))  # declared the day before
    planned = wx.incident(box, paris(2026, 3, 10, 9, 30), restored_at=paris(2026, 3, 10, 17, 0))  # kept open: shown
    outside = wx.incident(box, paris(2026, 3, 12, 9, 30), restored_at=paris(2026, 3, 12, 17, 0))
    # A window declared after the fact (created at 12:00 for 8:00–18:00) does not excuse an incident of 9:30.
    wx.maintenance(box, world.technical, paris(2026, 3, 13, 8, 0), paris(2026, 3, 13, 18, 0),
                   created_at=paris(2026, 3, 13, 12, 0))
    retro = wx.incident(box, paris(2026, 3, 13, 9, 30), restored_at=paris(2026, 3, 13, 17, 0))
    now = timezone.now()
    clocks = {i.pk: history.incident_clocks(i, now) for i in
              history.with_maintenance_flag(box.weather_incidents.all())}
    assert not clocks[planned.pk].gti.overdue and not clocks[planned.pk].gtr.overdue
    assert clocks[planned.pk].gtr.note == "pendant une maintenance déclarée"
    assert clocks[planned.pk].gtr.elapsed == timedelta(hours=7, minutes=30)  # still shown
    assert clocks[outside.pk].gti.overdue and clocks[outside.pk].gtr.overdue
    assert clocks[retro.pk].gtr.overdue and clocks[retro.pk].gtr.note == ""
    for kind in ("gti", "gtr"):
        late = set(box.weather_incidents.filter(history.overdue_filter(kind, now)).values_list("pk", flat=True))
        assert late == {outside.pk, retro.pk}
    body = client.get(reverse("weather_drimbox", args=[box.identifiant])).content.decode()
    start = body.index(f'id="incident-{planned.pk}"')
    row = body[start:body.index("</tr>", start)]
    assert "pendant une maintenance déclarée" in row and "dépassée" not in row


def test_a_drimbox_waits_for_its_publication_before_the_public_weather_shows_it(world, client):
    """Integrated (active) is not yet in the trust space: the public weather, its page, badge and feed show it only
    once a published whitelist contains it; its operator sees « En attente de publication », with no link to a
    page that would answer 404."""
    now = timezone.now()
    listed, = wx.make_drimboxes(world.operator, 1)
    waiting, = wx.make_drimboxes(world.operator, 1, published=False)
    wx.timeline(listed, [(now - timedelta(days=1), S.OPERATIONAL)])
    _response, body = _page(client)
    assert f'data-identifiant="{listed.identifiant}"' in body
    assert f'data-identifiant="{waiting.identifiant}"' not in body
    for name in ("weather_drimbox", "weather_badge"):
        assert client.get(reverse(name, args=[waiting.identifiant])).status_code == 404
    assert client.get(reverse("api_weather_drimbox", args=[waiting.identifiant])).status_code == 404

    client.force_login(world.technical)
    operator_page = client.get(reverse("operator_weather")).content.decode()
    assert reverse("weather_drimbox", args=[listed.identifiant]) in operator_page
    assert reverse("weather_drimbox", args=[waiting.identifiant]) not in operator_page
    row = operator_page[operator_page.index(f'data-identifiant="{waiting.identifiant}"'):]
    assert "En attente de publication" in row[:row.index("</tr>")]

    PublishedEntry.objects.create(identifiant=waiting.identifiant, fields_sha256="0" * 64, date_maj=now)
    assert client.get(reverse("weather_drimbox", args=[waiting.identifiant])).status_code == 200
    assert f'data-identifiant="{waiting.identifiant}"' in _page(client)[1]

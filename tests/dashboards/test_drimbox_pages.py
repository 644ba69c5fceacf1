"""ANS's page of a DRIMbox (everything about it) and a DRIMbox's weather and performance page."""
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from operators import services
from tests.support import weather as wx
from tests.support.lifecycle import active_drimbox
from weather import services as weather_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def latency_noon():
    """Noon (Paris) two days ago: the day of the box's two latency samples, whatever the time the test runs (one
    clock reading, shared by the fixture and the test: a second reading could fall on the next day)."""
    return timezone.localtime(timezone.now() - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def box(world, latency_noon):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    now = timezone.now()
    # A 15-hour outage inside one Paris month (the 10th, 05:00 to 20:00, in a past month): measured 35 days back
    # from any instant, it could straddle a month's end and be split over two rows of the Df table.
    down = timezone.localtime(now - timedelta(days=35)).replace(day=10, hour=5, minute=0, second=0, microsecond=0)
    wx.timeline(drimbox, [(now - timedelta(days=70), "operational"), (down, "down"),
                          (down + timedelta(hours=15), "operational")])
    wx.incident(drimbox, down, restored_at=down + timedelta(hours=15), reason="db : connexion refusée")
    weather_services.add_latency_samples([(drimbox.pk, latency_noon, 40),
                                          (drimbox.pk, latency_noon - timedelta(minutes=5), 60),
                                          (drimbox.pk, now - timedelta(hours=1), 90)])
    return drimbox


def _section(body, marker):
    start = body.index(marker)
    return body[start:body.index("</table>", start)]


def test_ans_page_gathers_everything_about_the_drimbox(world, client, box, latency_noon):
    client.force_login(world.ans)
    body = client.get(reverse("ans_drimbox", args=[box.pk])).content.decode()
    requests_ = list(box.requests.values_list("reference", flat=True))
    assert len(requests_) == 2 and all(reference in _section(body, "<table data-requests>") for reference in requests_)
    certificates = _section(body, "<table data-certificates>")
    assert certificates.count("/certificats/") == 2  # db and vi, each linking to its page
    assert box.db_fqdn in _section(body, "<table data-dns>")
    assert "db : connexion refusée" in _section(body, "<table data-incidents>")
    assert "Attendu" in _section(body, "<table data-va>")
    # The audit: the approval of its declaration and of its integration, with French labels.
    assert body.count("<strong>Demande approuvée</strong>") == 2
    # Charts with their tables: Df/PERF per month (a 15 h month: PERF 0.5), latency, validity of certificates.
    for chart in ("df-mois", "latence", "validite"):
        assert f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart}"' in body
        assert f'data-figure-table="{chart}"' in body
    assert re.search(r"<td>15:00</td><td>0,5</td><td>1</td>", body)
    # The latency table: the day of the two samples (mean 50, min 40, max 60).
    day = f"{latency_noon:%d/%m/%Y}"
    assert re.search(rf'<th scope="row">{day}</th><td>2</td><td>50</td><td>40</td><td>60</td>', body)



class _Tabs(HTMLParser):
    """The DSFR tabs of a page: each tab (id, controlled panel, selected) and, for each panel, the labelling tab
    and the data-* tables it holds."""

    def __init__(self):
        super().__init__()
        self.tabs, self.panels, self._panel, self._depth = [], {}, None, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("role") == "tab":
            self.tabs.append((a["id"], a["aria-controls"], a["aria-selected"] == "true", a["tabindex"]))
        if tag != "div":
            if tag == "table" and self._panel:
                self.panels[self._panel]["tables"] += [name for name in a if name.startswith("data-")]
            return
        if self._panel:
            self._depth += 1
        elif a.get("role") == "tabpanel":
            self._panel, self._depth = a["id"], 1
            self.panels[a["id"]] = {"labelledby": a["aria-labelledby"], "tables": [],
                                    "selected": "fr-tabs__panel--selected" in a["class"]}

    def handle_endtag(self, tag):
        if tag == "div" and self._panel:
            self._depth -= 1
            if not self._depth:
                self._panel = None


def test_ans_page_is_in_dsfr_tabs_one_panel_per_subject(world, client, box):
    client.force_login(world.ans)
    parser = _Tabs()
    parser.feed(client.get(reverse("ans_drimbox", args=[box.pk])).content.decode())
    assert [tab_id for tab_id, *_rest in parser.tabs] == [
        "fiche-onglet", "meteo-onglet", "certificats-onglet", "demandes-onglet", "va-onglet", "dns-onglet",
        "historique-onglet"]
    # The first tab is selected and the only one reached by Tab; each tab controls the panel it labels.
    assert [(selected, tabindex) for *_ids, selected, tabindex in parser.tabs] == [(True, "0")] + [(False, "-1")] * 6
    assert {panel: (data["labelledby"], data["selected"]) for panel, data in parser.panels.items()} == {
        panel: (tab, selected) for tab, panel, selected, _tabindex in parser.tabs}
    # Each subject's table sits in its own panel.
    tables = {panel: data["tables"] for panel, data in parser.panels.items()}
    assert tables["meteo-panneau"] == ["data-incidents"]
    assert tables["certificats-panneau"] == ["data-certificates"]
    assert tables["demandes-panneau"] == ["data-requests"] and tables["va-panneau"] == ["data-va"]
    assert tables["dns-panneau"] == ["data-dns"]


def test_ans_lists_link_to_the_ans_page(world, client, box):
    client.force_login(world.ans)
    target = f'href="{reverse("ans_drimbox", args=[box.pk])}"'
    for name in ("ans_registry", "ans_incidents"):
        assert target in client.get(reverse(name)).content.decode(), name
    # The ANS weather lists the published DRIMboxes: its links go to the ANS page, not to the public one.
    published = wx.make_drimboxes(world.operator, 1)[0]
    body = client.get(reverse("ans_weather")).content.decode()
    assert f'href="{reverse("ans_drimbox", args=[published.pk])}"' in body
    assert f'href="{reverse("weather_drimbox", args=[published.identifiant])}"' not in body


def test_ans_page_query_count_does_not_grow_with_its_history(world, client, box):
    client.force_login(world.ans)
    url = reverse("ans_drimbox", args=[box.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        assert client.get(url).status_code == 200
    now = timezone.now()
    for days in range(3, 9):
        wx.incident(box, now - timedelta(days=days), restored_at=now - timedelta(days=days) + timedelta(hours=1))
    services.comment_request(box.requests.first(), acting_user=world.legal, text="Une question.")
    with CaptureQueriesContext(connection) as after:
        assert client.get(url).status_code == 200
    assert len(after) == len(before)


def test_weather_page_for_the_operator_only(world, client, box):
    url = reverse("drimbox_weather", args=[box.pk])
    client.force_login(world.other)
    assert client.get(url).status_code == 404
    client.force_login(world.technical)
    body = client.get(url).content.decode()
    assert 'id="df-mois"' in body and 'id="latence"' in body
    # Months before the weather knew the DRIMbox are not reported as PERF 1.
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>[^<]*</td><td>([^<]*)</td>', _section(
        body, 'data-figure-table="df-mois"'))
    assert 2 <= len(rows) <= 4 and ("—" not in [perf for _month, perf in rows])
    # Its DRIMbox page links here.
    assert f'href="{url}"' in client.get(reverse("drimbox_detail", args=[box.pk])).content.decode()


def test_months_the_weather_did_not_measure_are_not_perf_1(world, client):
    """Measured from its first month in the weather; silent since a month start (withdrawn): « non mesurée »."""
    from weather.clock import PARIS

    drimbox = wx.make_drimboxes(world.operator, 1)[0]
    month_start = timezone.now().astimezone(PARIS).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    wx.timeline(drimbox, [(month_start - timedelta(days=40), "operational"),
                          (month_start - timedelta(days=3), "no_data")])
    client.force_login(world.ans)
    body = client.get(reverse("drimbox_weather", args=[drimbox.pk])).content.decode()
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td><td>([^<]*)</td>',
                      _section(body, 'data-figure-table="df-mois"'))
    assert len(rows) == 3  # the month it entered the weather, the next one, and the current month
    assert [perf for _month, _df, perf in rows] == ["1", "1", "—"]
    assert rows[-1][1] == "non mesurée"
    assert 'class="portal-chart__missing"' in body  # « n.d. » on the chart

"""The Atom feed of incidents and the SVG badge."""
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from operators.models import DrimboxStatus
from tests.support import weather as wx
from weather import badges
from weather.models import WeatherStatus as S

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"
SVG = "{http://www.w3.org/2000/svg}"


def _feed(client, **params):
    response = client.get(reverse("weather_feed"), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return etree.fromstring(response.content)


def test_atom_feed_lists_incidents_and_updates_on_acknowledgement_and_restoration(world, client):
    now = timezone.now().replace(microsecond=0)
    first, second = wx.make_drimboxes(world.operator, 2)
    hidden, = wx.make_drimboxes(world.operator, 1, status=DrimboxStatus.DECLARED)
    opened = now - timedelta(hours=5)
    restored = wx.incident(first, opened, acknowledged_at=opened + timedelta(minutes=10),
                           acknowledged_by=world.technical, restored_at=now - timedelta(hours=1))
    running = wx.incident(second, now - timedelta(minutes=20))
    wx.incident(hidden, now - timedelta(minutes=5))
    root = _feed(client)
    assert root.tag == f"{ATOM}feed"
    assert "incidents" in root.findtext(f"{ATOM}title")
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2  # the DRIMbox outside the trust space is not published
    by_link = {e.find(f"{ATOM}link").get("href"): e for e in entries}
    restored_entry = next(e for href, e in by_link.items() if href.endswith(f"#incident-{restored.pk}"))
    assert "rétablie" in restored_entry.findtext(f"{ATOM}title")
    assert first.db_fqdn in restored_entry.findtext(f"{ATOM}title")
    assert datetime.fromisoformat(restored_entry.findtext(f"{ATOM}updated")) == restored.restored_at
    assert "Opérateur A" in restored_entry.findtext(f"{ATOM}summary")
    running_entry = next(e for href, e in by_link.items() if href.endswith(f"#incident-{running.pk}"))
    assert "en cours" in running_entry.findtext(f"{ATOM}title")
    # Acknowledging changes the entry (title and updated).
    running.acknowledged_at, running.acknowledged_by = now, world.technical
    running.save()
    entry = next(e for e in _feed(client).findall(f"{ATOM}entry")
                 if e.find(f"{ATOM}link").get("href").endswith(f"#incident-{running.pk}"))
    assert "prise en compte" in entry.findtext(f"{ATOM}title")
    assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated")) == now


def test_atom_feed_of_one_drimbox(world, client):
    now = timezone.now()
    first, second = wx.make_drimboxes(world.operator, 2)
    wx.incident(first, now - timedelta(days=2), restored_at=now - timedelta(days=1))
    wx.incident(second, now - timedelta(hours=1))
    entries = _feed(client, identifiant=first.identifiant).findall(f"{ATOM}entry")
    assert len(entries) == 1 and str(first.identifiant) in entries[0].findtext(f"{ATOM}title")
    assert client.get(reverse("weather_feed"), {"identifiant": 999999}).status_code == 404


def test_feed_escapes_html_in_descriptions(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    wx.incident(box, timezone.now() - timedelta(hours=1), reason="<script>alert(1)</script>")
    summary = _feed(client).find(f"{ATOM}entry").findtext(f"{ATOM}summary")
    assert "<script>" not in summary and "&lt;script&gt;" in summary


@pytest.mark.parametrize(("status", "label", "colour"), [
    (S.OPERATIONAL, "Opérationnel", "#18753c"), (S.DOWN, "Indisponible", "#ce0500"),
    (S.DEGRADED, "Dégradé", "#b34000"), (S.NO_DATA, "Pas de données", "#929292")])
def test_badge_is_valid_svg_with_the_status(world, client, status, label, colour):
    box, = wx.make_drimboxes(world.operator, 1)
    if status != S.NO_DATA:
        wx.timeline(box, [(timezone.now() - timedelta(hours=1), status)])
    response = client.get(reverse("weather_badge", args=[box.identifiant]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Cache-Control"] == "public, max-age=60"
    svg = etree.fromstring(response.content)
    assert svg.tag == f"{SVG}svg"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == [f"DRIMbox {box.identifiant}", label]
    assert colour in [r.get("fill") for r in svg.iter(f"{SVG}rect")]
    assert label in svg.findtext(f"{SVG}title")


def test_badge_shows_maintenance_and_404_outside_the_trust_space(world, client):
    now = timezone.now()
    box, = wx.make_drimboxes(world.operator, 1)
    withdrawn, = wx.make_drimboxes(world.operator, 1, status=DrimboxStatus.WITHDRAWN)
    wx.timeline(box, [(now - timedelta(hours=3), S.DOWN)])
    wx.maintenance(box, world.technical, now - timedelta(hours=1), now + timedelta(hours=1))
    svg = etree.fromstring(client.get(reverse("weather_badge", args=[box.identifiant])).content)
    assert "Maintenance" in [t.text for t in svg.iter(f"{SVG}text")]
    assert client.get(reverse("weather_badge", args=[withdrawn.identifiant])).status_code == 404


def test_badge_text_is_escaped():
    svg = etree.fromstring(badges.badge_svg('<b>&"x', "down").encode())
    assert [t.text for t in svg.iter(f"{SVG}text")] == ['<b>&"x', "Indisponible"]

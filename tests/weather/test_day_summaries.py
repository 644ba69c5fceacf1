"""Stored days of the public weather (``DaySummary``, and the list page's strips drawn from them, ``DayStrip``): the
pages and the JSON read the closed days from the tables and compute only today, with the same result to the byte;
the table is filled as days close, dropped where a late transition reaches back, rebuilt by a command
(idempotent); the public pages and feeds answer conditional GETs."""
import random
import re
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.support import weather as wx
from trustspace.models import OutboxMessage
from weather import history, services, tasks
from weather.clock import PARIS
from weather.models import DayStrip, DaySummary, Transition
from weather.models import WeatherStatus as S

pytestmark = pytest.mark.django_db

# Today is 15 April 2026 (Paris): the 90 days hold the change to summer time (29 March).
NOW = datetime(2026, 4, 15, 12, 34, 56, 789012, tzinfo=PARIS)
STATUSES = [S.OPERATIONAL, S.OPERATIONAL, S.OPERATIONAL, S.DOWN, S.DEGRADED, S.NO_DATA]


@pytest.fixture
def frozen():
    """The pages read ``timezone.now()``: fixed, so that two renderings can be compared byte for byte."""
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield NOW


def seed(world, count=5, *, seed_value=17, until=NOW - timedelta(hours=1)):
    """``count`` published DRIMboxes with 100 days of changes (up to ``until``) at instants to the microsecond (so
    that the seconds of a day are sums of fractions), windows across midnights, and incidents."""
    rng = random.Random(seed_value)  # noqa: S311 - reproducible test data
    boxes = wx.make_drimboxes(world.operator, count)
    for index, box in enumerate(boxes):
        at, changes, status = NOW - timedelta(days=100), [], S.NO_DATA
        while True:
            at += timedelta(seconds=rng.uniform(600, 4 * 86400))
            if at >= until:
                break
            new = rng.choice([s for s in STATUSES if s != status])
            changes.append((at, new))
            status = new
        wx.timeline(box, changes)
        for _ in range(3):
            start = NOW - timedelta(days=rng.uniform(1, 80), seconds=rng.uniform(0, 86400))
            wx.maintenance(box, world.technical, start, start + timedelta(hours=rng.uniform(1, 30)))
        if index % 2 == 0:
            opened = NOW - timedelta(days=rng.uniform(1, 20))
            wx.incident(box, opened, restored_at=opened + timedelta(hours=5))
    return boxes


def public_urls(boxes):
    urls = [reverse("weather"), reverse("weather") + "?page=1&status=operational", reverse("weather_feed"),
            reverse("api_weather")]
    for box in boxes:
        urls += [reverse("weather_drimbox", args=[box.identifiant]), reverse("weather_badge", args=[box.identifiant]),
                 reverse("api_weather_drimbox", args=[box.identifiant])]
    return urls


def bodies(client, urls):
    """The body of each URL, without the CSP nonce (a fresh one each request)."""
    result = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        result[url] = re.sub(rb'nonce="[^"]*"', b'nonce=""', response.content)
    return result


def table():
    return list(DaySummary.objects.order_by("drimbox_id", "day")
                .values_list("drimbox_id", "day", "shown_status", "seconds"))


def test_pages_and_json_read_from_stored_days_are_the_same(world, client, frozen):
    boxes = seed(world)
    urls = public_urls(boxes)
    computed = bodies(client, urls)  # nothing stored yet: every day computed from the transitions
    counts = services.record_day_summaries()
    assert counts["stored"] == len(boxes) * 89 and DaySummary.objects.count() == len(boxes) * 89
    assert counts["drawn"] == len(boxes) and DayStrip.objects.count() == len(boxes)
    stored = bodies(client, urls)  # the list page draws the closed days from the strips, today live
    for url in urls:
        assert stored[url] == computed[url], url
    # The seconds of each day, floats included, and so the availability over the 90 days (their sums).
    ids = [box.pk for box in boxes]
    read = history.daily_history(ids)
    DaySummary.objects.all().delete()
    again = history.daily_history(ids)
    assert {pk: [(c.day, c.status, c.seconds) for c in cells] for pk, cells in read.items()} == \
        {pk: [(c.day, c.status, c.seconds) for c in cells] for pk, cells in again.items()}
    assert [history.availability(read[pk]) for pk in ids] == [history.availability(again[pk]) for pk in ids]


def test_the_pages_read_the_closed_days_from_the_table_and_a_rebuild_recomputes_them(world, client, frozen):
    box, = seed(world, 1)
    services.record_day_summaries()
    url = reverse("api_weather_drimbox", args=[box.identifiant])
    before = client.get(url).json()["history"]
    # A change to an old row written behind the services' back: the stored days do not see it ...
    old = Transition.objects.filter(drimbox=box, effective_at__lt=NOW - timedelta(days=30)).latest("effective_at")
    Transition.objects.filter(pk=old.pk).update(effective_at=old.effective_at - timedelta(hours=7))
    assert client.get(url).json()["history"] == before
    # ... until rebuilt from the transitions, which gives what the pages compute without the table.
    services.record_day_summaries(rebuild=True)
    rebuilt = client.get(url).json()["history"]
    assert rebuilt != before
    DaySummary.objects.all().delete()
    assert client.get(url).json()["history"] == rebuilt


def test_filling_and_rebuilding_are_idempotent(world, frozen):
    seed(world, 3)
    call_command("weather_day_summaries")
    first = table()
    assert services.record_day_summaries()["stored"] == 0
    assert tasks.close_weather_days()["stored"] == 0
    assert table() == first
    call_command("weather_day_summaries", "--rebuild")
    assert table() == first
    call_command("weather_day_summaries", "--rebuild")
    assert table() == first
    # Days that left the window go; a day not stored yet (one DRIMbox's, in the middle) is stored again alone.
    some = DaySummary.objects.filter(day=NOW.date() - timedelta(days=40)).first()
    some.delete()
    assert services.record_day_summaries()["stored"] == 1
    assert table() == first
    assert services.record_day_summaries(now=NOW + timedelta(days=2))["pruned"] == 3 * 2


def test_a_late_transition_drops_the_closed_days_it_changes(world, client, frozen):
    late, other = seed(world, 2, until=NOW - timedelta(days=3))
    services.record_day_summaries()
    yesterday_evening = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1)
    head = late.weather.status
    services.set_status(late, S.NO_DATA if head != S.NO_DATA else S.OPERATIONAL,
                        effective_at=yesterday_evening, reason="Aucune donnée récente des points de sonde.")
    effective = Transition.objects.filter(drimbox=late).latest("effective_at", "id").effective_at
    first_dropped = effective.astimezone(PARIS).date()
    assert not DaySummary.objects.filter(drimbox=late, day__gte=first_dropped).exists()
    assert DaySummary.objects.filter(drimbox=late, day__lt=first_dropped).exists()
    assert list(DayStrip.objects.values_list("drimbox_id", flat=True)) == [other.pk]  # late's strip went too
    assert DaySummary.objects.filter(drimbox=other).count() == 89
    assert OutboxMessage.objects.filter(payload__task="weather.tasks.close_weather_days").count() == 1
    # Meanwhile the pages compute the dropped days: the same as with nothing stored.
    url = reverse("api_weather_drimbox", args=[late.identifiant])
    served = bodies(client, [url])
    kept = table()
    DaySummary.objects.all().delete()
    assert bodies(client, [url]) == served
    DaySummary.objects.bulk_create(DaySummary(drimbox_id=b, day=d, shown_status=s, seconds=sec)
                                   for b, d, s, sec in kept)
    assert services.record_day_summaries()["stored"] == (NOW.date() - first_dropped).days
    # A transition of today changes no closed day.
    services.set_status(other, S.DOWN if other.weather.status != S.DOWN else S.OPERATIONAL, effective_at=NOW)
    assert DaySummary.objects.filter(drimbox=other).count() == 89


def test_the_public_page_runs_a_fixed_number_of_queries(world, client, frozen):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("weather")).status_code == 200
        return len(captured)

    seed(world, 2, seed_value=1)
    services.record_day_summaries()
    queries()  # the first request of a process may load what later ones reuse
    few = queries()
    seed(world, 40, seed_value=2)  # more DRIMboxes (a full page), more transitions, more days stored
    services.record_day_summaries()
    assert queries() == few
    DaySummary.objects.filter(day__gte=NOW.date() - timedelta(days=3)).delete()  # a few days not stored yet
    assert queries() == few


@pytest.mark.parametrize("signed_in", [False, True])
def test_public_weather_answers_conditional_gets(world, client, signed_in):
    box, = seed(world, 1)
    if signed_in:
        client.force_login(world.technical)
    for url in public_urls([box]):
        first = client.get(url)
        assert first.status_code == 200 and first["ETag"], url
        if signed_in and url.startswith("/meteo/") and "badge" not in url and "atom" not in url:
            assert first["Cache-Control"] == "private, max-age=0", url
        else:
            assert first["Cache-Control"].startswith("public, max-age="), url
            assert first["Last-Modified"], url
            again = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
            assert again.status_code == 304 and again.content == b"", url
        if not (signed_in and url.startswith("/meteo/") and "badge" not in url and "atom" not in url):
            # Signed in, the page carries a fresh CSRF token each time: no two bodies are the same.
            not_modified = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
            assert not_modified.status_code == 304 and not_modified.content == b"", url
            assert not_modified["ETag"] == first["ETag"]
        assert client.get(url, HTTP_IF_NONE_MATCH='"autre"').status_code == 200


def test_a_change_gives_a_new_etag_and_the_json_list_ignores_its_generation_time(world, client):
    box, = seed(world, 1)
    url = reverse("api_weather")
    first = client.get(url)
    assert first["ETag"].startswith('W/"')
    with mock.patch("django.utils.timezone.now", return_value=NOW + timedelta(seconds=5)):
        later = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert later.status_code == 304
    badge = reverse("weather_badge", args=[box.identifiant])
    seen = client.get(badge)
    services.set_status(box, S.DOWN if box.weather.status != S.DOWN else S.OPERATIONAL,
                        effective_at=NOW + timedelta(minutes=1), at=NOW + timedelta(minutes=1))
    changed = client.get(badge, HTTP_IF_NONE_MATCH=seen["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != seen["ETag"]


def _list_page(client):
    return re.sub(rb'nonce="[^"]*"', b'nonce=""', client.get(reverse("weather")).content)


def test_the_list_page_draws_the_closed_days_from_the_strips_and_only_current_ones(world, client, frozen):
    boxes = seed(world, 3)
    services.record_day_summaries()
    drawn = _list_page(client)
    # The strip is what the page shows for the closed days (changed behind the services' back, the page shows it) ...
    DayStrip.objects.filter(drimbox=boxes[0]).update(bars='<rect id="dessinee"/>')
    assert b'<rect id="dessinee"/>' in _list_page(client)
    # ... unless it is not the current drawing or window: then every day is computed, the same bars.
    DayStrip.objects.filter(drimbox=boxes[0]).update(version=0)
    assert _list_page(client) == drawn
    DayStrip.objects.filter(drimbox=boxes[0]).update(version=1, first_day=NOW.date() - timedelta(days=90))
    assert _list_page(client) == drawn
    # The next filling draws it again, and drops the strips of another window.
    assert services.record_day_summaries()["drawn"] == 1
    assert DayStrip.objects.count() == 3 and _list_page(client) == drawn
    tomorrow = NOW + timedelta(days=1)
    with mock.patch("django.utils.timezone.now", return_value=tomorrow):
        counts = services.record_day_summaries()
        assert counts["stored"] == 3 and counts["drawn"] == 3
        assert set(DayStrip.objects.values_list("first_day", "last_day")) == {
            (tomorrow.date() - timedelta(days=89), NOW.date())}
        shown = _list_page(client)
        DayStrip.objects.all().delete()
        assert _list_page(client) == shown


def test_a_filling_draws_the_strips_of_the_drimboxes_it_fills_and_a_rebuild_draws_them_again(world, frozen):
    first, second = seed(world, 2)
    services.record_day_summaries(drimbox_ids=[first.pk])
    assert list(DayStrip.objects.values_list("drimbox_id", flat=True)) == [first.pk]
    DaySummary.objects.filter(drimbox=first, day=NOW.date() - timedelta(days=10)).delete()  # one day to store again
    DayStrip.objects.all().delete()
    assert services.record_day_summaries(drimbox_ids=[first.pk, second.pk]) == {
        "drimboxes": 2, "stored": 1 + 89, "pruned": 0, "drawn": 2}
    DayStrip.objects.filter(drimbox=second).update(bars="")
    services.record_day_summaries(drimbox_ids=[second.pk], rebuild=True)  # a rebuild draws again what it rebuilt
    assert dict(DayStrip.objects.values_list("drimbox_id", "bars"))[second.pk].count("<rect ") == 89

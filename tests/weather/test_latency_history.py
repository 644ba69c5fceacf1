"""The probes' response times kept per hour for the history charts (weather.services.latency, weather.latency)."""
import datetime as dt

import pytest

from tests.support.lifecycle import declared_drimbox
from weather import services
from weather.latency import daily_latency
from weather.models import LatencyHour, ProbeLocation, WeatherStatus
from weather.prober import FAILING, ProbeResult

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # 9:00 in Paris
MIN = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _locations(db, settings):
    settings.WEATHER_STALE_AFTER = 300
    for name in ("paris", "lyon"):
        ProbeLocation.objects.create(name=name, label=name.capitalize(), active=True)


@pytest.fixture
def box(world):
    return declared_drimbox(world.operator, world.legal, world.ans)


def probe(box, at, latency_ms, location="paris", status=WeatherStatus.OPERATIONAL):
    return services.record_observations(location, [ProbeResult(
        identifiant=box.identifiant, checked_at=at, status=status, db_ok=status != FAILING, vi_ok=True,
        latency_ms=latency_ms)], at=at)


def test_every_location_adds_to_the_hour_of_its_probe(box):
    probe(box, T0 + MIN, 40)
    probe(box, T0 + MIN, 100, location="lyon")
    probe(box, T0 + 2 * MIN, 10)
    probe(box, T0 + 3 * MIN, None, status=FAILING)  # a failed probe measures nothing
    probe(box, T0 + 61 * MIN, 70)
    hours = list(LatencyHour.objects.filter(drimbox=box).order_by("hour"))
    assert [(h.hour, h.samples, h.total_ms, h.min_ms, h.max_ms) for h in hours] == [
        (T0, 3, 150, 10, 100), (T0 + dt.timedelta(hours=1), 1, 70, 70, 70)]
    assert hours[0].mean_ms == 50


def test_a_late_result_adds_nothing(box):
    probe(box, T0 + 5 * MIN, 40)
    probe(box, T0 + 4 * MIN, 900)  # older than the stored observation: ignored, as its status is
    assert LatencyHour.objects.get(drimbox=box).samples == 1


def test_hours_older_than_the_retention_go_when_a_new_hour_starts(box, settings):
    settings.WEATHER_LATENCY_DAYS = 2
    probe(box, T0, 20)
    probe(box, T0 + dt.timedelta(days=1), 30)
    assert LatencyHour.objects.filter(drimbox=box).count() == 2
    probe(box, T0 + dt.timedelta(days=2, hours=1), 40)
    assert list(LatencyHour.objects.filter(drimbox=box).order_by("hour").values_list("total_ms", flat=True)) == [30, 40]


def test_daily_latency_groups_hours_by_paris_day(box):
    # 23:30 UTC on 1 March is 00:30 on 2 March in Paris.
    services.add_latency_samples([(box.pk, dt.datetime(2026, 3, 1, 22, 30, tzinfo=dt.UTC), 10),
                                  (box.pk, dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC), 30),
                                  (box.pk, dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), 50)])
    days = daily_latency(box.pk, days=3, now=T0 + dt.timedelta(hours=4))
    assert [d.day for d in days] == [dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    assert [(d.samples, d.mean_ms, d.min_ms, d.max_ms) for d in days] == [
        (0, None, None, None), (1, 10, 10, 10), (2, 40, 30, 50)]

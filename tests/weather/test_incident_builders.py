"""The weather test builders give the same answer at any hour of any day the suite runs: an incident a test
means to be « past its GTI and GTR » is so at night, on a weekend and on a public holiday too."""
from datetime import UTC, datetime, timedelta

from tests.support.weather import support_morning
from weather.clock import GTI, GTR, support_add


def test_an_incident_opened_on_a_support_morning_is_past_both_deadlines_at_every_hour_of_two_years():
    start = datetime(2026, 1, 1, tzinfo=UTC)  # holidays of 2026 and 2027, both DST changes of each year
    for hour in range(0, 2 * 365 * 24):
        now = start + timedelta(hours=hour, minutes=59)
        opened = support_morning(now)
        assert support_add(opened, GTR) < now and support_add(opened, GTI) < now, now
        assert now - timedelta(days=6) < opened, now  # recent: after what the tests place a week or more back
        later = support_morning(now, days_back=3) + timedelta(days=1)  # restored a day later: GTI missed
        assert support_add(support_morning(now, days_back=3), GTI) < later < now, now

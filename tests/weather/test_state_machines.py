"""Status moves of the weather's rows go through transition_to: the probed statuses only, never « maintenance »."""
import pytest

from trustspace.errors import Conflict
from weather.models import DrimboxWeather, LocationObservation
from weather.models import WeatherStatus as S

PROBED = [S.OPERATIONAL, S.DEGRADED, S.DOWN, S.NO_DATA]


@pytest.mark.parametrize("start", PROBED)
def test_a_drimbox_head_moves_between_any_two_probed_statuses(start):
    for target in PROBED:
        head = DrimboxWeather(status=start)
        if target == start:
            assert not head.can_transition_to(target)  # an unchanged status writes no transition
        else:
            head.transition_to(target)
            assert head.status == target


def test_maintenance_is_displayed_never_stored():
    with pytest.raises(Conflict) as refused:
        DrimboxWeather(status=S.OPERATIONAL).transition_to(S.MAINTENANCE)
    assert refused.value.code == "invalid_transition"


def test_a_location_reports_what_it_saw_and_never_goes_back_to_no_data():
    observation = LocationObservation(status=S.NO_DATA)
    observation.transition_to(S.DOWN)
    observation.transition_to(S.OPERATIONAL)
    with pytest.raises(Conflict):
        observation.transition_to(S.NO_DATA)

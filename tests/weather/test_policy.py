"""The measurement policy: versions created by ANS only, validated, audited, never edited; which applies."""
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry
from weather.clock import PARIS
from weather.models import MeasurementPolicy
from weather.policy import month_start, policy_for
from weather.services import create_policy_version

pytestmark = pytest.mark.django_db


def next_month(months=1):
    local = timezone.now().astimezone(PARIS)
    index = local.year * 12 + local.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=PARIS)


def create(user, **overrides):
    values = {"reference_period": "month", "support_hours_only": True, "maintenance_counts": False,
              "effective_from": next_month(), "comment": "Heures ouvrées seulement, à la demande du comité."}
    values.update(overrides)
    return create_policy_version(acting_user=user, **values)


def test_migration_creates_v1():
    v1 = MeasurementPolicy.objects.get()
    assert (v1.version, v1.reference_period, v1.support_hours_only, v1.maintenance_counts) == (1, "month", False, False)
    assert v1.describe() == "v1 — mois civil (Europe/Paris), toutes les heures, maintenance déclarée exclue"


def test_ans_creates_the_next_version_audited(world):
    policy = create(world.ans)
    assert policy.version == 2 and policy.created_by == world.ans
    entry = AuditEntry.objects.filter(action="weather.measurement_policy_created").get()
    assert entry.object_id == str(policy.pk) and entry.actor_id == world.ans.pk
    assert entry.after["support_hours_only"] is True and entry.after["version"] == 2
    assert entry.reason.startswith("Heures ouvrées")
    v1 = MeasurementPolicy.objects.get(version=1)
    assert v1.support_hours_only is False  # the previous version is untouched


@pytest.mark.parametrize("role", ["technical", "legal", "other"])
def test_only_ans_may_create(world, role):
    with pytest.raises(NotAllowed):
        create(getattr(world, role))
    assert MeasurementPolicy.objects.count() == 1 and not AuditEntry.objects.filter(
        action="weather.measurement_policy_created").exists()


@pytest.mark.parametrize("overrides, field", [
    ({"effective_from": next_month() + timedelta(days=1)}, "effective_from"),      # not the 1st
    ({"effective_from": next_month() + timedelta(hours=1)}, "effective_from"),     # not midnight
    ({"effective_from": datetime(2021, 1, 1, tzinfo=PARIS)}, "effective_from"),    # a closed period
    ({"effective_from": datetime(2030, 1, 1)}, "effective_from"),                  # naive
    ({"reference_period": "week"}, "reference_period"),
    ({"support_hours_only": "yes"}, "support_hours_only"),
    ({"reference_period": "quarter", "effective_from": datetime(2031, 2, 1, tzinfo=PARIS)}, "effective_from"),
])
def test_invalid_versions_are_refused(world, overrides, field):
    with pytest.raises(InvalidData) as caught:
        create(world.ans, **overrides)
    assert field in caught.value.field_errors
    assert MeasurementPolicy.objects.count() == 1


def test_versions_apply_in_order(world):
    create(world.ans, effective_from=next_month(2))
    with pytest.raises(Conflict):
        create(world.ans, effective_from=next_month(1))
    with pytest.raises(Conflict):
        create(world.ans, effective_from=next_month(2))
    assert create(world.ans, effective_from=next_month(3)).version == 3


def test_quarterly_version_starts_a_quarter(world):
    policy = create(world.ans, reference_period="quarter", effective_from=datetime(2031, 4, 1, tzinfo=PARIS))
    assert policy.reference_period == "quarter"


def test_policy_for_picks_the_latest_version_in_force(world):
    v2 = create(world.ans, effective_from=next_month(1))
    v3 = create(world.ans, effective_from=next_month(3))
    assert policy_for(month_start(timezone.now())).version == 1
    assert policy_for(next_month(1)) == v2
    assert policy_for(next_month(2)) == v2
    assert policy_for(next_month(3)) == v3
    assert policy_for(datetime(2010, 1, 1, tzinfo=PARIS)).version == 1  # before every version: the first


def test_policy_page_lists_versions_and_creates_one(world, client):
    client.force_login(world.ans)
    url = reverse("ans_measurement_policy")
    page = client.get(url)
    assert page.status_code == 200
    assert "v1 — mois civil" in page.content.decode()
    target = next_month()
    response = client.post(url, {"reference_period": "month", "maintenance_counts": "on",
                                 "effective_from": f"{target:%Y-%m}", "comment": "Maintenance comptée"})
    assert response.status_code == 302
    created = MeasurementPolicy.objects.get(version=2)
    assert created.maintenance_counts and not created.support_hours_only and created.effective_from == target
    assert "Maintenance comptée" in client.get(url).content.decode()


@pytest.mark.parametrize("month", ["2021-01", "2031-13", "mars"])
def test_policy_page_shows_french_errors(world, client, month):
    client.force_login(world.ans)
    response = client.post(reverse("ans_measurement_policy"),
                           {"reference_period": "month", "effective_from": month, "comment": "x"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Le formulaire contient" in body
    assert MeasurementPolicy.objects.count() == 1


def test_a_new_version_never_splits_a_period_of_the_version_in_force(world):
    quarterly = create(world.ans, reference_period="quarter", effective_from=datetime(2031, 4, 1, tzinfo=PARIS))
    # Monthly from 1 May 2031 would split Q2 2031 between the quarterly v2 and the new version.
    with pytest.raises(InvalidData) as caught:
        create(world.ans, reference_period="month", effective_from=datetime(2031, 5, 1, tzinfo=PARIS))
    assert caught.value.code == "policy_splits_period" and "trimestre" in caught.value.message
    assert "effective_from" in caught.value.field_errors
    assert MeasurementPolicy.objects.latest("version") == quarterly
    # At the next quarter start it is fine.
    assert create(world.ans, reference_period="month", effective_from=datetime(2031, 7, 1, tzinfo=PARIS)).version == 3


def test_a_comment_with_a_bidi_control_is_refused_and_nothing_is_written(world):
    with pytest.raises(InvalidData) as caught:
        create(world.ans, comment="Comité\u202e du 3 mars")
    assert "U+202E" in caught.value.field_errors["comment"][0]
    assert MeasurementPolicy.objects.count() == 1
    assert create(world.ans, comment="Comité du 3 mars\nligne 2").version == 2  # line breaks stay allowed

"""The incident history (ANS: every DRIMbox; an operator: its own), its filters, sort and exports."""
import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.support import weather as wx

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents(world):
    now = timezone.now()
    mine = wx.make_drimboxes(world.operator, 2)
    theirs = wx.make_drimboxes(world.other_operator, 1)
    return {
        # restored within both deadlines
        "kept": wx.incident(mine[0], now - timedelta(days=9), acknowledged_at=now - timedelta(days=9) + timedelta(
            minutes=5), restored_at=now - timedelta(days=9) + timedelta(minutes=30)),
        # open since a working morning at least two days ago, never acknowledged: GTI and GTR passed
        "late": wx.incident(mine[1], wx.support_morning(now)),
        # restored a day after a working morning, never acknowledged: GTI missed
        "other": wx.incident(theirs[0], wx.support_morning(now, days_back=3),
                             restored_at=wx.support_morning(now, days_back=3) + timedelta(days=1)),
    }


def _rows(response):
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    return list(csv.reader(io.StringIO(body), delimiter=";"))


def _listed(body):
    import re
    return {int(pk) for pk in re.findall(r'data-incident="(\d+)"', body)}


def test_ans_filters_open_and_breached(world, client, incidents):
    client.force_login(world.ans)
    url = reverse("ans_incidents")
    assert _listed(client.get(url).content.decode()) == {i.pk for i in incidents.values()}
    assert _listed(client.get(url, {"state": "ouvert"}).content.decode()) == {incidents["late"].pk}
    # B's incident was never acknowledged before its restoration, a day later: its GTI was missed too.
    assert _listed(client.get(url, {"breach": "gti"}).content.decode()) == {incidents["late"].pk,
                                                                             incidents["other"].pk}
    assert _listed(client.get(url, {"breach": "gti", "state": "ouvert"}).content.decode()) == {incidents["late"].pk}
    assert _listed(client.get(url, {"state": "retabli"}).content.decode()) == {incidents["kept"].pk,
                                                                                incidents["other"].pk}
    assert _listed(client.get(url, {"operator": "Opérateur B"}).content.decode()) == {incidents["other"].pk}
    box = incidents["kept"].drimbox
    assert _listed(client.get(url, {"q": str(box.identifiant)}).content.decode()) == {incidents["kept"].pk}
    # Bad dates are form errors, never a 500.
    response = client.get(url, {"since": "2027-02-30", "until": "demain"})
    assert response.status_code == 200 and "jj/mm/aaaa" in response.content.decode()


def test_sort_and_export(world, client, incidents):
    client.force_login(world.ans)
    body = client.get(reverse("ans_incidents"), {"sort": "debut"}).content.decode()
    assert body.index(f'data-incident="{incidents["kept"].pk}"') < body.index(f'data-incident="{incidents["late"].pk}"')
    assert 'aria-sort="ascending"' in body
    rows = _rows(client.get(reverse("ans_incidents"), {"sort": "-debut", "export": "csv"}))
    assert rows[0][:3] == ["Identifiant DRIMbox", "Nom db", "Opérateur"]
    late = next(r for r in rows[1:] if r[0] == str(incidents["late"].drimbox.identifiant))
    assert late[12] == "dépassée" and late[15] == "dépassée" and late[8] == ""
    kept = next(r for r in rows[1:] if r[0] == str(incidents["kept"].drimbox.identifiant))
    assert kept[12] == "tenue" and kept[15] == "tenue" and kept[9] == "30"


def test_an_operator_sees_and_exports_its_own_incidents(world, client, incidents):
    client.force_login(world.legal)
    body = client.get(reverse("operator_incidents")).content.decode()
    assert _listed(body) == {incidents["kept"].pk, incidents["late"].pk}
    rows = _rows(client.get(reverse("operator_incidents"), {"export": "csv"}))
    assert {r[0] for r in rows[1:]} == {str(incidents["kept"].drimbox.identifiant),
                                        str(incidents["late"].drimbox.identifiant)}
    client.force_login(world.other)
    assert _listed(client.get(reverse("operator_incidents")).content.decode()) == {incidents["other"].pk}


def test_the_list_does_not_grow_with_incidents(world, client, incidents):
    client.force_login(world.ans)
    client.get(reverse("ans_incidents"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("ans_incidents"))
    now = timezone.now()
    for box in wx.make_drimboxes(world.other_operator, 15):
        wx.incident(box, now - timedelta(days=4), acknowledged_at=now - timedelta(days=4), acknowledged_by=world.other,
                    restored_at=now - timedelta(days=3))
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("ans_incidents"))
    assert len(large) == len(small)

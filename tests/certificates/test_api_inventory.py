"""The certificate inventory API: every certificate with its expiry, per operator and across operators; the
dashboards' definitions (``certificates.queries``), filters, ordering, scoping, DRIMbox-limited tokens, and a
number of queries that does not grow with the rows.

Certificate rows are written through the ORM (``_certificate``): the inventory reads them, the rules that admit
a certificate are tested with real certificates elsewhere (tests/certificates/test_api.py).
"""
import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certificates import queries
from certificates.models import Certificate
from operators.models import Role
from tests.conftest import add_role
from tests.support import weather as wx
from tests.support.api import API, api, error_of
from trustspace.models import ApiScope, ApiToken
from trustspace.services import create_api_token

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
_serials = itertools.count(1)


def _certificate(drimbox, kind, not_after, *, superseded=False, revoked=False, operator=None, source="depot"):
    serial = next(_serials)
    now = timezone.now()
    name = drimbox.db_fqdn if kind == "db" else drimbox.vi_fqdn
    return Certificate.objects.create(
        drimbox=drimbox, operator=operator or drimbox.operator, kind=kind, source=source, pem="-",
        serial=f"{serial:x}", fingerprint_sha256=f"{serial:064x}", subject=f"CN={name}", issuer="CN=AC de test",
        not_before=not_after - timedelta(days=365), not_after=not_after,
        superseded_at=now - DAY if superseded else None, revoked_at=now - DAY if revoked else None,
        revocation_reason="compromission" if revoked else "")


@pytest.fixture
def stock(world):
    """Operator A: box 1 (db valid 10 days, vi valid 100 days, an older db superseded), box 2 (db expired 3 days ago,
    vi revoked); operator B: one db certificate valid 5 days."""
    now = timezone.now()
    one, two = wx.make_drimboxes(world.operator, 2)
    other, = wx.make_drimboxes(world.other_operator, 1)
    return {
        "one_db": _certificate(one, "db", now + 10 * DAY - timedelta(minutes=1)),
        "one_vi": _certificate(one, "vi", now + 100 * DAY, source="acme"),
        "one_old": _certificate(one, "db", now + 40 * DAY, superseded=True),
        "two_db": _certificate(two, "db", now - 3 * DAY),
        "two_vi": _certificate(two, "vi", now + 200 * DAY, revoked=True),
        "b_db": _certificate(other, "db", now + 5 * DAY),
        "boxes": (one, two, other),
    }


def _ids(response):
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["results"]]


def _operator_url(operator):
    return f"{API}/operators/{operator.pk}/certificates/"


ALL = f"{API}/certificates/"


def test_an_operator_lists_its_certificates_nearest_expiry_first(world, stock):
    response = api(world.technical).get(_operator_url(world.operator))
    assert _ids(response) == [stock[k].pk for k in ("two_db", "one_db", "one_old", "one_vi", "two_vi")]
    items = {item["id"]: item for item in response.json()["results"]}
    one, two, _ = stock["boxes"]
    db = items[stock["one_db"].pk]
    assert db["drimbox"]["identifiant"] == one.identifiant and db["fqdn"] == one.db_fqdn
    assert db["operator"] == {"id": world.operator.pk, "name": "Opérateur A"}
    assert (db["kind"], db["source"], db["state"], db["days_left"], db["expiring"]) == ("db", "depot", "valide", 10,
                                                                                        True)
    assert db["subject"] == f"CN={one.db_fqdn}" and db["issuer"] == "CN=AC de test" and db["serial"]
    assert db["not_before"] < db["not_after"]
    vi = items[stock["one_vi"].pk]
    assert (vi["fqdn"], vi["source"], vi["days_left"], vi["expiring"]) == (one.vi_fqdn, "acme", 100, False)
    assert (items[stock["two_db"].pk]["state"], items[stock["two_db"].pk]["days_left"]) == ("expire", -3)
    assert items[stock["one_old"].pk]["state"] == "remplace" and items[stock["one_old"].pk]["expiring"] is False
    assert items[stock["two_vi"].pk]["state"] == "revoque" and items[stock["two_vi"].pk]["state_label"] == "Révoqué"
    reverse_order = api(world.legal).get(_operator_url(world.operator), {"ordering": "-not_after"})
    assert _ids(reverse_order) == list(reversed(_ids(response)))


@pytest.mark.parametrize(("params", "expected"), [
    ({"kind": "vi"}, ["one_vi", "two_vi"]),
    ({"state": "valide"}, ["one_db", "one_vi"]),
    ({"state": "expire"}, ["two_db"]),
    ({"state": "remplace"}, ["one_old"]),
    ({"state": "revoque"}, ["two_vi"]),
    ({"expiring_within_days": "10"}, ["one_db"]),  # 9 days 23 h 59 left: within 10 days, not within 9
    ({"expiring_within_days": "9"}, []),
    ({"expiring_within_days": "60", "state": "valide"}, ["one_db"]),
    ({"expiring_within_days": "60"}, ["one_db", "one_old"]),
    ({"kind": "db", "state": "valide", "expiring_within_days": "30"}, ["one_db"]),
    ({"kind": "", "state": ""}, ["two_db", "one_db", "one_old", "one_vi", "two_vi"]),
    ({"expires_before": "2000-01-01"}, []),
    ({"expires_before": "0001-01-01"}, []),  # before any instant a database holds: nothing, never a 500
    ({"expires_before": "9999-12-31", "kind": "db"}, ["two_db", "one_db", "one_old"]),
])
def test_filters(world, stock, params, expected):
    assert _ids(api(world.legal).get(_operator_url(world.operator), params)) == [stock[k].pk for k in expected]


def test_expires_before_is_a_day_in_paris_and_keeps_the_expired(world, stock):
    in_40_days = timezone.localdate() + timedelta(days=41)
    assert _ids(api(world.legal).get(ALL, {"expires_before": in_40_days.isoformat()})) == [
        stock[k].pk for k in ("two_db", "one_db", "one_old")]


def test_a_drimbox_is_named_by_its_identifiant_or_either_name(world, stock):
    one, two, other = stock["boxes"]
    client = api(world.legal)
    for named in (str(one.identifiant), one.db_fqdn, one.vi_fqdn.upper() + "."):
        assert _ids(client.get(ALL, {"drimbox": named})) == [stock[k].pk for k in ("one_db", "one_old", "one_vi")]
    assert _ids(client.get(ALL, {"drimbox": str(other.identifiant)})) == []  # operator B's: not the caller's
    assert _ids(client.get(ALL, {"drimbox": "inconnue.example.fr"})) == []
    assert _ids(client.get(ALL, {"drimbox": "9" * 30})) == []


def test_the_whole_trust_space_for_ans_and_its_own_operators_for_a_member(world, stock):
    everything = _ids(api(world.ans).get(ALL))
    assert set(everything) == {c.pk for c in Certificate.objects.all()} and everything[0] == stock["two_db"].pk
    assert _ids(api(world.ans).get(ALL, {"operator": world.other_operator.pk})) == [stock["b_db"].pk]
    ours = {stock[k].pk for k in ("one_db", "one_vi", "one_old", "two_db", "two_vi")}
    assert set(_ids(api(world.technical).get(ALL))) == ours
    assert _ids(api(world.other).get(ALL)) == [stock["b_db"].pk]
    assert _ids(api(world.technical).get(ALL, {"operator": world.other_operator.pk})) == []

    # A member of both operators sees both; a token limited to one operator, that one's only.
    add_role(world.other_operator, world.other, world.technical, Role.MANDATAIRE)
    assert set(_ids(api(world.technical).get(ALL))) == ours | {stock["b_db"].pk}
    _, raw = create_api_token(acting_user=world.technical, name="B", scopes=[ApiScope.READ],
                              operator_id=world.other_operator.pk)
    assert _ids(api(token=raw).get(ALL)) == [stock["b_db"].pk]


def test_an_operator_s_certificates_are_its_members_and_ans_s_only(world, stock):
    assert len(_ids(api(world.ans).get(_operator_url(world.other_operator)))) == 1
    error_of(api(world.technical).get(_operator_url(world.other_operator)), 404)
    error_of(api(world.other).get(_operator_url(world.operator)), 404)
    error_of(api().get(_operator_url(world.operator)), 401)
    error_of(api().get(ALL), 401)


def test_a_certificate_stays_in_the_inventory_of_the_operator_that_administered_it(world, stock):
    """After a switch the DRIMbox belongs to B; A's certificates of it stay A's, as on the dashboard."""
    one = stock["boxes"][0]
    one.operator = world.other_operator
    one.save(update_fields=["operator"])
    mine = set(_ids(api(world.technical).get(ALL)))
    assert {stock["one_db"].pk, stock["one_vi"].pk} <= mine
    assert stock["one_db"].pk not in _ids(api(world.other).get(ALL))


def test_a_token_limited_to_drimboxes_lists_theirs_only(world, stock):
    one, two, _ = stock["boxes"]
    token, raw = create_api_token(acting_user=world.technical, name="box", scopes=[ApiScope.CERTIFICATES],
                                  operator_id=world.operator.pk, drimbox_ids=[one.pk])
    client = api(token=raw)
    for url in (ALL, _operator_url(world.operator)):
        assert _ids(client.get(url)) == [stock[k].pk for k in ("one_db", "one_old", "one_vi")]
        assert len(_ids(client.get(url, {"drimbox": one.db_fqdn}))) == 3
        error = error_of(client.get(url, {"drimbox": str(two.identifiant)}), 403)
        assert error["code"] == "token_drimbox"
        assert _ids(client.get(url, {"drimbox": "inconnue.example.fr"})) == []
        assert "drimbox" in error_of(client.get(url, {"drimbox": "x\x00"}), 400)["fields"]
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


@pytest.mark.parametrize(("params", "field"), [
    ({"kind": "ca"}, "kind"), ({"state": "valid"}, "state"), ({"expiring_within_days": "-1"}, "expiring_within_days"),
    ({"expiring_within_days": "dix"}, "expiring_within_days"), ({"expiring_within_days": "36501"},
                                                                "expiring_within_days"),
    ({"expires_before": "2026-13-01"}, "expires_before"), ({"ordering": "subject"}, "ordering"),
    ({"operator": "0"}, "operator"), ({"drimbox": "d" * 254}, "drimbox"), ({"limit": "0"}, "limit"),
    ({"offset": "-1"}, "offset"),
    # Written as the schema says, or refused: no empty number or date, no « 10.0 », no « 2026-1-5 ».
    ({"expiring_within_days": ""}, "expiring_within_days"), ({"expiring_within_days": "10.0"},
                                                              "expiring_within_days"),
    ({"operator": ""}, "operator"), ({"expires_before": ""}, "expires_before"),
    ({"expires_before": "2026-1-5"}, "expires_before"), ({"ordering": ""}, "ordering"),
    ({"drimbox": " 12"}, "drimbox"), ({"drimbox": "db1.example.fr/x"}, "drimbox"),
])
def test_bad_parameters_are_a_structured_400(world, stock, params, field):
    error = error_of(api(world.legal).get(ALL, params), 400)
    assert error["code"] == "invalid" and field in error["fields"]


def test_pages(world, stock):
    client = api(world.ans)
    first = client.get(ALL, {"limit": 2}).json()
    assert first["count"] == 6 and len(first["results"]) == 2 and first["previous"] is None
    second = client.get(first["next"]).json()
    assert [item["id"] for item in second["results"]] == _ids(client.get(ALL, {"limit": 2, "offset": 2}))
    assert not {item["id"] for item in first["results"]} & {item["id"] for item in second["results"]}


def test_the_api_and_the_dashboard_say_the_same(world, stock, client):
    """« Expirent dans les 60 jours » of the dashboard is the API's ``expiring``, and ``state=valide`` within 60
    days; its « Expirés » are the expired certificates not superseded."""
    now = timezone.now()
    sections = queries.dashboard(world.operator.drimboxes.all(), Certificate.objects.filter(operator=world.operator),
                                 now=now)
    items = api(world.legal).get(_operator_url(world.operator)).json()["results"]
    assert [c.pk for c in sections["expiring"]] == [item["id"] for item in items if item["expiring"]]
    assert [c.pk for c in sections["expiring"]] == _ids(api(world.legal).get(
        _operator_url(world.operator), {"state": "valide", "expiring_within_days": queries.EXPIRING_DAYS}))
    assert [c.pk for c in sections["expired"]] == [stock["two_db"].pk]
    client.force_login(world.legal)
    page = client.get("/espace/certificats/").content.decode()
    assert "Expirent dans les 60 jours" in page
    expiring = page.split('data-section="expiring"')[1].split("</ul>")[0]
    assert stock["one_db"].subject in expiring and stock["one_vi"].subject not in expiring


def test_the_state_filter_is_the_model_s_state(world, stock):
    now = timezone.now()
    for state in queries.STATES:
        filtered = set(Certificate.objects.filter(queries.state_filter(state, now)).values_list("pk", flat=True))
        assert filtered == {c.pk for c in Certificate.objects.all() if c.state_at(now) == state}, state
        assert filtered, f"no certificate in state {state}: the comparison would prove nothing"


def test_days_left_rounds_up_so_that_expiring_within_days_matches_it():
    now = timezone.now()
    assert queries.days_left(now + timedelta(days=9, hours=1), now) == 10
    assert queries.days_left(now + timedelta(days=10), now) == 10
    assert queries.days_left(now, now) == 0
    assert queries.days_left(now - timedelta(hours=1), now) == 0
    assert queries.days_left(now - timedelta(days=2, hours=1), now) == -2


@pytest.mark.parametrize("url", ["all", "operator"])
def test_the_number_of_queries_does_not_grow_with_the_certificates(world, url):
    _, raw = create_api_token(acting_user=world.technical, name="compte", scopes=[ApiScope.READ])
    client = api(token=raw)
    target = ALL if url == "all" else _operator_url(world.operator)
    now = timezone.now()

    def count():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target, {"limit": 200})
            assert response.status_code == 200
        return len(captured), response.json()["count"]

    box, = wx.make_drimboxes(world.operator, 1)
    _certificate(box, "db", now + DAY)
    count()  # warms what the first call of a token caches
    small, rows = count()
    for box in wx.make_drimboxes(world.operator, 15):
        _certificate(box, "db", now + 3 * DAY)
        _certificate(box, "vi", now + 4 * DAY, source="acme")
    big, more_rows = count()
    assert (rows, more_rows) == (1, 31)
    assert big == small

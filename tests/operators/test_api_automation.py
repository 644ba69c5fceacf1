"""What an operator (or ANS) automates through the API beyond the requests themselves (issue 15, item 3):
DRIMboxes addressed by their public identifiant, DNS change history, the request kinds a DRIMbox may start,
registering an operator, contract versions, operator search and VA lists."""
from django.urls import reverse

from operators.models import Drimbox
from tests.support import weather as wx
from tests.support.api import API, api, error_of
from trustspace.models import ApiScope
from trustspace.services import create_api_token


def _renumbered(drimbox, identifiant):
    """``drimbox`` given an identifiant far from its internal id, so that mixing them up cannot pass."""
    Drimbox.objects.filter(pk=drimbox.pk).update(identifiant=identifiant, db_fqdn=f"db{identifiant}.test.fr",
                                                 vi_fqdn=f"vi{identifiant}.test.fr")
    drimbox.refresh_from_db()
    return drimbox


# --- DRIMboxes by identifiant ------------------------------------------------------------------------------


def test_every_drimbox_route_takes_the_identifiant_never_the_internal_id(world):
    box = _renumbered(wx.make_drimboxes(world.operator, 1)[0], 7000)
    assert box.pk != box.identifiant and not Drimbox.objects.filter(identifiant=box.pk).exists()
    technical = api(world.technical)
    names = ["api_drimbox", "api_drimbox_certificates", "api_vi_orders"]
    for name in names:
        assert technical.get(reverse(name, args=[box.identifiant])).status_code == 200, name
        error_of(technical.get(reverse(name, args=[box.pk])), 404)
    assert reverse("api_vi_certificate", args=[box.identifiant]) == f"{API}/drimboxes/7000/vi-certificate/"
    body = technical.get(f"{API}/drimboxes/7000/").json()
    assert (body["identifiant"], body["id"], body["db_fqdn"]) == (7000, box.pk, "db7000.test.fr")
    # The operator's list gives the identifiant to address each DRIMbox with.
    listed = technical.get(f"{API}/operators/{world.operator.pk}/drimboxes/").json()["results"]
    assert [item["identifiant"] for item in listed] == [7000]
    # Another operator's member: 404, as for a DRIMbox that does not exist.
    error_of(api(world.other).get(f"{API}/drimboxes/7000/"), 404)


def test_a_token_limited_to_drimboxes_is_checked_on_the_identifiant_route(world):
    box, elsewhere = (_renumbered(b, 7100 + i) for i, b in enumerate(wx.make_drimboxes(world.operator, 2)))
    # A token stores its DRIMboxes by internal id (they are chosen in the portal or by `id` in the API).
    _token, raw = create_api_token(acting_user=world.technical, name="box", scopes=[ApiScope.CERTIFICATES],
                                   operator_id=world.operator.pk, drimbox_ids=[box.pk])
    client = api(token=raw)
    assert client.get(f"{API}/drimboxes/{box.identifiant}/vi-orders/").status_code == 200
    assert error_of(client.get(f"{API}/drimboxes/{elsewhere.identifiant}/vi-orders/"), 403)["code"] == "token_drimbox"
    # A DRIMbox the caller may not see is a 404 for a limited token too (existence does not leak).
    other_box = wx.make_drimboxes(world.other_operator, 1)[0]
    error_of(client.get(f"{API}/drimboxes/{other_box.identifiant}/vi-orders/"), 404)

"""acme-dns registrations racing on one DRIMbox: never a 500, exactly one active credential in the end.

A registration replaces the previous credentials (« les précédents cessent de fonctionner »): concurrent ones
queue on the DRIMbox row, so each answer is a 201 (or a structured 409 ``acme_dns_busy``) and only the last
registration stays active.
"""
import pytest

from certificates.models import AcmeDnsCredential
from tests.support.api import API, api
from tests.support.concurrency import in_parallel
from tests.support.lifecycle import declared_drimbox

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 20


@pytest.mark.postgresql
def test_parallel_registrations_leave_one_active_credential_and_no_500(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    url = f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/"
    responses, errors = in_parallel(PARALLEL, lambda: api(world.technical).post(url))

    assert errors == []
    assert len(responses) == PARALLEL
    assert {r.status_code for r in responses} <= {201, 409}, [r.content[:300] for r in responses]
    created = [r.json() for r in responses if r.status_code == 201]
    for refused in (r for r in responses if r.status_code == 409):
        error = refused.json()["error"]
        assert error["code"] == "acme_dns_busy" and "réessayez" in error["message"]
    assert created
    credentials = AcmeDnsCredential.objects.filter(drimbox=drimbox)
    assert credentials.count() == len(created)  # one credential per 201, none for a 409
    active = credentials.get(revoked_at__isnull=True)  # exactly one
    assert active.username in {c["username"] for c in created}
    assert active == credentials.order_by("-pk").first()  # the last registration wins


def test_a_new_registration_revokes_the_previous_one(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    client = api(world.technical)
    first = client.post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/").json()
    second = client.post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/").json()
    active = AcmeDnsCredential.objects.get(drimbox=drimbox, revoked_at__isnull=True)
    assert active.username == second["username"] != first["username"]
    assert AcmeDnsCredential.objects.filter(drimbox=drimbox).count() == 2

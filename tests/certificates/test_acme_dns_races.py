"""acme-dns registrations racing on one DRIMbox: never a 500, exactly one effect.

While a registration is under way (it holds the DRIMbox row), another one for the same DRIMbox is refused at once
with a structured 409 ``acme_dns_busy`` (French message) instead of queueing: twenty simultaneous clicks or calls
create one credential and one audit row, not twenty credentials of which nineteen are revoked at once. A
registration that comes after the first has ended replaces it (« les précédents cessent de fonctionner »).
"""
import threading

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from certificates.models import AcmeDnsCredential
from tests.support.api import API, api
from tests.support.concurrency import in_parallel
from tests.support.lifecycle import declared_drimbox
from trustspace import audit
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 20
BUSY = "Des identifiants acme-dns sont en cours de création pour cette DRIMbox : réessayez dans un instant."


@pytest.fixture
def first_registration_held(monkeypatch):
    """The first registration to get the DRIMbox row stays inside its transaction until the others have answered
    (``answered()`` counts them), so that every other request arrives while it is under way."""
    others_done = threading.Event()
    state = {"held": False, "answered": 0}
    guard = threading.Lock()
    original = audit.record

    def record(*args, **kwargs):
        if kwargs.get("action") == "acme_dns.registered":
            with guard:
                hold, state["held"] = not state["held"], True
            if hold:
                others_done.wait(30)
        return original(*args, **kwargs)

    def answered():
        with guard:
            state["answered"] += 1
            if state["answered"] >= PARALLEL - 1:
                others_done.set()

    monkeypatch.setattr(audit, "record", record)
    return answered


def _registrations():
    return AuditEntry.objects.filter(action="acme_dns.registered")


@pytest.mark.postgresql
def test_parallel_api_registrations_create_one_credential_and_no_500(world, first_registration_held):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    url = f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/"

    def register():
        response = api(world.technical).post(url)
        if response.status_code != 201:
            first_registration_held()
        return response

    responses, errors = in_parallel(PARALLEL, register)

    assert errors == [] and len(responses) == PARALLEL
    assert sorted(r.status_code for r in responses) == [201] + [409] * (PARALLEL - 1), \
        [r.content[:300] for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["error"]["code"] == "acme_dns_busy"
        assert refused.json()["error"]["message"] == BUSY
    created, = (r.json() for r in responses if r.status_code == 201)
    credential = AcmeDnsCredential.objects.get(drimbox=drimbox)  # exactly one, none created then revoked
    assert credential.username == created["username"] and credential.revoked_at is None
    assert _registrations().count() == 1


@pytest.mark.postgresql
def test_parallel_page_registrations_create_one_credential_and_no_500(world, first_registration_held):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    url = reverse("certificate_acme_dns_register", args=[drimbox.pk])

    def click():
        client = Client()
        client.force_login(world.technical)
        response = client.post(url)  # each its own click (no shared submission token)
        if response.status_code != 200:
            first_registration_held()
        return response.status_code, [m.message for m in get_messages(response.wsgi_request)]

    results, errors = in_parallel(PARALLEL, click)

    assert errors == [] and len(results) == PARALLEL
    assert sorted(status for status, _ in results) == [200] + [302] * (PARALLEL - 1)
    assert [messages for status, messages in results if status == 302] == [[BUSY]] * (PARALLEL - 1)
    assert AcmeDnsCredential.objects.filter(drimbox=drimbox).count() == 1
    assert _registrations().count() == 1


def test_a_new_registration_revokes_the_previous_one(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    client = api(world.technical)
    first = client.post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/").json()
    second = client.post(f"{API}/drimboxes/{drimbox.identifiant}/acme-dns/").json()
    active = AcmeDnsCredential.objects.get(drimbox=drimbox, revoked_at__isnull=True)
    assert active.username == second["username"] != first["username"]
    assert AcmeDnsCredential.objects.filter(drimbox=drimbox).count() == 2

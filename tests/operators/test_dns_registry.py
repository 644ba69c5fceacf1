"""The registry drives a real BIND 9 on 127.0.0.1: create, change, withdraw, drift, server down."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from operators import registry, services
from operators.models import DnsChange, DnsChangeStatus, RequestKind
from tests.support.lifecycle import (
    approve,
    declaration_data,
    declared_drimbox,
    make_order,
    submitted_declaration,
)
from trustspace.errors import InvalidData
from trustspace.technical_detail import split_detail

pytestmark = pytest.mark.django_db(transaction=True)


def _funded(world, **addresses):
    return declaration_data(order=make_order(world.operator, world.legal), **addresses)


def test_approval_creates_resolvable_names(world, bind):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans,
                               data=_funded(world, db="192.0.2.10, 2001:db8::10", vi="viewer.hebergeur.example"))
    client = bind.client()
    assert client.lookup(drimbox.db_fqdn, "A") == ["192.0.2.10"]
    assert client.lookup(drimbox.db_fqdn, "AAAA") == ["2001:db8::10"]
    assert client.lookup(drimbox.vi_fqdn, "CNAME") == ["viewer.hebergeur.example"]
    assert not DnsChange.objects.filter(status=DnsChangeStatus.PENDING).exists()
    assert call_command("dns_reconcile", "--check") is None


def test_address_change_and_withdrawal_update_the_zone(world, bind):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans, data=_funded(world))
    client = bind.client()
    req = services.create_request(acting_user=world.technical, operator=world.operator, kind=RequestKind.UPDATE,
                                  drimbox=drimbox, data={"db_addresses": "198.51.100.7"})
    approve(services.submit_request(req, acting_user=world.technical), world.ans)
    assert client.lookup(drimbox.db_fqdn, "A") == ["198.51.100.7"]
    assert client.lookup(drimbox.vi_fqdn, "A") == ["192.0.2.11"]  # unchanged name untouched

    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                  drimbox=drimbox, data={"reason": "Fermeture"})
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    assert client.lookup(drimbox.db_fqdn, "A") == [] and client.lookup(drimbox.vi_fqdn, "A") == []
    drimbox.refresh_from_db()
    assert drimbox.db_fqdn  # reserved forever
    assert registry.find_drift(client.read_zone()) == []


def test_drift_is_reported_both_ways_and_fixed(world, bind, capsys):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans, data=_funded(world))
    client = bind.client()
    stray = f"db9999.test.{bind.zone}"
    client.replace_records(stray, [("A", "203.0.113.9")])          # unknown to the registry
    client.replace_records(drimbox.db_fqdn, [("A", "203.0.113.1")])  # different
    client.delete_name(drimbox.vi_fqdn)                               # missing
    client.replace_records(f"www.{bind.zone}", [("A", "203.0.113.80")])  # not a registry name: left alone

    with pytest.raises(CommandError) as excinfo:
        call_command("dns_reconcile", "--check")
    assert excinfo.value.returncode == 1
    out = capsys.readouterr().out
    assert f"{stray} : inconnu du registre" in out
    assert f"{drimbox.db_fqdn} : la zone contient A 203.0.113.1, le registre attend A 192.0.2.10" in out
    assert f"{drimbox.vi_fqdn} : absent de la zone" in out
    assert "www." not in out

    call_command("dns_reconcile", "--fix")
    assert client.lookup(stray, "A") == []
    assert client.lookup(drimbox.db_fqdn, "A") == ["192.0.2.10"]
    assert client.lookup(drimbox.vi_fqdn, "A") == ["192.0.2.11"]
    assert client.lookup(f"www.{bind.zone}", "A") == ["203.0.113.80"]
    call_command("dns_reconcile", "--check")
    assert "conforme" in capsys.readouterr().out


def test_server_down_during_approval_queues_then_applies(world, bind, client):
    client_dns = bind.client()
    bind.stop()
    req = submitted_declaration(world.operator, world.legal, data=_funded(world))
    approve(req, world.ans)  # commits although DNS is down
    req.refresh_from_db()
    drimbox = req.drimbox
    pending = DnsChange.objects.filter(status=DnsChangeStatus.PENDING, drimbox=drimbox)
    assert pending.count() == 2
    tried = pending.get(attempts=1)  # the first failure stops the pass: no timeout per name
    assert tried.next_attempt_at > timezone.now()
    # The operator reads French; dnspython's English is kept as the technical detail.
    message, detail = split_detail(tried.last_error)
    assert message == "Le serveur DNS de la zone ne répond pas." and "unreachable" in detail

    browser = client
    browser.force_login(world.ans)
    page = browser.get(reverse("ans_registry"), {"dns": "en_attente"}).content.decode()
    assert drimbox.db_fqdn in page and "data-dns-pending" in page

    # A change waits for its backoff delay before it is tried again; then the server is back and both land.
    services.apply_dns_changes()
    tried.refresh_from_db()
    assert tried.attempts == 1
    bind.start()
    applied, failed = services.apply_dns_changes(now=timezone.now() + timedelta(hours=2))
    assert (applied, failed) == (2, 0)
    assert client_dns.lookup(drimbox.db_fqdn, "A") == ["192.0.2.10"]
    assert client_dns.lookup(drimbox.vi_fqdn, "A") == ["192.0.2.11"]
    page = browser.get(reverse("ans_registry")).content.decode()
    assert drimbox.db_fqdn in page and "data-dns-pending" not in page


def test_a_newer_change_supersedes_an_unapplied_one(world, bind):
    bind.stop()
    drimbox = declared_drimbox(world.operator, world.legal, world.ans, data=_funded(world))
    req = services.create_request(acting_user=world.technical, operator=world.operator, kind=RequestKind.UPDATE,
                                  drimbox=drimbox, data={"db_addresses": "198.51.100.8"})
    approve(services.submit_request(req, acting_user=world.technical), world.ans)
    bind.start()
    services.apply_dns_changes(now=timezone.now() + timedelta(hours=2))
    assert bind.client().lookup(drimbox.db_fqdn, "A") == ["198.51.100.8"]
    assert DnsChange.objects.filter(name=drimbox.db_fqdn, status=DnsChangeStatus.SUPERSEDED).count() == 1


def test_switch_of_a_withdrawn_drimbox_puts_its_names_back(world, bind):
    data = _funded(world)
    drimbox = declared_drimbox(world.operator, world.legal, world.ans, data=data)
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
                                  drimbox=drimbox, data={"reason": "Fin de contrat"})
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    client = bind.client()
    assert client.lookup(drimbox.db_fqdn, "A") == []
    switch = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox,
                                   data={**data, "financing_order": ""})  # same addresses as before
    approve(switch, world.ans, override_reason="Reprise d'un site retiré")
    assert client.lookup(drimbox.db_fqdn, "A") == ["192.0.2.10"]
    assert client.lookup(drimbox.vi_fqdn, "A") == ["192.0.2.11"]


def test_scoped_ipv6_is_refused_and_a_bad_record_never_blocks_the_queue(world, bind, settings):
    settings.DNS_REQUIRE_PUBLIC_ADDRESSES = True
    with pytest.raises(InvalidData, match="zone d'interface"):
        services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.DECLARATION,
                                data=declaration_data(db="2a00:1450:4007::1%eth0"))
    settings.DNS_REQUIRE_PUBLIC_ADDRESSES = False
    # A record the server cannot take (written here directly: no service accepts it any more).
    broken = DnsChange.objects.create(name=f"db9998.test.{bind.zone}", records=[["AAAA", "2a00::1%eth0"]],
                                      reason="test")
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    services.apply_dns_changes()
    broken.refresh_from_db()
    assert broken.status == DnsChangeStatus.PENDING and broken.attempts >= 1 and broken.last_error
    assert bind.client().lookup(drimbox.db_fqdn, "A") == ["192.0.2.10"]

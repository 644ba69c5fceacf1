"""The DNS zone client against a real BIND 9 primary (tests/support/dns_server.py) on 127.0.0.1."""
import base64

import dns.message
import dns.query
import dns.tsig
import dns.update
import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.conftest import require_or_skip
from tests.support.dns_server import free_port, named_available, running_bind
from trustspace.dnszone import DnsRejected, DnsUnavailable, ZoneClient

ZONE = "mesimagesmedicales.fr"
DB1 = f"db1.test.{ZONE}"
VI1 = f"vi1.test.{ZONE}"
NS1 = {f"ns1.{ZONE}": frozenset({("A", "127.0.0.1")})}


@pytest.fixture
def bind(tmp_path):
    require_or_skip(named_available(), "BIND 9 (named) is not installed")
    with running_bind(tmp_path, ZONE) as server:
        yield server


def add_directly(server, name, rdtype, value):
    """Add a record with dnspython directly, outside the client under test."""
    key = dns.tsig.Key(server.key_name, server.secret, server.algorithm)
    update = dns.update.UpdateMessage(ZONE, keyring={key.name: key}, keyname=key.name)
    update.add(name + ".", 300, rdtype, value)
    assert dns.query.tcp(update, server.host, port=server.port, timeout=2).rcode() == 0


def test_replace_records_publishes_addresses(bind):
    client = bind.client()
    client.replace_records(DB1, [("A", "192.0.2.10"), ("AAAA", "2001:DB8:0:0::0:10")])
    client.replace_records(DB1, [("A", "192.0.2.10"), ("AAAA", "2001:db8::10")])

    assert client.lookup(DB1, "A") == ["192.0.2.10"]
    assert client.lookup(DB1, "AAAA") == ["2001:db8::10"]
    assert client.lookup(DB1.upper() + ".", "a") == ["192.0.2.10"]
    assert client.read_zone() == {**NS1, DB1: frozenset({("A", "192.0.2.10"), ("AAAA", "2001:db8::10")})}

    client.replace_records(DB1, [("A", "192.0.2.11"), ("A", "192.0.2.12")])
    assert client.lookup(DB1, "A") == ["192.0.2.11", "192.0.2.12"]
    assert client.lookup(DB1, "AAAA") == []
    assert client.read_zone()[DB1] == frozenset({("A", "192.0.2.11"), ("A", "192.0.2.12")})


def test_cname_replaces_addresses_and_back(bind):
    client = bind.client()
    client.replace_records(VI1, [("A", "192.0.2.20")])
    client.replace_records(DB1, [("A", "192.0.2.21"), ("AAAA", "2001:db8::21")])

    client.replace_records(DB1, [("CNAME", VI1.upper())])
    assert client.lookup(DB1, "CNAME") == [VI1]
    assert client.lookup(DB1, "A") == []
    assert client.lookup(DB1, "AAAA") == []
    assert client.read_zone()[DB1] == frozenset({("CNAME", VI1)})

    client.replace_records(DB1, [("A", "192.0.2.22")])
    assert client.lookup(DB1, "CNAME") == []
    assert client.lookup(DB1, "A") == ["192.0.2.22"]
    assert client.read_zone() == {**NS1, VI1: frozenset({("A", "192.0.2.20")}),
                                  DB1: frozenset({("A", "192.0.2.22")})}


def test_delete_name_removes_only_addresses_and_aliases(bind):
    client = bind.client()
    client.replace_records(DB1, [("A", "192.0.2.30"), ("AAAA", "2001:db8::30")])
    client.replace_records(VI1, [("CNAME", DB1)])
    add_directly(bind, DB1, "TXT", '"kept"')

    client.delete_name(DB1)
    client.delete_name(DB1)
    assert client.lookup(DB1, "A") == []
    assert client.lookup(DB1, "AAAA") == []
    assert client.read_zone() == {**NS1, VI1: frozenset({("CNAME", DB1)})}
    txt = dns.query.udp(dns.message.make_query(DB1, "TXT"), bind.host, port=bind.port, timeout=2)
    assert [rdata.strings for rrset in txt.answer for rdata in rrset] == [(b"kept",)]

    client.delete_name(VI1)
    assert client.read_zone() == NS1


def test_read_zone_leaves_out_the_apex(bind):
    add_directly(bind, ZONE, "A", "192.0.2.1")
    add_directly(bind, ZONE, "AAAA", "2001:db8::1")
    bind.client().replace_records(DB1, [("AAAA", "2001:db8:0:0:1:0:0:1")])
    assert bind.client().read_zone() == {**NS1, DB1: frozenset({("AAAA", "2001:db8::1:0:0:1")})}


def test_wrong_tsig_key_is_rejected_and_changes_nothing(bind):
    client = bind.client()
    client.replace_records(DB1, [("A", "192.0.2.40")])
    before = client.read_zone()
    wrong_secret = bind.client(secret=base64.b64encode(b"not the secret, 32 bytes long!!!").decode())
    unknown_key = bind.client(key_name="someone-else")

    for intruder, error in ((wrong_secret, "BADSIG"), (unknown_key, "BADKEY")):
        for attempt in (lambda intruder=intruder: intruder.replace_records(DB1, [("A", "203.0.113.66")]),
                        lambda intruder=intruder: intruder.replace_records(VI1, [("A", "203.0.113.66")]),
                        lambda intruder=intruder: intruder.delete_name(DB1),
                        intruder.read_zone):
            with pytest.raises(DnsRejected, match=f"NOTAUTH.*{error}") as rejected:
                attempt()
            assert rejected.value.rcode == "NOTAUTH"

    assert client.read_zone() == before
    assert client.lookup(DB1, "A") == ["192.0.2.40"]


def test_name_outside_the_zone_is_refused_by_the_server(bind):
    with pytest.raises(DnsRejected, match="REFUSED"):
        bind.client().lookup("www.example.org", "A")


def spy_on_requests(monkeypatch):
    """Record each request the client hands to dnspython: (function, timeout)."""
    sent = []
    for function in ("tcp", "inbound_xfr", "udp_with_fallback"):
        original = getattr(dns.query, function)

        def spy(*args, _function=function, _original=original, **kwargs):
            sent.append((_function, kwargs.get("timeout")))
            return _original(*args, **kwargs)

        monkeypatch.setattr(dns.query, function, spy)
    return sent


def test_stopped_server_is_unavailable_then_records_survive_restart(bind, monkeypatch):
    client = bind.client(timeout=1)
    client.replace_records(DB1, [("A", "192.0.2.50"), ("AAAA", "2001:db8::50")])
    expected = client.read_zone()
    bind.stop()

    sent = spy_on_requests(monkeypatch)
    for request, attempt in (("tcp", lambda: client.replace_records(VI1, [("A", "192.0.2.51")])),
                             ("tcp", lambda: client.delete_name(DB1)),
                             ("inbound_xfr", client.read_zone),
                             ("udp_with_fallback", lambda: client.lookup(DB1, "A"))):
        sent.clear()
        with pytest.raises(DnsUnavailable):
            attempt()
        # One request, bounded by the configured timeout: no retry loop keeps the caller waiting.
        assert sent == [(request, 1.0)]
    monkeypatch.undo()

    bind.start()
    assert client.read_zone() == expected
    assert client.lookup(DB1, "AAAA") == ["2001:db8::50"]


def offline_client():
    """A client whose server port is closed: a request that were sent would fail with DnsUnavailable."""
    return ZoneClient(server="127.0.0.1", port=free_port(), zone=ZONE, key_name="k",
                      secret=base64.b64encode(b"x" * 32).decode(), algorithm="hmac-sha256", timeout=1, ttl=300)


@pytest.mark.parametrize("name", [ZONE, "www.example.org", f"evil{ZONE}", f"{ZONE}.example.org", "", "a..b." + ZONE])
def test_names_outside_the_zone_are_refused_before_sending(name):
    client = offline_client()
    with pytest.raises(ValueError):
        client.replace_records(name, [("A", "192.0.2.1")])
    with pytest.raises(ValueError):
        client.delete_name(name)


@pytest.mark.parametrize("records", [
    [("CNAME", VI1), ("A", "192.0.2.1")],
    [("CNAME", VI1), ("CNAME", f"vi2.test.{ZONE}")],
    [("A", "2001:db8::1")],
    [("AAAA", "192.0.2.1")],
    [("A", "192.0.2.300")],
    [("A", 3221225985)],
    [("AAAA", "fe80::1%eth0")],
    [("TXT", "hello")],
    [("MX", f"10 mail.{ZONE}")],
])
def test_invalid_records_are_refused_before_sending(records):
    with pytest.raises(ValueError):
        offline_client().replace_records(DB1, records)


def test_from_settings_uses_the_django_settings(bind, settings):
    for name, value in bind.settings_overrides().items():
        setattr(settings, name, value)
    client = ZoneClient.from_settings()
    client.replace_records(DB1, [("A", "192.0.2.60")])
    assert bind.client().read_zone()[DB1] == frozenset({("A", "192.0.2.60")})
    assert (client.server, client.port, client.zone, client.timeout, client.ttl) == (
        "127.0.0.1", bind.port, ZONE, 2, 300)


def test_from_settings_defaults_and_missing_key(settings):
    for name in ("DNS_SERVER", "DNS_PORT", "DNS_TSIG_ALGORITHM", "DNS_TIMEOUT", "DNS_TTL"):
        if hasattr(settings, name):
            delattr(settings, name)
    settings.DNS_TSIG_KEY_NAME = "portal"
    settings.DNS_TSIG_SECRET = base64.b64encode(b"y" * 32).decode()
    client = ZoneClient.from_settings()
    assert (client.server, client.port, client.zone, client.timeout, client.ttl) == (
        "127.0.0.1", 53, settings.FQDN_ZONE, 5, 300)
    assert settings.DNS_TSIG_SECRET not in repr(client)

    settings.DNS_TSIG_SECRET = ""
    with pytest.raises(ImproperlyConfigured):
        ZoneClient.from_settings()


CHALLENGE = f"_acme-challenge.{VI1}"
TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


def txt_records(server, name):
    """The TXT rrset of ``name`` (TTL, strings of each rdata) asked with dnspython, outside the client."""
    response = dns.query.udp(dns.message.make_query(name, "TXT"), server.host, port=server.port, timeout=2)
    return [(rrset.ttl, sorted(rdata.strings for rdata in rrset)) for rrset in response.answer]


def test_set_txt_publishes_and_replaces_challenge_tokens(bind):
    client = bind.client()
    client.replace_records(VI1, [("A", "192.0.2.70")])

    client.set_txt(CHALLENGE, [TOKEN])
    assert client.lookup(CHALLENGE, "TXT") == [TOKEN]
    assert client.lookup(CHALLENGE.upper() + ".", "txt") == [TOKEN]
    assert txt_records(bind, CHALLENGE) == [(60, [(TOKEN.encode(),)])]

    client.set_txt(CHALLENGE, ["second-token", "first-token", "second-token"])
    assert client.lookup(CHALLENGE, "TXT") == ["first-token", "second-token"]

    client.set_txt(VI1, ['with "quotes" \\ and spaces'], ttl=30)
    assert client.lookup(VI1, "TXT") == ['with "quotes" \\ and spaces']
    assert txt_records(bind, VI1)[0][0] == 30
    assert client.lookup(VI1, "A") == ["192.0.2.70"]
    assert client.read_zone() == {**NS1, VI1: frozenset({("A", "192.0.2.70")})}


def test_long_txt_value_is_split_into_character_strings(bind):
    client = bind.client()
    value = "x" * 300
    client.set_txt(CHALLENGE, [value])
    assert client.lookup(CHALLENGE, "TXT") == [value]
    assert txt_records(bind, CHALLENGE) == [(60, [(b"x" * 255, b"x" * 45)])]


def test_delete_txt_removes_only_txt(bind):
    client = bind.client()
    client.replace_records(VI1, [("A", "192.0.2.80")])
    client.set_txt(VI1, ["kept-until-deleted"])
    client.set_txt(CHALLENGE, [TOKEN])

    client.delete_txt(CHALLENGE)
    client.delete_txt(CHALLENGE)
    assert client.lookup(CHALLENGE, "TXT") == []
    assert client.lookup(VI1, "TXT") == ["kept-until-deleted"]

    client.set_txt(VI1, [])
    assert client.lookup(VI1, "TXT") == []
    client.delete_name(VI1)
    assert client.read_zone() == NS1


def test_delete_name_keeps_txt_and_txt_updates_keep_addresses(bind):
    client = bind.client()
    client.replace_records(DB1, [("A", "192.0.2.90")])
    client.set_txt(DB1, ["note"])
    client.delete_name(DB1)
    assert client.lookup(DB1, "TXT") == ["note"]
    client.replace_records(DB1, [("AAAA", "2001:db8::90")])
    client.delete_txt(DB1)
    assert client.lookup(DB1, "AAAA") == ["2001:db8::90"]


def test_txt_updates_need_the_tsig_key(bind):
    client = bind.client()
    client.set_txt(CHALLENGE, [TOKEN])
    intruder = bind.client(secret=base64.b64encode(b"not the secret, 32 bytes long!!!").decode())
    for attempt in (lambda: intruder.set_txt(CHALLENGE, ["forged"]), lambda: intruder.delete_txt(CHALLENGE)):
        with pytest.raises(DnsRejected, match="NOTAUTH.*BADSIG"):
            attempt()
    assert client.lookup(CHALLENGE, "TXT") == [TOKEN]


def test_txt_on_stopped_server_is_unavailable(bind):
    client = bind.client(timeout=1)
    bind.stop()
    for attempt in (lambda: client.set_txt(CHALLENGE, [TOKEN]), lambda: client.delete_txt(CHALLENGE),
                    lambda: client.lookup(CHALLENGE, "TXT")):
        with pytest.raises(DnsUnavailable):
            attempt()


@pytest.mark.parametrize("name", [ZONE, "_acme-challenge.www.example.org", f"_acme-challenge.{ZONE}.example.org", ""])
def test_txt_names_outside_the_zone_are_refused_before_sending(name):
    client = offline_client()
    with pytest.raises(ValueError):
        client.set_txt(name, [TOKEN])
    with pytest.raises(ValueError):
        client.delete_txt(name)


@pytest.mark.parametrize("values", [TOKEN, [""], ["é"], ["line\nbreak"], [None], [42], ["x" * 2049]])
def test_invalid_txt_values_are_refused_before_sending(values):
    with pytest.raises((TypeError, ValueError)):
        offline_client().set_txt(CHALLENGE, values)


def test_lookup_still_refuses_other_types():
    with pytest.raises(ValueError):
        offline_client().lookup(CHALLENGE, "MX")

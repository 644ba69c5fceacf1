"""An operator's own ACME client answers DNS-01 through the portal's acme-dns API (issue 4 §3).

Everything real on loopback: the portal (live server), BIND 9 holding the zone, Pebble as the CA.
The "external client" is an ACME client that only knows the acme-dns credentials: it writes the
challenge over HTTP to ``/acme-dns/update``, never to the zone itself.
"""
import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509

from certificates import acme_client
from certificates import services as cs
from tests.conftest import require_or_skip
from tests.support import pki
from tests.support.lifecycle import declared_drimbox
from tests.support.pebble import pebble_available, running_pebble

pytestmark = pytest.mark.django_db(transaction=True)


def goacmedns_update(base_url, credentials, value, *, content_type="application/json"):
    """The bytes goacmedns 0.1.x (lego's acme-dns provider up to v4.21) writes for ``UpdateTXTRecord``: Go's
    ``json.Marshal`` of ``struct{SubDomain, Txt string}`` (capitalised keys, no spaces) and net/http's request
    layout. Sent on a raw socket so that nothing (no HTTP library) rewrites it; returns (status, body)."""
    url = urlsplit(base_url)
    body = json.dumps({"SubDomain": credentials["subdomain"], "Txt": value}, separators=(",", ":")).encode()
    lines = [f"POST {url.path.rstrip('/')}/acme-dns/update HTTP/1.1", f"Host: {url.netloc}",
             "User-Agent: goacmedns (linux; amd64)", f"Content-Length: {len(body)}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"X-Api-Key: {credentials['password']}", f"X-Api-User: {credentials['username']}",
              "Accept-Encoding: gzip", "Connection: close"]
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


class AcmeDnsOverHttp:
    """What lego's acme-dns provider (through goacmedns) does: POST /update with the credentials' headers."""

    def __init__(self, base_url, credentials, resolver):
        self.base_url, self.credentials, self.resolver = base_url, credentials, resolver

    def set_txt(self, name, values):
        status, body = goacmedns_update(self.base_url, self.credentials, values[-1])
        if status != 200:
            raise RuntimeError(f"acme-dns update refused: {status} {body!r}")
        assert body == b'{"txt": "' + values[-1].encode() + b'"}'

    def delete_txt(self, name):
        """acme-dns has no delete: the two last values stay until overwritten."""

    def lookup(self, name, rdtype):
        return self.resolver.lookup(name, rdtype)


def test_external_acme_client_through_acme_dns(world, bind, live_server, tmp_path):
    require_or_skip(pebble_available(), "Debian pebble is not installed")
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    credential, password = cs.register_acme_dns(drimbox, acting_user=world.technical)
    credentials = {"username": credential.username, "password": password, "subdomain": credential.subdomain}
    client = AcmeDnsOverHttp(live_server.url, credentials, bind.client())

    with running_pebble(tmp_path / "pebble", dns_server=f"{bind.host}:{bind.port}") as pebble:
        settings = acme_client.AcmeSettings(directory_url=pebble.directory_url, ca_bundle=pebble.ca_bundle,
                                            propagation_timeout=20)
        key = acme_client.new_account_key()  # the operator's own account, not the portal's
        acme_client.register_account(settings, key)
        csr, _private_key = pki.build_csr(drimbox.vi_fqdn)
        issued = acme_client.issue_certificate(settings, key, pki.csr_pem(csr), dns=client)
        leaf = x509.load_pem_x509_certificate(issued.leaf_pem.encode())
        assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName) == [drimbox.vi_fqdn]

        # The same credentials cannot obtain another DRIMbox's name: the challenge lands on their own name.
        other = declared_drimbox(world.operator, world.legal, world.ans)
        csr, _private_key = pki.build_csr(other.vi_fqdn)
        settings_fast = acme_client.AcmeSettings(directory_url=pebble.directory_url, ca_bundle=pebble.ca_bundle,
                                                 propagation_timeout=2, order_timeout=20)
        with pytest.raises(acme_client.AcmeError):
            acme_client.issue_certificate(settings_fast, key, pki.csr_pem(csr), dns=client)
    assert bind.client().lookup(f"_acme-challenge.{other.vi_fqdn}", "TXT") == []

    # Wrong credentials are refused by the API itself, with acme-dns's answer.
    response = requests.post(f"{live_server.url}/acme-dns/update", timeout=10,
                             json={"subdomain": credential.subdomain, "txt": "x" * 43},
                             headers={"X-Api-User": credential.username, "X-Api-Key": "wrong"})
    assert response.status_code == 401 and response.content == b'{"error": "forbidden"}'


def test_a_goacmedns_request_and_a_body_without_content_type_are_taken(world, bind, live_server):
    """As acme-dns: keys matched case-insensitively, the content type ignored, the last two values kept."""
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    credential, password = cs.register_acme_dns(drimbox, acting_user=world.technical)
    credentials = {"username": credential.username, "password": password, "subdomain": credential.subdomain}
    first, second, third = ("A" * 43, "B" * 43, "C" * 43)
    assert goacmedns_update(live_server.url, credentials, first) == (200, b'{"txt": "' + first.encode() + b'"}')
    assert goacmedns_update(live_server.url, credentials, second, content_type=None)[0] == 200
    assert goacmedns_update(live_server.url, credentials, third, content_type="text/plain")[0] == 200
    assert bind.client().lookup(credential.challenge_name, "TXT") == [second, third]
    # Any case of the keys, trailing bytes after the JSON value, as Go's decoder reads them.
    response = requests.post(f"{live_server.url}/acme-dns/update", timeout=10,
                             data=json.dumps({"SUBDOMAIN": credential.subdomain, "tXt": first}) + "\n garbage",
                             headers={"X-Api-User": credential.username, "X-Api-Key": password})
    assert response.status_code == 200 and bind.client().lookup(credential.challenge_name, "TXT") == [first, third]
    health = requests.get(f"{live_server.url}/acme-dns/health", timeout=10)
    assert health.status_code == 200 and health.content == b""

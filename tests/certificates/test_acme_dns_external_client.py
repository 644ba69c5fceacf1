"""An operator's own ACME client answers DNS-01 through the portal's acme-dns API (issue 4 §3).

Everything real on loopback: the portal (live server), BIND 9 holding the zone, Pebble as the CA.
The "external client" is an ACME client that only knows the acme-dns credentials: it writes the
challenge over HTTP to ``/acme-dns/update``, never to the zone itself.
"""
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


class AcmeDnsOverHttp:
    """What lego's or certbot's acme-dns plugin does: POST /update with the credentials' headers."""

    def __init__(self, base_url, credentials, resolver):
        self.base_url, self.credentials, self.resolver = base_url, credentials, resolver

    def set_txt(self, name, values):
        response = requests.post(f"{self.base_url}/acme-dns/update", timeout=10, json={
            "subdomain": self.credentials["subdomain"], "txt": values[-1]}, headers={
            "X-Api-User": self.credentials["username"], "X-Api-Key": self.credentials["password"]})
        if response.status_code != 200:
            raise RuntimeError(f"acme-dns update refused: {response.status_code} {response.text}")

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

    # Wrong credentials are refused by the API itself.
    response = requests.post(f"{live_server.url}/acme-dns/update", timeout=10,
                             json={"subdomain": credential.subdomain, "txt": "x" * 43},
                             headers={"X-Api-User": credential.username, "X-Api-Key": "wrong"})
    assert response.status_code == 401

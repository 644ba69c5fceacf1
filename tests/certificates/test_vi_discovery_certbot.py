"""An operator's own certbot obtains the `vi` certificate through the portal's acme-dns API; the prober discovers it
on the `vi` endpoint and records it without any upload (issue 14, item 2).

Everything real on loopback: the portal (live server), BIND 9 holding the zone, Pebble as the CA, certbot 5 with
the certbot-dns-acmedns plugin (PyPI) as a subprocess, and an HTTPS server on 127.0.0.1 presenting what certbot
wrote (fullchain.pem / privkey.pem). Pebble's root, read from its management API (/roots/0), stands for the public
web PKI (``VI_MARKET_TRUST_BUNDLE``).
"""
import importlib.util
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.core import mail

from certificates import services as cs
from certificates.integration import certificate_checks
from certificates.models import Certificate, CertificateKind, CertificateSource, RefusedViCertificate
from tests.conftest import require_or_skip
from tests.support.drimbox_servers import running_farm
from tests.support.lifecycle import declared_drimbox
from tests.support.pebble import pebble_available, running_pebble
from trustspace.models import AuditEntry
from weather import tasks

pytestmark = pytest.mark.django_db(transaction=True)
CERTBOT = "import sys; from certbot.main import main; sys.exit(main())"


def certbot_certonly(tmp_path, *, pebble, acme_dns_url, credential, password, fqdn):
    """certbot certonly with the dns-acmedns authenticator, as the operator would run it on its DRIMbox."""
    registration = tmp_path / "acmedns-registration.json"  # what acme-dns's /register would have answered
    registration.write_text(json.dumps({fqdn: {
        "username": credential.username, "password": password, "subdomain": credential.subdomain,
        "fulldomain": credential.challenge_name, "allowfrom": []}}))
    ini = tmp_path / "acmedns.ini"
    ini.write_text(f"dns_acmedns_api_url = {acme_dns_url}\ndns_acmedns_registration_file = {registration}\n")
    for path in (registration, ini):
        path.chmod(0o600)
    base = tmp_path / "certbot"
    command = [sys.executable, "-c", CERTBOT, "certonly", "--non-interactive", "--agree-tos",
               "--register-unsafely-without-email", "--server", pebble.directory_url,
               "--config-dir", str(base / "config"), "--work-dir", str(base / "work"), "--logs-dir", str(base / "logs"),
               "--authenticator", "dns-acmedns", "--dns-acmedns-credentials", str(ini),
               "--dns-acmedns-propagation-seconds", "0", "-d", fqdn]
    # Pebble's ACME API is HTTPS with its own test CA: trusted for certbot's requests, never turned off.
    done = subprocess.run(command, env={**os.environ, "REQUESTS_CA_BUNDLE": pebble.ca_bundle}, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, f"certbot failed:\n{done.stdout}\n{done.stderr}"
    live = base / "config" / "live" / fqdn
    return (live / "fullchain.pem").read_bytes(), (live / "privkey.pem").read_bytes()


def vi_check(drimbox):
    return next(item for item in certificate_checks(drimbox) if item.label == "Certificat vi")


def test_certbot_certificate_is_discovered_on_the_vi_endpoint_and_counts_for_integration(
        world, bind, live_server, settings, tmp_path):
    require_or_skip(pebble_available(), "Debian pebble is not installed")
    require_or_skip(importlib.util.find_spec("certbot_dns_acmedns") is not None,
                    "certbot and certbot-dns-acmedns are not installed (requirements-dev.txt)")
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    credential, password = cs.register_acme_dns(drimbox, acting_user=world.technical)
    check = vi_check(drimbox)
    assert not check.ok and check.detail == f"aucun certificat en cours pour {drimbox.vi_fqdn}"

    with running_pebble(tmp_path / "pebble", dns_server=f"{bind.host}:{bind.port}") as pebble:
        fullchain, private_key = certbot_certonly(tmp_path, pebble=pebble, acme_dns_url=f"{live_server.url}/acme-dns",
                                                  credential=credential, password=password, fqdn=drimbox.vi_fqdn)
        roots = tmp_path / "public-roots.pem"
        roots.write_text(pebble.root_pem())
        intermediate = x509.load_pem_x509_certificate(pebble.intermediate_pem().encode())
    settings.VI_MARKET_TRUST_BUNDLE = settings.WEATHER_VI_CA_BUNDLE = str(roots)
    leaf, *sent_chain = x509.load_pem_x509_certificates(fullchain)
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [drimbox.vi_fqdn]
    assert sent_chain == [intermediate]

    settings.WEATHER_LOCATION, settings.WEATHER_PROBE_TIMEOUT = "paris", 5
    mail.outbox.clear()
    with running_farm(tmp_path / "servers") as farm:
        server = farm.add_vi(drimbox.vi_fqdn, SimpleNamespace(chain_pem=fullchain, key_pem=private_key))
        settings.WEATHER_PROBE_RESOLVE = farm.resolve()
        # The DRIMbox is not in the published list yet: each round reads its vi certificate (handshake only).
        tasks.schedule_probes.delay()
        certificate = Certificate.objects.get(drimbox=drimbox, kind=CertificateKind.VI)
        assert certificate.source == CertificateSource.DISCOVERED
        assert certificate.fingerprint_sha256 == leaf.fingerprint(hashes.SHA256()).hex(":").upper()
        assert x509.load_pem_x509_certificates(certificate.chain_pem.encode()) == [intermediate]  # as sent
        assert certificate.uploaded_by is None and certificate.superseded_at is None
        assert {c["code"]: c["ok"] for c in certificate.checks}["chain"] is True
        assert AuditEntry.objects.filter(action="certificate.vi.stored", object_id=str(certificate.pk)).exists()
        assert [m.subject for m in mail.outbox] == [
            f"[Espace de Confiance DRIM-M] Certificat vi découvert et enregistré — {drimbox.vi_fqdn}"]

        # Integration now sees a current vi certificate.
        check = vi_check(drimbox)
        assert check.ok and check.detail.startswith(f"numéro de série {certificate.serial}")

        # The next round finds nothing new: no row, no mail.
        tasks.schedule_probes.delay()
        assert Certificate.objects.filter(drimbox=drimbox).count() == 1
        assert not RefusedViCertificate.objects.exists() and len(mail.outbox) == 1
        assert server.requests == 0  # a handshake only, never an HTTP request to a DRIMbox not yet integrated

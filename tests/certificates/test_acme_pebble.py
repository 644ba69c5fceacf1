"""The ACME client end to end: a real Pebble CA validating DNS-01 against a real BIND 9, both on 127.0.0.1."""
import datetime
import email.utils
import json
import os
import ssl
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import josepy
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from certificates import acme_client
from certificates.acme_client import (
    REASON_KEY_COMPROMISE,
    REASON_OPERATOR_SWITCH,
    REASON_WITHDRAWAL,
    AcmeError,
    AcmeSettings,
    RevocationReason,
    issue_certificate,
    key_from_pem,
    key_to_pem,
    new_account_key,
    register_account,
    renewal_due,
    revoke_certificate,
)
from tests.conftest import require_or_skip
from tests.support.dns_server import free_port, named_available, running_bind
from tests.support.pebble import make_tls_files, pebble_available, running_pebble
from tests.support.serving import serving

ZONE = "mesimagesmedicales.fr"
NAME = f"vi7.test.{ZONE}"
CHALLENGE = f"_acme-challenge.{NAME}"
UTC = datetime.UTC


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(BIND serving the zone, Pebble resolving through it), shared by the module's tests."""
    require_or_skip(pebble_available() and named_available(),
                    "Pebble and BIND 9 are needed (Debian packages pebble and bind9)")
    base = tmp_path_factory.mktemp("acme")
    with running_bind(base, ZONE) as bind, running_pebble(base, dns_server=f"{bind.host}:{bind.port}") as pebble:
        yield bind, pebble


@pytest.fixture(scope="module")
def primary(stack):
    return stack[0]


@pytest.fixture(scope="module")
def ca(stack):
    return stack[1]


@pytest.fixture(scope="module")
def acme_settings(ca):
    return AcmeSettings(directory_url=ca.directory_url, ca_bundle=ca.ca_bundle, contact_email="pki@example.fr",
                        network_timeout=5, order_timeout=20, propagation_timeout=5, propagation_interval=0.05)


@pytest.fixture
def account_key():
    """A new ACME account per test: Pebble 2.4 still reuses a valid authorization of the same account
    once in a hundred orders with ``PEBBLE_AUTHZREUSE=0`` (``rand.Intn(100) > 0``), and then no challenge
    is asked; tests that count DNS-01 steps need an account without earlier authorizations."""
    return new_account_key()


@pytest.fixture(scope="module")
def csr_key():
    """The DRIMbox's key: it signs the CSR and never reaches the ACME client."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_csr(key, *names, common_name=None):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or names[0])])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class RecordingZone:
    """The real zone client, with every TXT call recorded; ``publish`` can change what set_txt writes."""

    def __init__(self, client, publish=None):
        self.client = client
        self.zone = client.zone
        self.publish = publish
        self.calls = []

    def set_txt(self, name, values):
        self.calls.append(("set_txt", name, list(values)))
        values = self.publish(values) if self.publish else values
        if values is not None:
            self.client.set_txt(name, values)

    def delete_txt(self, name):
        self.calls.append(("delete_txt", name))
        self.client.delete_txt(name)

    def lookup(self, name, rdtype):
        self.calls.append(("lookup", name, rdtype))
        return self.client.lookup(name, rdtype)

    def names(self, method):
        return [call[1] for call in self.calls if call[0] == method]


def verify_chain(chain_pem, root_pem, name):
    """The validated path leaf → … → root for a TLS server ``name`` (cryptography's X.509 verifier)."""
    certificates = x509.load_pem_x509_certificates(chain_pem.encode())
    root = x509.load_pem_x509_certificate(root_pem.encode())
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(name))
    return verifier.verify(certificates[0], certificates[1:])


def test_account_key_pem_round_trip():
    key = new_account_key()
    assert isinstance(key, josepy.JWKRSA) and key.key.key_size == 2048
    assert key_from_pem(key_to_pem(key)) == key
    encrypted = key_to_pem(key, password=b"from-the-environment")
    assert b"ENCRYPTED" in encrypted
    assert key_from_pem(encrypted, password=b"from-the-environment") == key
    with pytest.raises(AcmeError, match="illisible"):
        key_from_pem(encrypted, password=b"wrong")
    with pytest.raises(AcmeError, match="illisible"):
        key_from_pem(b"not a key")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(AcmeError, match="RSA"):
        key_from_pem(ec_pem)


def test_register_account_is_idempotent(acme_settings, account_key):
    uri = register_account(acme_settings, account_key)
    assert uri.startswith(acme_settings.directory_url.removesuffix("/dir"))
    assert register_account(acme_settings, account_key) == uri
    assert register_account(acme_settings, new_account_key()) != uri


def test_issue_certificate_publishes_validates_and_cleans_up(primary, ca, acme_settings, account_key, csr_key):
    zone = RecordingZone(primary.client())
    issued = issue_certificate(acme_settings, account_key, make_csr(csr_key, NAME), dns=zone)

    (set_call, *lookups, delete_call) = zone.calls
    assert set_call[:2] == ("set_txt", CHALLENGE) and len(set_call[2]) == 1 and len(set_call[2][0]) == 43
    assert lookups and all(call == ("lookup", CHALLENGE, "TXT") for call in lookups)
    assert delete_call == ("delete_txt", CHALLENGE)
    assert primary.client().lookup(CHALLENGE, "TXT") == []
    assert issued.leftover_txt == ()

    path = verify_chain(issued.chain_pem, ca.root_pem(), NAME)
    leaf = path[0]
    assert path[-1].subject.rfc4514_string().startswith("CN=Pebble Root CA")
    assert issued.leaf_pem == leaf.public_bytes(serialization.Encoding.PEM).decode()
    assert issued.chain_pem.startswith(issued.leaf_pem.strip())
    assert leaf.public_key() == csr_key.public_key()
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [NAME]
    assert issued.serial == format(leaf.serial_number, "x")
    assert (issued.not_before, issued.not_after) == (leaf.not_valid_before_utc, leaf.not_valid_after_utc)
    assert issued.not_before <= datetime.datetime.now(UTC) < issued.not_after
    assert issued.order_uri.startswith(ca.directory_url.removesuffix("/dir"))
    assert issued.name == NAME
    assert ca.cert_status(issued.serial)["Status"] == "Valid"


def test_renewal_gives_a_new_certificate_for_the_same_csr(primary, ca, acme_settings, account_key, csr_key):
    csr = make_csr(csr_key, NAME)
    first = issue_certificate(acme_settings, account_key, csr, dns=primary.client())
    assert not renewal_due(first.not_before, first.not_after, datetime.datetime.now(UTC))
    lifetime = first.not_after - first.not_before
    assert renewal_due(first.not_before, first.not_after, first.not_after - lifetime / 3)

    second = issue_certificate(acme_settings, account_key, csr, dns=primary.client())
    assert second.serial != first.serial and second.order_uri != first.order_uri
    verify_chain(second.chain_pem, ca.root_pem(), NAME)
    assert [ca.cert_status(c.serial)["Status"] for c in (first, second)] == ["Valid", "Valid"]
    assert primary.client().lookup(CHALLENGE, "TXT") == []


def test_wait_for_propagation_accepts_a_check_or_can_be_skipped(primary, acme_settings, account_key, csr_key):
    seen = []

    def visible_everywhere(name, value):
        seen.append((name, value))
        return value in primary.client().lookup(name, "TXT")

    zone = RecordingZone(primary.client())
    issue_certificate(acme_settings, account_key, make_csr(csr_key, NAME), dns=zone,
                      wait_for_propagation=visible_everywhere)
    assert seen and seen[0] == (CHALLENGE, zone.calls[0][2][0])
    assert zone.names("lookup") == []

    zone = RecordingZone(primary.client())
    issue_certificate(acme_settings, new_account_key(), make_csr(csr_key, NAME), dns=zone,
                      wait_for_propagation=False)
    assert [call[0] for call in zone.calls] == ["set_txt", "delete_txt"]


def test_revoke_with_reason_codes(primary, ca, acme_settings, account_key, csr_key):
    switched, withdrawn, compromised = (
        issue_certificate(acme_settings, account_key, make_csr(csr_key, NAME), dns=primary.client())
        for _ in range(3))

    assert revoke_certificate(acme_settings, account_key, switched.leaf_pem, REASON_OPERATOR_SWITCH) is True
    assert revoke_certificate(acme_settings, account_key, withdrawn.chain_pem.encode(), REASON_WITHDRAWAL) is True
    assert revoke_certificate(acme_settings, account_key, compromised.leaf_pem, REASON_KEY_COMPROMISE) is True
    for issued, reason in ((switched, 4), (withdrawn, 5), (compromised, 1)):
        status = ca.cert_status(issued.serial)
        assert (status["Status"], status["Reason"]) == ("Revoked", reason)
        assert status["RevokedAt"]

    assert revoke_certificate(acme_settings, account_key, switched.leaf_pem, RevocationReason.SUPERSEDED) is False
    assert ca.cert_status(switched.serial)["Reason"] == 4


def test_revocation_refused_cleanly(primary, ca, acme_settings, account_key, csr_key):
    issued = issue_certificate(acme_settings, account_key, make_csr(csr_key, NAME), dns=primary.client())
    with pytest.raises(AcmeError, match="Motif de révocation non pris en charge"):
        revoke_certificate(acme_settings, account_key, issued.leaf_pem, 2)
    with pytest.raises(AcmeError, match="illisible"):
        revoke_certificate(acme_settings, account_key, b"garbage", 0)
    with pytest.raises(AcmeError,
                       match="^Révocation du certificat n° .* : l'autorité de certification refuse") as refused:
        revoke_certificate(acme_settings, new_account_key(), issued.leaf_pem, 0)
    assert refused.value.code == "unauthorized" and not refused.value.rate_limited
    assert ca.cert_status(issued.serial)["Status"] == "Valid"


@pytest.mark.parametrize(("names", "common_name", "message"), [
    (["vi7.test.example.org"], None, "n'est pas dans la zone mesimagesmedicales.fr"),
    ([f"vi7.test.{ZONE}.example.org"], None, "n'est pas dans la zone"),
    ([ZONE], None, "n'est pas dans la zone"),
    ([NAME, f"vi8.test.{ZONE}"], None, "exactement un nom DNS"),
    ([NAME], f"vi8.test.{ZONE}", "exactement un nom DNS"),
    ([f"*.test.{ZONE}"], None, "générique"),
])
def test_csr_for_a_wrong_or_foreign_name_is_refused(primary, acme_settings, account_key, csr_key, names, common_name,
                                                    message):
    zone = RecordingZone(primary.client())
    csr = make_csr(csr_key, *names, common_name=common_name)
    with pytest.raises(AcmeError, match=message) as refused:
        issue_certificate(acme_settings, account_key, csr, dns=zone)
    assert not refused.value.rate_limited and refused.value.retry_after is None
    assert zone.calls == []


def test_garbage_csr_is_refused(primary, acme_settings, account_key):
    for garbage in (b"", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                    os.urandom(300)):
        with pytest.raises(AcmeError, match="CSR"):
            issue_certificate(acme_settings, account_key, garbage, dns=primary.client())


def test_stopped_dns_server_gives_a_clean_error_and_cleanup_is_attempted(
        tmp_path, acme_settings, account_key, csr_key):
    with running_bind(tmp_path, ZONE) as stopped:
        stopped.stop()
        zone = RecordingZone(stopped.client(timeout=1))
        with pytest.raises(AcmeError, match=f"^Publication de l'enregistrement TXT {CHALLENGE} impossible") as error:
            issue_certificate(acme_settings, account_key, make_csr(csr_key, NAME), dns=zone)
        assert error.value.code == "dnsUpdate"
        # French for people, dnspython's English kept apart as the technical detail.
        assert error.value.message.endswith("impossible : le serveur DNS de la zone ne répond pas.")
        assert error.value.detail and error.value.detail not in error.value.message
        # Given up at the first refusal: one publication, no propagation wait, one cleanup (no retry loop).
        assert [call[:2] for call in zone.calls] == [("set_txt", CHALLENGE), ("delete_txt", CHALLENGE)]
        assert error.value.leftover_txt == (CHALLENGE,)
        stopped.start()
        assert stopped.client().lookup(CHALLENGE, "TXT") == []


class SimulatedClock:
    """Stands for ``time`` in ``certificates.acme_client``: ``sleep`` moves a simulated ``monotonic`` clock at
    once, so a wait is counted (sleeps, simulated seconds) instead of timed; a loop that ignored its deadline
    would hit ``max_sleeps``."""

    def __init__(self, max_sleeps=1000):
        self.now = 1000.0
        self.sleeps = 0
        self.max_sleeps = max_sleeps

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps += 1
        assert self.sleeps <= self.max_sleeps, "the wait did not stop at its deadline"
        self.now += seconds


def test_token_not_visible_times_out_and_is_cleaned_up(primary, acme_settings, account_key, csr_key, monkeypatch):
    zone = RecordingZone(primary.client(), publish=lambda values: None)
    settings = replace(acme_settings, propagation_timeout=0.5)
    clock = SimulatedClock()
    monkeypatch.setattr(acme_client, "time", clock)
    started = clock.now
    with pytest.raises(AcmeError, match=f"{CHALLENGE} n'est pas visible .* après 0.5 s") as error:
        issue_certificate(settings, account_key, make_csr(csr_key, NAME), dns=zone)
    # The propagation timeout stopped the wait: polled every interval for 0.5 s of (simulated) time, no longer.
    waited = clock.now - started
    assert settings.propagation_timeout - settings.propagation_interval < waited <= settings.propagation_timeout
    assert len(zone.names("lookup")) == clock.sleeps + 1
    assert error.value.code == "propagation"
    assert zone.names("delete_txt") == [CHALLENGE] and error.value.leftover_txt == ()


def test_wrong_token_fails_the_challenge(primary, acme_settings, account_key, csr_key):
    zone = RecordingZone(primary.client(), publish=lambda values: ["not-the-expected-token"])
    with pytest.raises(AcmeError, match=f"échec du défi DNS-01 pour {NAME}") as error:
        issue_certificate(acme_settings, account_key, make_csr(csr_key, NAME), dns=zone, wait_for_propagation=False)
    assert error.value.code in {"unauthorized", "incorrectResponse"}
    assert "l'enregistrement TXT ne contient pas la valeur attendue" in str(error.value) and error.value.detail
    assert zone.names("delete_txt") == [CHALLENGE]
    assert primary.client().lookup(CHALLENGE, "TXT") == []


def test_unreachable_or_untrusted_ca(tmp_path, ca, account_key, csr_key):
    closed = AcmeSettings(directory_url=f"https://127.0.0.1:{free_port()}/dir", ca_bundle=ca.ca_bundle,
                          network_timeout=2)
    with pytest.raises(AcmeError, match="^Inscription du compte ACME : l'autorité de certification est injoignable"):
        register_account(closed, account_key)

    other_ca = str(make_tls_files(tmp_path / "other")[0])
    untrusted = AcmeSettings(directory_url=ca.directory_url, ca_bundle=other_ca)
    with pytest.raises(AcmeError, match="certificat TLS de l'autorité de certification n'est pas reconnu"):
        register_account(untrusted, account_key)

    for bad in ({"directory_url": ca.directory_url.replace("https:", "http:")},
                {"directory_url": ca.directory_url, "ca_bundle": str(tmp_path / "missing.pem")},
                {"directory_url": ca.directory_url, "propagation_timeout": 0}):
        with pytest.raises(ValueError):
            AcmeSettings(**bad)


class RateLimitedCA(BaseHTTPRequestHandler):
    """A minimal ACME server whose newAccount and newOrder answer 429 rateLimited with a Retry-After."""

    retry_after = "120"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Replay-Nonce", josepy.b64encode(os.urandom(16)).decode())
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._send(200, json.dumps({"newNonce": f"{base}/nonce", "newAccount": f"{base}/account",
                                    "newOrder": f"{base}/order", "revokeCert": f"{base}/revoke"}).encode())

    def do_HEAD(self):
        self._send(200)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        problem = {"type": "urn:ietf:params:acme:error:rateLimited", "status": 429,
                   "detail": "too many new registrations from this IP"}
        self._send(429, json.dumps(problem).encode(), "application/problem+json",
                   [("Retry-After", self.server.retry_after)])


@pytest.fixture
def rate_limited_ca(tmp_path):
    ca_pem, cert_pem, key_pem = make_tls_files(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), RateLimitedCA)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_pem, key_pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield server, AcmeSettings(directory_url=f"https://127.0.0.1:{server.server_address[1]}/dir",
                                   ca_bundle=str(ca_pem), network_timeout=5)


def test_rate_limit_is_reported_with_retry_after(rate_limited_ca, account_key, csr_key, primary):
    server, settings = rate_limited_ca
    server.retry_after = "120"
    with pytest.raises(AcmeError, match="limite de requêtes .* nouvel essai possible dans 120 s") as error:
        register_account(settings, account_key)
    assert (error.value.rate_limited, error.value.retry_after, error.value.code) == (True, 120, "rateLimited")
    assert "too many new registrations" in error.value.detail and "too many" not in error.value.message

    server.retry_after = email.utils.format_datetime(datetime.datetime.now(UTC) + datetime.timedelta(seconds=90),
                                                     usegmt=True)
    zone = RecordingZone(primary.client())
    with pytest.raises(AcmeError) as error:
        issue_certificate(settings, account_key, make_csr(csr_key, NAME), dns=zone)
    assert error.value.rate_limited and 85 <= error.value.retry_after <= 91
    assert zone.calls == []


@pytest.mark.parametrize(("elapsed", "due"), [
    (datetime.timedelta(0), False),
    (datetime.timedelta(days=60) - datetime.timedelta(seconds=1), False),
    (datetime.timedelta(days=60), True),
    (datetime.timedelta(days=89), True),
    (datetime.timedelta(days=120), True),
])
def test_renewal_due_at_one_third_of_a_90_day_lifetime(elapsed, due):
    not_before = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert renewal_due(not_before, not_before + datetime.timedelta(days=90), not_before + elapsed) is due


def test_renewal_due_for_shorter_lifetimes_and_other_fractions():
    start = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    end = start + datetime.timedelta(days=45)
    assert not renewal_due(start, end, start + datetime.timedelta(days=29, hours=23))
    assert renewal_due(start, end, start + datetime.timedelta(days=30))
    assert not renewal_due(start, end, start + datetime.timedelta(days=22), fraction=0.5)
    assert renewal_due(start, end, start + datetime.timedelta(days=22, hours=12), fraction=0.5)
    for args in ((start, start, start), (end, start, start), (start, end, start, 0), (start, end, start, 1)):
        with pytest.raises(ValueError):
            renewal_due(*args)

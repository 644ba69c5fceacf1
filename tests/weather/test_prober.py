"""The prober against real loopback HTTPS DRIMboxes (mutual TLS), and end to end through the Celery tasks."""
import datetime as dt
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
from cryptography.x509.oid import NameOID
from django.core import mail

from tests.support import pki
from tests.support.drimbox_servers import running_farm, write_pem_pair
from tests.support.lifecycle import active_drimbox, shared_pki
from tests.whitelist.signing import SIGNER_CN, SIGNER_OU, org_sign_certificate
from weather import prober, targets, tasks
from weather.models import DrimboxWeather, Incident, LocationObservation, ProbeLocation, Transition, WeatherStatus
from whitelist import services as whitelist_services

pytestmark = pytest.mark.django_db  # run_probes reads the CRL cache (certificates.models.CrlCache)
DB = "db7.test.mesimagesmedicales.fr"
VI = "vi7.test.mesimagesmedicales.fr"
CLIENT_SLOT, OTHER_PKI = 61, 30


def probe_client_certificate(issuing=None):
    """The portal's client certificate (clientAuth), issued by the test IGC-Santé intermediate."""
    issuing = issuing or shared_pki()
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AGENCE DU NUMERIQUE EN SANTE"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Sonde meteo DRIM-M")])
    return issuing.db_certificate(None, subject=subject, eku=("clientAuth",), san=[],
                                  key=pki.rsa_key(2048, CLIENT_SLOT + issuing.slot_base))


@pytest.fixture(scope="module")
def other_pki():
    """An unrelated hierarchy with the same names: an impostor for the db side, a "public CA" for vi."""
    return pki.TestPKI(slot_base=OTHER_PKI)


@pytest.fixture
def client_ca():
    return pki.cert_pem(shared_pki().root.cert, shared_pki().intermediate.cert)


@pytest.fixture
def probe_settings(settings, tmp_path, other_pki):
    settings.WEATHER_CLIENT_CERT, settings.WEATHER_CLIENT_KEY = write_pem_pair(
        tmp_path / "client", "probe", probe_client_certificate())
    bundle = tmp_path / "vi-ca.pem"
    bundle.write_bytes(other_pki.root.pem)
    settings.WEATHER_VI_CA_BUNDLE = str(bundle)
    settings.WEATHER_PROBE_TIMEOUT = 2
    settings.WEATHER_PROBE_RETRIES = 1
    settings.WEATHER_CONFIRMATION_FAILURES = 3
    settings.WEATHER_STALE_AFTER = 300
    settings.WEATHER_QUORUM = "majority"
    settings.WEATHER_CERT_EXPIRY_DEGRADED_DAYS = 15
    settings.WEATHER_LOCATION = "paris"
    return settings


@pytest.fixture
def farm(tmp_path, probe_settings):
    with running_farm(tmp_path / "servers") as farm:
        yield farm


def db_issued(fqdn=DB, **kwargs):
    return shared_pki().db_certificate(fqdn, **kwargs)


def expected_dn(fqdn=DB):
    return db_issued(fqdn).cert.subject.rfc4514_string()


def probe(settings, farm, *, dn=None, vi=VI):
    settings.WEATHER_PROBE_RESOLVE = farm.resolve()
    target = targets.Target(identifiant=7, drimbox_id=0, db=DB, vi=vi, dn=dn or expected_dn())
    [result] = prober.run_probes([target])
    return result


# --- the probe engine alone ------------------------------------------------------------------------------------


def test_up_with_the_expected_dn_is_operational(settings, farm, client_ca, other_pki):
    db = farm.add_db(DB, db_issued(), client_ca)
    vi = farm.add_vi(VI, other_pki.vi_certificate(VI))
    result = probe(settings, farm)
    assert result.status == prober.OPERATIONAL, result
    assert result.db_ok and result.vi_ok and not result.db_error and not result.vi_error
    assert result.latency_ms is not None and result.latency_ms < 2000
    assert db.requests == 1 and vi.requests == 1


def test_any_http_answer_from_db_is_up_but_vi_5xx_is_degraded(settings, farm, client_ca, other_pki):
    farm.add_db(DB, db_issued(), client_ca).mode = "error"
    farm.add_vi(VI, other_pki.vi_certificate(VI)).mode = "error"
    result = probe(settings, farm)
    assert result.db_ok and result.vi_ok is False
    assert result.status == prober.DEGRADED and result.vi_error == "vi : erreur HTTP 503"


def test_stopped_db_is_failing(settings, farm, client_ca, other_pki):
    farm.add_db(DB, db_issued(), client_ca).stop()
    farm.add_vi(VI, other_pki.vi_certificate(VI))
    result = probe(settings, farm)
    assert result.status == prober.FAILING and not result.db_ok
    assert result.db_error == "db : connexion refusée"


def test_another_dn_is_failing_with_dn_inattendu(settings, farm, client_ca, other_pki):
    farm.add_db(DB, db_issued(id_nat_struct="300000009999999"), client_ca)
    farm.add_vi(VI, other_pki.vi_certificate(VI))
    result = probe(settings, farm)
    assert result.status == prober.FAILING
    assert result.db_error.startswith("db : DN inattendu : « CN=db7.test.mesimagesmedicales.fr,OU=300000009999999")
    assert expected_dn() in result.db_error


def test_expired_db_certificate_is_failing(settings, farm, client_ca):
    now = pki.utcnow()
    farm.add_db(DB, db_issued(not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)),
                client_ca)
    result = probe(settings, farm, vi="")
    assert result.status == prober.FAILING and result.db_error == "db : certificat du serveur expiré"


def test_a_revoked_db_certificate_is_failing_once_its_crl_is_cached(settings, farm, client_ca):
    from certificates.models import CrlCache
    from tests.support.pki import CRL_URL

    issued = db_issued()
    farm.add_db(DB, issued, client_ca)
    assert probe(settings, farm, vi="").status == prober.OPERATIONAL  # no cached CRL: unknown, not a failure
    other = shared_pki().db_certificate("db8.test.mesimagesmedicales.fr")
    now = dt.datetime.now(dt.UTC)
    cache = CrlCache.objects.create(url=CRL_URL, der=shared_pki().crl([other]).public_bytes(Encoding.DER),
                                    this_update=now, fetched_at=now)
    assert probe(settings, farm, vi="").status == prober.OPERATIONAL  # the CRL does not list this one
    cache.der = shared_pki().crl([issued]).public_bytes(Encoding.DER)
    cache.fetched_at = now + dt.timedelta(seconds=1)  # what refresh_crls does on a new copy
    cache.save()
    result = probe(settings, farm, vi="")
    assert result.status == prober.FAILING and result.db_error == "db : certificat révoqué"
    # A CRL of another issuer listing the same serial does not count.
    forged = shared_pki().crl([issued], issuer_name=other.cert.subject)
    cache.der, cache.fetched_at = forged.public_bytes(Encoding.DER), now + dt.timedelta(seconds=2)
    cache.save()
    assert probe(settings, farm, vi="").status == prober.OPERATIONAL


def test_untrusted_chain_with_the_right_dn_is_failing(settings, farm, client_ca, other_pki):
    farm.add_db(DB, other_pki.db_certificate(DB), client_ca)
    result = probe(settings, farm, vi="")
    assert result.status == prober.FAILING
    assert result.db_error.startswith("db : certificat du serveur non reconnu (émetteur inconnu")
    assert "unable" not in result.db_error.lower()  # OpenSSL's English stays out of the public reason


def test_db_certificate_expiring_soon_is_degraded(settings, farm, client_ca):
    now = pki.utcnow()
    farm.add_db(DB, db_issued(not_before=now - dt.timedelta(days=300), not_after=now + dt.timedelta(days=5)),
                client_ca)
    result = probe(settings, farm, vi="")
    assert result.status == prober.DEGRADED and result.db_ok and result.vi_ok is None
    assert result.db_error.startswith("db : le certificat expire le")


def test_vi_down_or_untrusted_is_degraded(settings, farm, client_ca, other_pki):
    farm.add_db(DB, db_issued(), client_ca)
    vi = farm.add_vi(VI, shared_pki().vi_certificate(VI))  # not from the public CA bundle
    result = probe(settings, farm)
    assert result.status == prober.DEGRADED and result.vi_error.startswith("vi : certificat du serveur non reconnu")
    vi.stop()
    result = probe(settings, farm)
    assert result.status == prober.DEGRADED and result.vi_error == "vi : connexion refusée"


def test_a_db_that_does_not_accept_the_portal_client_certificate_is_failing(settings, farm, other_pki):
    # The server only trusts client certificates of another CA: the handshake is refused.
    farm.add_db(DB, db_issued(), pki.cert_pem(other_pki.root.cert, other_pki.intermediate.cert))
    result = probe(settings, farm, vi="")
    assert result.status == prober.FAILING, result
    assert result.db_error.startswith("db : "), result


def test_a_server_that_never_answers_times_out(settings, farm, client_ca):
    settings.WEATHER_PROBE_TIMEOUT = 0.5
    settings.WEATHER_PROBE_RETRIES = 1
    server = farm.add_db(DB, db_issued(), client_ca)
    server.mode = "hang"  # answers nothing for longer than the farm's own 5 s read timeout
    result = probe(settings, farm, vi="")
    # The configured 0.5 s ended each attempt (without it the server would hang up first: another error) ...
    assert result.status == prober.FAILING and result.db_error == "db : délai dépassé (0.5 s)"
    # ... and there were exactly two attempts: the first and its one retry.
    assert server.requests == 2


def test_development_client_certificate(settings, tmp_path):
    from certificates.devpki import ensure_probe_client_certificate

    cert_path, key_path = ensure_probe_client_certificate(tmp_path / "pki")
    assert ensure_probe_client_certificate(tmp_path / "pki") == (cert_path, key_path)  # created once
    certificate = x509.load_pem_x509_certificates(open(cert_path, "rb").read())[0]
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usages
    settings.WEATHER_CLIENT_CERT = settings.WEATHER_CLIENT_KEY = ""
    settings.DEBUG, settings.DEV_PKI_DIR = True, tmp_path / "pki"
    assert prober.client_certificate_paths() == (cert_path, key_path)


# --- end to end: published whitelist → Celery tasks (eager) → transitions and incidents ---------------------------


@pytest.fixture
def published(world, make_user, settings, tmp_path):
    """An active DRIMbox with its certificates, in a signed, published whitelist."""
    box = active_drimbox(world.operator, world.legal, world.ans)
    signer = org_sign_certificate(shared_pki())
    path = tmp_path / "signer.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"signer", signer.key, signer.cert, signer.chain,
                                                           BestAvailableEncryption(b"pw")))
    settings.WHITELIST_SIGNER_P12, settings.WHITELIST_SIGNER_P12_PASSWORD = str(path), "pw"
    settings.WHITELIST_SIGNER_CN, settings.WHITELIST_SIGNER_OU = SIGNER_CN, SIGNER_OU
    version = whitelist_services.prepare_version(acting_user=world.ans)
    whitelist_services.approve_and_publish(version, acting_user=make_user("ans2", is_ans_admin=True))
    return box


@pytest.fixture
def box_servers(published, farm, client_ca, settings):
    box = published
    issued = shared_pki().db_certificate(box.db_fqdn, id_nat_struct=box.operator.id_nat_struct)
    db = farm.add_db(box.db_fqdn, issued, client_ca)
    vi = farm.add_vi(box.vi_fqdn, shared_pki().vi_certificate(box.vi_fqdn))
    bundle = farm.directory / "vi-bundle.pem"
    bundle.write_bytes(shared_pki().root.pem)
    settings.WEATHER_VI_CA_BUNDLE = str(bundle)
    settings.WEATHER_PROBE_RESOLVE = farm.resolve()
    return box, db, vi


def status_of(box):
    return DrimboxWeather.objects.get(drimbox=box).status


def test_targets_come_from_the_published_whitelist(published):
    [target] = targets.current_targets()
    assert target.identifiant == published.identifiant and target.drimbox_id == published.pk
    assert target.db == published.db_fqdn and target.vi == published.vi_fqdn
    assert target.dn == published.certificates.get(kind="db").subject
    assert targets.current_targets() is targets.current_targets()  # parsed once per version


def test_end_to_end_down_after_confirmation_then_restored(box_servers, django_capture_on_commit_callbacks):
    box, db, vi = box_servers
    # No location declared yet: schedule_probes creates this worker's own (WEATHER_LOCATION = "paris"), active,
    # and (eager) the batch sent to queue probe.paris runs at once, recorded under "paris".
    assert tasks.schedule_probes.delay() is not None
    assert ProbeLocation.objects.get().name == "paris" and ProbeLocation.objects.get().active
    assert status_of(box) == WeatherStatus.OPERATIONAL

    db.stop()
    tasks.schedule_probes.delay()
    first_failure = LocationObservation.objects.get(drimbox=box).first_failure_at
    assert first_failure is not None
    assert status_of(box) == WeatherStatus.OPERATIONAL  # one failed probe does not flip it
    tasks.schedule_probes.delay()
    assert status_of(box) == WeatherStatus.OPERATIONAL
    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_probes.delay()
    assert status_of(box) == WeatherStatus.DOWN
    down = Transition.objects.get(drimbox=box, new_status=WeatherStatus.DOWN)
    assert down.effective_at == first_failure and down.reason == "db : connexion refusée"
    incident = Incident.objects.get(drimbox=box)
    assert incident.opened_at == first_failure and incident.gti_due_at > first_failure
    assert incident.gtr_due_at > incident.gti_due_at
    assert any("indisponible" in m.subject for m in mail.outbox)

    db.start()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_probes.delay()
    assert status_of(box) == WeatherStatus.OPERATIONAL
    incident.refresh_from_db()
    assert incident.restored_at is not None and incident.restored_at > first_failure
    assert any("rétabli" in m.subject for m in mail.outbox)

    vi.stop()
    tasks.schedule_probes.delay()
    assert status_of(box) == WeatherStatus.DEGRADED
    assert DrimboxWeather.objects.get(drimbox=box).reason == "vi : connexion refusée"


def test_end_to_end_wrong_dn_goes_down(box_servers, farm, client_ca):
    box, db, _vi = box_servers
    tasks.schedule_probes.delay()
    db.stop()
    impostor = farm.add_db(box.db_fqdn, shared_pki().db_certificate(box.db_fqdn, id_nat_struct="300000009999999"),
                           client_ca, start=False)
    impostor.port = db.port  # same address, another DN
    impostor.start()
    for _ in range(3):
        tasks.schedule_probes.delay()
    assert status_of(box) == WeatherStatus.DOWN
    assert Incident.objects.get(drimbox=box).reason.startswith("db : DN inattendu")


def test_two_locations_one_failing_alone_does_not_meet_the_quorum(box_servers, settings, farm):
    box, db, _vi = box_servers
    ProbeLocation.objects.create(name="paris", label="Paris")
    ProbeLocation.objects.create(name="lyon", label="Lyon")
    good = farm.resolve()
    partitioned = {**good, box.db_fqdn: "127.0.0.1:9"}  # Lyon cannot reach the db endpoint
    ids = [box.identifiant]

    def round_(lyon_resolve):  # each batch run by a worker of its own location
        settings.WEATHER_LOCATION, settings.WEATHER_PROBE_RESOLVE = "paris", good
        tasks.probe_batch.delay("paris", ids)
        settings.WEATHER_LOCATION, settings.WEATHER_PROBE_RESOLVE = "lyon", lyon_resolve
        tasks.probe_batch.delay("lyon", ids)

    round_(good)
    assert status_of(box) == WeatherStatus.OPERATIONAL
    for _ in range(4):
        round_(partitioned)
    assert LocationObservation.objects.get(drimbox=box, location__name="lyon").consecutive_failures == 4
    assert status_of(box) == WeatherStatus.OPERATIONAL and not Incident.objects.exists()
    # Both locations fail: down.
    db.stop()
    for _ in range(3):
        round_(partitioned)
    assert status_of(box) == WeatherStatus.DOWN


def test_a_silent_location_gives_no_data_not_down(box_servers, settings):
    box, db, _vi = box_servers
    settings.WEATHER_STALE_AFTER = 1
    tasks.schedule_probes.delay()
    assert status_of(box) == WeatherStatus.OPERATIONAL
    db.stop()  # the DRIMbox is down, but the location stops reporting before confirming it
    tasks.schedule_probes.delay()
    time.sleep(1.2)
    tasks.detect_silence.delay()
    assert status_of(box) == WeatherStatus.NO_DATA
    assert not Transition.objects.filter(drimbox=box, new_status=WeatherStatus.DOWN).exists()
    assert not Incident.objects.exists()


def test_network_and_tls_failures_read_in_french():
    import errno
    import ssl

    unreachable = prober._describe(OSError(errno.ENETUNREACH, "Network is unreachable"), 5)
    assert str(unreachable) == "connexion impossible (réseau injoignable)"
    other = prober._describe(OSError(errno.ENOBUFS, "No buffer space available"), 5)
    assert str(other) == "connexion impossible (erreur réseau ENOBUFS)"
    tls = ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    tls.reason = "TLSV1_ALERT_UNKNOWN_CA"
    assert str(prober._describe(tls, 5)) == "négociation TLS refusée (code TLSV1_ALERT_UNKNOWN_CA)"
    for failure in (unreachable, other):
        assert "Network" not in str(failure) and "No buffer" not in str(failure)

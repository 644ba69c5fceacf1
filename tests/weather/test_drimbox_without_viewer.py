"""A DRIMbox without viewer from declaration to publication to weather (issue 14, item 3).

Declared without viewer, approved, integrated with its db certificate only, published in a signed whitelist with
an empty vi element, then probed on db alone by the weather against a real loopback HTTPS DRIMbox.
"""
import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certificates import services as certificate_services
from operators import services
from operators.models import RequestKind
from tests.support.drimbox_servers import running_farm, write_pem_pair
from tests.support.lifecycle import approve, declaration_data, make_order, shared_pki, submitted_declaration
from tests.weather.test_prober import probe_client_certificate
from tests.whitelist.signing import SIGNER_CN, SIGNER_OU, org_sign_certificate
from weather import targets, tasks
from weather.models import DrimboxWeather, LocationObservation, WeatherStatus
from whitelist import services as whitelist_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def signer_settings(settings, tmp_path):
    signer = org_sign_certificate(shared_pki())
    path = tmp_path / "signer.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"signer", signer.key, signer.cert, signer.chain,
                                                           BestAvailableEncryption(b"pw")))
    settings.WHITELIST_SIGNER_P12, settings.WHITELIST_SIGNER_P12_PASSWORD = str(path), "pw"
    settings.WHITELIST_SIGNER_CN, settings.WHITELIST_SIGNER_OU = SIGNER_CN, SIGNER_OU
    settings.WEATHER_CLIENT_CERT, settings.WEATHER_CLIENT_KEY = write_pem_pair(
        tmp_path / "client", "probe", probe_client_certificate())
    settings.WEATHER_PROBE_TIMEOUT, settings.WEATHER_PROBE_RETRIES = 2, 1
    settings.WEATHER_CONFIRMATION_FAILURES, settings.WEATHER_STALE_AFTER = 3, 300
    settings.WEATHER_QUORUM, settings.WEATHER_CERT_EXPIRY_DEGRADED_DAYS = "majority", 15
    settings.WEATHER_LOCATION = "paris"
    return settings


def test_a_drimbox_without_viewer_from_declaration_to_publication_to_weather(world, make_user, signer_settings,
                                                                              client, tmp_path):
    # Declaration « sans visionneuse », approved: the db name only.
    data = {**declaration_data(order=make_order(world.operator, world.legal), vi=""), "has_viewer": "non"}
    drimbox = approve(submitted_declaration(world.operator, world.legal, data=data), world.ans).drimbox
    assert not drimbox.has_viewer and drimbox.vi_fqdn is None

    # Integration with the db certificate alone: no vi rule is checked.
    issued = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=world.operator.id_nat_struct)
    certificate_services.upload_db_certificate(drimbox, acting_user=world.technical,
                                               uploaded_file=SimpleUploadedFile("db.pem", issued.chain_pem))
    req = services.create_request(acting_user=world.legal, operator=world.operator, kind=RequestKind.INTEGRATION,
                                  drimbox=drimbox)
    approve(services.submit_request(req, acting_user=world.legal), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == "active"

    # Prepared, approved by another administrator, signed, self-verified, published: <vi></vi> as ANS writes it.
    version = whitelist_services.prepare_version(acting_user=world.ans)
    whitelist_services.approve_and_publish(version, acting_user=make_user("ans2", is_ans_admin=True))
    version.refresh_from_db()
    signed = bytes(version.signed_xml)
    assert f"<db>{drimbox.db_fqdn}</db>".encode() + b"\n            <vi></vi>" in signed
    _generated, [entry] = whitelist_services.entries_of(signed)
    assert entry.identifiant == drimbox.identifiant and entry.vi == ""

    # The weather probes db only: no vi server exists, and the DRIMbox is operational.
    [target] = targets.current_targets()
    assert target.db == drimbox.db_fqdn and target.vi == ""
    client_ca = shared_pki().root.pem + shared_pki().intermediate.pem
    with running_farm(tmp_path / "servers") as farm:
        db = farm.add_db(drimbox.db_fqdn, issued, client_ca)
        signer_settings.WEATHER_PROBE_RESOLVE = farm.resolve()
        tasks.schedule_probes.delay()
        assert db.requests == 1
    weather = DrimboxWeather.objects.get(drimbox=drimbox)
    assert weather.status == WeatherStatus.OPERATIONAL and weather.reason == ""
    observation = LocationObservation.objects.get(drimbox=drimbox)
    assert observation.db_ok and observation.vi_ok is None and observation.vi_error == ""

    # The pages say « sans visionneuse ».
    assert "sans visionneuse" in client.get(reverse("weather_drimbox", args=[drimbox.identifiant])).content.decode()
    client.force_login(world.legal)
    assert "Sans visionneuse" in client.get(reverse("drimbox_detail", args=[drimbox.pk])).content.decode()

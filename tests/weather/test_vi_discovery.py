"""Discovery of `vi` certificates by the prober (issue 14, item 2): the probe round reads what each `vi` endpoint
presents; a certificate the portal knows costs nothing, a new one is checked by the market upload's rules and
recorded (« Découvert »), or refused once: its rules are shown on the DRIMbox's certificate page and it is not
evaluated again at the next rounds. Real loopback HTTPS servers (the db one with mutual TLS), a test « public » PKI.
"""
import datetime as dt
import functools
import html

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings as django_settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certificates import export
from certificates import services as cs
from certificates.models import Certificate, CertificateKind, CertificateSource, RefusedViCertificate, ViOrder
from certificates.services import vi_discovery
from tests.support.lifecycle import active_drimbox, shared_pki
from tests.support.market_pki import MarketPKI
from tests.weather.test_prober import client_ca, farm, other_pki, probe_settings  # noqa: F401 - fixtures
from trustspace.models import AuditEntry
from weather import prober, targets, tasks
from weather.models import DrimboxWeather, ProbeLocation, WeatherStatus

pytestmark = pytest.mark.django_db


@functools.cache
def market_pki():
    return MarketPKI()


@pytest.fixture
def box(world):
    return active_drimbox(world.operator, world.legal, world.ans)


@pytest.fixture
def evaluations(monkeypatch):
    """Every evaluation of a presented certificate by the market rules, counted."""
    calls = []
    evaluate = vi_discovery.evaluate_vi_market_certificate

    def counting(drimbox, leaf, extra_chain, **kwargs):
        calls.append(leaf)
        return evaluate(drimbox, leaf, extra_chain, **kwargs)

    monkeypatch.setattr(vi_discovery, "evaluate_vi_market_certificate", counting)
    return calls


@pytest.fixture
def servers(box, farm, client_ca, probe_settings, monkeypatch, tmp_path):  # noqa: F811 - fixtures of test_prober
    """The DRIMbox's db endpoint (mutual TLS, its DN) and its target in the published list; the test « public »
    root trusted by the market rules and by the vi check alike."""
    probe_settings.VI_MARKET_TRUST_BUNDLE = probe_settings.WEATHER_VI_CA_BUNDLE = market_pki().root_bundle(tmp_path)
    issued = shared_pki().db_certificate(box.db_fqdn, id_nat_struct=box.operator.id_nat_struct)
    farm.add_db(box.db_fqdn, issued, client_ca)
    target = targets.Target(identifiant=box.identifiant, drimbox_id=box.pk, db=box.db_fqdn, vi=box.vi_fqdn,
                            dn=box.certificates.get(kind="db").subject)
    monkeypatch.setattr(targets, "targets_for", lambda identifiants: [target])
    ProbeLocation.objects.create(name="paris", label="Paris")
    return farm


def present(servers, box, issued):
    """The vi endpoint now presents ``issued`` (its certificate and chain)."""
    old = servers.servers.get(box.vi_fqdn)
    if old is not None:
        old.stop()
    servers.add_vi(box.vi_fqdn, issued)
    django_settings.WEATHER_PROBE_RESOLVE = servers.resolve()


def fingerprint(issued):
    return issued.cert.fingerprint(hashes.SHA256()).hex(":").upper()


def discovery_audit():
    return AuditEntry.objects.filter(action__in=["certificate.vi.stored", "certificate.vi.discovery_refused"]).count()


@pytest.fixture
def probe_round(django_capture_on_commit_callbacks):
    """One probe round of the DRIMbox from « paris », its e-mails sent (after commit)."""
    def run(box):
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.probe_batch.delay("paris", [box.identifiant]).get()

    return run


def current_vi(box):
    return Certificate.objects.get(drimbox=box, kind=CertificateKind.VI, superseded_at__isnull=True,
                                   revoked_at__isnull=True)


def test_the_inventory_s_certificate_presented_costs_no_evaluation_and_records_nothing(box, servers, world,
                                                                                      evaluations, probe_round):
    leaf = market_pki().leaf(box.vi_fqdn)
    uploaded = cs.upload_vi_certificate(box, acting_user=world.technical,
                                        uploaded_file=SimpleUploadedFile("vi.pem", leaf.chain_pem))
    present(servers, box, leaf)
    rows, audit_rows, mails = Certificate.objects.count(), discovery_audit(), len(mail.outbox)
    for _ in range(2):
        outcome = probe_round(box)
        assert outcome["probed"] == 1 and outcome["vi_discovery"] == {}
    assert evaluations == []
    assert Certificate.objects.count() == rows and not RefusedViCertificate.objects.exists()
    assert current_vi(box) == uploaded and current_vi(box).source == CertificateSource.MARKET
    assert discovery_audit() == audit_rows and len(mail.outbox) == mails
    assert DrimboxWeather.objects.get(drimbox=box).status == WeatherStatus.OPERATIONAL


def test_the_prober_alone_returns_only_what_the_portal_does_not_know(box, servers):
    leaf = market_pki().leaf(box.vi_fqdn)
    present(servers, box, leaf)
    [target] = targets.targets_for([box.identifiant])
    known = {box.pk: frozenset({fingerprint(leaf)})}
    [unknown] = prober.run_probes([target], prober.config_from_settings(known_vi={}))
    # The certificate and the chain the server sent (get_unverified_chain).
    assert unknown.vi_ok and unknown.vi_presented == (leaf.der, market_pki().issuer.cert.public_bytes(Encoding.DER))
    [seen] = prober.run_probes([target], prober.config_from_settings(known_vi=known))
    assert seen.vi_ok and seen.vi_presented == ()
    [off] = prober.run_probes([target])  # no known_vi: discovery off (benchmarks, plain probes)
    assert off.vi_ok and off.vi_presented == ()


def test_a_new_valid_certificate_is_recorded_once_and_treated_like_every_vi_certificate(
        box, servers, evaluations, probe_round, settings, django_capture_on_commit_callbacks):
    acme = current_vi(box)
    assert acme.source == CertificateSource.ACME
    leaf = market_pki().leaf(box.vi_fqdn)  # e.g. from the operator's own certbot, or bought from a CA
    present(servers, box, leaf)
    assert probe_round(box)["vi_discovery"] == {"enregistre": 1}
    discovered = current_vi(box)
    assert discovered.source == CertificateSource.DISCOVERED and discovered.validation_level == "DV"
    assert discovered.fingerprint_sha256 == fingerprint(leaf) and discovered.uploaded_by is None
    acme.refresh_from_db()
    assert acme.superseded_at is not None
    assert {c["code"] for c in discovered.checks} >= {"chain", "names", "fqdn", "wildcard", "validity"}
    assert any(m.subject.endswith(f"Certificat vi découvert et enregistré — {box.vi_fqdn}") for m in mail.outbox)
    assert evaluations == [leaf.cert]

    # Next rounds: known, nothing evaluated again.
    for _ in range(2):
        assert probe_round(box)["vi_discovery"] == {}
    assert evaluations == [leaf.cert]
    assert Certificate.objects.filter(drimbox=box, source=CertificateSource.DISCOVERED).count() == 1

    # Renewed by its owner, not by the portal's ACME client; expiry notices and the quarterly list count it.
    orders = ViOrder.objects.count()
    assert cs.renew_vi_certificates(now=discovered.not_after - dt.timedelta(days=1)) == 0
    assert ViOrder.objects.count() == orders
    mail.outbox.clear()
    settings.CERTIFICATE_EXPIRY_THRESHOLDS = [60, 15]
    with django_capture_on_commit_callbacks(execute=True):
        assert cs.send_expiry_notices(now=discovered.not_after - dt.timedelta(days=10)) >= 1
    notice = next(m for m in mail.outbox if box.vi_fqdn in m.subject)
    assert "trouvé sur la DRIMbox" in notice.body
    assert any(discovered.serial in map(str, row) for row in export.rows(box.operator))


REFUSED = {
    "wildcard": (dict(san=["*.test.mesimagesmedicales.fr"], cn="*.test.mesimagesmedicales.fr"), "wildcard"),
    "expired": (dict(not_before=market_pki().now - dt.timedelta(days=100),
                     not_after=market_pki().now - dt.timedelta(days=1)), "validity"),
    "wrong name": (dict(fqdn="vi99999.test.mesimagesmedicales.fr"), "fqdn"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_presented_certificate_that_fails_the_rules_is_refused_once_shown_and_not_evaluated_again(
        case, box, servers, evaluations, probe_round, client, world):
    knobs, failed_rule = REFUSED[case]
    knobs = dict(knobs)
    leaf = market_pki().leaf(knobs.pop("fqdn", box.vi_fqdn), **knobs)
    acme = current_vi(box)
    mail.outbox.clear()
    present(servers, box, leaf)
    assert probe_round(box)["vi_discovery"] == {"refuse": 1}
    refusal = RefusedViCertificate.objects.get(drimbox=box)
    assert failed_rule in {c["code"] for c in refusal.failed_checks}
    assert refusal.fingerprint_sha256 == fingerprint(leaf) and refusal.subject == leaf.cert.subject.rfc4514_string()
    assert current_vi(box) == acme  # not recorded: the inventory is unchanged
    assert not Certificate.objects.filter(source=CertificateSource.DISCOVERED).exists()
    assert AuditEntry.objects.filter(action="certificate.vi.discovery_refused", object_id=str(refusal.pk)).exists()
    assert [m.subject for m in mail.outbox if "refusé" in m.subject] == [
        f"[Espace de Confiance DRIM-M] Certificat vi présenté refusé — {box.vi_fqdn}"]

    # Next rounds: the same presentation is not evaluated again, nor refused twice.
    for _ in range(2):
        assert probe_round(box)["vi_discovery"] == {}
    assert len(evaluations) == 1 and RefusedViCertificate.objects.count() == 1
    assert len([m for m in mail.outbox if "refusé" in m.subject]) == 1

    # The reason is on the DRIMbox's certificate page, for the operator and for ANS.
    message = next(c["message"] for c in refusal.failed_checks if c["code"] == failed_rule)
    for user in (world.technical, world.ans):
        client.force_login(user)
        page = client.get(reverse("drimbox_certificates", args=[box.pk])).content.decode()
        assert "Certificats vi présentés et refusés" in page
        assert f'data-refused-vi="{refusal.fingerprint_sha256}"' in page
        assert message in html.unescape(page)


def test_a_refused_certificate_sent_later_with_another_chain_is_evaluated_again(box, servers, evaluations,
                                                                                probe_round):
    leaf = market_pki().leaf(box.vi_fqdn)
    alone = type(leaf)(leaf.cert, leaf.key, [])  # the server forgets its intermediate: no chain to the root
    present(servers, box, alone)
    assert probe_round(box)["vi_discovery"] == {"refuse": 1}
    assert "chain" in {c["code"] for c in RefusedViCertificate.objects.get().failed_checks}
    present(servers, box, leaf)  # fixed: the same certificate, now with its chain
    assert probe_round(box)["vi_discovery"] == {"enregistre": 1}
    assert current_vi(box).source == CertificateSource.DISCOVERED and len(evaluations) == 2


def test_a_presented_certificate_whose_names_hold_a_bidi_control_is_refused_and_its_names_not_kept(
        box, evaluations):
    """What a vi endpoint presents is anyone's text: a U+202E in its subject would be shown reordered on the
    certificate page and in the e-mails. It is refused when read (no rule evaluated) and kept without names."""
    rlo = "\u202e"
    leaf = market_pki().leaf(box.vi_fqdn, policy="OV", organization=f"Imagerie {rlo}A")
    presented = [leaf.cert.public_bytes(Encoding.DER), *(c.public_bytes(Encoding.DER) for c in leaf.chain)]
    mail.outbox.clear()

    found = vi_discovery.record_presented_vi_certificate(box.pk, presented)

    assert found.status == vi_discovery.REFUSED and evaluations == []
    refusal = found.refusal
    assert (refusal.subject, refusal.issuer) == ("", "")
    assert [c["code"] for c in refusal.failed_checks] == ["lecture"]
    assert refusal.failed_checks[0]["message"] == (
        "Le certificat est refusé : son sujet contient un caractère qui ne s'affiche pas tel quel. Caractère de "
        "contrôle interdit (U+202E RIGHT-TO-LEFT OVERRIDE) : il pourrait tromper la lecture de ce texte.")
    assert not any(rlo in m.body or rlo in m.subject for m in mail.outbox)
    assert not Certificate.objects.filter(drimbox=box, source=CertificateSource.DISCOVERED).exists()

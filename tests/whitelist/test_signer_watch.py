"""Watch of the whitelist signing certificate: J-60 / J-15 / expiry / revocation e-mails once each, DN check,
and an expired or revoked signer refused at publication (CRL from the cache or from a loopback CRL server)."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from certificates.models import CrlCache
from certificates.trust import crl_urls
from tests.support.crl_server import running_crl_server
from tests.support.lifecycle import active_drimbox, shared_pki
from tests.whitelist.signing import SIGNER_CN, SIGNER_OU, org_sign_certificate, use_p12_signer
from trustspace.models import AuditEntry
from whitelist import services, signer_watch, signers
from whitelist.models import SignerNotice, WhitelistVersion, WhitelistVersionStatus

NOT_AFTER = dt.datetime(2031, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def signer(settings, tmp_path):
    issued = org_sign_certificate(shared_pki(), not_before=NOT_AFTER - dt.timedelta(days=1095), not_after=NOT_AFTER)
    return use_p12_signer(settings, tmp_path / "signer.p12", issued)


def days_before(days, hours=1):
    return NOT_AFTER - dt.timedelta(days=days, hours=hours)


def run_watch(capture, now):
    with capture(execute=True):
        return signer_watch.watch_signer(now=now)


def revoke_in_cache(cert, *, reason=x509.ReasonFlags.key_compromise):
    pki = shared_pki()
    when = timezone.now() - dt.timedelta(days=2)
    crl = pki.crl([(cert, when, reason)], this_update=timezone.now() - dt.timedelta(hours=1))
    CrlCache.objects.update_or_create(url=crl_urls(cert)[0], defaults={
        "der": crl.public_bytes(Encoding.DER), "this_update": crl.last_update_utc,
        "next_update": crl.next_update_utc, "fetched_at": timezone.now(), "last_error": ""})


def test_j61_nothing_then_j60_once_then_j15_once_then_expired_once(world, signer, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    status = run_watch(capture, days_before(61))
    assert status["level"] == "ok" and status["days_left"] == 61 and status["notice"] is None
    assert mail.outbox == [] and not SignerNotice.objects.exists()

    status = run_watch(capture, days_before(60))
    assert status["level"] == "j60" and status["notice"] == "j60"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [world.ans.email]
    assert "expire dans 60 jours" in message.subject and message.subject.startswith("[Espace de Confiance DRIM-M]")
    assert f"CN={SIGNER_CN}" in message.body and "10/03/2031" in message.body
    notice = SignerNotice.objects.get()
    assert notice.kind == "j60" and notice.fingerprint == signer_watch.fingerprint(signer.cert)
    assert AuditEntry.objects.filter(action="whitelist.signer_notice", object_id=str(notice.pk)).count() == 1

    run_watch(capture, days_before(60))  # same day, rerun
    run_watch(capture, days_before(40))
    assert len(mail.outbox) == 1 and SignerNotice.objects.count() == 1

    status = run_watch(capture, days_before(15))
    assert status["level"] == "j15" and status["notice"] == "j15"
    assert len(mail.outbox) == 2 and "expire dans 15 jours" in mail.outbox[1].subject
    run_watch(capture, days_before(3))
    assert len(mail.outbox) == 2

    status = run_watch(capture, NOT_AFTER + dt.timedelta(hours=1))
    assert status["level"] == "expired" and "a expiré le 10/03/2031" in status["message"]
    assert len(mail.outbox) == 3 and "a expiré" in mail.outbox[2].subject
    run_watch(capture, NOT_AFTER + dt.timedelta(days=5))
    assert len(mail.outbox) == 3
    assert sorted(SignerNotice.objects.values_list("kind", flat=True)) == ["expire", "j15", "j60"]


def test_a_renewed_certificate_is_warned_again(world, signer, settings, tmp_path, django_capture_on_commit_callbacks):
    run_watch(django_capture_on_commit_callbacks, days_before(59))
    renewed = org_sign_certificate(shared_pki(), not_before=NOT_AFTER - dt.timedelta(days=900),
                                   not_after=NOT_AFTER + dt.timedelta(seconds=30))
    use_p12_signer(settings, tmp_path / "renewed.p12", renewed)
    run_watch(django_capture_on_commit_callbacks, days_before(59))
    assert len(mail.outbox) == 2
    assert SignerNotice.objects.filter(kind="j60").count() == 2


def test_task_runs_the_watch(world, settings, tmp_path, django_capture_on_commit_callbacks):
    soon = timezone.now() + dt.timedelta(days=10)
    use_p12_signer(settings, tmp_path / "soon.p12", org_sign_certificate(shared_pki(), not_after=soon))
    with django_capture_on_commit_callbacks(execute=True):
        result = signer_watch.watch_signer_task.delay().get()
    assert result == {"level": "j15", "notice": "j15"}
    assert len(mail.outbox) == 1
    assert signer_watch.watch_signer_task.name == "whitelist.signer_watch.watch_signer_task"


def test_dn_mismatch_is_reported(db, signer, settings):
    settings.WHITELIST_SIGNER_OU = "999999999999999"
    status = signer_watch.signer_status(now=days_before(200))
    assert status["level"] == "dn_mismatch" and status["dn_ok"] is False
    assert "ne correspond pas" in status["message"] and "OU=999999999999999" in status["message"]
    settings.WHITELIST_SIGNER_OU = SIGNER_OU
    assert signer_watch.signer_status(now=days_before(200))["dn_ok"] is True


def test_unavailable_signer_is_reported(db, settings):
    settings.WHITELIST_SIGNER_BACKEND = "pkcs12"
    settings.WHITELIST_SIGNER_P12 = ""
    settings.DEBUG = False
    status = signer_watch.signer_status()
    assert status["level"] == "unavailable" and "Aucun signataire" in status["message"]
    settings.WHITELIST_SIGNER_BACKEND = "autre"
    assert "Dorsale de signature" in signer_watch.signer_status()["message"]


def test_expired_signer_is_refused_at_signing_time(db, settings, tmp_path):
    now = timezone.now()
    use_p12_signer(settings, tmp_path / "old.p12", org_sign_certificate(
        shared_pki(), not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)))
    with pytest.raises(signers.SignerError) as raised:
        signers.configured_signer().check_valid()
    assert raised.value.code == "signer_expired"


def test_revoked_signer_refused_at_publication_with_the_reason(world, ans2, settings, tmp_path,
                                                               django_capture_on_commit_callbacks):
    signer = use_p12_signer(settings, tmp_path / "current.p12", org_sign_certificate(shared_pki()))
    active_drimbox(world.operator, world.legal, world.ans)
    version = services.prepare_version(acting_user=world.ans)
    revoke_in_cache(signer.cert)
    with pytest.raises(signers.SignerError) as raised:
        services.approve_and_publish(version, acting_user=ans2)
    assert raised.value.code == "signer_revoked"
    assert "est révoqué" in raised.value.message and "keyCompromise" in raised.value.message
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None
    assert not WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED).exists()

    status = run_watch(django_capture_on_commit_callbacks, timezone.now())
    assert status["level"] == "revoked" and "keyCompromise" in status["message"]
    assert len(mail.outbox) == 1 and "révoqué" in mail.outbox[0].subject
    run_watch(django_capture_on_commit_callbacks, timezone.now())
    assert len(mail.outbox) == 1 and SignerNotice.objects.get().kind == "revoque"


def test_revocation_read_from_a_loopback_crl_server(world, ans2, settings, tmp_path, monkeypatch):
    with running_crl_server() as server:
        monkeypatch.setattr("tests.support.pki.CRL_URL", server.url("/org-sign.crl"))
        issued = use_p12_signer(settings, tmp_path / "served.p12", org_sign_certificate(shared_pki()))
        assert crl_urls(issued.cert) == [server.url("/org-sign.crl")]
        server.set_crl("/org-sign.crl", shared_pki().crl())  # not revoked yet
        active_drimbox(world.operator, world.legal, world.ans)
        first = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
        assert first.is_published and server.requests_for("/org-sign.crl") == 1
        assert signer_watch.revocation(issued.cert).message == "non révoqué (LCR à jour)"

        # The CA revokes it; the next fetch (a stale cache is refreshed by the CRL task) sees it.
        server.set_crl("/org-sign.crl", shared_pki().crl([issued.cert]))
        CrlCache.objects.all().delete()
        version = services.prepare_version(acting_user=world.ans)
        with pytest.raises(signers.SignerError, match="est révoqué"):
            services.approve_and_publish(version, acting_user=ans2)
    version.refresh_from_db()
    assert version.signed_xml is None


def test_unknown_revocation_can_be_made_blocking(db, signer, settings):
    # The test certificates name a CRL on a closed port: the status is unknown.
    assert signer_watch.revocation(signer.cert, at=days_before(100)).known is False
    signers.configured_signer().check_valid(days_before(100))  # logged only, by default
    settings.WHITELIST_SIGNER_REQUIRE_CRL = True
    with pytest.raises(signers.SignerError) as raised:
        signers.configured_signer().check_valid(days_before(100))
    assert raised.value.code == "signer_crl_unavailable"


@pytest.mark.parametrize("broken", ["garbage", "directory", "unreadable"])
def test_history_page_and_publication_with_an_unusable_pkcs12(world, ans2, settings, tmp_path, client, broken):
    path = tmp_path / "signer.p12"
    if broken == "garbage":
        path.write_bytes(b"ceci n'est pas un PKCS#12")
    elif broken == "directory":
        path.mkdir()  # read() fails with an OSError (IsADirectoryError), as a permission error would
    else:
        path.write_bytes(b"x")
        path.chmod(0)
        if os.access(path, os.R_OK):  # root reads anything: fall back to a directory, another OSError
            path.chmod(0o600)
            path.unlink()
            path.mkdir()
    settings.WHITELIST_SIGNER_BACKEND = "pkcs12"
    settings.WHITELIST_SIGNER_P12, settings.WHITELIST_SIGNER_P12_PASSWORD = str(path), "x"
    client.force_login(world.ans)
    response = client.get(reverse("ans_whitelist"))
    assert response.status_code == 200
    assert "Signataire de la liste blanche indisponible : Fichier PKCS#12 du signataire illisible" in \
        response.content.decode()
    # The system's cause in French (« accès refusé », « c'est un dossier »), not its English strerror.
    assert "Permission denied" not in response.content.decode() and "Is a directory" not in response.content.decode()

    active_drimbox(world.operator, world.legal, world.ans)
    version = services.prepare_version(acting_user=world.ans)
    client.force_login(ans2)
    response = client.post(reverse("ans_whitelist_publish", kwargs={"number": version.number}), follow=True)
    assert response.status_code == 200 and "Fichier PKCS#12 du signataire illisible" in response.content.decode()
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None


def test_pkcs12_is_decrypted_once_per_file_version(db, signer, settings, monkeypatch):
    calls = []
    original = signers.load_pkcs12_signer
    monkeypatch.setattr(signers, "load_pkcs12_signer", lambda *a: calls.append(a) or original(*a))
    for _ in range(3):
        assert signer_watch.signer_status(now=days_before(100))["subject"].startswith(f"CN={SIGNER_CN}")
    assert len(calls) == 1
    path = settings.WHITELIST_SIGNER_P12
    os.utime(path, ns=(1, 1))  # the file is replaced (new mtime): read again
    signer_watch.signer_status(now=days_before(100))
    assert len(calls) == 2


def test_unknown_revocation_is_shown_and_blocking_when_required(world, signer, settings, client):
    client.force_login(world.ans)
    page = client.get(reverse("ans_whitelist")).content.decode()
    assert "Révocation : révocation non vérifiable" in page and "Révocation non vérifiable : LCR indisponible" in page
    # A valid certificate whose revocation could not be checked is a warning, never a green success box.
    status = signer_watch.signer_status(now=days_before(100))
    assert status["level"] == "ok" and status["revocation_known"] is False and status["alert"] == "warning"
    assert 'fr-alert--warning fr-alert--sm fr-mb-3w" data-signer-level="ok"' in page
    assert "fr-alert--success" not in page.split("<h2>Signataire</h2>")[1].split("</ul>")[0]
    settings.WHITELIST_SIGNER_REQUIRE_CRL = True
    status = signer_watch.signer_status(now=days_before(100))
    assert status["level"] == "crl_unknown" and "la publication sera refusée" in status["message"]
    assert "la publication sera refusée" in client.get(reverse("ans_whitelist")).content.decode()
    settings.WHITELIST_SIGNER_REQUIRE_CRL = False
    when = days_before(100)
    crl = shared_pki().crl([], this_update=when - dt.timedelta(hours=1))  # current then, and lists nothing
    CrlCache.objects.update_or_create(url=crl_urls(signer.cert)[0], defaults={
        "der": crl.public_bytes(Encoding.DER), "this_update": crl.last_update_utc,
        "next_update": crl.next_update_utc, "fetched_at": when, "last_error": ""})
    checked = signer_watch.signer_status(now=when)
    assert checked["revocation_known"] is True and checked["level"] == "ok" and checked["alert"] == "success"
    assert "non vérifiable" not in checked["message"]

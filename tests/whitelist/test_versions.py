"""Whitelist versions (DESIGN §7): prepare, four-eyes approval, signature, self-verification, publication."""
import datetime as dt
import gzip
import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from certificates.models import Certificate
from tests.support.lifecycle import shared_pki
from tests.whitelist.signing import SIGNER_CN, org_sign_certificate, use_p12_signer, verify_with_test_hierarchy
from trustspace.errors import DomainError, NotAllowed
from trustspace.models import AuditEntry
from whitelist import services, signers
from whitelist.models import WhitelistVersion, WhitelistVersionStatus


def _date_maj(data):
    root = etree.fromstring(data)
    return [e.text for e in root.iter("{*}DateMAJ")]


def test_prepare_then_four_eyes_then_publish(world, ans2, box, signer_p12):
    version = services.prepare_version(acting_user=world.ans, comment="Première version")
    assert version.status == WhitelistVersionStatus.PREPARED
    assert version.signed_xml is None
    assert [e["identifiant"] for e in version.diff["added"]] == [box.identifiant]
    assert version.entry_count == 1

    with pytest.raises(NotAllowed, match="quatre yeux"):
        services.approve_and_publish(version, acting_user=world.ans)
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None

    published = services.approve_and_publish(version, acting_user=ans2)
    assert published.status == WhitelistVersionStatus.PUBLISHED
    assert published.approved_by == ans2 and published.prepared_by == world.ans
    signed = bytes(published.signed_xml)
    assert published.sha256 == hashlib.sha256(signed).hexdigest()
    assert f"CN={SIGNER_CN}" in published.signer_subject
    assert signed.startswith(bytes(published.unsigned_xml)[:-len(b"</ListeBlancheDRIM-M>")])
    result = verify_with_test_hierarchy(signed)
    assert [e["Identifiant"] for e in result.entries] == [str(box.identifiant)]
    assert AuditEntry.objects.filter(action="whitelist.version_published").count() == 1


def test_four_eyes_can_be_turned_off(world, box, signer_p12, settings):
    settings.WHITELIST_FOUR_EYES = False
    version = services.prepare_version(acting_user=world.ans)
    assert services.approve_and_publish(version, acting_user=world.ans).is_published


def test_non_ans_cannot_prepare(world):
    with pytest.raises(NotAllowed):
        services.prepare_version(acting_user=world.legal)


def test_public_url_checksum_and_conditional_get(world, ans2, box, signer_p12, client):
    assert client.get("/liste-blanche/listeblanche.xml").status_code == 404
    assert client.get("/liste-blanche/checksum").status_code == 404
    version = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    signed = bytes(version.signed_xml)

    response = client.get("/liste-blanche/listeblanche.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response.content == signed
    assert response["ETag"] == f'"{version.sha256}"'
    assert response["Last-Modified"]
    assert len(verify_with_test_hierarchy(response.content).entries) == 1

    not_modified = client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH=response["ETag"])
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == response["ETag"]
    assert client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH='"autre"').status_code == 200
    since = client.get("/liste-blanche/listeblanche.xml", HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    assert since.status_code == 304 and since.content == b""

    checksum = client.get("/liste-blanche/checksum")
    assert checksum.status_code == 200
    assert checksum["Content-Type"].startswith("text/plain")
    assert checksum.content.decode() == hashlib.sha256(signed).hexdigest()
    assert not checksum.content.endswith(b"\n")

    by_number = client.get(reverse("whitelist_version_xml", kwargs={"number": version.number}))
    assert by_number.status_code == 200 and by_number.content == signed
    assert client.get(reverse("whitelist_version_xml", kwargs={"number": version.number + 1})).status_code == 404


def test_gzip_download_decodes_to_the_signed_bytes_and_new_versions_replace_cached_ones(world, ans2, box, signer_p12,
                                                                                      client):
    first = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    gzipped = client.get("/liste-blanche/listeblanche.xml", HTTP_ACCEPT_ENCODING="br, gzip;q=0.8")
    assert gzipped.status_code == 200 and gzipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(gzipped.content) == bytes(first.signed_xml)
    assert int(gzipped["Content-Length"]) == len(gzipped.content)
    assert "Accept-Encoding" in gzipped["Vary"] and gzipped["ETag"] == f'"{first.sha256}-gzip"'
    refused = client.get("/liste-blanche/listeblanche.xml", HTTP_ACCEPT_ENCODING="gzip;q=0")
    assert "Content-Encoding" not in refused and refused.content == bytes(first.signed_xml)
    # Either representation's tag proves the client holds the current list.
    for tag in (f'"{first.sha256}"', gzipped["ETag"]):
        assert client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH=tag).status_code == 304

    box.support_contact = "nouveau-support@example.fr"
    box.save(update_fields=["support_contact"])
    second = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    assert second.sha256 != first.sha256
    current = client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH=f'"{first.sha256}"')
    assert current.status_code == 200 and current.content == bytes(second.signed_xml)
    assert client.get("/liste-blanche/checksum").content.decode() == second.sha256
    older = client.get(reverse("whitelist_version_xml", kwargs={"number": first.number}))
    assert older.content == bytes(first.signed_xml)


def test_current_version_is_remembered_briefly_and_forgotten_when_this_worker_publishes(
        world, ans2, box, signer_p12, client, settings, django_assert_num_queries):
    from whitelist import public_cache

    settings.WHITELIST_PUBLIC_CURRENT_SECONDS = 60
    first = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    assert client.get("/liste-blanche/listeblanche.xml").content == bytes(first.signed_xml)
    with django_assert_num_queries(0):  # neither the number nor the bytes are read again
        assert client.get("/liste-blanche/listeblanche.xml", HTTP_IF_NONE_MATCH=f'"{first.sha256}"').status_code == 304
    box.support_contact = "autre-support@example.fr"
    box.save(update_fields=["support_contact"])
    second = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    # Tests run inside a transaction that never commits: run what publication schedules after commit.
    assert client.get("/liste-blanche/listeblanche.xml").content == bytes(first.signed_xml)
    public_cache.forget_current()
    assert client.get("/liste-blanche/listeblanche.xml").content == bytes(second.signed_xml)


def test_publication_schedules_forgetting_the_current_version(world, ans2, box, signer_p12,
                                                              django_capture_on_commit_callbacks):
    from whitelist import public_cache

    with django_capture_on_commit_callbacks() as callbacks:
        services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    assert public_cache.forget_current in callbacks


def test_prepared_version_is_not_public(world, box, signer_p12, client):
    version = services.prepare_version(acting_user=world.ans)
    assert client.get(reverse("whitelist_version_xml", kwargs={"number": version.number})).status_code == 404
    assert client.get("/liste-blanche/listeblanche.xml").status_code == 404


def test_republishing_without_changes_keeps_date_maj(world, ans2, box, signer_p12, client):
    first = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    again = services.prepare_version(acting_user=world.ans, comment="Sans changement")
    assert again.diff == {"added": [], "removed": [], "changed": []}
    assert again.diff_summary == "aucun changement"
    second = services.approve_and_publish(again, acting_user=ans2)
    assert second.number == first.number + 1
    assert _date_maj(bytes(second.signed_xml)) == _date_maj(bytes(first.signed_xml))
    assert client.get("/liste-blanche/listeblanche.xml").content == bytes(second.signed_xml)
    assert client.get("/liste-blanche/checksum").content.decode() == second.sha256


def test_revoked_db_certificate_refuses_publication(world, ans2, box, signer_p12):
    version = services.prepare_version(acting_user=world.ans)
    Certificate.objects.filter(drimbox=box, kind="db").update(revoked_at=timezone.now())
    with pytest.raises(services.PublicationRefused) as refused:
        services.approve_and_publish(version, acting_user=ans2)
    assert str(box.identifiant) in refused.value.message and box.db_fqdn in refused.value.message
    assert "révoqué" in refused.value.message
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None
    assert not WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED).exists()

    # Prepared after the revocation (the DRIMbox is left out): still refused, naming it.
    later = services.prepare_version(acting_user=world.ans)
    with pytest.raises(services.PublicationRefused, match=box.db_fqdn):
        services.approve_and_publish(later, acting_user=ans2)


def test_expired_signer_refused(world, ans2, box, settings, tmp_path):
    now = dt.datetime.now(dt.UTC)
    expired = org_sign_certificate(shared_pki(), not_before=now - dt.timedelta(days=400),
                                   not_after=now - dt.timedelta(days=1))
    use_p12_signer(settings, tmp_path / "expired.p12", expired)
    version = services.prepare_version(acting_user=world.ans)
    with pytest.raises(signers.SignerError, match="a expiré"):
        services.approve_and_publish(version, acting_user=ans2)
    version.refresh_from_db()
    assert version.signed_xml is None and version.status == WhitelistVersionStatus.PREPARED


def test_wrong_signer_dn_fails_self_verification(world, ans2, box, signer_p12, settings):
    settings.WHITELIST_SIGNER_OU = "999999999999999"
    version = services.prepare_version(acting_user=world.ans)
    with pytest.raises(services.PublicationRefused, match="signer_dn"):
        services.approve_and_publish(version, acting_user=ans2)
    version.refresh_from_db()
    assert version.signed_xml is None


def test_published_version_is_immutable(world, ans2, box, signer_p12):
    version = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    signed = bytes(version.signed_xml)
    with pytest.raises(DomainError, match="immuable"):
        services.approve_and_publish(version, acting_user=ans2)
    version.signed_xml = b"<autre/>"
    with pytest.raises(ValueError, match="immuable"):
        version.save()
    version.refresh_from_db()
    assert bytes(version.signed_xml) == signed


def test_ans_pages(world, ans2, box, signer_p12, client):
    client.force_login(world.ans)
    assert "Préparer une version" in client.get(reverse("ans_whitelist")).content.decode()
    response = client.post(reverse("ans_whitelist_prepare"), {"comment": "Via la page"})
    version = WhitelistVersion.objects.get()
    assert response["Location"] == reverse("ans_whitelist_version", kwargs={"number": version.number})
    page = client.get(response["Location"]).content.decode()
    assert "Approuver et publier" not in page and "quatre yeux" in page
    assert str(box.identifiant) in page

    client.post(reverse("ans_whitelist_publish", kwargs={"number": version.number}))
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED

    client.force_login(ans2)
    assert "Approuver et publier" in client.get(response["Location"]).content.decode()
    client.post(reverse("ans_whitelist_publish", kwargs={"number": version.number}))
    version.refresh_from_db()
    assert version.is_published
    history = client.get(reverse("ans_whitelist")).content.decode()
    assert version.sha256 in history and "Via la page" in history


def test_signer_from_an_untrusted_hierarchy_is_refused(world, ans2, box, signer_p12, settings, tmp_path):
    # The P12 carries its own root: it helps to build the path but is never trusted by itself.
    from tests.support.pki import TestPKI

    impostor = TestPKI(slot_base=10)  # same DNs as the trusted hierarchy, other keys
    issued = org_sign_certificate(impostor)
    issued.chain = [impostor.intermediate.cert, impostor.root.cert]
    use_p12_signer(settings, tmp_path / "impostor.p12", issued)
    version = services.prepare_version(acting_user=world.ans)
    with pytest.raises(services.PublicationRefused, match="untrusted_chain"):
        services.approve_and_publish(version, acting_user=ans2)
    version.refresh_from_db()
    assert version.signed_xml is None


def test_abandon_from_the_version_page(world, ans2, box, signer_p12, client):
    version = services.prepare_version(acting_user=world.ans)
    url = reverse("ans_whitelist_version", kwargs={"number": version.number})
    client.force_login(world.ans)
    assert "Abandonner cette version" in client.get(url).content.decode()

    response = client.post(reverse("ans_whitelist_abandon", kwargs={"number": version.number}),
                           {"reason": "Préparée par erreur"})
    assert response["Location"] == url
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.ABANDONED
    entry = AuditEntry.objects.get(action="whitelist.version_abandoned")
    assert entry.reason == "Préparée par erreur" and entry.before == {"status": "preparee"}
    page = client.get(url).content.decode()
    assert "Abandonner cette version" not in page and "Approuver et publier" not in page
    assert "abandonnée" in page

    # An abandoned version can be neither published nor abandoned again.
    client.force_login(ans2)
    client.post(reverse("ans_whitelist_publish", kwargs={"number": version.number}))
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.ABANDONED and version.signed_xml is None


def test_published_version_cannot_be_abandoned(world, ans2, box, signer_p12, client):
    version = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    client.force_login(world.ans)
    url = reverse("ans_whitelist_version", kwargs={"number": version.number})
    assert "Abandonner cette version" not in client.get(url).content.decode()
    client.post(reverse("ans_whitelist_abandon", kwargs={"number": version.number}))
    version.refresh_from_db()
    assert version.is_published
    assert "ne peut pas être abandonnée" in client.get(url).content.decode()
    assert not AuditEntry.objects.filter(action="whitelist.version_abandoned").exists()

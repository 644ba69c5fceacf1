"""Certificate pages: every rule shown in French on upload, nothing stored on refusal, dashboards scoped."""
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certificates.models import Certificate
from tests.support.lifecycle import active_drimbox, declared_drimbox, shared_pki

pytestmark = pytest.mark.django_db


def _upload(client, drimbox, data):
    return client.post(reverse("certificate_db_upload", args=[drimbox.pk]),
                       {"db-file": SimpleUploadedFile("db.pem", data)})


def test_upload_shows_every_rule_and_stores_only_a_valid_certificate(client, world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    client.force_login(world.technical)
    expired = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct="399999999999999",
                                          not_before=shared_pki().now - dt.timedelta(days=900),
                                          not_after=shared_pki().now - dt.timedelta(days=2))
    page = _upload(client, drimbox, expired.chain_pem).content.decode()
    assert "data-rejected" in page and "rien n'a été enregistré" in page
    assert 'data-check="db_ou" data-ok="non"' in page or 'data-ok="non"' in page
    assert "399999999999999" in page  # the OU found is named
    assert not Certificate.objects.exists()

    with_key = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=world.operator.id_nat_struct)
    page = _upload(client, drimbox, with_key.chain_pem + with_key.key_pem).content.decode()
    assert "clé privée" in page and not Certificate.objects.exists()

    good = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=world.operator.id_nat_struct)
    response = _upload(client, drimbox, good.chain_pem)
    certificate = Certificate.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("certificate_detail", args=[certificate.pk])
    detail = client.get(response["Location"]).content.decode()
    assert f"CN={drimbox.db_fqdn},OU={world.operator.id_nat_struct}" in detail
    assert "ST=Côte-d&#x27;Or (21)" in detail or "ST=Côte-d'Or (21)" in detail
    assert certificate.fingerprint_sha256 in detail


def test_dashboards_are_scoped(client, world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    declared_drimbox(world.operator, world.legal, world.ans)  # no certificate yet: listed as missing
    client.force_login(world.legal)
    page = client.get(reverse("certificate_dashboard")).content.decode()
    assert "db manquant" in page and "vi manquant" in page
    client.force_login(world.other)
    assert drimbox.db_fqdn not in client.get(reverse("certificate_dashboard")).content.decode()
    client.force_login(world.ans)
    page = client.get(reverse("ans_certificates")).content.decode()
    assert world.operator.name in page and "db manquant" in page

"""Certificate forms (issue 16, item 2): a revocation without reason, or a refused upload, is shown again with its
error next to the field and in the summary; nothing is recorded."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from certificates.models import Certificate, Revocation
from tests.support import form_html
from tests.support.lifecycle import active_drimbox

pytestmark = pytest.mark.django_db


def test_a_revocation_without_reason_is_shown_next_to_the_reason(world, client):
    box = active_drimbox(world.operator, world.legal, world.ans)
    certificate = Certificate.objects.filter(drimbox=box).first()
    client.force_login(world.technical)
    response = client.post(reverse("certificate_revoke", args=[certificate.pk]), {"revoke-reason": ""})
    assert response.status_code == 200
    form = response.context["failed_form"]
    assert form.errors["reason"] == ["Choisissez le motif de la révocation."]
    form_html.assert_form_errors_shown(response, form)
    assert not Revocation.objects.exists()


def test_a_refused_upload_is_shown_next_to_the_file(world, client):
    box = active_drimbox(world.operator, world.legal, world.ans)
    client.force_login(world.technical)
    response = client.post(reverse("certificate_db_upload", args=[box.pk]),
                           {"db-file": SimpleUploadedFile("db.pem", b"pas un certificat")})
    assert response.status_code == 200
    form = response.context["failed_form"]
    assert "file" in form.errors
    form_html.assert_form_errors_shown(response, form)

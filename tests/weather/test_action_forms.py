"""The weather's action forms (issue 16, item 2): « Prendre en compte » shows its error next to the comment and in
the summary; it and « Annuler » a maintenance carry a single-use token: sent twice, they act once."""
import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.operators.test_double_submit import token_of_field
from tests.support import form_html
from tests.support import weather as wx
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_a_too_long_acknowledgement_is_shown_next_to_its_comment(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    incident = wx.incident(box, timezone.now() - timedelta(minutes=10))
    client.force_login(world.technical)
    response = client.post(reverse("operator_weather_acknowledge", args=[incident.pk]), {"comment": "x" * 2001})
    assert response.status_code == 200
    form = response.context["failed_form"]
    assert list(form.errors) == ["comment"]
    form_html.assert_form_errors_shown(response, form)
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_an_acknowledgement_sent_twice_is_recorded_once(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    incident = wx.incident(box, timezone.now() - timedelta(minutes=10))
    client.force_login(world.technical)
    token = token_of_field(client.get(reverse("operator_weather")), "submission_token")
    url = reverse("operator_weather_acknowledge", args=[incident.pk])
    assert client.post(url, {"comment": "On s'en occupe", "submission_token": token}).status_code == 302
    audits = AuditEntry.objects.count()
    again = client.post(url, {"comment": "On s'en occupe", "submission_token": token}, follow=True)
    assert "Ce formulaire a déjà été envoyé : l'incident de la DRIMbox" in html.unescape(again.content.decode())
    assert AuditEntry.objects.count() == audits


def test_a_maintenance_cancelled_twice_is_cancelled_once(world, client):
    box, = wx.make_drimboxes(world.operator, 1)
    start = timezone.now() + timedelta(days=1)
    window = wx.maintenance(box, world.technical, start, start + timedelta(hours=1))
    client.force_login(world.technical)
    page = client.get(reverse("operator_weather_maintenance", args=[box.pk]))
    token = token_of_field(page, "submission_token")
    url = reverse("operator_weather_maintenance_cancel", args=[window.pk])
    assert client.post(url, {"submission_token": token}).status_code == 302
    window.refresh_from_db()
    assert window.cancelled_at is not None
    audits = AuditEntry.objects.count()
    again = client.post(url, {"submission_token": token}, follow=True)
    assert "Ce formulaire a déjà été envoyé : la maintenance est déjà annulée." in again.content.decode()
    assert AuditEntry.objects.count() == audits

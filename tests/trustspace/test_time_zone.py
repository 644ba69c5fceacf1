"""One time zone for people (issue 16, item 4): times shown to a person are Paris time, whatever the instant's zone;
UTC only inside machine formats."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates.validation.common import fmt_date
from operators.models import Invitation
from tests.operators.test_double_submit import messages_of, token_in


def test_certificate_messages_give_paris_time_summer_and_winter():
    assert fmt_date(dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)) == "01/07/2026 à 12:00:00 (heure de Paris)"
    assert fmt_date(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)) == "02/12/2026 à 00:30:00 (heure de Paris)"


@pytest.mark.django_db
def test_the_invitation_flash_gives_the_expiry_in_paris_time_as_the_table_does(client, world):
    client.force_login(world.legal)
    page = client.get(reverse("person_invite"))
    response = client.post(reverse("person_invite"), {
        "email": "paris@example.fr", "role": "administrateur_technique", "submission_token": token_in(page)})
    assert response.status_code == 302
    expires = timezone.localtime(Invitation.objects.get(email="paris@example.fr").expires_at)
    assert expires.utcoffset() != dt.timedelta(0)  # Paris is never at UTC: the test tells the two apart
    [flash] = [m for m in messages_of(response) if "invitation a été envoyée" in m]
    assert f"{expires:%d/%m/%Y à %H:%M}" in flash

"""Operator notification channels: the legal representative's form (permissions, CSRF, bad input), the secret
shown once and stored encrypted, and every operator notification copied to the mailbox and the signed webhook."""
import html
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from operators import channels, services
from operators.models import Operator
from tests.support.webhook_receiver import running_receiver
from trustspace import outbox
from trustspace.models import AuditEntry, OutboxMessage

URL = "/espace/operateurs/{}/canaux/"


@pytest.fixture
def channel_key(settings):
    settings.OPERATOR_CHANNEL_KEY = "une-cle-de-chiffrement-des-secrets-pour-les-tests"


def page_secret(response):
    match = re.search(r"<code>([A-Za-z0-9_-]{40,})</code>", response.content.decode())
    return match.group(1) if match else None


def text(response):
    return html.unescape(response.content.decode())


def post(client, operator, **data):
    return client.post(URL.format(operator.pk), {"technical_mailbox": "", "webhook_url": "", **data})


def test_legal_representative_sets_channels_and_sees_the_secret_once(world, client, settings, channel_key):
    client.force_login(world.legal)
    response = post(client, world.operator, technical_mailbox="exploitation@op-a.fr",
                    webhook_url="https://8.8.8.8/drimm/hooks")
    assert response.status_code == 200
    secret = page_secret(response)
    assert secret and "il ne sera plus affiché" in text(response)
    operator = Operator.objects.get(pk=world.operator.pk)
    assert operator.technical_mailbox == "exploitation@op-a.fr" and operator.webhook_url == "https://8.8.8.8/drimm/hooks"
    assert secret not in operator.webhook_secret_encrypted and channels.webhook_secret(operator) == secret
    entry = AuditEntry.objects.filter(action="operator.channels_updated").get()
    assert entry.actor_id == world.legal.pk and entry.operator_id == operator.pk
    assert secret not in str(entry.after) and entry.after["webhook_url"] == "https://8.8.8.8/drimm/hooks"
    again = client.get(URL.format(operator.pk))
    assert page_secret(again) is None and "exploitation@op-a.fr" in text(again)
    # Saving the same values keeps the secret; asking for a new one changes it.
    response = post(client, operator, technical_mailbox="exploitation@op-a.fr", webhook_url=operator.webhook_url)
    assert response.status_code == 302 and channels.webhook_secret(Operator.objects.get(pk=operator.pk)) == secret
    response = post(client, operator, technical_mailbox="exploitation@op-a.fr", webhook_url=operator.webhook_url,
                    new_secret="on")
    assert page_secret(response) not in (None, secret)
    # Removing the webhook removes its secret.
    post(client, operator, technical_mailbox="")
    operator.refresh_from_db()
    assert operator.webhook_url == "" and operator.webhook_secret_encrypted == "" and operator.technical_mailbox == ""


@pytest.mark.parametrize("url, message", [
    ("http://8.8.8.8/hook", "Le webhook doit être en https."),
    ("https://127.0.0.1/hook", "ne peut pas viser une adresse locale ou privée"),
    ("https://10.1.2.3/hook", "ne peut pas viser une adresse locale ou privée"),
    ("https://[::1]/hook", "ne peut pas viser une adresse locale ou privée"),
    ("https://localhost/hook", "ne peut pas viser une adresse locale ou privée"),
    ("https://169.254.169.254/latest", "ne peut pas viser une adresse locale ou privée"),
    ("pas une adresse", "Saisissez une adresse de webhook valide"),
    ("https://user:pw@8.8.8.8/hook", "ne doit pas contenir d'identifiants"),
    ("https://nom-qui-n-existe-pas.invalid/hook", "ne se résout pas"),
])
def test_a_bad_webhook_is_refused_in_french_and_nothing_is_saved(world, client, channel_key, url, message):
    client.force_login(world.legal)
    response = post(client, world.operator, technical_mailbox="exploitation@op-a.fr", webhook_url=url)
    assert response.status_code == 200
    assert message in text(response)
    operator = Operator.objects.get(pk=world.operator.pk)
    assert (operator.technical_mailbox, operator.webhook_url, operator.webhook_secret_encrypted) == ("", "", "")
    assert not AuditEntry.objects.filter(action="operator.channels_updated").exists()


def test_a_bad_mailbox_is_refused(world, client, channel_key):
    client.force_login(world.legal)
    response = post(client, world.operator, technical_mailbox="pas-un-courriel")
    assert response.status_code == 200 and "adresse de courriel valide" in text(response)
    assert Operator.objects.get(pk=world.operator.pk).technical_mailbox == ""


def test_loopback_http_is_accepted_in_development(world, client, settings):
    settings.DEBUG = True  # development: no OPERATOR_CHANNEL_KEY needed (derived from SECRET_KEY), http loopback ok
    client.force_login(world.legal)
    response = post(client, world.operator, webhook_url="http://127.0.0.1:8765/hook")
    assert page_secret(response)


def test_without_an_encryption_key_in_production_no_webhook(world, client, settings):
    settings.OPERATOR_CHANNEL_KEY = ""
    client.force_login(world.legal)
    response = post(client, world.operator, webhook_url="https://8.8.8.8/hook")
    assert "OPERATOR_CHANNEL_KEY" in text(response)
    assert Operator.objects.get(pk=world.operator.pk).webhook_url == ""


def test_only_the_legal_representative_changes_them(world, client, channel_key):
    client.force_login(world.technical)
    page = client.get(URL.format(world.operator.pk))
    assert page.status_code == 200 and "Seul le représentant légal" in text(page)
    assert 'name="webhook_url"' not in text(page)
    response = post(client, world.operator, technical_mailbox="pirate@example.fr")
    assert response.status_code == 403
    client.force_login(world.mandataire)
    assert post(client, world.operator, technical_mailbox="pirate@example.fr").status_code == 403
    # Another operator's legal representative: that operator does not exist for them.
    client.force_login(world.other)
    assert client.get(URL.format(world.operator.pk)).status_code == 404
    assert post(client, world.operator, technical_mailbox="pirate@example.fr").status_code == 404
    assert Operator.objects.get(pk=world.operator.pk).technical_mailbox == ""


def test_the_service_refuses_others_too(world, channel_key):
    from trustspace.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.set_channels(world.operator, acting_user=world.other, technical_mailbox="x@example.fr",
                              webhook_url="")


def test_csrf_is_required(world, channel_key):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.legal)
    response = post(client, world.operator, technical_mailbox="exploitation@op-a.fr")
    assert response.status_code == 403
    assert Operator.objects.get(pk=world.operator.pk).technical_mailbox == ""


def test_operator_notifications_reach_the_mailbox_and_the_signed_webhook(world, client, settings):
    """A weather incident (the real services path) → members, mailbox, webhook; a VA decision too."""
    from tests.support.weather import make_drimboxes
    from weather import services as weather_services
    from weather.models import WeatherStatus

    settings.DEBUG = True  # a loopback receiver
    holder = {}
    with running_receiver(lambda path: holder.get("secret")) as (base, received):
        client.force_login(world.legal)
        holder["secret"] = page_secret(post(client, world.operator, technical_mailbox="exploitation@op-a.fr",
                                            webhook_url=f"{base}/drimm"))
        assert holder["secret"]
        box = make_drimboxes(world.operator, 1)[0]
        weather_services.set_status(box, WeatherStatus.DOWN, effective_at=timezone.now(), reason="db injoignable")
        outbox.deliver_due()
        incident_mails = [m for m in mail.outbox if "Incident ouvert" in m.subject]
        assert len(incident_mails) == 1
        assert "exploitation@op-a.fr" in incident_mails[0].to and world.legal.email in incident_mails[0].to
        assert len(received) == 1 and received[0]["valid"]
        event = received[0]["event"]
        assert received[0]["headers"]["X-DRIMM-Event"] == "weather.incident_opened"
        assert event["type"] == "weather.incident_opened"
        assert event["operator"] == {"id": world.operator.pk, "name": "Opérateur A", "siren": world.operator.siren}
        assert event["drimbox"]["identifiant"] == box.identifiant and event["drimbox"]["db_fqdn"] == box.db_fqdn
        assert "Incident ouvert" in event["subject"] and event["text"] and event["time"]
        assert event["link"].startswith(settings.SITE_URL)
        # A rolled-back change notifies nobody.
        from django.db import transaction

        before = OutboxMessage.objects.count()
        with pytest.raises(RuntimeError), transaction.atomic():
            weather_services.set_status(box, WeatherStatus.OPERATIONAL, effective_at=timezone.now())
            raise RuntimeError
        assert OutboxMessage.objects.count() == before
        # Another operator without channels: its members only, no webhook.
        other_box = make_drimboxes(world.other_operator, 1)[0]
        weather_services.set_status(other_box, WeatherStatus.DOWN, effective_at=timezone.now())
        outbox.deliver_due()
        assert len(received) == 1
        last = [m for m in mail.outbox if "Incident ouvert" in m.subject][-1]
        assert last.to == [world.other.email]

"""The portal's admin site: every trustspace model ANS may inspect is there, read-only, without its secrets."""
from datetime import timedelta

import pytest
from django.utils import timezone

from trustspace.admin import ReadOnlyAdmin, site
from trustspace.models import (
    Alert,
    ApiToken,
    AuditEntry,
    AuditHead,
    BeatHeartbeat,
    FormSubmission,
    IdempotencyKey,
    OutboxMessage,
    User,
)
from trustspace.services import create_api_token

INSPECTED = [User, AuditEntry, AuditHead, ApiToken, OutboxMessage, Alert, BeatHeartbeat, FormSubmission,
             IdempotencyKey]
SECRETS = {User: "password", ApiToken: "key_hash", OutboxMessage: "payload", IdempotencyKey: "body",
           FormSubmission: "token"}


@pytest.fixture
def superuser_client(client, make_user):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def test_every_trustspace_model_ans_inspects_is_registered_read_only():
    for model in INSPECTED:
        assert isinstance(site._registry.get(model), ReadOnlyAdmin), model


def test_each_page_opens_for_a_superuser_and_shows_no_secret(superuser_client, make_user):
    owner = make_user("owner")
    token, secret = create_api_token(acting_user=owner, name="CI", scopes=["read"])
    Alert.objects.create(key="beat", subject="Le beat ne bat plus")
    BeatHeartbeat.objects.create(beat_at=timezone.now(), holder="hôte:1")
    FormSubmission.objects.create(user=owner, token="jeton-de-formulaire-secret")
    IdempotencyKey.objects.create(principal=f"user:{owner.pk}", key="k", fingerprint="f", method="POST",
                                  path="/api/v1/tokens/", body=f'{{"secret": "{secret}"}}',
                                  expires_at=timezone.now() + timedelta(hours=1))
    for model in INSPECTED:
        meta = model._meta
        listing = superuser_client.get(f"/admin/{meta.app_label}/{meta.model_name}/")
        assert listing.status_code == 200, model
        row = model.objects.order_by("pk").first()
        if row is None:
            continue
        page = superuser_client.get(f"/admin/{meta.app_label}/{meta.model_name}/{row.pk}/change/")
        assert page.status_code == 200, model
        assert secret not in page.content.decode()
        if model in SECRETS:
            assert f'name="{SECRETS[model]}"' not in page.content.decode()
            assert f"field-{SECRETS[model]}" not in page.content.decode(), model
    assert superuser_client.get(f"/admin/trustspace/apitoken/{token.pk}/change/").status_code == 200

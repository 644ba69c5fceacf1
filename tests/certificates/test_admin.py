"""The certificates models on the portal's admin site: readable by superusers, never writable, no secrets shown."""
import pytest
from django.urls import reverse

from certificates import services
from certificates.models import AcmeAccount, AcmeDnsCredential, Certificate, ExpiryNotice, ViOrder
from tests.support.lifecycle import declared_drimbox, give_certificates

pytestmark = pytest.mark.django_db

MODELS = ["certificate", "viorder", "revocation", "crlcache", "acmeaccount", "acmednscredential", "expirynotice",
          "refusedvicertificate"]


@pytest.fixture
def root(client, make_user):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_superusers_read_every_certificates_model_but_cannot_add(root, model):
    assert root.get(f"/admin/certificates/{model}/").status_code == 200
    assert root.get(f"/admin/certificates/{model}/add/").status_code == 403


def test_rows_are_shown_without_secrets_and_cannot_be_changed(root, world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox, world.technical)
    credential, password = services.register_acme_dns(drimbox, acting_user=world.technical)
    account = AcmeAccount.objects.create(directory_url="https://acme.example.fr/directory",
                                         key_encrypted=b"encrypted-account-key", account_uri="https://acme/acct/1")
    certificate = Certificate.objects.filter(drimbox=drimbox).first()
    order = ViOrder.objects.get(drimbox=drimbox)
    revocation = services.revoke_certificate(certificate, acting_user=world.technical, reason="compromission")
    notice = ExpiryNotice.objects.create(certificate=certificate, threshold_days=60)
    for obj in (certificate, order, revocation, credential, account, notice):
        url = reverse(f"admin:certificates_{obj._meta.model_name}_change", args=[obj.pk])
        page = root.get(url)
        assert page.status_code == 200, url
        assert root.post(url, {}).status_code == 403, url
    credential_page = root.get(reverse("admin:certificates_acmednscredential_change", args=[credential.pk]))
    stored_hash = AcmeDnsCredential.objects.get(pk=credential.pk).password_hash
    assert credential.username in credential_page.content.decode()
    assert stored_hash not in credential_page.content.decode() and password not in credential_page.content.decode()
    account_page = root.get(reverse("admin:certificates_acmeaccount_change", args=[account.pk])).content.decode()
    assert "https://acme/acct/1" in account_page and "encrypted-account-key" not in account_page

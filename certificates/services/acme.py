"""The portal's ACME configuration and account (its key stored encrypted with a key from the environment)."""
from __future__ import annotations

import base64
import hashlib

import josepy
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction

from certificates import acme_client
from certificates.models import AcmeAccount
from certificates.services.inventory import TASK
from trustspace import audit


def acme_settings() -> acme_client.AcmeSettings:
    if not settings.ACME_DIRECTORY_URL:
        raise acme_client.AcmeError("Aucune autorité ACME n'est configurée (ACME_DIRECTORY_URL).")
    try:
        return acme_client.AcmeSettings(
            directory_url=settings.ACME_DIRECTORY_URL, ca_bundle=settings.ACME_CA_BUNDLE or None,
            contact_email=settings.ACME_CONTACT_EMAIL or None, propagation_timeout=settings.ACME_PROPAGATION_TIMEOUT,
        )
    except ValueError as exc:
        raise acme_client.AcmeError("Configuration ACME invalide (ACME_DIRECTORY_URL, ACME_CA_BUNDLE ou "
                                    "ACME_CONTACT_EMAIL).", detail=str(exc)) from exc


def _fernet() -> Fernet:
    secret = settings.ACME_ACCOUNT_KEY_SECRET
    if not secret:
        if not settings.DEBUG:
            raise acme_client.AcmeError("ACME_ACCOUNT_KEY_SECRET n'est pas défini : la clé du compte ACME ne peut "
                                        "pas être protégée.")
        secret = base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())
    return Fernet(secret)


def acme_account() -> josepy.JWKRSA:
    """The portal's ACME account key (created and registered once per CA, stored encrypted)."""
    config = acme_settings()
    account = AcmeAccount.objects.filter(directory_url=config.directory_url).first()
    if account is not None:
        try:
            return acme_client.key_from_pem(_fernet().decrypt(bytes(account.key_encrypted)))
        except InvalidToken as exc:
            raise acme_client.AcmeError("La clé du compte ACME ne peut pas être déchiffrée "
                                        "(ACME_ACCOUNT_KEY_SECRET a changé ?).") from exc
    key = acme_client.new_account_key()
    uri = acme_client.register_account(config, key)
    with transaction.atomic():
        account, created = AcmeAccount.objects.get_or_create(
            directory_url=config.directory_url,
            defaults={"key_encrypted": _fernet().encrypt(acme_client.key_to_pem(key)), "account_uri": uri or ""})
        if created:
            audit.record(actor=TASK, action="acme.account_created", obj=account, after={"uri": uri})
    return acme_client.key_from_pem(_fernet().decrypt(bytes(account.key_encrypted)))

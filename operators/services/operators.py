"""An operator's own data: its legal-entity fields, its support contact and its notification channels."""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from operators import channels, permissions
from operators.models import Operator
from operators.services.common import full_clean
from operators.services.contracts import ensure_contract_accepted
from operators.validators import ENTITY_FORMATS, all_field_errors, validate_contact
from trustspace import audit
from trustspace.errors import InvalidData, NotAllowed
from trustspace.text import validate_display_text, validate_model_text

if TYPE_CHECKING:
    from trustspace.models import User

OPERATOR_EDITABLE_FIELDS = ["name", "siret", "address_line", "postal_code", "city", "contact_email", "contact_phone"]
# Registering an operator is an application reviewed by ANS: ``operators.services.onboarding.apply_for_operator``.


def update_operator(operator: Operator, *, acting_user: User, data: dict[str, Any]) -> Operator:
    """Update the operator's legal-entity data (not its SIREN nor idNat_Struct, which certificates carry).
    Every problem is reported at once, each on its field; the postal code and the phone are stored in their
    French formats (``operators.validators``)."""
    permissions.require(acting_user, "operator.update", operator)
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        ensure_contract_accepted(operator)
        before = audit.snapshot(operator, Operator.AUDITED_FIELDS)
        for field in OPERATOR_EDITABLE_FIELDS:
            if field in data:
                value = (data[field] or "").strip()
                setattr(operator, field, "".join(value.split()) if field == "siret" else value)
        validate_model_text(operator)  # a forbidden character is named first, before any format rule
        errors: dict[str, list[str]] = {}
        for field, normalize in ENTITY_FORMATS.items():
            try:
                setattr(operator, field, normalize(getattr(operator, field)))
            except ValidationError as exc:
                errors[field] = exc.messages
                setattr(operator, field, before[field])  # the rest is still checked against a valid value
        try:
            full_clean(operator, exclude=list(errors))
        except InvalidData as exc:
            for field, messages in exc.field_errors.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise all_field_errors(errors)
        after = audit.snapshot(operator, Operator.AUDITED_FIELDS)
        if after == before:
            return operator
        operator.save()
        audit.record(
            actor=acting_user, action="operator.updated", obj=operator, operator_id=operator.pk,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return operator


def update_support_contact(operator: Operator, *, acting_user: User, support_contact: str) -> Operator:
    permissions.require(acting_user, "support_contact.update", operator)
    value = (support_contact or "").strip()
    if not value:
        raise InvalidData("Le contact support est obligatoire.",
                          field_errors={"support_contact": ["Ce champ est obligatoire."]})
    if len(value) > 255:
        raise InvalidData("Le contact support ne doit pas dépasser 255 caractères.",
                          field_errors={"support_contact": ["255 caractères au maximum."]})
    validate_display_text({"support_contact": value}, labels={"support_contact": "contact support"})
    try:
        validate_contact(value)
    except ValidationError as exc:
        raise InvalidData(" ".join(exc.messages), field_errors={"support_contact": exc.messages}) from exc
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        ensure_contract_accepted(operator)
        before = operator.support_contact
        if before == value:
            return operator
        operator.support_contact = value
        operator.save(update_fields=["support_contact", "updated_at"])
        audit.record(
            actor=acting_user, action="operator.support_contact_updated", obj=operator, operator_id=operator.pk,
            before={"support_contact": before}, after={"support_contact": value},
        )
    return operator


def set_channels(operator: Operator, *, acting_user: User, technical_mailbox: str, webhook_url: str,
                 new_secret: bool = False) -> str | None:
    """Update the channels (``operators.channels``). Returns the new webhook secret (to show once) when one was
    generated: a new or changed webhook URL, or ``new_secret``; None otherwise. Removing the URL removes the
    secret. The secret itself is never audited."""
    if not channels.can_manage(acting_user, operator):
        raise NotAllowed(channels.DENIED)
    # Shown to the operator's members and to ANS, and an address the portal writes to: no bidi or control
    # characters (checked first, so the message names the character rather than « adresse invalide »).
    validate_display_text({"technical_mailbox": (technical_mailbox or "").strip(),
                           "webhook_url": (webhook_url or "").strip()},
                          labels={"technical_mailbox": "boîte générique technique",
                                  "webhook_url": "adresse du webhook"})
    mailbox = channels.clean_mailbox(technical_mailbox)
    url = channels.clean_webhook_url(webhook_url)
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        before = {"technical_mailbox": operator.technical_mailbox, "webhook_url": operator.webhook_url}
        secret = None
        if url and (url != operator.webhook_url or new_secret or not operator.webhook_secret_encrypted):
            fernet = channels.fernet()
            if fernet is None:
                message = ("Le chiffrement des secrets de webhook n'est pas configuré sur le portail "
                           "(OPERATOR_CHANNEL_KEY) : contactez l'ANS.")
                raise InvalidData(message, field_errors={"webhook_url": [message]})
            secret = secrets.token_urlsafe(channels.SECRET_BYTES)
            operator.webhook_secret_encrypted = fernet.encrypt(secret.encode()).decode()
        if not url:
            operator.webhook_secret_encrypted = ""
        operator.technical_mailbox, operator.webhook_url = mailbox, url
        after = {"technical_mailbox": mailbox, "webhook_url": url}
        if after == before and secret is None:
            return None
        operator.save(update_fields=["technical_mailbox", "webhook_url", "webhook_secret_encrypted", "updated_at"])
        audit.record(actor=acting_user, action="operator.channels_updated", obj=operator, operator_id=operator.pk,
                     before={k: v for k, v in before.items() if after[k] != v},
                     after={**{k: v for k, v in after.items() if before[k] != v},
                            **({"webhook_secret": "nouveau secret généré"} if secret else {})})
    return secret

"""What every operators service shares: model validation turned into domain errors, and the ANS guard."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from trustspace.errors import InvalidData, NotAllowed
from trustspace.text import validate_display_text, validate_model_text

if TYPE_CHECKING:
    from trustspace.models import User

ANS_ONLY = "Réservé aux administrateurs ANS."
# What ANS must write when it decides (the forms say the same words, next to the field, before any service call).
REFUSAL_REASON_REQUIRED = "Le motif du refus est obligatoire."
CHANGES_REQUIRED = "Indiquez à l'opérateur ce qu'il doit modifier."
OVERRIDE_REQUIRED = ("DRIMbox non financée : indiquez le motif de la dérogation pour l'approuver (il est tracé dans "
                     "l'historique).")


def require_ans_admin(user: User | None) -> None:
    """ANS administrators review and decide; anyone else (and nobody) is refused."""
    if not getattr(user, "is_ans_admin", False):
        raise NotAllowed(ANS_ONLY)


def refusal_reason(reason: str | None) -> str:
    """The reason ANS gives for a refusal: required, and shown to the operator as written."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData(REFUSAL_REASON_REQUIRED, field_errors={"reason": [REFUSAL_REASON_REQUIRED]})
    validate_display_text({"reason": reason}, multiline={"reason"}, labels={"reason": "motif du refus"})
    return reason


def validation_to_domain(exc: ValidationError) -> InvalidData:
    field_errors = {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            field_errors[field] = [message for error in errors for message in error.messages]
    messages = [m for msgs in field_errors.values() for m in msgs] or exc.messages
    return InvalidData(" ".join(messages), field_errors=field_errors)


def full_clean(instance: models.Model, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise validation_to_domain(exc) from exc
    validate_model_text(instance, exclude=exclude)  # names, contacts, contract text: no bidi or control characters


def save_or_conflict(instance: models.Model, message: str) -> None:
    """Save; a unique constraint lost to a concurrent writer becomes a clear error, not a 500."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise InvalidData(message) from exc

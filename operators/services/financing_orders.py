"""Financing orders (bons de commande SONS-IMG-DB-va2): one per client, per PACS and per FINESS (DESIGN §5)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from operators import permissions
from operators.models import FinancingOrder, FinancingOrderSite, Operator
from operators.services.contracts import ensure_contract_accepted
from operators.validators import all_field_errors, compact_digits
from trustspace import audit
from trustspace.errors import InvalidData

if TYPE_CHECKING:
    from trustspace.models import User


def create_financing_order(*, acting_user: User, operator: Operator, reference: str, client_siren: str,
                           pacs_identifier: str, finess_geographiques: str | Iterable[str]) -> FinancingOrder:
    """Record a financing order; the database keeps one order per client, per PACS and per FINESS."""
    permissions.require(acting_user, "order.manage", operator)
    if isinstance(finess_geographiques, str):
        finess_geographiques = finess_geographiques.replace(",", " ").replace(";", " ").split()
    finess_list = sorted({compact_digits(value).upper() for value in finess_geographiques or [] if value.strip()})
    order = FinancingOrder(operator=operator, reference=(reference or "").strip(),
                           client_siren=compact_digits(client_siren or ""),
                           pacs_identifier=(pacs_identifier or "").strip(), created_by=acting_user)
    errors = {}
    try:
        order.full_clean(exclude=["operator", "created_by"])
    except ValidationError as exc:
        errors.update({field: list(messages) for field, messages in exc.message_dict.items()})
    sites = [FinancingOrderSite(finess_geographique=finess) for finess in finess_list]
    finess_errors = []
    for site in sites:
        try:
            site.full_clean(exclude=["order"])
        except ValidationError as exc:
            finess_errors.extend(exc.messages)
    if finess_errors:
        errors["finess_geographiques"] = finess_errors
    if errors:
        raise all_field_errors(errors)
    with transaction.atomic():
        ensure_contract_accepted(operator)
        try:
            with transaction.atomic():
                order.save()
                for site in sites:
                    site.order = order
                    site.save()
        except IntegrityError as exc:
            raise InvalidData("Un bon de commande existe déjà pour ce client, ce PACS, cette référence ou l'un de "
                              "ces FINESS géographiques.") from exc
        audit.record(actor=acting_user, action="financing_order.created", obj=order, operator_id=operator.pk,
                     after={**audit.snapshot(order, FinancingOrder.AUDITED_FIELDS), "finess": finess_list})
    return order

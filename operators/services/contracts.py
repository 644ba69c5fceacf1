"""The contract of adhesion: ANS publishes versions, every operator accepts the one in force (DESIGN §5)."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from operators import permissions
from operators.models import ContractAcceptance, ContractVersion, Operator
from operators.services.common import full_clean, require_ans_admin, save_or_conflict
from trustspace import audit
from trustspace.errors import Conflict, ContractNotAccepted, InvalidData

if TYPE_CHECKING:
    from trustspace.models import User


def publish_contract_version(*, acting_user: User | None, version: str, title: str, body: str) -> ContractVersion:
    """ANS publishes a new version; every operator must accept it before submitting anything."""
    if acting_user is not None:  # a person publishes only as an ANS administrator
        require_ans_admin(acting_user)
    contract = ContractVersion(version=(version or "").strip(), title=(title or "").strip(), body=(body or "").strip(),
                               published_by=acting_user, published_at=timezone.now())
    taken = f"La version « {contract.version} » du contrat existe déjà."
    if contract.version and ContractVersion.objects.filter(version=contract.version).exists():
        raise InvalidData(taken, field_errors={"version": [taken]})  # rather than the model's generic words
    full_clean(contract, exclude=["published_by"])
    with transaction.atomic():
        save_or_conflict(contract, taken)
        audit.record(actor=acting_user, action="contract.published", obj=contract,
                     after={"version": contract.version, "title": contract.title,
                            "body_sha256": hashlib.sha256(contract.body.encode()).hexdigest()})
    return contract


def contract_status(operator: Operator | None) -> tuple[ContractVersion | None, ContractAcceptance | None]:
    """(version in force, the operator's acceptance of it or None)."""
    current = ContractVersion.current()
    if current is None or operator is None:
        return current, None
    acceptance = ContractAcceptance.objects.filter(operator=operator, contract_version=current).select_related(
        "accepted_by").first()
    return current, acceptance


def ensure_contract_accepted(operator: Operator) -> None:
    current, acceptance = contract_status(operator)
    if current is None:
        raise ContractNotAccepted("Aucun contrat d'adhésion n'est encore publié par l'ANS : aucune démarche n'est "
                                  "possible.")
    if acceptance is None:
        raise ContractNotAccepted(
            f"Votre opérateur doit accepter la version {current.version} du contrat d'adhésion avant toute autre "
            "démarche."
        )


def accept_contract(operator: Operator, *, acting_user: User,
                    contract_version: ContractVersion | None) -> ContractAcceptance:
    permissions.require(acting_user, "contract.accept", operator)
    current = ContractVersion.current()
    if current is None or contract_version is None or contract_version.pk != current.pk:
        raise Conflict("Seule la version en vigueur du contrat d'adhésion peut être acceptée.")
    with transaction.atomic():
        Operator.objects.select_for_update().get(pk=operator.pk)
        if ContractAcceptance.objects.filter(operator=operator, contract_version=current).exists():
            raise Conflict(f"La version {current.version} du contrat est déjà acceptée.")
        acceptance = ContractAcceptance.objects.create(operator=operator, contract_version=current,
                                                       accepted_by=acting_user)
        audit.record(actor=acting_user, action="contract.accepted", obj=operator, operator_id=operator.pk,
                     after={"contract_version": current.version, "accepted_at": acceptance.accepted_at})
    return acceptance

"""Financing orders (bons de commande SONS-IMG-DB-va2) as the AF IMG DB Va2 defines them (DESIGN §5).

An order has clients (SIREN), PACS and DRIMboxes; a SIREN, a PACS, an AM number and a FINESS géographique
each appear in one active order only. The checks below name the conflicting order in French; the partial
unique constraints of the database decide when two writers race (the loser gets a 409 naming the winner).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from operators import permissions
from operators.models import (
    Drimbox,
    DrimboxStatus,
    FinancingOrder,
    FinancingOrderClient,
    FinancingOrderPacs,
    FinancingOrderPhysician,
    FinancingOrderSite,
    FinancingOrderStatus,
    Operator,
)
from operators.models.requests import file_sha256
from operators.services.common import require_ans_admin
from operators.services.contracts import ensure_contract_accepted
from operators.validators import all_field_errors, compact_digits, validate_am_number, validate_finess
from trustspace import audit
from trustspace.errors import Conflict, InvalidData
from trustspace.text import validate_display_text
from trustspace.uploads import shown_file_name, validate_pdf

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

    from trustspace.models import User

MAX_IDENTIFIERS = 500  # per list: a large group has a few hundred physicians, not thousands
CLIENT_FIELDS = ("client_siren", "client_name", "activity_2023", "finess_geographiques", "am_numbers", "ris_wave",
                 "ris_order_reference", "takeover_siren", "takeover_name", "takeover_finess_geographiques",
                 "takeover_am_numbers")


class DocumentKind:
    """What a PDF attached to an order is."""

    SIGNED_ORDER = "bon_signe"
    SIGNATURE_PAGE = "page_signature"
    TAKEOVER_PROOF = "preuve_reprise"
    LABELS = {SIGNED_ORDER: "Le bon de commande signé", SIGNATURE_PAGE: "La page de signature du client",
              TAKEOVER_PROOF: "La preuve de la reprise"}
    CHOICES = [(SIGNED_ORDER, "Bon de commande signé"), (SIGNATURE_PAGE, "Page de signature d'un client"),
               (TAKEOVER_PROOF, "Preuve de la reprise d'une structure")]


def identifier_list(value: str | Iterable[str] | None) -> list[str]:
    """A list typed in a text area (commas, semicolons, spaces or lines) or given as a list, without blanks."""
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    return [compact_digits(item).upper() for item in value if str(item).strip()]


def pacs_list(value: str | Iterable[str] | None) -> list[str]:
    """PACS identifiers are free labels: one per line, or separated by commas or semicolons."""
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[\n,;]+", value)
    seen: dict[str, None] = {}
    for item in value:
        if str(item).strip():
            seen.setdefault(str(item).strip(), None)
    return list(seen)


@dataclass
class ClientData:
    """A client of an order as typed in the form or sent to the API."""

    siren: str
    name: str = ""
    activity_2023: bool | None = None
    finess: list[str] = field(default_factory=list)
    am_numbers: list[str] = field(default_factory=list)
    ris_wave: str = ""
    ris_order_reference: str = ""
    takeover_siren: str = ""
    takeover_name: str = ""
    takeover_finess: list[str] = field(default_factory=list)
    takeover_am_numbers: list[str] = field(default_factory=list)

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> ClientData:
        activity = data.get("activity_2023")
        return cls(
            siren=compact_digits(data.get("client_siren") or ""), name=(data.get("client_name") or "").strip(),
            activity_2023=None if activity in (None, "") else bool(activity),
            finess=identifier_list(data.get("finess_geographiques")),
            am_numbers=identifier_list(data.get("am_numbers")),
            ris_wave=(data.get("ris_wave") or "").strip(),
            ris_order_reference=(data.get("ris_order_reference") or "").strip(),
            takeover_siren=compact_digits(data.get("takeover_siren") or ""),
            takeover_name=(data.get("takeover_name") or "").strip(),
            takeover_finess=identifier_list(data.get("takeover_finess_geographiques")),
            takeover_am_numbers=identifier_list(data.get("takeover_am_numbers")),
        )

    def finess_rows(self) -> dict[str, bool]:
        """FINESS géographique → from the taken-over structure."""
        return {**{value: False for value in self.finess}, **{value: True for value in self.takeover_finess}}

    def am_rows(self) -> dict[str, bool]:
        return {**{value: False for value in self.am_numbers}, **{value: True for value in self.takeover_am_numbers}}


# --- Checks ----------------------------------------------------------------------------------------


def _each(values: Iterable[str], validator, errors: dict[str, list[str]], key: str) -> None:
    for value in values:
        try:
            validator(value)
        except ValidationError as exc:
            errors.setdefault(key, []).extend(exc.messages)


def _check_client(client: ClientData, errors: dict[str, list[str]]) -> None:
    row = FinancingOrderClient(siren=client.siren, name=client.name, ris_wave=client.ris_wave,
                               ris_order_reference=client.ris_order_reference, takeover_siren=client.takeover_siren,
                               takeover_name=client.takeover_name)
    try:
        row.full_clean(exclude=["order"], validate_constraints=False)
    except ValidationError as exc:
        names = {"siren": "client_siren", "name": "client_name"}
        for name, messages in exc.message_dict.items():
            errors.setdefault(names.get(name, name), []).extend(messages)
    if not client.name:
        errors.setdefault("client_name", []).append("La raison sociale du client est obligatoire.")
    if client.ris_wave and not client.ris_order_reference:
        errors.setdefault("ris_order_reference", []).append(
            "Indiquez la référence de la commande de RIS Vague 2 du client.")
    if client.ris_order_reference and not client.ris_wave:
        errors.setdefault("ris_wave", []).append("Indiquez la vague de la commande de RIS du client.")
    _each(client.finess + client.takeover_finess, validate_finess, errors, "finess_geographiques")
    _each(client.am_numbers + client.takeover_am_numbers, validate_am_number, errors, "am_numbers")
    if not client.finess and not client.takeover_finess:
        errors.setdefault("finess_geographiques", []).append(
            "Indiquez au moins un FINESS géographique du client.")
    for key, values in (("finess_geographiques", client.finess + client.takeover_finess),
                        ("am_numbers", client.am_numbers + client.takeover_am_numbers)):
        if len(values) > MAX_IDENTIFIERS:
            errors.setdefault(key, []).append(f"{MAX_IDENTIFIERS} numéros au plus par liste.")
    taken_over = client.takeover_finess or client.takeover_am_numbers or client.takeover_name
    if taken_over and not client.takeover_siren:
        errors.setdefault("takeover_siren", []).append("Indiquez le SIREN de la structure reprise.")
    if client.takeover_siren and client.takeover_siren == client.siren:
        errors.setdefault("takeover_siren", []).append("La structure reprise ne peut pas être le client lui-même.")
    if client.takeover_siren and not (client.takeover_finess or client.takeover_am_numbers):
        errors.setdefault("takeover_finess_geographiques", []).append(
            "Indiquez les FINESS géographiques et numéros AM de la structure reprise : ils figurent dans ce bon.")


def _check_pacs(values: list[str], errors: dict[str, list[str]], *, required: bool) -> None:
    if required and not values:
        errors.setdefault("pacs_identifiers", []).append("Indiquez au moins un PACS.")
    for value in values:
        if len(value) > 100:
            errors.setdefault("pacs_identifiers", []).append(f"L'identifiant de PACS « {value[:20]}… » est trop long.")
    if len(values) > MAX_IDENTIFIERS:
        errors.setdefault("pacs_identifiers", []).append(f"{MAX_IDENTIFIERS} PACS au plus.")


TEXT_LABELS = {"reference": "référence du bon de commande", "pacs_identifiers": "PACS",
               "client_name": "raison sociale du client", "ris_wave": "commande de RIS",
               "ris_order_reference": "référence de la commande de RIS",
               "takeover_name": "raison sociale de la structure reprise"}


def _check_text(*, reference: str | None = None, pacs: list[str] | None = None,
                client: ClientData | None = None) -> None:
    """The text of an order is shown to ANS, to the operator's members and in the declarations it funds: no bidi
    or control characters (``trustspace.text``), every offending field named at once, before any other check
    (a number list or a choice holding one is refused by its own rule)."""
    fields: dict[str, str] = {}
    if reference is not None:
        fields["reference"] = reference
    if pacs is not None:
        fields["pacs_identifiers"] = " ".join(pacs)
    if client is not None:
        fields.update(client_name=client.name, ris_wave=client.ris_wave,
                      ris_order_reference=client.ris_order_reference, takeover_name=client.takeover_name)
    validate_display_text(fields, labels=TEXT_LABELS)


def conflicts(*, sirens: Iterable[str] = (), pacs: Iterable[str] = (), finess: Iterable[str] = (),
              am_numbers: Iterable[str] = (), except_client: FinancingOrderClient | None = None,
              ) -> dict[str, list[str]]:
    """Identifiers already held by an active order, each named with that order's reference."""
    errors: dict[str, list[str]] = {}
    own = {"client": except_client.pk} if except_client is not None else {}
    lookups = [
        ("client_siren", FinancingOrderClient.objects.filter(siren__in=set(sirens)).exclude(pk=own.get("client")),
         "siren", "Le client SIREN {value} figure déjà dans le bon de commande {ref}."),
        ("pacs_identifiers", FinancingOrderPacs.objects.filter(identifier__in=set(pacs)), "identifier",
         "Le PACS « {value} » fait déjà l'objet du bon de commande {ref}."),
        ("finess_geographiques", FinancingOrderSite.objects.filter(finess_geographique__in=set(finess)).exclude(
            client_id=own.get("client")), "finess_geographique",
         "Le FINESS géographique {value} figure déjà dans le bon de commande {ref}."),
        ("am_numbers", FinancingOrderPhysician.objects.filter(am_number__in=set(am_numbers)).exclude(
            client_id=own.get("client")), "am_number",
         "Le numéro AM {value} figure déjà dans le bon de commande {ref}."),
    ]
    for key, queryset, column, message in lookups:
        for value, ref in queryset.filter(active=True).values_list(column, "order__reference").order_by(column):
            errors.setdefault(key, []).append(message.format(value=value, ref=ref))
    return errors


def _raise_conflicts(errors: dict[str, list[str]], *, race: bool) -> None:
    if not errors:
        return
    if race:  # two writers at once: the loser is told who won, as a 409
        messages = [message for field_messages in errors.values() for message in field_messages]
        raise Conflict(" ".join(messages), code="order_conflict", field_errors=errors)
    raise all_field_errors(errors)


def _conflicts_of(client: ClientData | None, pacs: list[str], *, except_client=None) -> dict[str, list[str]]:
    return conflicts(sirens=[client.siren] if client else [], pacs=pacs,
                     finess=client.finess_rows() if client else [], am_numbers=client.am_rows() if client else [],
                     except_client=except_client)


# --- Writes ----------------------------------------------------------------------------------------


def _client_snapshot(client: FinancingOrderClient) -> dict[str, Any]:
    return {**audit.snapshot(client, FinancingOrderClient.AUDITED_FIELDS),
            "finess": sorted(site.finess_geographique for site in client.sites.all()),
            "am": sorted(physician.am_number for physician in client.physicians.all())}


def _save_identifiers(order: FinancingOrder, row: FinancingOrderClient, client: ClientData) -> None:
    """Make the client's FINESS and AM rows exactly those of ``client`` (kept rows stay as they are)."""
    for model, column, wanted in ((FinancingOrderSite, "finess_geographique", client.finess_rows()),
                                  (FinancingOrderPhysician, "am_number", client.am_rows())):
        existing = {getattr(item, column): item for item in model.objects.filter(client=row)}
        model.objects.filter(pk__in=[item.pk for value, item in existing.items() if value not in wanted]).delete()
        for value, from_takeover in wanted.items():
            item = existing.get(value)
            if item is None:
                model.objects.create(order=order, client=row, active=order.is_active, from_takeover=from_takeover,
                                     **{column: value})
            elif item.from_takeover != from_takeover:
                item.from_takeover = from_takeover
                item.save(update_fields=["from_takeover"])


def _apply_client(row: FinancingOrderClient, client: ClientData) -> None:
    row.siren, row.name, row.activity_2023 = client.siren, client.name, client.activity_2023
    row.ris_wave, row.ris_order_reference = client.ris_wave, client.ris_order_reference
    if row.takeover_siren != client.takeover_siren:  # another structure: its proof no longer holds
        row.takeover_proof_file, row.takeover_proof_sha256 = "", ""
    row.takeover_siren, row.takeover_name = client.takeover_siren, client.takeover_name


def _save_or_conflict(save, recheck):
    """Run ``save`` in a savepoint; a unique constraint lost to a concurrent writer becomes a 409 naming the
    order that won (``recheck`` finds it once the savepoint is rolled back)."""
    try:
        with transaction.atomic():
            return save()
    except IntegrityError as exc:
        found = recheck()
        if not found:
            raise Conflict("Un autre bon de commande vient d'être enregistré avec ces données ; rechargez la page.",
                           code="order_conflict") from exc
        _raise_conflicts(found, race=True)
        raise


def create_financing_order(*, acting_user: User, operator: Operator, reference: str,
                           pacs_identifiers: str | Iterable[str], client: ClientData | Mapping[str, Any],
                           signed_order: UploadedFile | None = None) -> FinancingOrder:
    """Record an order with its first client and its PACS; more clients join with ``add_order_client``."""
    permissions.require(acting_user, "order.manage", operator)
    client = client if isinstance(client, ClientData) else ClientData.from_fields(client)
    pacs = pacs_list(pacs_identifiers)
    reference = (reference or "").strip()
    _check_text(reference=reference, pacs=pacs, client=client)
    order = FinancingOrder(operator=operator, reference=reference, created_by=acting_user)
    errors: dict[str, list[str]] = {}
    try:
        order.full_clean(exclude=["operator", "created_by"])
    except ValidationError as exc:
        errors.update({name: list(messages) for name, messages in exc.message_dict.items()})
    _check_pacs(pacs, errors, required=True)
    _check_client(client, errors)
    if errors:
        raise all_field_errors(errors)
    if signed_order is not None:
        validate_pdf(signed_order, field="signed_order", label=DocumentKind.LABELS[DocumentKind.SIGNED_ORDER])
    _raise_conflicts(_conflicts_of(client, pacs), race=False)

    def save() -> FinancingOrder:
        order.save()
        for identifier in pacs:
            FinancingOrderPacs.objects.create(order=order, identifier=identifier)
        row = FinancingOrderClient(order=order)
        _apply_client(row, client)
        row.save()
        _save_identifiers(order, row, client)
        if signed_order is not None:
            _store_pdf(order, "signed_", signed_order)
            order.save()
        return order

    with transaction.atomic():
        ensure_contract_accepted(operator)
        order = _save_or_conflict(save, lambda: _conflicts_of(client, pacs) or (
            {"reference": ["Un bon de commande porte déjà cette référence."]}
            if FinancingOrder.objects.filter(reference=order.reference).exists() else {}))
        row = order.clients.get()
        audit.record(actor=acting_user, action="financing_order.created", obj=order, operator_id=operator.pk,
                     after={**audit.snapshot(order, FinancingOrder.AUDITED_FIELDS), "pacs": pacs,
                            "client": _client_snapshot(row)})
    return order


def _locked(order: FinancingOrder, acting_user: User) -> FinancingOrder:
    """The order locked for a change by its operator's managers (or ANS); a closed order changes no more."""
    order = FinancingOrder.objects.select_for_update(of=("self",)).select_related("operator").get(pk=order.pk)
    if not acting_user.is_ans_admin:
        permissions.require(acting_user, "order.manage", order.operator)
    if not order.is_active:
        raise Conflict(f"Le bon de commande {order.reference} est clos : il ne peut plus changer.",
                       code="order_closed")
    return order


def require_order_manager(order: FinancingOrder, acting_user: User) -> None:
    """An order is changed by its operator's legal representatives and mandataires, or by ANS."""
    if not acting_user.is_ans_admin:
        permissions.require(acting_user, "order.manage", order.operator)


def add_order_client(order: FinancingOrder, *, acting_user: User,
                     client: ClientData | Mapping[str, Any]) -> FinancingOrderClient:
    """A further client shares the order (and its DRIMboxes); it signs the same order (its signature page)."""
    require_order_manager(order, acting_user)
    client = client if isinstance(client, ClientData) else ClientData.from_fields(client)
    _check_text(client=client)
    errors: dict[str, list[str]] = {}
    _check_client(client, errors)
    if errors:
        raise all_field_errors(errors)
    _raise_conflicts(_conflicts_of(client, []), race=False)
    with transaction.atomic():
        order = _locked(order, acting_user)

        def save() -> FinancingOrderClient:
            row = FinancingOrderClient(order=order)
            _apply_client(row, client)
            row.save()
            _save_identifiers(order, row, client)
            return row

        row = _save_or_conflict(save, lambda: _conflicts_of(client, []))
        audit.record(actor=acting_user, action="financing_order.client_added", obj=order,
                     operator_id=order.operator_id, after=_client_snapshot(row))
    return row


def update_order_client(row: FinancingOrderClient, *, acting_user: User,
                        client: ClientData | Mapping[str, Any]) -> FinancingOrderClient:
    """Complete or correct a client (an order recorded before these rules lacks its 2023 activity and RIS)."""
    require_order_manager(row.order, acting_user)
    client = client if isinstance(client, ClientData) else ClientData.from_fields(client)
    _check_text(client=client)
    errors: dict[str, list[str]] = {}
    _check_client(client, errors)
    if errors:
        raise all_field_errors(errors)
    _raise_conflicts(_conflicts_of(client, [], except_client=row), race=False)
    with transaction.atomic():
        order = _locked(row.order, acting_user)
        row = FinancingOrderClient.objects.select_for_update().get(pk=row.pk, order=order)
        before = _client_snapshot(row)

        def save() -> FinancingOrderClient:
            _apply_client(row, client)
            row.save()
            _save_identifiers(order, row, client)
            return row

        row = _save_or_conflict(save, lambda: _conflicts_of(client, [], except_client=row))
        audit.record(actor=acting_user, action="financing_order.client_updated", obj=order,
                     operator_id=order.operator_id, before=before, after=_client_snapshot(row))
    return row


def add_order_pacs(order: FinancingOrder, *, acting_user: User,
                   pacs_identifiers: str | Iterable[str]) -> FinancingOrder:
    require_order_manager(order, acting_user)
    pacs = pacs_list(pacs_identifiers)
    _check_text(pacs=pacs)
    errors: dict[str, list[str]] = {}
    _check_pacs(pacs, errors, required=True)
    if errors:
        raise all_field_errors(errors)
    _raise_conflicts(_conflicts_of(None, pacs), race=False)
    with transaction.atomic():
        order = _locked(order, acting_user)

        def save() -> FinancingOrder:
            for identifier in pacs:
                FinancingOrderPacs.objects.create(order=order, identifier=identifier)
            return order

        _save_or_conflict(save, lambda: _conflicts_of(None, pacs))
        audit.record(actor=acting_user, action="financing_order.pacs_added", obj=order,
                     operator_id=order.operator_id, after={"pacs": pacs})
    return order


def _store_pdf(target: FinancingOrder | FinancingOrderClient, prefix: str, uploaded: UploadedFile) -> None:
    setattr(target, f"{prefix}sha256", file_sha256(uploaded))
    getattr(target, f"{prefix}file").save("document.pdf", uploaded, save=False)
    if isinstance(target, FinancingOrder):
        target.signed_original_name = shown_file_name(uploaded, "bon-de-commande.pdf")
        target.signed_uploaded_at = timezone.now()


def attach_order_document(order: FinancingOrder, *, acting_user: User, kind: str, uploaded_file: UploadedFile | None,
                          client: FinancingOrderClient | None = None) -> FinancingOrder:
    """Attach the signed order, a client's signature page or a take-over proof (PDF, size-limited)."""
    require_order_manager(order, acting_user)
    if kind not in DocumentKind.LABELS:
        raise InvalidData("Type de document inconnu.", field_errors={"kind": ["Type de document inconnu."]})
    if kind != DocumentKind.SIGNED_ORDER and client is None:
        raise InvalidData("Indiquez le client concerné.", field_errors={"client": ["Indiquez le client concerné."]})
    validate_pdf(uploaded_file, field="file", label=DocumentKind.LABELS[kind])
    with transaction.atomic():
        order = _locked(order, acting_user)
        if kind == DocumentKind.SIGNED_ORDER:
            target: FinancingOrder | FinancingOrderClient = order
            prefix = "signed_"
        else:
            target = FinancingOrderClient.objects.select_for_update().get(pk=client.pk, order=order)
            if kind == DocumentKind.TAKEOVER_PROOF and not target.takeover_siren:
                message = "Indiquez d'abord la structure reprise par ce client."
                raise InvalidData(message, field_errors={"kind": [message]})
            prefix = "takeover_proof_" if kind == DocumentKind.TAKEOVER_PROOF else "signature_"
        _store_pdf(target, prefix, uploaded_file)
        target.save()
        audit.record(actor=acting_user, action="financing_order.document_attached", obj=order,
                     operator_id=order.operator_id,
                     after={"kind": kind, "client": client.siren if client else None,
                            "sha256": getattr(target, f"{prefix}sha256")})
    return order


def close_financing_order(order: FinancingOrder, *, acting_user: User, reason: str) -> FinancingOrder:
    """ANS closes an order (a structure closed, an order replaced): its identifiers are free again.
    Refused while a DRIMbox it funds is still in the trust space."""
    require_ans_admin(acting_user)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidData("Le motif de clôture est obligatoire.",
                          field_errors={"reason": ["Le motif de clôture est obligatoire."]})
    validate_display_text({"reason": reason}, multiline={"reason"}, labels={"reason": "motif de clôture"})
    with transaction.atomic():
        order = FinancingOrder.objects.select_for_update().get(pk=order.pk)
        funded = Drimbox.objects.filter(financing_order=order).exclude(status=DrimboxStatus.WITHDRAWN)
        if funded.exists():
            numbers = ", ".join(str(n) for n in funded.values_list("identifiant", flat=True))
            raise Conflict(f"Le bon de commande {order.reference} finance encore les DRIMbox {numbers} : retirez-les "
                           "ou rattachez-les à un autre bon avant de le clore.", code="order_in_use")
        before = audit.snapshot(order, FinancingOrder.AUDITED_FIELDS)
        order.transition_to(FinancingOrderStatus.CLOSED)
        order.closed_reason, order.closed_at = reason, timezone.now()
        order.save()
        for model in (FinancingOrderClient, FinancingOrderPacs, FinancingOrderSite, FinancingOrderPhysician):
            model.objects.filter(order=order).update(active=False)
        audit.record(actor=acting_user, action="financing_order.closed", obj=order, operator_id=order.operator_id,
                     before=before, after=audit.snapshot(order, FinancingOrder.AUDITED_FIELDS), reason=reason)
    return order

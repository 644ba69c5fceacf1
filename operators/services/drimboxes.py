"""What approving a DRIMbox request does to the DRIMbox and the registry (DESIGN §4, §5).

Called by ``review.approve_request`` inside its transaction: declaration, operator switch, integration, update,
withdrawal and reintegration. DNS changes and notifications go through the outbox, after commit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from operators import integration
from operators.addresses import parse_addresses
from operators.models import (
    OPEN_STATUSES,
    STARTING_STATUSES,
    Drimbox,
    DrimboxRequest,
    DrimboxStatus,
    FinancingOrder,
    HealthStructure,
    Operator,
    PendingRevocation,
    PendingRevocationKind,
    PendingRevocationStatus,
    RequestKind,
    RequestStatus,
)
from operators.notify import notify_operator
from operators.registry import fqdns_for
from operators.request_data import has_viewer, order_of
from operators.services.documents import (
    close_open_va_documents,
    issue_attestation,
    open_va_document,
    supersede_attestations,
)
from operators.services.registry import next_identifiant, queue_drimbox_dns
from operators.services.timeline import audit_request, change_status
from trustspace import audit
from trustspace.errors import Conflict

if TYPE_CHECKING:
    from trustspace.models import User


def set_drimbox_status(drimbox: Drimbox, new_status: str, *, actor: User, reason: str) -> None:
    old = drimbox.status
    drimbox.transition_to(new_status)
    drimbox.updated_at = timezone.now()
    drimbox.save(update_fields=["status", "updated_at"])
    audit.record(actor=actor, action="drimbox.status_changed", obj=drimbox, operator_id=drimbox.operator_id,
                 before={"status": old}, after={"status": new_status}, reason=reason)


def release_drimbox(req: DrimboxRequest, *, actor: User) -> None:
    """An integration that stops (cancelled, rejected) returns its DRIMbox to « déclarée »."""
    if req.kind == RequestKind.INTEGRATION and req.drimbox_id:
        drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
        if drimbox.status == DrimboxStatus.INTEGRATING:
            set_drimbox_status(drimbox, DrimboxStatus.DECLARED, actor=actor, reason=req.reference)


def require_integration_checks(drimbox: Drimbox) -> None:
    failed = integration.failures(drimbox)
    if failed:
        message = "La DRIMbox ne peut pas entrer dans l'Espace de Confiance : " + " ; ".join(
            f"{item.label} — {item.detail}" for item in failed) + "."
        raise Conflict(message, code="integration_checks_failed")


def _structure_for(data: dict[str, Any]) -> HealthStructure:
    """The structure (SIREN, FINESS géographique) a declaration names, created on first use.

    A structure is shared by every operator that serves it: one operator's declaration never renames it.
    """
    structure, _created = HealthStructure.objects.get_or_create(
        siren=data["structure_siren"], finess_geographique=data.get("structure_finess_geographique", ""),
        defaults={"name": data["structure_name"], "finess_juridique": data.get("structure_finess_juridique", "")},
    )
    return structure


def _records(data: dict[str, Any], field: str, *, required: bool) -> list[list[str]]:
    return [list(record) for record in parse_addresses(data.get(field, ""), label="adresse " + field[:2],
                                                        required=required)]


def _vi_records(data: dict[str, Any], drimbox: Drimbox) -> list[list[str]]:
    # Without a viewer there is no vi name to give addresses to (clean_data refuses them already).
    return _records(data, "vi_addresses", required=False) if drimbox.has_viewer else []


def _drimbox_records(drimbox: Drimbox) -> dict[str, list[list[str]]]:
    records = {drimbox.db_fqdn: drimbox.db_records}
    if drimbox.vi_fqdn:
        records[drimbox.vi_fqdn] = drimbox.vi_records
    return records


def _apply_declaration(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    identifiant = next_identifiant()
    db_fqdn, vi_fqdn = fqdns_for(identifiant)
    viewer = has_viewer(req.kind, data)
    # Without a viewer only the db name is reserved; vi<N> stays free of records and certificates.
    drimbox = Drimbox.objects.create(
        identifiant=identifiant, site_label=settings.FQDN_SITE_LABEL, db_fqdn=db_fqdn,
        has_viewer=viewer, vi_fqdn=vi_fqdn if viewer else None,
        operator=req.operator, health_structure=_structure_for(data), financing_order=order_of(data),
        eligibility_override_reason=req.eligibility_override_reason, pacs=data["pacs"],
        db_records=_records(data, "db_addresses", required=True),
        vi_records=_records(data, "vi_addresses", required=False) if viewer else [],
        responsable_contact=data.get("responsable_contact", ""), support_contact=data["support_contact"],
    )
    req.drimbox = drimbox
    audit.record(actor=actor, action="drimbox.declared", obj=drimbox, operator_id=drimbox.operator_id,
                 after=audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS), reason=req.reference)
    queue_drimbox_dns(drimbox, reason=f"déclaration {req.reference}")
    issue_attestation(req, drimbox)


def _apply_switch(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    # Requests before the DRIMbox: the order every other path takes its locks in (no deadlock).
    previous_id = Drimbox.objects.values_list("operator_id", flat=True).get(pk=req.drimbox_id)
    stale_requests = list(DrimboxRequest.objects.select_for_update().filter(
        drimbox_id=req.drimbox_id, operator_id=previous_id, status__in=OPEN_STATUSES).order_by("pk"))
    drimbox = Drimbox.objects.select_for_update().select_related("operator").get(pk=req.drimbox_id)
    if drimbox.operator_id != previous_id:
        raise Conflict("La DRIMbox vient de changer d'opérateur : rechargez la demande et recommencez.")
    previous = drimbox.operator
    was_withdrawn = drimbox.status == DrimboxStatus.WITHDRAWN
    before = audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS)
    old_records = _drimbox_records(drimbox)
    # The former operator's open requests on this DRIMbox no longer make sense.
    for stale in stale_requests:
        stale_old = change_status(stale, RequestStatus.CANCELLED, actor=actor,
                                  text=f"Annulée : la DRIMbox est reprise par {req.operator.name} ({req.reference}).")
        stale.save(update_fields=["status", "updated_at"])
        audit_request(stale, actor, "request.cancelled", before={"status": stale_old}, after={"status": stale.status},
                      reason=f"bascule {req.reference}")
    drimbox.operator = req.operator
    drimbox.health_structure = _structure_for(data)
    drimbox.financing_order = order_of(data)
    _transfer_order(drimbox.financing_order, previous, req, actor)
    drimbox.eligibility_override_reason = req.eligibility_override_reason
    drimbox.pacs = data["pacs"]
    drimbox.db_records = _records(data, "db_addresses", required=True)
    drimbox.vi_records = _vi_records(data, drimbox)
    drimbox.responsable_contact = data.get("responsable_contact", "")
    drimbox.support_contact = data["support_contact"]
    # The new operator goes through integration again (DESIGN §5).
    if drimbox.status != DrimboxStatus.DECLARED:
        drimbox.transition_to(DrimboxStatus.DECLARED)
    drimbox.integrated_at = None
    drimbox.withdrawn_at = None
    drimbox.updated_at = timezone.now()
    drimbox.save()
    audit.record(actor=actor, action="drimbox.switched", obj=drimbox, operator_id=drimbox.operator_id,
                 before=before, after=audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS), reason=req.reference)
    audit.record(actor=actor, action="drimbox.switched_away", obj=drimbox, operator_id=previous.pk,
                 after={"new_operator": req.operator.name}, reason=req.reference)
    close_open_va_documents(drimbox, actor=actor, reason=f"bascule {req.reference}")
    PendingRevocation.objects.create(drimbox=drimbox, previous_operator=previous, kind=PendingRevocationKind.SWITCH,
                                     reason=f"Bascule vers {req.operator.name} ({req.reference})")
    # A withdrawn DRIMbox's names are out of the zone: they all come back, whatever the records.
    queue_drimbox_dns(drimbox, reason=f"bascule {req.reference}",
                      only_changed_from=None if was_withdrawn else old_records)
    supersede_attestations(drimbox)
    issue_attestation(req, drimbox)
    notify_operator(
        previous.pk, subject=f"DRIMbox {drimbox.identifiant} reprise par un autre opérateur",
        template="operators/email/drimbox_switched_away.txt",
        context={"drimbox": drimbox, "previous": previous, "req": req}, event_type="drimbox.switched_away",
        drimbox=drimbox,
    )


def _transfer_order(order: FinancingOrder | None, previous: Operator, req: DrimboxRequest, actor: User) -> None:
    """The order follows the DRIMbox when the former operator has no other DRIMbox under it."""
    if order is None or order.operator_id != previous.pk:
        return
    if Drimbox.objects.filter(financing_order=order, operator=previous).exclude(pk=req.drimbox_id).exists():
        return
    order.operator = req.operator
    order.save(update_fields=["operator"])
    audit.record(actor=actor, action="financing_order.transferred", obj=order, operator_id=req.operator_id,
                 before={"operator": previous.pk}, after={"operator": req.operator_id}, reason=req.reference)


def _apply_integration(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
    require_integration_checks(drimbox)
    if drimbox.status == DrimboxStatus.DECLARED:
        set_drimbox_status(drimbox, DrimboxStatus.INTEGRATING, actor=actor, reason=req.reference)
    set_drimbox_status(drimbox, DrimboxStatus.ACTIVE, actor=actor, reason=req.reference)
    drimbox.integrated_at = timezone.now()
    drimbox.save(update_fields=["integrated_at"])
    open_va_document(req, drimbox)


def _apply_update(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    drimbox = Drimbox.objects.select_for_update().select_related("health_structure").get(pk=req.drimbox_id)
    if drimbox.status not in STARTING_STATUSES[RequestKind.UPDATE]:
        raise Conflict(f"La DRIMbox {drimbox.identifiant} est retirée : ses données ne peuvent plus être mises à jour.")
    before = audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS)
    old_records = _drimbox_records(drimbox)
    drimbox.db_records = _records(data, "db_addresses", required=True)
    drimbox.vi_records = _vi_records(data, drimbox)
    drimbox.responsable_contact = data.get("responsable_contact", "")
    drimbox.support_contact = data["support_contact"]
    drimbox.updated_at = timezone.now()
    drimbox.save()
    after = audit.snapshot(drimbox, Drimbox.AUDITED_FIELDS)
    audit.record(actor=actor, action="drimbox.updated", obj=drimbox, operator_id=drimbox.operator_id,
                 before={k: v for k, v in before.items() if after[k] != v},
                 after={k: v for k, v in after.items() if before[k] != v}, reason=req.reference)
    queue_drimbox_dns(drimbox, reason=f"mise à jour {req.reference}", only_changed_from=old_records)


def _apply_withdrawal(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
    set_drimbox_status(drimbox, DrimboxStatus.WITHDRAWN, actor=actor, reason=data.get("reason") or req.reference)
    drimbox.withdrawn_at = timezone.now()
    drimbox.save(update_fields=["withdrawn_at"])
    close_open_va_documents(drimbox, actor=actor, reason=f"retrait {req.reference}")
    # The FQDNs stay reserved forever (the row stays); only the zone forgets them.
    queue_drimbox_dns(drimbox, reason=f"retrait {req.reference}")
    PendingRevocation.objects.create(drimbox=drimbox, previous_operator=drimbox.operator,
                                     kind=PendingRevocationKind.WITHDRAWAL, reason=f"Retrait ({req.reference})")


def _apply_reintegration(req: DrimboxRequest, data: dict[str, Any], actor: User) -> None:
    drimbox = Drimbox.objects.select_for_update().get(pk=req.drimbox_id)
    drimbox.db_records = _records(data, "db_addresses", required=True)
    drimbox.vi_records = _vi_records(data, drimbox)
    drimbox.responsable_contact = data.get("responsable_contact", "")
    drimbox.support_contact = data["support_contact"]
    drimbox.withdrawn_at = None
    # Only a DRIMbox its operator had integrated goes straight back to the trust space; one withdrawn
    # before its integration (or taken over since) is declared again and goes through integration.
    integrated = drimbox.integrated_at is not None
    if integrated:
        require_integration_checks(drimbox)
        drimbox.integrated_at = timezone.now()
    drimbox.save(update_fields=["db_records", "vi_records", "responsable_contact", "support_contact",
                                "integrated_at", "withdrawn_at"])
    set_drimbox_status(drimbox, DrimboxStatus.ACTIVE if integrated else DrimboxStatus.DECLARED, actor=actor,
                       reason=req.reference)
    queue_drimbox_dns(drimbox, reason=f"réintégration {req.reference}")
    if integrated:
        open_va_document(req, drimbox)


# What approving each kind of DRIMbox request does (the applications' kinds: ``admission.APPLY``).
APPLY = {
    RequestKind.DECLARATION: _apply_declaration,
    RequestKind.SWITCH: _apply_switch,
    RequestKind.INTEGRATION: _apply_integration,
    RequestKind.UPDATE: _apply_update,
    RequestKind.WITHDRAWAL: _apply_withdrawal,
    RequestKind.REINTEGRATION: _apply_reintegration,
}


def complete_pending_revocation(pending_id: int, *, actor: User | str) -> bool:
    """Mark the revocations due after a switch or a withdrawal as done (audited); False if already done.
    ``actor``: the task that saw the last one revoked, or the ANS administrator who closed the last one without
    revocation (``certificates.services.close_impossible_revocation``)."""
    with transaction.atomic():
        pending = PendingRevocation.objects.select_for_update().filter(
            pk=pending_id, status=PendingRevocationStatus.OPEN).first()
        if pending is None:
            return False
        pending.transition_to(PendingRevocationStatus.DONE)
        pending.completed_at = timezone.now()
        pending.save(update_fields=["status", "completed_at"])
        audit.record(actor=actor, action="pending_revocation.completed", obj=pending,
                     operator_id=pending.previous_operator_id,
                     after={"kind": pending.kind, "drimbox": pending.drimbox_id})
    return True

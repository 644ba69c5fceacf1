"""The one write path of the operators app (DESIGN §3): callers write ``from operators import services``.

Each function checks permission, validates, saves in one transaction, writes the audit record in that
transaction and schedules side effects (e-mails, webhooks, DNS) through the outbox. Views, the API,
commands and tasks all call these functions; nothing else writes the operators' models. Inside the
package, modules import their siblings directly.
"""
from operators.services.contracts import (
    accept_contract,
    contract_status,
    ensure_contract_accepted,
    publish_contract_version,
)
from operators.services.documents import (
    find_attestation,
    record_ris_update,
    refuse_va,
    refuse_va_lifting,
    send_va_reminders,
    send_va_reservations_reminders,
    upload_va,
    upload_va_lifting,
    validate_va,
    validate_va_lifting,
)
from operators.services.drimboxes import complete_pending_revocation
from operators.services.financing_orders import (
    ClientData,
    DocumentKind,
    add_order_client,
    add_order_pacs,
    attach_order_document,
    close_financing_order,
    create_financing_order,
    update_order_client,
)
from operators.services.onboarding import apply_for_operator, edit_application
from operators.services.operators import (
    OPERATOR_EDITABLE_FIELDS,
    set_channels,
    update_operator,
    update_support_contact,
)
from operators.services.people import (
    accept_invitation,
    check_invitation_usable,
    expire_invitations,
    find_invitation,
    invite_person,
    needs_card,
    remove_membership,
    revoke_invitation,
)
from operators.services.registry import apply_dns_changes, next_identifiant, reconcile
from operators.services.requests import (
    DRIMBOX_REQUEST_KINDS,
    RequestKindOption,
    add_attachment,
    cancel_request,
    comment_request,
    create_request,
    initial_data,
    request_kinds_for,
    require_request_action,
    submit_request,
    update_request,
)
from operators.services.review import approve_request, assign_request, reject_request, request_changes

__all__ = [
    "DRIMBOX_REQUEST_KINDS",
    "OPERATOR_EDITABLE_FIELDS",
    "RequestKindOption",
    "accept_contract",
    "accept_invitation",
    "add_attachment",
    "apply_dns_changes",
    "apply_for_operator",
    "approve_request",
    "assign_request",
    "complete_pending_revocation",
    "cancel_request",
    "check_invitation_usable",
    "comment_request",
    "contract_status",
    "create_financing_order",
    "ClientData",
    "DocumentKind",
    "add_order_client",
    "add_order_pacs",
    "attach_order_document",
    "close_financing_order",
    "update_order_client",
    "create_request",
    "edit_application",
    "ensure_contract_accepted",
    "expire_invitations",
    "find_attestation",
    "find_invitation",
    "initial_data",
    "invite_person",
    "needs_card",
    "next_identifiant",
    "publish_contract_version",
    "reconcile",
    "record_ris_update",
    "refuse_va",
    "refuse_va_lifting",
    "reject_request",
    "remove_membership",
    "request_changes",
    "request_kinds_for",
    "require_request_action",
    "revoke_invitation",
    "send_va_reminders",
    "send_va_reservations_reminders",
    "set_channels",
    "submit_request",
    "update_operator",
    "update_request",
    "update_support_contact",
    "upload_va",
    "upload_va_lifting",
    "validate_va",
    "validate_va_lifting",
]

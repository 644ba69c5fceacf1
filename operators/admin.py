"""The operators' models on the portal's admin site, read-only: what ANS may need to inspect beyond its pages.

Invitation tokens are never shown (only their hash is stored, and even that stays out).
"""
from trustspace.admin import ReadOnlyAdmin, site

from .models import (
    Attestation,
    ContractAcceptance,
    ContractVersion,
    DnsChange,
    Drimbox,
    DrimboxRequest,
    FinancingOrder,
    FinancingOrderClient,
    FinancingOrderPacs,
    FinancingOrderPhysician,
    FinancingOrderSite,
    HealthStructure,
    Invitation,
    Membership,
    Operator,
    PendingRevocation,
    RequestAttachment,
    RequestEvent,
    VaDocument,
)


class OperatorAdmin(ReadOnlyAdmin):
    list_display = ["name", "siren", "id_nat_struct", "city"]
    search_fields = ["name", "siren", "id_nat_struct"]


class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["operator", "user", "role", "created_at", "ended_at"]
    list_filter = ["role"]


class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["operator", "email", "role", "status", "expires_at"]
    exclude = ["token_hash"]


class DrimboxAdmin(ReadOnlyAdmin):
    list_display = ["identifiant", "db_fqdn", "operator", "status"]
    list_filter = ["status"]
    search_fields = ["db_fqdn", "vi_fqdn", "operator__name"]


class DrimboxRequestAdmin(ReadOnlyAdmin):
    list_display = ["reference", "kind", "status", "operator", "created_by", "submitted_at"]
    list_filter = ["kind", "status"]
    search_fields = ["reference", "operator__name", "data__siren"]


class RequestEventAdmin(ReadOnlyAdmin):
    list_display = ["request", "kind", "at", "actor", "from_status", "to_status", "by_ans"]
    list_filter = ["kind", "by_ans"]
    search_fields = ["request__reference"]


class RequestAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["request", "kind", "original_name", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["request__reference", "sha256"]


class FinancingOrderSiteAdmin(ReadOnlyAdmin):
    list_display = ["finess_geographique", "order", "client", "active", "from_takeover"]
    search_fields = ["finess_geographique", "order__reference"]


class FinancingOrderPhysicianAdmin(ReadOnlyAdmin):
    list_display = ["am_number", "order", "client", "active", "from_takeover"]
    search_fields = ["am_number", "order__reference"]


class FinancingOrderClientAdmin(ReadOnlyAdmin):
    list_display = ["siren", "name", "order", "active", "activity_2023", "ris_wave", "takeover_siren"]
    search_fields = ["siren", "name", "order__reference"]


class FinancingOrderPacsAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "order", "active"]
    search_fields = ["identifier", "order__reference"]


class DnsChangeAdmin(ReadOnlyAdmin):
    list_display = ["name", "status", "attempts", "created_at", "applied_at"]
    list_filter = ["status"]


site.register(Operator, OperatorAdmin)
site.register(Membership, MembershipAdmin)
site.register(Invitation, InvitationAdmin)
site.register(Drimbox, DrimboxAdmin)
site.register(DrimboxRequest, DrimboxRequestAdmin)
site.register(RequestEvent, RequestEventAdmin)
site.register(RequestAttachment, RequestAttachmentAdmin)
site.register(FinancingOrderSite, FinancingOrderSiteAdmin)
site.register(FinancingOrderPhysician, FinancingOrderPhysicianAdmin)
site.register(FinancingOrderClient, FinancingOrderClientAdmin)
site.register(FinancingOrderPacs, FinancingOrderPacsAdmin)
site.register(DnsChange, DnsChangeAdmin)
# IdentifiantCounter is not listed: only SQLite uses it (PostgreSQL hands Identifiants out from a sequence).
for model in (ContractVersion, ContractAcceptance, HealthStructure, FinancingOrder, Attestation, VaDocument,
              PendingRevocation):
    site.register(model, ReadOnlyAdmin)

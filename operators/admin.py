from trustspace.admin import ReadOnlyAdmin, site

from .models import (
    ContractAcceptance,
    ContractVersion,
    Drimbox,
    HealthStructure,
    Invitation,
    Membership,
    Operator,
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


site.register(Operator, OperatorAdmin)
site.register(Membership, MembershipAdmin)
site.register(Invitation, InvitationAdmin)
for model in (ContractVersion, ContractAcceptance, HealthStructure, Drimbox):
    site.register(model, ReadOnlyAdmin)

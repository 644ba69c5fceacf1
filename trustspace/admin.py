"""The Django admin, for superusers only and read-only: every write goes through the services.

Every app registers its models on ``site`` with ``ReadOnlyAdmin``; secrets (password hashes, token hashes,
e-mail bodies and webhook secrets, replayed API answers) are never shown."""
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .models import (
    Alert,
    ApiToken,
    AuditEntry,
    AuditHead,
    BeatHeartbeat,
    FormSubmission,
    IdempotencyKey,
    OutboxMessage,
    User,
)


class PortalAdminSite(admin.AdminSite):
    site_header = "Espace de Confiance DRIM-M — super-administration (lecture seule)"

    def has_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "login")
            if not self.has_permission(request):
                raise PermissionDenied("Réservé aux super-administrateurs.")
            return inner(request, *args, **kwargs)

        return guarded

    def logout(self, request, extra_context=None):
        """« Déconnexion » in the admin is the portal's: the iSC session ends too (RP-initiated logout), not only
        the portal's, else « Se connecter avec iSC » would let the same person straight back in."""
        from .views.auth import logout

        return logout(request)

    def login(self, request, extra_context=None):
        # No password form here: people log in with iSC.
        if request.user.is_authenticated:
            raise PermissionDenied("Réservé aux super-administrateurs.")
        return redirect_to_login(request.get_full_path(), "login")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UserAdmin(ReadOnlyAdmin):
    list_display = ["username", "email", "first_name", "last_name", "oidc_sub", "is_ans_admin", "is_superuser"]
    search_fields = ["username", "email", "oidc_sub", "last_name"]
    exclude = ["password"]


class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "actor_label", "request_id"]


class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]


site = PortalAdminSite(name="admin")
site.register(User, UserAdmin)
site.register(AuditEntry, AuditEntryAdmin)
site.register(ApiToken, ApiTokenAdmin)


class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "status", "label", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["label", "dedup_key", "last_error"]
    exclude = ["payload"]  # e-mail bodies and encrypted webhook secrets: not for browsing


site.register(OutboxMessage, OutboxMessageAdmin)


class AuditHeadAdmin(ReadOnlyAdmin):
    """The end of the audit chain: what ``audit_verify`` and the anchors compare against."""

    list_display = ["id", "seq", "key_id", "hash"]


class AlertAdmin(ReadOnlyAdmin):
    list_display = ["key", "severity", "subject", "opened_at", "last_seen_at", "resolved_at"]
    list_filter = ["severity"]
    search_fields = ["key", "subject"]


class BeatHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["id", "beat_at", "holder"]


class FormSubmissionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "created_what", "redirect_url"]
    exclude = ["token"]


class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "principal", "method", "path", "completed", "status_code", "expires_at"]
    list_filter = ["completed", "method"]
    exclude = ["key", "body"]  # the replayed answer may hold a token secret shown once


site.register(AuditHead, AuditHeadAdmin)
site.register(Alert, AlertAdmin)
site.register(BeatHeartbeat, BeatHeartbeatAdmin)
site.register(FormSubmission, FormSubmissionAdmin)
site.register(IdempotencyKey, IdempotencyKeyAdmin)

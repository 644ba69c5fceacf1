"""Read-only admin views of the whitelist's GitHub rows: every change goes through the services."""
from django.contrib import admin

from .models import GitHubIssueRequest, GitHubPublication


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GitHubPublication)
class GitHubPublicationAdmin(ReadOnlyAdmin):
    list_display = ("version", "status", "mode", "repository", "pr_number", "attempts", "updated_at")
    list_filter = ("status", "mode")


@admin.register(GitHubIssueRequest)
class GitHubIssueRequestAdmin(ReadOnlyAdmin):
    list_display = ("issue_number", "repository", "kind", "status", "nom", "author_login", "github_created_at")
    list_filter = ("status", "kind")
    search_fields = ("nom", "dn_certificat_operateur", "author_login")

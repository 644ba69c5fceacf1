"""Read-only admin of the whitelist on the portal's admin site: every change goes through whitelist.services.

The lists' XML (up to 12 MB per version) is neither shown nor loaded: ANS downloads a version from its page.
No row here holds a secret (the GitHub token and signer keys live in the settings and the HSM).
"""
from trustspace.admin import ReadOnlyAdmin, site

from .models import (
    GitHubIntakeCursor,
    GitHubIssueRequest,
    GitHubPublication,
    PublishedEntry,
    SignerNotice,
    WhitelistVersion,
)


class WhitelistVersionAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "generated_at", "entry_count", "prepared_by", "approved_by", "published_at"]
    list_filter = ["status"]
    list_select_related = ["prepared_by", "approved_by"]
    exclude = ["unsigned_xml", "signed_xml"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("unsigned_xml", "signed_xml")


class PublishedEntryAdmin(ReadOnlyAdmin):
    list_display = ["identifiant", "date_maj", "published_at", "fields_sha256"]
    search_fields = ["identifiant"]


class SignerNoticeAdmin(ReadOnlyAdmin):
    list_display = ["sent_at", "kind", "subject", "fingerprint"]
    list_filter = ["kind"]


class GitHubPublicationAdmin(ReadOnlyAdmin):
    list_display = ["version", "status", "mode", "repository", "pr_number", "attempts", "updated_at"]
    list_filter = ["status", "mode"]
    list_select_related = ["version"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("version__unsigned_xml", "version__signed_xml")


class GitHubIssueRequestAdmin(ReadOnlyAdmin):
    list_display = ["issue_number", "repository", "kind", "status", "nom", "author_login", "github_created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["nom", "dn_certificat_operateur", "author_login"]


class GitHubIntakeCursorAdmin(ReadOnlyAdmin):
    list_display = ["repository", "polled_at"]


site.register(WhitelistVersion, WhitelistVersionAdmin)
site.register(PublishedEntry, PublishedEntryAdmin)
site.register(SignerNotice, SignerNoticeAdmin)
site.register(GitHubPublication, GitHubPublicationAdmin)
site.register(GitHubIssueRequest, GitHubIssueRequestAdmin)
site.register(GitHubIntakeCursor, GitHubIntakeCursorAdmin)

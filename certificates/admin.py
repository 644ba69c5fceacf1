"""The certificate inventory on the portal's read-only admin site (superusers), without secrets: no ACME
account key, no acme-dns password hash."""
from trustspace.admin import ReadOnlyAdmin, site

from .models import (
    AcmeAccount,
    AcmeDnsCredential,
    Certificate,
    CrlCache,
    ExpiryNotice,
    RefusedViCertificate,
    Revocation,
    ViOrder,
)


class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["serial", "kind", "source", "validation_level", "drimbox", "operator", "not_after", "superseded_at",
                    "revoked_at"]
    list_filter = ["kind", "source"]
    search_fields = ["serial", "fingerprint_sha256", "subject", "drimbox__identifiant", "operator__name"]


class ViOrderAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "operator", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["drimbox__identifiant", "operator__name"]


class RevocationAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "reason", "status", "deadline", "attempts", "done_at"]
    list_filter = ["status", "reason"]
    search_fields = ["certificate__serial", "certificate__drimbox__identifiant"]


class CrlCacheAdmin(ReadOnlyAdmin):
    list_display = ["url", "this_update", "next_update", "fetched_at", "last_attempt_at", "last_error"]
    exclude = ["der"]  # the CRL itself: binary, fetched again from its URL


class AcmeAccountAdmin(ReadOnlyAdmin):
    list_display = ["directory_url", "account_uri", "created_at"]
    exclude = ["key_encrypted"]


class AcmeDnsCredentialAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "username", "created_by", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["username", "drimbox__identifiant"]
    exclude = ["password_hash"]


class RefusedViCertificateAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "operator", "subject", "fingerprint_sha256", "not_after", "seen_at"]
    search_fields = ["fingerprint_sha256", "subject", "drimbox__identifiant", "operator__name"]


class ExpiryNoticeAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "threshold_days", "sent_at"]


site.register(Certificate, CertificateAdmin)
site.register(ViOrder, ViOrderAdmin)
site.register(Revocation, RevocationAdmin)
site.register(CrlCache, CrlCacheAdmin)
site.register(AcmeAccount, AcmeAccountAdmin)
site.register(AcmeDnsCredential, AcmeDnsCredentialAdmin)
site.register(ExpiryNotice, ExpiryNoticeAdmin)
site.register(RefusedViCertificate, RefusedViCertificateAdmin)

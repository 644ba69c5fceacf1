"""The whitelist's write path (DESIGN §7): every write of a whitelist model happens in this package.

Callers write ``from whitelist import services`` then ``services.prepare_version(...)``; inside the package,
modules import their siblings directly (``from whitelist.services.publication import ...``).
"""
from whitelist.services.intake import (
    decide,
    import_issue,
    linkable_requests,
    note_applied_issues,
    poll_issues,
    post_pending_comments,
)
from whitelist.services.publication import push_publication, request_publication, retry_due_publications
from whitelist.services.signer_notices import record_notice
from whitelist.services.versions import (
    PublicationRefused,
    abandon_version,
    approve_and_publish,
    entries_of,
    four_eyes,
    last_published,
    prepare_version,
    publication_problems,
    record_published,
    republish_on_github,
)

__all__ = [
    "PublicationRefused",
    "abandon_version",
    "approve_and_publish",
    "decide",
    "entries_of",
    "four_eyes",
    "import_issue",
    "last_published",
    "linkable_requests",
    "note_applied_issues",
    "poll_issues",
    "post_pending_comments",
    "prepare_version",
    "publication_problems",
    "push_publication",
    "record_notice",
    "record_published",
    "republish_on_github",
    "request_publication",
    "retry_due_publications",
]

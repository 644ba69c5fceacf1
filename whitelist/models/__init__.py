"""Whitelist (liste blanche) state (DESIGN §7). Only ``whitelist.services`` writes these models."""
from .github import (  # noqa: F401
    GitHubIntakeCursor,
    GitHubIssueKind,
    GitHubIssueRequest,
    GitHubIssueStatus,
    GitHubPublication,
    GitHubPublicationMode,
    GitHubPublicationStatus,
)
from .signer import SignerNotice, SignerNoticeKind  # noqa: F401
from .versions import PublishedEntry, WhitelistVersion, WhitelistVersionStatus  # noqa: F401

"""Status moves of the whitelist's rows go through transition_to: allowed moves, and the French refusals."""
import pytest

from trustspace.errors import Conflict
from whitelist.models import (
    GitHubIssueRequest,
    GitHubIssueStatus,
    GitHubPublication,
    GitHubPublicationStatus,
    WhitelistVersion,
    WhitelistVersionStatus,
)

V = WhitelistVersionStatus


def test_a_prepared_version_is_published_or_abandoned_and_nothing_else():
    assert WhitelistVersion.TRANSITIONS == {V.PREPARED: {V.PUBLISHED, V.ABANDONED}}
    version = WhitelistVersion(number=4, status=V.PREPARED)
    version.transition_to(V.PUBLISHED)
    assert version.status == V.PUBLISHED


@pytest.mark.parametrize("target, message", [
    (V.PUBLISHED, "La version 4 est publiée : elle ne peut plus être approuvée ni signée (une version signée est "
                  "immuable)."),
    (V.ABANDONED, "La version 4 est publiée : elle ne peut pas être abandonnée."),
])
def test_a_published_version_refuses_every_move(target, message):
    version = WhitelistVersion(number=4, status=V.PUBLISHED, signed_xml=b"<signed/>")
    with pytest.raises(Conflict) as refused:
        version.transition_to(target)
    assert refused.value.message == message and refused.value.code == "conflict"
    assert version.status == V.PUBLISHED


def test_a_signed_version_never_moves_even_if_marked_prepared():
    version = WhitelistVersion(number=5, status=V.PREPARED, signed_xml=b"<signed/>")
    assert not version.can_transition_to(V.ABANDONED)
    with pytest.raises(Conflict, match="elle ne peut pas être abandonnée"):
        version.transition_to(V.ABANDONED)


def test_only_a_request_to_review_is_decided():
    request = GitHubIssueRequest(repository="o/r", issue_number=7, status=GitHubIssueStatus.TO_REVIEW)
    request.transition_to(GitHubIssueStatus.REFUSED)
    with pytest.raises(Conflict) as refused:
        request.transition_to(GitHubIssueStatus.ACCEPTED)
    assert refused.value.message == "La demande GH-o/r#7 est refusée : elle a déjà été traitée."
    assert refused.value.code == "conflict"


def test_a_quarantined_request_is_answered_on_github_not_decided():
    request = GitHubIssueRequest(repository="o/r", issue_number=8, status=GitHubIssueStatus.QUARANTINED,
                                 quarantine_reason="Texte trop long.")
    with pytest.raises(Conflict) as refused:
        request.transition_to(GitHubIssueStatus.ACCEPTED)
    assert refused.value.message == ("La demande GH-o/r#8 est en quarantaine (Texte trop long.) : elle ne se décide "
                                     "pas dans le portail ; répondez sur l'issue GitHub.")


def test_a_published_github_publication_is_not_claimed_again():
    publication = GitHubPublication(status=GitHubPublicationStatus.PUBLISHED)
    with pytest.raises(Conflict) as refused:
        publication.transition_to(GitHubPublicationStatus.RUNNING)
    assert refused.value.code == "invalid_transition"
    publication.transition_to(GitHubPublicationStatus.PENDING)  # « Republier sur GitHub »
    publication.transition_to(GitHubPublicationStatus.RUNNING)
    assert publication.status == GitHubPublicationStatus.RUNNING

"""Celery tasks of the whitelist: GitHub publication (with its beat sweep) and GitHub issue intake."""
from celery import shared_task

from . import github_intake, github_publish
from .signer_watch import watch_signer_task  # noqa: F401  (daily beat: J-60/J-15, expiry, revocation)


@shared_task
def publish_to_github(publication_pk):
    """Push one version to GitHub (scheduled after the publication commits); failures are retried by the sweep."""
    outcome = github_publish.run(publication_pk)
    if outcome is None:
        return "rien à faire"
    return "publiée" if isinstance(outcome, github_publish.PushResult) else f"échec : {outcome.message}"


@shared_task
def retry_github_publications():
    """Beat: retry due failed publications (backoff), pending ones whose task was lost, abandoned runs."""
    if not github_publish.configured():
        return {"published": 0, "failed": 0}
    return github_publish.sweep()


@shared_task
def poll_github_issues():
    """Beat: import new issue-form requests from the repository and post the pending comments."""
    return github_intake.poll()


@shared_task
def post_github_comments(request_pk):
    """Post the comments a request still owes on its issue (receipt, decision)."""
    return github_intake.post_pending_comments(request_pk)

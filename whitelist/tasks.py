"""Celery tasks of the whitelist: GitHub publication (with its beat sweep) and GitHub issue intake."""
from celery import shared_task

from . import github_publish, services
from .signer_watch import watch_signer_task  # noqa: F401  (daily beat: J-60/J-15, expiry, revocation)


@shared_task
def publish_to_github(publication_pk):
    """Push one version to GitHub (scheduled after the publication commits); failures are retried by the sweep."""
    outcome = services.push_publication(publication_pk)
    if outcome is None:
        return "rien à faire"
    if isinstance(outcome, github_publish.Superseded):
        return f"remplacée : {outcome.message}"
    return "publiée" if isinstance(outcome, github_publish.PushResult) else f"échec : {outcome.message}"


@shared_task
def retry_github_publications():
    """Beat: retry due failed publications (backoff), pending ones whose task was lost, abandoned runs."""
    if not github_publish.configured():
        return {"published": 0, "failed": 0}
    return services.retry_due_publications()


@shared_task
def poll_github_issues():
    """Beat: import new issue-form requests from the repository and post the pending comments."""
    return services.poll_issues()


@shared_task
def post_github_comments(request_pk):
    """Post the comments a request still owes on its issue (receipt, decision)."""
    return services.post_pending_comments(request_pk)

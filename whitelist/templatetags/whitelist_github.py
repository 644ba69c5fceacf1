"""``{% github_requests_section %}``: the « Demandes reçues par GitHub » block of the ANS review queue;
``{% requested_on_github req %}``: « Demandée sur GitHub » on a portal request's page (the operators app may not
import the whitelist app; its templates may load this)."""
from django import template

from whitelist.models import GitHubIssueRequest, GitHubIssueStatus

register = template.Library()

SHOWN = 10


@register.inclusion_tag("whitelist/_review_queue_github.html")
def github_requests_section():
    waiting = GitHubIssueRequest.objects.filter(status=GitHubIssueStatus.TO_REVIEW)
    return {"waiting_count": waiting.count(),
            "waiting": list(waiting.select_related("drimbox").defer("body").order_by("github_created_at")[:SHOWN])}


@register.inclusion_tag("whitelist/_requested_on_github.html")
def requested_on_github(portal_request):
    """« Demandée sur GitHub »: the accepted issues a portal request carries (operators' request page)."""
    return {"issues": list(GitHubIssueRequest.objects.filter(portal_request=portal_request,
                                                             status=GitHubIssueStatus.ACCEPTED)
                           .select_related("applied_version").order_by("issue_number"))}

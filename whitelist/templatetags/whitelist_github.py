"""``{% github_requests_section %}``: the « Demandes reçues par GitHub » block of the ANS review queue."""
from django import template

from whitelist.models import GitHubIssueRequest, GitHubIssueStatus

register = template.Library()

SHOWN = 10


@register.inclusion_tag("whitelist/_review_queue_github.html")
def github_requests_section():
    waiting = GitHubIssueRequest.objects.filter(status=GitHubIssueStatus.TO_REVIEW)
    return {"waiting_count": waiting.count(),
            "waiting": list(waiting.select_related("drimbox").defer("body").order_by("github_created_at")[:SHOWN])}

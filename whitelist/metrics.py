"""Domain gauges of the whitelist (METRICS_COLLECTORS): the published version, its GitHub publication."""
from django.db.models import Count
from django.utils import timezone

from trustspace.metrics import age_seconds, gauge

from .models import GitHubPublication, GitHubPublicationStatus, WhitelistVersion, WhitelistVersionStatus


class WhitelistCollector:
    def collect(self):
        current = (WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED)
                   .order_by("-number").values("number", "published_at", "entry_count").first())
        yield gauge("whitelist_published_version", "Numéro de la version publiée de la liste blanche (0 : aucune).",
                    current["number"] if current else 0)
        yield gauge("whitelist_published_age_seconds", "Secondes depuis la publication de la version en vigueur.",
                    age_seconds(current["published_at"] if current else None, timezone.now()))
        yield gauge("whitelist_published_entries", "Entrées de la version publiée.",
                    current["entry_count"] if current else 0)
        counts = dict(GitHubPublication.objects.order_by().values_list("status").annotate(n=Count("pk")))
        by_status = gauge("whitelist_github_publications", "Publications GitHub par état.", labels=("status",))
        for status in GitHubPublicationStatus.values:
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        latest = (GitHubPublication.objects.filter(version__number=current["number"]).values("status").first()
                  if current else None)
        published = bool(latest) and latest["status"] == GitHubPublicationStatus.PUBLISHED
        yield gauge("whitelist_github_current_published",
                    "1 si la version en vigueur est publiée sur GitHub, 0 sinon (NaN : aucune version).",
                    float("nan") if current is None else float(published))

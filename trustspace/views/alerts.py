"""« ANS — Alertes »: the open alerts and the recently resolved ones (trustspace.alerts)."""
from django.shortcuts import render

from ..access import ANS_ADMIN, access
from ..models import Alert

RESOLVED_SHOWN = 50


@access(ANS_ADMIN)
def ans_alerts(request):
    open_alerts = Alert.objects.filter(resolved_at__isnull=True).order_by("-severity", "-opened_at", "-id")
    resolved = Alert.objects.filter(resolved_at__isnull=False).order_by("-resolved_at", "-id")[:RESOLVED_SHOWN]
    return render(request, "trustspace/ans_alerts.html",
                  {"open_alerts": list(open_alerts), "resolved": list(resolved), "resolved_shown": RESOLVED_SHOWN})

"""The site's information pages, linked from every footer (the DSFR's mandatory links): legal notice, personal
data, the accessibility statement (RGAA, « partiellement conforme ») and the site map of what the visitor can
reach. Public: 200 for everyone."""
from django.conf import settings
from django.shortcuts import render

from ..access import PUBLIC, access
from ..navigation import sitemap_sections

# Facts only ANS can state (its address, the publication director, the host): shown as such, never invented.
TO_COMPLETE = "[à compléter par l'ANS]"


def _breadcrumb(current):
    return {"breadcrumb_data": {"links": [], "current": current}}


@access(PUBLIC)
def legal_notice(request):
    return render(request, "trustspace/legal_notice.html", {"title": "Mentions légales", "to_complete": TO_COMPLETE,
                                                            **_breadcrumb("Mentions légales")})


@access(PUBLIC)
def personal_data(request):
    return render(request, "trustspace/personal_data.html", {
        "title": "Données personnelles", "to_complete": TO_COMPLETE,
        "session_hours": settings.SESSION_COOKIE_AGE // 3600,
        "weather_history_days": settings.WEATHER_HISTORY_DAYS,
        "outbox_keep_sent_days": settings.OUTBOX_KEEP_SENT_DAYS,
        **_breadcrumb("Données personnelles")})


@access(PUBLIC)
def accessibility(request):
    return render(request, "trustspace/accessibility.html", {
        "title": "Déclaration d'accessibilité", "to_complete": TO_COMPLETE,
        **_breadcrumb("Déclaration d'accessibilité")})


@access(PUBLIC)
def sitemap(request):
    return render(request, "trustspace/sitemap.html", {"title": "Plan du site", "sections": sitemap_sections(request),
                                                       **_breadcrumb("Plan du site")})

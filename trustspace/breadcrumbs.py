"""The DSFR breadcrumb (« fil d'Ariane ») of every page below the home, from one rule.

Accueil › the menu entry the page belongs to (``trustspace.navigation.section``: the same table as the header)
› the pages between that entry and this one, for the few pages two levels down (``INTERMEDIATE``, keyed by the
page's template, so a form sent back with its errors from an action URL keeps the trail of its page) › the page
itself, named by its title (the template's ``page_title`` block). The home pages (everyone's, ANS's work
waiting) have none.
"""
from collections.abc import Callable
from typing import Any

from django.urls import reverse

from . import navigation


def _drimbox(drimbox):
    return {"url": reverse("drimbox_detail", args=[drimbox.pk]), "title": f"DRIMbox {drimbox.identifiant}"}


def _drimbox_certificates(drimbox):
    return {"url": reverse("drimbox_certificates", args=[drimbox.pk]),
            "title": f"Certificats de la DRIMbox {drimbox.identifiant}"}


def _certificate(context):
    drimbox = context["certificate"].drimbox
    return [_drimbox_certificates(drimbox)] if drimbox else []


def _request_form(context):
    req = context.get("req")  # an edit; a new request has no page yet
    return [{"url": reverse("request_detail", args=[req.pk]), "title": f"Demande {req.reference}"}] if req else []


HOMES = ("home", "ans_home")  # URL names

# Template → the links between the menu entry and the page, from the page's context.
INTERMEDIATE: dict[str, Callable[[Any], list[dict]]] = {
    "certificates/drimbox_certificates.html": lambda context: [_drimbox(context["drimbox"])],
    "certificates/certificate_detail.html": _certificate,
    "operators/request_form.html": _request_form,
    "dashboards/drimbox_weather.html": lambda context: [_drimbox(context["drimbox"])],
}


def trail(request, template_name: str, context: Any, title: str) -> dict | None:
    """The ``dsfr_breadcrumb`` data of the page (``links`` after « Accueil », ``current``), None on the home;
    ``context`` is the template's (read with ``[]`` and ``get``)."""
    match = request.resolver_match
    if request.path == "/" or (match is not None and match.url_name in HOMES):
        return None
    links = []
    entry = navigation.section(request)
    if entry is not None and entry.url not in ("/", request.path):
        links.append({"url": entry.url, "title": entry.label})
    for link in INTERMEDIATE.get(template_name, lambda _context: [])(context):
        if link["url"] != request.path and all(link["url"] != known["url"] for known in links):
            links.append(link)
    return {"links": links, "current": title, "id": "fil-d-ariane"}

"""Atom feed of the incidents of the trust space (``?identifiant=N`` for one DRIMbox).

An entry's ``updated`` is its latest event (opening, acknowledgement, restoration), so feed readers
show it again when the operator acknowledges it or the DRIMbox is restored.
"""
from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape

from operators.validators import as_small_int
from trustspace.access import PUBLIC
from trustspace.paris_time import paris_datetime

from .history import trust_space_drimboxes
from .models import Incident


def _local(value):
    return paris_datetime(value)


class IncidentFeed(Feed):
    access_rule = PUBLIC
    feed_type = Atom1Feed
    title = "Météo des DRIMbox — incidents"
    subtitle = "Incidents des DRIMbox de l'Espace de Confiance DRIM-M : ouverture, prise en compte, rétablissement."

    def get_object(self, request, *args, **kwargs):
        identifiant = as_small_int(request.GET.get("identifiant", ""))
        if identifiant:
            return get_object_or_404(trust_space_drimboxes(), identifiant=identifiant)
        return None

    def link(self, obj):
        return reverse("weather_drimbox", args=[obj.identifiant]) if obj else reverse("weather")

    def feed_url(self, obj):
        url = reverse("weather_feed")
        return f"{url}?identifiant={obj.identifiant}" if obj else url

    def feed_guid(self, obj):
        return f"{settings.SITE_URL}{self.feed_url(obj)}"

    def items(self, obj):
        incidents = Incident.objects.select_related("drimbox__operator").order_by("-opened_at", "-id")
        incidents = incidents.filter(drimbox=obj) if obj else incidents.filter(drimbox__in=trust_space_drimboxes())
        return incidents[:getattr(settings, "WEATHER_FEED_ITEMS", 50)]

    def item_title(self, item):
        box = item.drimbox
        state = ("rétablie" if item.restored_at else "prise en compte" if item.acknowledged_at else "en cours")
        return f"DRIMbox {box.identifiant} ({box.db_fqdn}) indisponible — {state}"

    def item_description(self, item):
        box = item.drimbox
        lines = [f"Opérateur : {box.operator.name}.", f"Début : {_local(item.opened_at)}."]
        if item.reason:
            lines.append(f"Motif : {item.reason}.")
        if item.acknowledged_at:
            lines.append(f"Pris en compte par l'opérateur le {_local(item.acknowledged_at)}.")
        if item.restored_at:
            lines.append(f"Rétablie le {_local(item.restored_at)}.")
        return escape(" ".join(lines))  # the Atom summary is HTML

    def item_link(self, item):
        return f"{reverse('weather_drimbox', args=[item.drimbox.identifiant])}#incident-{item.pk}"

    def item_guid(self, item):
        return f"{settings.SITE_URL}/meteo/incidents/{item.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item.opened_at

    def item_updateddate(self, item):
        return max(t for t in (item.opened_at, item.acknowledged_at, item.restored_at) if t is not None)

    def item_author_name(self, item):
        return "Agence du Numérique en Santé"

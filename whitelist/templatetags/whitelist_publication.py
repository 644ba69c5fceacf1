"""``{% publication_state drimbox %}`` and ``{% pending_publication drimboxes as pending %}`` (the identifiants
among them waiting for a version): whether the published whitelist says what the portal says of a DRIMbox
(« en attente de publication » otherwise), for the DRIMbox pages of the operators app (which may not import the
whitelist app: templates may)."""
from django import template

from whitelist import pending
from whitelist.models import PublishedEntry

register = template.Library()


@register.inclusion_tag("whitelist/_publication_state.html")
def publication_state(drimbox):
    return {"drimbox": drimbox, "change": pending.publication_state(drimbox),
            "published": PublishedEntry.objects.filter(identifiant=drimbox.identifiant).exists()}


@register.simple_tag
def pending_publication(drimboxes):
    return pending.pending_identifiants([drimbox.pk for drimbox in drimboxes])

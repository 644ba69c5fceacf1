from functools import cached_property

from django.conf import settings

from .navigation import main_menu


class _SiteConfig(dict):
    __getattr__ = dict.get


SITE_CONFIG = _SiteConfig(
    site_title="Espace de Confiance DRIM-M",
    site_tagline="Agence du Numérique en Santé — portail des opérateurs de DRIMbox",
    header_brand_html="République<br>Française",
    footer_brand_html="République<br>Française",
    footer_description=("Portail d'administration de l'Espace de Confiance DRIM-M, opéré par l'Agence du Numérique "
                        "en Santé."),
    accessibility_status="PART",
)


class Navigation:
    """The header's menus for the request's visitor (``trustspace.navigation``), computed when a template asks."""

    def __init__(self, request):
        self._request = request

    @cached_property
    def _menus(self):
        return main_menu(self._request)

    @property
    def items(self):
        return self._menus[0]

    @property
    def account(self):
        return self._menus[1]


# The DSFR skip links (« Accès rapide », dsfr/base.html): each target is on every page of templates/base.html.
SKIP_LINKS = [{"link": "#content", "label": "Contenu"}, {"link": "#navigation", "label": "Menu"},
              {"link": "#footer", "label": "Pied de page"}]


def portal(request):
    """Site identity and menus for the DSFR templates (no database query of its own); the operator switcher comes
    from ``operators.context_processors``."""
    return {"SITE_CONFIG": SITE_CONFIG, "DEV_PASSWORD_LOGIN": settings.DEV_PASSWORD_LOGIN,
            "portal_nav": Navigation(request), "skiplinks": SKIP_LINKS}

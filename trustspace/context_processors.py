from django.conf import settings


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


def portal(request):
    """Site identity for the DSFR templates (no database query); the operator switcher comes from
    ``operators.context_processors``."""
    return {"SITE_CONFIG": SITE_CONFIG, "DEV_PASSWORD_LOGIN": settings.DEV_PASSWORD_LOGIN}

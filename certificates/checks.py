"""System checks of the certificate settings (``manage.py check --deploy``)."""
from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def certificate_production_settings(app_configs, **kwargs):
    problems = []
    if not settings.IGC_SANTE_ANCHORS_CONFIGURED:
        problems.append(Warning("IGC_SANTE_ANCHORS n'est pas défini : seule la hiérarchie IGC-Santé TEST est de "
                                "confiance. Nommez les fichiers PEM de la hiérarchie de production.",
                                id="certificates.W001"))
    if settings.ACME_DIRECTORY_URL and not settings.ACME_ACCOUNT_KEY_SECRET:
        problems.append(Warning("ACME_ACCOUNT_KEY_SECRET n'est pas défini : la clé du compte ACME ne peut pas être "
                                "chiffrée en base.", id="certificates.W002"))
    return problems

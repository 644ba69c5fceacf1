from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "certificates"
    verbose_name = "Certificats"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from operators import integration

        from .integration import certificate_checks

        integration.register(certificate_checks)
        from . import checks  # noqa: F401  (registers the system checks)

from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "certificates"
    verbose_name = "Certificats"
    default_auto_field = "django.db.models.BigAutoField"

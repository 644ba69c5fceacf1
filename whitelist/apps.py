from django.apps import AppConfig


class WhitelistConfig(AppConfig):
    name = "whitelist"
    verbose_name = "Liste blanche"
    default_auto_field = "django.db.models.BigAutoField"

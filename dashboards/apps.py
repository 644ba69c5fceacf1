from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Tableaux de bord"
    default_auto_field = "django.db.models.BigAutoField"

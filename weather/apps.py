from django.apps import AppConfig


class WeatherConfig(AppConfig):
    name = "weather"
    verbose_name = "Météo des DRIMbox"
    default_auto_field = "django.db.models.BigAutoField"

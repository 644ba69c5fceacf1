from django.urls import include, path

from . import feeds, views

urlpatterns = [
    path("meteo/", views.weather, name="weather"),
    path("meteo/<int:identifiant>/", views.drimbox_weather, name="weather_drimbox"),
    path("meteo/incidents.atom", feeds.IncidentFeed(), name="weather_feed"),
    path("meteo/badge/<int:identifiant>.svg", views.badge, name="weather_badge"),
    path("espace/meteo/", views.operator_weather, name="operator_weather"),
    path("espace/meteo/incidents/<int:pk>/prendre-en-compte/", views.operator_acknowledge,
         name="operator_weather_acknowledge"),
    path("espace/meteo/drimbox/<int:pk>/maintenance/", views.operator_maintenance, name="operator_weather_maintenance"),
    path("espace/meteo/maintenance/<int:pk>/annuler/", views.operator_maintenance_cancel,
         name="operator_weather_maintenance_cancel"),
    path("ans/meteo/", views.ans_weather, name="ans_weather"),
    path("", include("weather.urls_reports")),
]

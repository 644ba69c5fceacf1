from django.urls import path

from . import views

urlpatterns = [
    path("weather/", views.WeatherListView.as_view(), name="api_weather"),
    path("weather/incidents/", views.IncidentListView.as_view(), name="api_weather_incidents"),
    path("weather/incidents/<int:pk>/acknowledge/", views.IncidentAcknowledgeView.as_view(),
         name="api_weather_incident_acknowledge"),
    path("weather/maintenance/<int:pk>/cancel/", views.MaintenanceCancelView.as_view(),
         name="api_weather_maintenance_cancel"),
    path("weather/<int:identifiant>/", views.WeatherDetailView.as_view(), name="api_weather_drimbox"),
    path("weather/<int:identifiant>/maintenance/", views.MaintenanceListView.as_view(), name="api_weather_maintenance"),
]

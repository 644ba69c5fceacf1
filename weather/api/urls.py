from django.urls import path, re_path

from ..http_cache import public_cache
from . import policy, reports, views

urlpatterns = [
    path("weather/", public_cache(views.WeatherListView.as_view()), name="api_weather"),
    path("weather/incidents/", public_cache(views.IncidentListView.as_view()), name="api_weather_incidents"),
    path("weather/incidents/<int:pk>/acknowledge/", views.IncidentAcknowledgeView.as_view(),
         name="api_weather_incident_acknowledge"),
    path("weather/maintenance/<int:pk>/cancel/", views.MaintenanceCancelView.as_view(),
         name="api_weather_maintenance_cancel"),
    path("weather/<int:identifiant>/", public_cache(views.WeatherDetailView.as_view()), name="api_weather_drimbox"),
    path("weather/<int:identifiant>/maintenance/", views.MaintenanceListView.as_view(), name="api_weather_maintenance"),
    # PERF reports (files), for scripts with a token.
    re_path(r"^operators/(?P<pk>[0-9]{1,10})/perf/report\.(?P<fmt>csv|xlsx|pdf)$",
            reports.OperatorPerfReportView.as_view(), name="api_operator_perf_report"),
    re_path(r"^perf/report\.(?P<fmt>csv|xlsx|pdf)$", reports.AnsPerfReportView.as_view(), name="api_ans_perf_report"),
    # PERF report files laid out in the background (too large for a request): their state, then the file.
    path("operators/<int:pk>/perf/reports/<int:report>/", reports.OperatorPerfGeneratedView.as_view(),
         name="api_operator_perf_generated"),
    path("operators/<int:pk>/perf/reports/<int:report>/file", reports.OperatorPerfGeneratedFileView.as_view(),
         name="api_operator_perf_generated_file"),
    path("perf/reports/<int:report>/", reports.AnsPerfGeneratedView.as_view(), name="api_ans_perf_generated"),
    path("perf/reports/<int:report>/file", reports.AnsPerfGeneratedFileView.as_view(),
         name="api_ans_perf_generated_file"),
]

# The measurement policy (ANS) and PERF as JSON (operators: their DRIMboxes; ANS: every DRIMbox).
urlpatterns += [
    path("weather/policy/", policy.PolicyView.as_view(), name="api_weather_policy"),
    path("operators/<int:pk>/perf/", reports.OperatorPerfView.as_view(), name="api_operator_perf"),
    path("perf/", reports.AnsPerfView.as_view(), name="api_ans_perf"),
]

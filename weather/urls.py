"""Weather pages: public board, badge and feed; the operator's and ANS's weather; PERF reports and the policy."""
from django.urls import path, re_path

from . import feeds
from .http_cache import public_cache
from .views import board, incidents, reports

urlpatterns = [
    path("meteo/", board.weather, name="weather"),
    path("meteo/<int:identifiant>/", board.drimbox_weather, name="weather_drimbox"),
    path("meteo/incidents.atom", public_cache(feeds.IncidentFeed()), name="weather_feed"),
    path("meteo/badge/<int:identifiant>.svg", board.badge, name="weather_badge"),
    path("espace/meteo/", board.operator_weather, name="operator_weather"),
    path("espace/meteo/incidents/", incidents.operator_incidents, name="operator_incidents"),
    path("espace/meteo/incidents/<int:pk>/prendre-en-compte/", board.operator_acknowledge,
         name="operator_weather_acknowledge"),
    path("espace/meteo/drimbox/<int:pk>/maintenance/", board.operator_maintenance, name="operator_weather_maintenance"),
    path("espace/meteo/maintenance/<int:pk>/annuler/", board.operator_maintenance_cancel,
         name="operator_weather_maintenance_cancel"),
    path("ans/meteo/", board.ans_weather, name="ans_weather"),
    path("ans/meteo/incidents/", incidents.ans_incidents, name="ans_incidents"),
    # PERF reports (operators: their DRIMboxes; ANS: all) and the measurement policy page.
    path("espace/meteo/perf/", reports.operator_perf, name="operator_perf"),
    re_path(r"^espace/meteo/perf/rapport\.(?P<fmt>csv|xlsx|pdf)$", reports.operator_perf_download,
            name="operator_perf_download"),
    # Reports laid out by a worker (too large for a request): « en préparation », then the file.
    path("espace/meteo/perf/rapports/<int:pk>/", reports.operator_perf_generated, name="operator_perf_generated"),
    path("espace/meteo/perf/rapports/<int:pk>/fichier", reports.operator_perf_generated_file,
         name="operator_perf_generated_file"),
    path("ans/meteo/perf/", reports.ans_perf, name="ans_perf"),
    re_path(r"^ans/meteo/perf/rapport\.(?P<fmt>csv|xlsx|pdf)$", reports.ans_perf_download,
            name="ans_perf_download"),
    path("ans/meteo/perf/rapports/<int:pk>/", reports.ans_perf_generated, name="ans_perf_generated"),
    path("ans/meteo/perf/rapports/<int:pk>/fichier", reports.ans_perf_generated_file, name="ans_perf_generated_file"),
    path("ans/meteo/politique/", reports.measurement_policy, name="ans_measurement_policy"),
]

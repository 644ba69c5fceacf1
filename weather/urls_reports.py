"""PERF reports (operators: their DRIMboxes; ANS: all) and the measurement policy page."""
from django.urls import path, re_path

from . import views_reports

urlpatterns = [
    path("espace/meteo/perf/", views_reports.operator_perf, name="operator_perf"),
    re_path(r"^espace/meteo/perf/rapport\.(?P<fmt>csv|xlsx|pdf)$", views_reports.operator_perf_download,
            name="operator_perf_download"),
    path("ans/meteo/perf/", views_reports.ans_perf, name="ans_perf"),
    re_path(r"^ans/meteo/perf/rapport\.(?P<fmt>csv|xlsx|pdf)$", views_reports.ans_perf_download,
            name="ans_perf_download"),
    path("ans/meteo/politique/", views_reports.measurement_policy, name="ans_measurement_policy"),
]

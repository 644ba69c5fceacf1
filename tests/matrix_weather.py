"""Authorization matrix entries merged into ``tests/test_authorization_matrix.MATRIX`` (same format).

Objects belong to operator A: an active DRIMbox written through the ORM (``tests.support.weather``) with
an open incident and a future maintenance window. Public pages and the public API answer everyone;
operator pages answer the people of A (404 for B's legal representative, the ANS administrator is sent
home: ANS follows the weather from /ans/meteo/ and never acts in an operator's name, 403 in the API).
"""
from datetime import timedelta

from django.utils import timezone

from tests.support import weather as wx
from weather.models import Incident, MaintenanceWindow

ROLES = ("anonymous", "other", "technical", "legal", "ans")
LOGIN = ("redirect", "/connexion/")
HOME = ("redirect", "/")
EVERYONE = {role: 200 for role in ROLES}


def _box(w):
    if not hasattr(w, "weather_box"):
        w.weather_box = wx.make_drimboxes(w.operator, 1)[0]
        now = timezone.now()
        w.weather_incident = wx.incident(w.weather_box, now - timedelta(minutes=15))
        w.weather_window = wx.maintenance(w.weather_box, w.technical, now + timedelta(days=1),
                                          now + timedelta(days=1, hours=2))
    return w.weather_box


def _identifiant(w):
    return {"identifiant": _box(w).identifiant}


def _box_pk(w):
    return {"pk": _box(w).pk}


def _incident_pk(w):
    _box(w)
    return {"pk": w.weather_incident.pk}


def _window_pk(w):
    _box(w)
    return {"pk": w.weather_window.pk}


def _form_period(w):
    start = timezone.localtime(timezone.now() + timedelta(days=3))
    return {"starts_at": f"{start:%Y-%m-%dT%H:%M}", "ends_at": f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}",
            "reason": "Mise à jour"}


def _api_period(w):
    start = timezone.now() + timedelta(days=3)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat(),
            "reason": "Mise à jour"}


def _acknowledged(expected):
    return lambda w: (Incident.objects.get(pk=w.weather_incident.pk).acknowledged_at is not None) == expected


def _windows(expected):
    return lambda w: (MaintenanceWindow.objects.filter(drimbox=w.weather_box, cancelled_at__isnull=True).count()
                      == expected)


def _per_role(allowed, denied):
    return {role: (allowed if role in ("technical", "legal") else denied) for role in ROLES}


OPERATOR_POST = {"anonymous": LOGIN, "other": 404, "ans": HOME}
API_WRITE = {"anonymous": 401, "other": 404, "ans": 403}

WEATHER_MATRIX = {
    # Public pages
    "weather": ("get", None, None, EVERYONE),
    "weather_drimbox": ("get", _identifiant, None, EVERYONE),
    "weather_feed": ("get", None, None, EVERYONE),
    "weather_badge": ("get", _identifiant, None, EVERYONE),
    # Operator pages
    "operator_weather": ("get", None, None, {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200,
                                             "ans": HOME}),
    # The incident history (its rows: _box's open incident for A's people, none of A's for B's)
    "operator_incidents": ("get", lambda w: (_box(w), {})[1], None,
                           {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200, "ans": HOME}),
    "operator_weather_acknowledge": ("post", _incident_pk, None,
                                     {**OPERATOR_POST, "technical": ("redirect", "/espace/meteo/"),
                                      "legal": ("redirect", "/espace/meteo/")},
                                     _per_role(_acknowledged(True), _acknowledged(False))),
    "operator_weather_maintenance": ("post", _box_pk, _form_period,
                                     {**OPERATOR_POST, "technical": ("redirect", "/espace/meteo/drimbox/"),
                                      "legal": ("redirect", "/espace/meteo/drimbox/")},
                                     _per_role(_windows(2), _windows(1))),
    "operator_weather_maintenance_cancel": ("post", _window_pk, None,
                                            {**OPERATOR_POST, "technical": ("redirect", "/espace/meteo/drimbox/"),
                                             "legal": ("redirect", "/espace/meteo/drimbox/")},
                                            _per_role(_windows(0), _windows(1))),
    # ANS
    "ans_weather": ("get", None, None, {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": 200}),
    "ans_incidents": ("get", lambda w: (_box(w), {})[1], None,
                      {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": 200}),
    # API: public reading
    "api_weather": ("get", None, None, EVERYONE),
    "api_weather_drimbox": ("get", _identifiant, None, EVERYONE),
    "api_weather_incidents": ("get", None, None, EVERYONE),
    # API: operator writes
    "api_weather_incident_acknowledge": ("post", _incident_pk, lambda w: {"comment": "Vu"},
                                         {**API_WRITE, "technical": 200, "legal": 200},
                                         _per_role(_acknowledged(True), _acknowledged(False))),
    "api_weather_maintenance": ("get", _identifiant, None,
                                {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "api_weather_maintenance POST": ("post", _identifiant, _api_period, {**API_WRITE, "technical": 201, "legal": 201},
                                     _per_role(_windows(2), _windows(1))),
    "api_weather_maintenance_cancel": ("post", _window_pk, None, {**API_WRITE, "technical": 200, "legal": 200},
                                       _per_role(_windows(0), _windows(1))),
    # API: PERF reports (files, for scripts with a token)
    "api_operator_perf_report": ("get", lambda w: {"pk": w.operator.pk, "fmt": "csv"}, None,
                                 {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "api_ans_perf_report": ("get", lambda w: {"fmt": "xlsx"}, None,
                            {"anonymous": 401, "other": 403, "technical": 403, "legal": 403, "ans": 200}),
}

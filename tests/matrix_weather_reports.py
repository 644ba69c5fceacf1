"""Authorization matrix entries merged into ``tests/test_authorization_matrix.MATRIX`` (same format).

PERF reports: an operator's people see their own DRIMboxes only (operator B's legal representative gets a
page without anything of operator A: "own"); ANS pages and the measurement policy are for ANS only. The same
through the API: the policy and PERF across operators for ANS only, an operator's PERF for its people and ANS.
A report laid out in the background (page, file, API state) is reached by its operator's people and ANS only.
Operator A gets an active DRIMbox (written directly: the lifecycle is not under test) so that its name
would show in a leaking report.
"""

from django.core.files.base import ContentFile
from django.utils import timezone

from operators.models import Drimbox, DrimboxStatus, HealthStructure
from weather.clock import PARIS
from weather.models import GeneratedReport, GeneratedReportStatus, MeasurementPolicy

ROLES = ("anonymous", "other", "technical", "legal", "ans")
LOGIN = ("redirect", "/connexion/")
HOME = ("redirect", "/")
OPERATOR_GET = {"anonymous": LOGIN, "other": "own", "technical": 200, "legal": 200, "ans": HOME}
ANS_GET = {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": 200}
API_ANS = {"anonymous": 401, "other": 403, "technical": 403, "legal": 403, "ans": 200}


def _drimbox_of_a(w):
    if not hasattr(w, "perf_drimbox"):
        structure = HealthStructure.objects.create(name="Structure PERF", siren="732829320")
        w.perf_drimbox = Drimbox.objects.create(
            identifiant=9001, site_label="perf", db_fqdn="db9001.test.example.fr", vi_fqdn="vi9001.test.example.fr",
            operator=w.operator, health_structure=structure, pacs="PACS", support_contact="support@example.fr",
            status=DrimboxStatus.ACTIVE)
    return {}


def _download(fmt):
    def kwargs(w):
        _drimbox_of_a(w)
        return {"fmt": fmt}
    return kwargs


def _next_month_policy(w):
    local = timezone.now().astimezone(PARIS)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return {"reference_period": "month", "support_hours_only": "on", "effective_from": f"{year}-{month:02d}",
            "comment": "Matrice"}


def _next_month_policy_json(w):
    data = _next_month_policy(w)
    return {**data, "support_hours_only": True, "maintenance_counts": False}


def _operator_a(w):
    _drimbox_of_a(w)
    return {"pk": w.operator.pk}


def _generated_of_a(w):
    """A PERF report of operator A laid out in the background, ready (written directly: its run is not under test)."""
    if not hasattr(w, "generated_report"):
        w.generated_report = GeneratedReport(
            status=GeneratedReportStatus.READY, fmt="pdf", period_key="2025-03", period_label="mars 2025",
            operator=w.operator, scope_label=f"{w.operator.name} (SIREN {w.operator.siren})",
            filename=f"perf-2025-03-{w.operator.siren}.pdf", rows=1, closed_period=True, fingerprint="0" * 64,
            requested_by=w.legal, finished_at=timezone.now(), size=8)
        w.generated_report.file.save("perf.pdf", ContentFile(b"%PDF-1.7"), save=False)
        w.generated_report.save()
    return {"pk": w.generated_report.pk}


def _api_generated_of_a(w):
    return {"pk": w.operator.pk, "report": _generated_of_a(w)["pk"]}


def _api_generated(w):
    return {"report": _generated_of_a(w)["pk"]}


OPERATOR_OBJECT = {"anonymous": LOGIN, "other": 404, "technical": 200, "legal": 200, "ans": HOME}
API_OPERATOR_OBJECT = {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}


def _versions(expected):
    return lambda w: MeasurementPolicy.objects.count() == expected


WEATHER_REPORTS_MATRIX = {
    "operator_perf": ("get", _drimbox_of_a, None, OPERATOR_GET),
    "operator_perf_download": ("get", _download("csv"), None, OPERATOR_GET),
    "ans_perf": ("get", _drimbox_of_a, None, ANS_GET),
    "ans_perf_download": ("get", _download("xlsx"), None, ANS_GET),
    # A report laid out in the background: its page and its file (operator A's; ANS sees every one).
    "operator_perf_generated": ("get", _generated_of_a, None, OPERATOR_OBJECT),
    "operator_perf_generated_file": ("get", _generated_of_a, None, OPERATOR_OBJECT),
    "ans_perf_generated": ("get", _generated_of_a, None, ANS_GET),
    "ans_perf_generated_file": ("get", _generated_of_a, None, ANS_GET),
    "ans_measurement_policy": ("get", None, None, ANS_GET),
    "ans_measurement_policy POST": ("post", None, _next_month_policy,
                                    {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403,
                                     "ans": ("redirect", "/ans/meteo/politique/")},
                                    {"anonymous": _versions(1), "other": _versions(1), "technical": _versions(1),
                                     "legal": _versions(1), "ans": _versions(2)}),
    # API: the measurement policy (ANS), PERF as JSON (an operator's own DRIMboxes; ANS: all)
    "api_weather_policy": ("get", None, None, API_ANS),
    "api_weather_policy POST": ("post", None, _next_month_policy_json, {**API_ANS, "ans": 201},
                                {role: _versions(2 if role == "ans" else 1) for role in ROLES}),
    "api_operator_perf": ("get", _operator_a, None,
                          {"anonymous": 401, "other": 404, "technical": 200, "legal": 200, "ans": 200}),
    "api_ans_perf": ("get", _drimbox_of_a, None, API_ANS),
    "api_operator_perf_generated": ("get", _api_generated_of_a, None, API_OPERATOR_OBJECT),
    "api_operator_perf_generated_file": ("get", _api_generated_of_a, None, API_OPERATOR_OBJECT),
    "api_ans_perf_generated": ("get", _api_generated, None, API_ANS),
    "api_ans_perf_generated_file": ("get", _api_generated, None, API_ANS),
}

"""PERF report pages and downloads (operators: their own DRIMboxes; ANS: all), and the measurement policy.

Every page computes the report with ``weather.perf.compute`` (a fixed number of queries whatever the number
of DRIMboxes) and shows which policy version measured it. A bad period is a French message, never a 500.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from operators.context import active_operator
from operators.models import Operator
from trustspace.access import ANS_ADMIN, OPERATOR_MEMBER, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once
from weather import perf, reports, services
from weather.forms.reports import PolicyVersionForm
from weather.models import MeasurementPolicy
from weather.policy import first_of_month, month_start, policy_for

PAGE_SIZE = 100


def _period_key(request):
    return (request.GET.get("period") or "").strip() or perf.recent_periods(1)[0]


def _page_context(request, report, key, error):
    rows = report.rows if report is not None else []
    query = request.GET.copy()
    query.pop("page", None)
    query["period"] = key
    return {
        "report": report,
        "error": error,
        "period_key": key,
        "periods": perf.recent_periods(24),
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "summary": perf.summary(rows),
        "query": query.urlencode(),
        "formats": reports.FORMATS,
    }


def _compute(key, **kwargs):
    try:
        return perf.compute(key, **kwargs), ""
    except DomainError as exc:
        return None, exc.message


def _download(request, fmt, report, error, scope, suffix):
    if report is None:
        return render(request, "error.html", {"status": 400, "message": error}, status=400)
    response = HttpResponse(reports.render(report, fmt, scope), content_type=reports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{reports.filename(report, fmt, suffix)}"'
    return response


@access(OPERATOR_MEMBER)
def operator_perf(request):
    operator = active_operator(request)
    key = _period_key(request)
    report, error = _compute(key, operator=operator)
    context = _page_context(request, report, key, error)
    context["operator"] = operator
    return render(request, "weather/reports/operator_perf.html", context, status=400 if error else 200)


@access(OPERATOR_MEMBER)
def operator_perf_download(request, fmt):
    operator = active_operator(request)
    report, error = _compute(_period_key(request), operator=operator)
    return _download(request, fmt, report, error, f"{operator.name} (SIREN {operator.siren})", operator.siren)


def _selected_operator(request):
    """(operator or None, error message) from ``?operator=<pk>``."""
    raw = (request.GET.get("operator") or "").strip()
    if not raw:
        return None, ""
    operator = (Operator.objects.filter(pk=int(raw)).first()
                if raw.isascii() and raw.isdigit() and int(raw) < 2**31 else None)
    if operator is None:
        return None, "Opérateur inconnu : choisissez-en un dans la liste."
    return operator, ""


@access(ANS_ADMIN)
def ans_perf(request):
    key = _period_key(request)
    operator, error = _selected_operator(request)
    report = None
    if not error:
        report, error = _compute(key, operator=operator)
    context = _page_context(request, report, key, error)
    context.update({"operators": Operator.objects.order_by("name", "pk").only("pk", "name", "siren"),
                    "selected_operator": operator})
    return render(request, "weather/reports/ans_perf.html", context, status=400 if error else 200)


@access(ANS_ADMIN)
def ans_perf_download(request, fmt):
    operator, error = _selected_operator(request)
    report = None
    if not error:
        report, error = _compute(_period_key(request), operator=operator)
    scope = f"{operator.name} (SIREN {operator.siren})" if operator else "toutes les DRIMbox"
    return _download(request, fmt, report, error, scope, operator.siren if operator else "")


@access(ANS_ADMIN)
def measurement_policy(request):
    form = PolicyVersionForm(request.POST or None)
    if request.method == "POST" and (repeated := repeat_response(request, form, "ans_measurement_policy")):
        return repeated
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            effective_from = first_of_month(data["effective_from"])
        except ValueError:
            form.add_error("effective_from", "Mois invalide.")
        else:
            try:
                with submitted_once(request, form) as submission:
                    policy = services.create_policy_version(
                        acting_user=request.user, reference_period=data["reference_period"],
                        support_hours_only=data["support_hours_only"], maintenance_counts=data["maintenance_counts"],
                        effective_from=effective_from, comment=data["comment"])
                    submission.created(reverse("ans_measurement_policy"), "la version de la politique de mesure "
                                                                          "est créée")
            except AlreadySubmitted as repeat:
                return repeat.response(request, "ans_measurement_policy")
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, f"La version {policy.version} de la politique de mesure est créée ; elle "
                                          f"s'applique à partir du {effective_from:%d/%m/%Y}.")
                return redirect("ans_measurement_policy")
    versions = MeasurementPolicy.objects.select_related("created_by").order_by("-version")
    return render(request, "weather/reports/measurement_policy.html", {
        "form": form, "versions": versions, "current": policy_for(month_start(timezone.now())),
    })

"""PERF report pages and downloads (operators: their own DRIMboxes; ANS: all), and the measurement policy.

Every page computes the report with ``weather.perf.compute`` (a fixed number of queries whatever the number
of DRIMboxes) and shows which policy version measured it. A bad period is a French message, never a 500.

A PDF of more DRIMboxes than ``PERF_PDF_SYNC_MAX_ROWS`` is not laid out in the request (several ms of CPU per
DRIMbox: minutes for the whole trust space, beyond the proxy's timeout): the download answers with the stored file
when the same figures were already laid out, otherwise it sends the person to the « Rapport en préparation » page
of a worker's run (``weather.services.reports``), which refreshes itself and starts the download once the file is
ready. An operator's people reach only their operator's runs; ANS reaches all.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from operators.context import active_operator
from operators.models import Operator
from trustspace.access import ANS_ADMIN, OPERATOR_MEMBER, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once
from trustspace.paris_time import paris_date
from weather import perf, reports, services
from weather.forms.reports import PolicyVersionForm
from weather.models import GeneratedReport, GeneratedReportStatus, MeasurementPolicy
from weather.policy import first_of_month, month_start, policy_for
from weather.services import reports as reports_service

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
        "pdf_in_background": reports_service.in_background("pdf", rows),
    }


def _compute(key, **kwargs):
    try:
        return perf.compute(key, **kwargs), ""
    except DomainError as exc:
        return None, exc.message


def _download(request, fmt, report, error, scope, suffix, *, operator, status_page):
    if report is None:
        return render(request, "error.html", {"status": 400, "message": error}, status=400)
    name = reports.filename(report, fmt, suffix)
    if reports_service.in_background(fmt, report.rows):
        try:
            generated, _new = services.request_report(acting_user=request.user, report=report, fmt=fmt,
                                                      operator=operator, scope_label=scope, filename=name)
        except DomainError as exc:
            return render(request, "error.html", {"status": exc.status_code, "message": exc.message},
                          status=exc.status_code)
        if generated.status == GeneratedReportStatus.READY:
            return stored_file(generated)
        return redirect(status_page, pk=generated.pk)
    response = HttpResponse(reports.render(report, fmt, scope), content_type=reports.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def stored_file(generated):
    return FileResponse(generated.file.open("rb"), as_attachment=True, filename=generated.filename,
                        content_type=reports.CONTENT_TYPES[generated.fmt])


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
    return _download(request, fmt, report, error, f"{operator.name} (SIREN {operator.siren})", operator.siren,
                     operator=operator, status_page="operator_perf_generated")


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
    return _download(request, fmt, report, error, scope, operator.siren if operator else "", operator=operator,
                     status_page="ans_perf_generated")


# --- Reports laid out by a worker ----------------------------------------------------------------------------

def _generated_page(request, generated, *, page, download, file, perf_page):
    """« Rapport en préparation », then « Rapport prêt » (the download starts by itself when the person was waiting
    on this page), or the failure in French. The page refreshes itself with a ``<meta>`` (no script, so the CSP
    stays strict) unless the person stopped it (``?auto=0``: RGAA 13.1, a refresh the user can stop)."""
    failure = reports_service.failure(generated)
    failed = bool(failure)
    ready = generated.status == GeneratedReportStatus.READY
    waiting = not (ready or failed)
    auto = request.GET.get("auto") != "0"
    query = {"period": generated.period_key}
    if generated.operator_id and download == "ans_perf_download":
        query["operator"] = generated.operator_id
    again = f"{reverse(download, kwargs={'fmt': generated.fmt})}?{urlencode(query)}"
    here = reverse(page, kwargs={"pk": generated.pk})
    file_url = reverse(file, kwargs={"pk": generated.pk})
    refresh = ""
    if waiting and auto:
        refresh = f"{reports_service.POLL_SECONDS};url={here}?attente=1"
    elif ready and auto and request.GET.get("attente") == "1":
        refresh = f"0;url={file_url}"  # the person waited here: the download starts by itself, once
    title = "Rapport prêt" if ready else "Le rapport n'a pas pu être préparé" if failed else "Rapport en préparation"
    perf_url = f"{reverse(perf_page)}?{urlencode(query)}"
    return render(request, "weather/reports/generated_report.html", {
        "generated": generated, "title": title, "ready": ready, "failed": failed, "waiting": waiting,
        "failure": failure, "auto": auto, "refresh": refresh, "refresh_seconds": reports_service.POLL_SECONDS,
        "kept_until": reports_service.kept_until(generated),
        "here": here, "file_url": file_url, "again_url": again,
        "breadcrumb_data": {"links": [{"url": perf_url, "title": "Rapport PERF"}], "current": title},
    })


def _ready_file(queryset, pk):
    return stored_file(get_object_or_404(queryset, pk=pk, status=GeneratedReportStatus.READY))


@access(OPERATOR_MEMBER)
def operator_perf_generated(request, pk):
    generated = get_object_or_404(GeneratedReport, pk=pk, operator=active_operator(request))
    return _generated_page(request, generated, page="operator_perf_generated", download="operator_perf_download",
                           file="operator_perf_generated_file", perf_page="operator_perf")


@access(OPERATOR_MEMBER)
def operator_perf_generated_file(request, pk):
    return _ready_file(GeneratedReport.objects.filter(operator=active_operator(request)), pk)


@access(ANS_ADMIN)
def ans_perf_generated(request, pk):
    generated = get_object_or_404(GeneratedReport.objects.select_related("operator"), pk=pk)
    return _generated_page(request, generated, page="ans_perf_generated", download="ans_perf_download",
                           file="ans_perf_generated_file", perf_page="ans_perf")


@access(ANS_ADMIN)
def ans_perf_generated_file(request, pk):
    return _ready_file(GeneratedReport.objects.all(), pk)


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
                                          f"s'applique à partir du {paris_date(effective_from)}.")
                return redirect("ans_measurement_policy")
    versions = MeasurementPolicy.objects.select_related("created_by").order_by("-version")
    return render(request, "weather/reports/measurement_policy.html", {
        "form": form, "versions": versions, "current": policy_for(month_start(timezone.now())),
    })

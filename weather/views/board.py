"""Weather pages: the public weather (list, one DRIMbox, Atom feed in ``feeds``, badge), the operator's
weather (acknowledge incidents, declare and cancel maintenance) and the ANS overview.

Public pages show the trust space only (``history.trust_space_drimboxes``); operator pages show the
active operator's DRIMboxes (404 for anyone else's); every write goes through ``weather.services``.
List pages issue a fixed number of queries whatever the number of DRIMboxes.
"""
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from operators.context import active_operator
from operators.models import Operator
from operators.validators import as_small_int
from trustspace.access import ANS_ADMIN, OPERATOR_MEMBER, PUBLIC, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error, field_errors_for
from trustspace.idempotency import TOKEN_FIELD, AlreadySubmitted, repeat_response, submitted_once
from trustspace.paris_time import paris_datetime
from weather import badges, history, services
from weather.forms.board import (
    AcknowledgeForm,
    AnsFilterForm,
    MaintenanceCancelForm,
    MaintenanceForm,
    PublicFilterForm,
)
from weather.http_cache import public_cache
from weather.models import Incident, MaintenanceWindow, Transition, WeatherStatus

RECENT_INCIDENT_DAYS = 7


def page_size():
    return getattr(settings, "WEATHER_PAGE_SIZE", 50)


def _query_without_page(request):
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def search_filter(q):
    """An FQDN (prefix of the db or vi name) or an Identifiant."""
    q = (q or "").strip().lower().rstrip(".")
    if not q:
        return Q()
    match = Q(db_fqdn__startswith=q) | Q(vi_fqdn__startswith=q) | Q(db_fqdn__contains=f".{q}")
    if as_small_int(q):
        match |= Q(identifiant=as_small_int(q))
    return match


def _status_counts(drimboxes):
    counts = dict(drimboxes.order_by().values_list("display_status").annotate(n=Count("pk")))
    return [(status, label, counts.get(status, 0), badges.colour_of(status)) for status, label in WeatherStatus.choices]


def _labelled(page):
    for drimbox in page:
        drimbox.status_label = history.STATUS_LABELS.get(drimbox.display_status, drimbox.display_status)
    return page


def _with_bars(page, now, *, bar_width=4):
    """The 90-day bars of each DRIMbox of the page. At the width of the stored strips, a DRIMbox with its current
    strip (``DayStrip``: its closed days already drawn) has only today computed; the others every day."""
    drimboxes = _labelled(page)
    days = history.history_days()
    strips = {}
    if bar_width == badges.STRIP_BAR_WIDTH:
        first, today = history.window_days(now, days)
        strips = badges.stored_strips([d.pk for d in drimboxes], first, today - timedelta(days=1))
    computed = history.daily_history([d.pk for d in drimboxes if d.pk not in strips], now=now, seconds=False)
    today_only = history.daily_history(list(strips), now=now, days=1, seconds=False)
    for drimbox in drimboxes:
        title = f"Historique sur {days} jours de la DRIMbox {drimbox.identifiant} ({drimbox.db_fqdn})"
        if drimbox.pk in strips:
            svg = badges.history_svg(today_only[drimbox.pk], bar_width=bar_width, title=title, drawn_days=days - 1,
                                     drawn=strips[drimbox.pk])
        else:
            svg = badges.history_svg(computed[drimbox.pk], bar_width=bar_width, title=title)
        drimbox.bars = mark_safe(svg)  # noqa: S308 - every text is escaped by history_svg and strip_bars
    return page


# --- Public ---------------------------------------------------------------------------------------


@access(PUBLIC)
@public_cache
def weather(request):
    now = timezone.now()
    base = history.trust_space_drimboxes()
    operators = list(Operator.objects.filter(pk__in=base.values("operator")).order_by("name", "pk")
                     .values_list("pk", "name"))
    form = PublicFilterForm(request.GET or None, operators=operators)
    drimboxes = history.with_weather(base, now)
    counts = _status_counts(drimboxes)
    if form.is_valid():
        drimboxes = drimboxes.filter(search_filter(form.cleaned_data["q"]))
        if form.cleaned_data["operator"]:
            drimboxes = drimboxes.filter(operator_id=form.cleaned_data["operator"])
        if form.cleaned_data["status"]:
            drimboxes = drimboxes.filter(display_status=form.cleaned_data["status"])
    drimboxes = drimboxes.select_related("operator").order_by("identifiant")
    page = _with_bars(Paginator(drimboxes, page_size()).get_page(request.GET.get("page")), now)
    incidents = (Incident.objects.filter(drimbox__in=base)
                 .filter(Q(restored_at__isnull=True) | Q(restored_at__gte=now - timedelta(days=RECENT_INCIDENT_DAYS)))
                 .select_related("drimbox__operator").order_by("-opened_at", "-id")[:20])
    return render(request, "weather/public.html", {
        "form": form, "page": page, "query": _query_without_page(request), "counts": counts,
        "incidents": incidents, "legend": badges.LEGEND, "days": history.history_days(), "now": now,
        "recent_days": RECENT_INCIDENT_DAYS,
    })


def _public_drimbox(identifiant, now):
    return get_object_or_404(history.with_weather(history.trust_space_drimboxes(), now).select_related("operator"),
                             identifiant=identifiant)


@access(PUBLIC)
@public_cache
def drimbox_weather(request, identifiant):
    now = timezone.now()
    drimbox = _labelled([_public_drimbox(identifiant, now)])[0]
    cells = history.daily_history([drimbox.pk], now=now)[drimbox.pk]
    bars = badges.history_svg(cells, bar_width=6, height=32,
                              title=f"Historique sur {len(cells)} jours de la DRIMbox {drimbox.identifiant}")
    incidents = [history.incident_clocks(i, now) for i in
                 history.with_maintenance_flag(Incident.objects.filter(drimbox=drimbox))
                 .select_related("acknowledged_by").order_by("-opened_at")[:50]]
    windows = (MaintenanceWindow.objects.filter(drimbox=drimbox, cancelled_at__isnull=True,
                                                ends_at__gte=now - timedelta(days=history.history_days()))
               .order_by("-starts_at")[:50])
    transitions = Transition.objects.filter(drimbox=drimbox).order_by("-effective_at", "-id")[:20]
    return render(request, "weather/drimbox.html", {
        "drimbox": drimbox, "bars": mark_safe(bars), "cells": cells, "incidents": incidents,  # noqa: S308
        "windows": windows, "transitions": transitions, "legend": badges.LEGEND, "now": now,
        "availability": history.availability(cells), "days": len(cells),
    })


@access(PUBLIC)
@public_cache
def badge(request, identifiant):
    now = timezone.now()
    drimbox = _public_drimbox(identifiant, now)
    response = HttpResponse(badges.badge_svg(f"DRIMbox {drimbox.identifiant}", drimbox.display_status),
                            content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={getattr(settings, 'WEATHER_BADGE_MAX_AGE', 60)}"
    response["X-Content-Type-Options"] = "nosniff"
    # An SVG opened directly must not run anything, whatever its text.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response


# --- Operator -------------------------------------------------------------------------------------


def _operator_drimboxes(request):
    return active_operator(request).drimboxes.all()


def _operator_incidents(request):
    return Incident.objects.filter(drimbox__operator=active_operator(request))


@access(OPERATOR_MEMBER)
def operator_weather(request):
    return _operator_weather_page(request)


def _operator_weather_page(request, *, failed=None):
    """The operator's weather; ``failed``: (incident, its acknowledgement form sent with errors), shown again with
    them next to the field and summed up at the top."""
    now = timezone.now()
    operator = active_operator(request)
    drimboxes = (history.with_publication(history.with_weather(_operator_drimboxes(request), now))
                 .exclude(status="retiree").order_by("identifiant"))
    page = _with_bars(Paginator(drimboxes, page_size()).get_page(request.GET.get("page")), now, bar_width=3)
    incidents = [history.incident_clocks(i, now) for i in
                 history.with_publication(history.with_maintenance_flag(_operator_incidents(request).filter(
                     Q(restored_at__isnull=True) | Q(opened_at__gte=now - timedelta(days=30)))),
                     identifiant="drimbox__identifiant")
                 .select_related("drimbox", "acknowledged_by").order_by("-opened_at", "-id")[:50]]
    for incident in incidents:
        incident.acknowledge_form = (failed[1] if failed and failed[0].pk == incident.pk
                                     else AcknowledgeForm(incident=incident))
    windows = list(MaintenanceWindow.objects.filter(drimbox__operator=operator, cancelled_at__isnull=True,
                                                    ends_at__gt=now)
                   .select_related("drimbox", "declared_by").order_by("starts_at", "id")[:100])
    for window in windows:
        window.cancel_form = MaintenanceCancelForm(window=window)
    return render(request, "weather/operator.html", {
        "operator": operator, "page": page, "query": _query_without_page(request), "incidents": incidents,
        "windows": windows, "legend": badges.LEGEND, "now": now, "days": history.history_days(),
        "failed_form": failed[1] if failed else None,
    })


@access(OPERATOR_MEMBER)
@require_POST
def operator_acknowledge(request, pk):
    incident = get_object_or_404(_operator_incidents(request), pk=pk)
    page = reverse("operator_weather")
    form = AcknowledgeForm(request.POST, incident=incident)
    if repeated := repeat_response(request, form, page):
        return repeated
    if form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                services.acknowledge_incident(incident, acting_user=request.user,
                                              comment=form.cleaned_data["comment"])
                submission.created(page, f"l'incident de la DRIMbox {incident.drimbox.identifiant} est pris en compte")
        except AlreadySubmitted as repeat:
            return repeat.response(request, page)
        except DomainError as exc:
            if not field_errors_for(form, exc):
                messages.error(request, exc.message)
                return redirect(page)
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Incident de la DRIMbox {incident.drimbox.identifiant} pris en compte : "
                                      "le délai de GTI est arrêté.")
            return redirect(page)
    return _operator_weather_page(request, failed=(incident, form))


@access(OPERATOR_MEMBER)
def operator_maintenance(request, pk):
    drimbox = get_object_or_404(_operator_drimboxes(request), pk=pk)
    form = MaintenanceForm(request.POST or None)
    page = reverse("operator_weather_maintenance", kwargs={"pk": drimbox.pk})
    if request.method == "POST" and (repeated := repeat_response(request, form, page)):
        return repeated
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if name != TOKEN_FIELD}
        try:
            with submitted_once(request, form) as submission:
                window = services.declare_maintenance(drimbox, acting_user=request.user, **data)
                submission.created(page, "la maintenance est déclarée")
        except AlreadySubmitted as repeat:
            return repeat.response(request, page)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Maintenance déclarée pour la DRIMbox {drimbox.identifiant} du "
                                      f"{paris_datetime(window.starts_at)} au {paris_datetime(window.ends_at)}.")
            return redirect("operator_weather_maintenance", pk=drimbox.pk)
    windows = list(MaintenanceWindow.objects.filter(drimbox=drimbox).select_related("declared_by")
                   .order_by("-starts_at")[:50])
    for window in windows:
        window.cancel_form = MaintenanceCancelForm(window=window)
    return render(request, "weather/operator_maintenance.html", {
        "drimbox": drimbox, "form": form, "windows": windows, "now": timezone.now(),
        "max_hours": int(services.maintenance_max_length().total_seconds() // 3600),
    })


@access(OPERATOR_MEMBER)
@require_POST
def operator_maintenance_cancel(request, pk):
    window = get_object_or_404(MaintenanceWindow.objects.filter(drimbox__operator=active_operator(request))
                               .select_related("drimbox"), pk=pk)
    page = reverse("operator_weather_maintenance", kwargs={"pk": window.drimbox_id})
    form = MaintenanceCancelForm(request.POST, window=window)
    if repeated := repeat_response(request, form, page):
        return repeated
    if not form.is_valid():  # a malformed token: said on the page
        messages.error(request, " ".join(form.errors.get(TOKEN_FIELD, [])))
        return redirect(page)
    try:
        with submitted_once(request, form) as submission:
            window = services.cancel_maintenance(window, acting_user=request.user)
            submission.created(page, "la maintenance est déjà annulée" if window.cancelled_at else
                               "la maintenance est déjà terminée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Maintenance annulée." if window.cancelled_at else
                         "Maintenance terminée par anticipation.")
    return redirect("operator_weather_maintenance", pk=window.drimbox_id)


# --- ANS ------------------------------------------------------------------------------------------


@access(ANS_ADMIN)
def ans_weather(request):
    now = timezone.now()
    form = AnsFilterForm(request.GET or None)
    base = history.with_weather(history.trust_space_drimboxes(), now)
    counts = _status_counts(base)
    open_incidents = Incident.objects.filter(restored_at__isnull=True)
    drimboxes = base
    if form.is_valid():
        data = form.cleaned_data
        drimboxes = drimboxes.filter(search_filter(data["q"]))
        if data["operator"].strip():
            drimboxes = drimboxes.filter(operator__name__icontains=data["operator"].strip())
        if data["status"]:
            drimboxes = drimboxes.filter(display_status=data["status"])
        if data["incident"] == "ouvert":
            drimboxes = drimboxes.filter(pk__in=open_incidents.values("drimbox"))
        elif data["incident"] in ("gti_depassee", "gtr_depassee"):
            late = open_incidents.filter(history.overdue_filter(data["incident"][:3], now))
            drimboxes = drimboxes.filter(pk__in=late.values("drimbox"))
    drimboxes = drimboxes.select_related("operator").order_by("identifiant")
    page = Paginator(drimboxes, page_size()).get_page(request.GET.get("page"))
    _labelled(page)
    open_by_box = {i.drimbox_id: history.incident_clocks(i, now)
                   for i in history.with_maintenance_flag(open_incidents.filter(drimbox__in=[d.pk for d in page]))
                   .select_related("acknowledged_by")}
    for drimbox in page:
        drimbox.open_incident = open_by_box.get(drimbox.pk)
    late_counts = {kind: open_incidents.filter(history.overdue_filter(kind, now)).count() for kind in ("gti", "gtr")}
    return render(request, "weather/ans.html", {
        "form": form, "page": page, "query": _query_without_page(request), "counts": counts,
        "open_count": open_incidents.count(), "late_counts": late_counts, "now": now,
    })

"""The home pages and the DRIMbox pages that gather every app's data.

- ``home``: the public landing page; an applicant's page; the operator's home (the next steps each person can do,
  and who can do the others; the work waiting; every certificate's expiry, problems first; PERF per month);
  an ANS administrator without operator goes to ``ans_home``.
- ``ans_home``: the work waiting for ANS, as counts linking to the filtered lists.
- ``ans_drimbox``: everything about one DRIMbox for ANS (requests, certificates, DNS, weather, VA, audit).
- ``drimbox_weather``: one DRIMbox's weather and performance for its operator's people and ANS (PERF and Df per
  month, probe latency).
"""
from datetime import timedelta

from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from certificates.models import Certificate
from certificates.queries import EXPIRING_DAYS, dashboard, days_left
from operators import permissions
from operators.context import active_operator
from operators.journey import People, journey
from operators.models import OPEN_STATUSES, Membership
from operators.queries import applications_of, dns_history, dns_pending, visible_drimboxes
from trustspace.access import ANS_ADMIN, AUTHENTICATED, PUBLIC, access
from trustspace.history import describe
from trustspace.models import AuditEntry
from weather import history
from weather.models import Incident

from . import figures, work

HOME_CERTIFICATES = 20  # rows of the home's certificate table; the certificate dashboard has them all
AUDIT_ROWS = 20
URGENT_DAYS = 15  # the second expiry notice (J-15): shown in red
RECENT_VALIDITY = timedelta(days=92)  # a replaced certificate still drawn on the validity chart


def _crumbs(current, *links):
    """The DSFR breadcrumb below « Accueil » (the tag adds it)."""
    return {"links": [{"url": url, "title": title} for url, title in links], "current": current}


# --- Home --------------------------------------------------------------------------------------------------------

@access(PUBLIC)
def home(request):
    if not request.user.is_authenticated:
        return render(request, "operators/landing.html")
    operator = active_operator(request)
    if operator is None:
        if request.user.is_ans_admin:
            return redirect("ans_home")
        # A pending applicant sees where its application stands, and nothing of any operator.
        return render(request, "operators/no_operator.html", {
            "applications": applications_of(request.user).select_related("operator")[:20]})
    return render(request, "dashboards/operator_home.html", operator_home_context(request, operator))


def _certificate_rows(operator, now):
    """The operator's current certificates, soonest expiry first — the expired ones, then those expiring soon —
    and its DRIMboxes missing one, first of all."""
    sections = dashboard(operator.drimboxes.all(), Certificate.objects.filter(operator=operator), now=now)
    missing = list(sections["missing"][:HOME_CERTIFICATES])
    current = (Certificate.objects.filter(operator=operator, superseded_at__isnull=True, revoked_at__isnull=True)
               .exclude(drimbox__status="retiree").select_related("drimbox").defer("pem", "chain_pem", "checks")
               .order_by("not_after", "pk"))
    rows = []
    for certificate in current[:HOME_CERTIFICATES]:
        certificate.expired = certificate.not_after <= now
        certificate.days_left = days_left(certificate.not_after, now)
        certificate.level = ("error" if certificate.days_left <= URGENT_DAYS else
                             "warning" if certificate.days_left <= EXPIRING_DAYS else "success")
        rows.append(certificate)
    return missing, rows, current.count()


def operator_home_context(request, operator):
    now = timezone.now()
    user = request.user
    people = People.of(operator)
    steps, next_step = journey(operator, user, people)
    roles = permissions.roles_of(user, operator)
    missing, certificates, certificate_count = _certificate_rows(operator, now)
    certificates_qs = Certificate.objects.filter(operator=operator).exclude(drimbox__status="retiree")
    reports = figures.perf_history(operator=operator, now=now)
    return {
        "operator": operator, "steps": steps, "next_step": next_step,
        "waiting_on_others": [step for step in steps if not step.done and not step.can_act],
        "roles": [label for value, label in Membership._meta.get_field("role").choices if value in roles],
        "tasks": work.operator_tasks(user, operator, people, now),
        "missing_certificates": missing, "certificates": certificates, "certificate_count": certificate_count,
        "expiring_days": EXPIRING_DAYS,
        "expiry_figure": figures.expiry_figure(certificates_qs, now=now) if certificate_count else None,
        "perf_figure": figures.operator_perf_figure(reports) if any(r.rows for r in reports) else None,
        # Applications this user filed for another company, still under review.
        "applications": applications_of(user).filter(status__in=OPEN_STATUSES),
    }


@access(ANS_ADMIN)
def ans_home(request):
    return render(request, "dashboards/ans_home.html", {"cards": work.ans_cards(request.user),
                                                       "now": timezone.now()})


# --- One DRIMbox ---------------------------------------------------------------------------------------------

def _audit(drimbox, requests_, certificates, va_documents, incidents):
    """The audit rows about the DRIMbox and its requests, certificates, VA documents and incidents."""
    def about(model_label, ids):
        return Q(object_type=model_label, object_id__in=[str(pk) for pk in ids])

    wanted = (Q(object_type="operators.drimbox", object_id=str(drimbox.pk))
              | about("operators.drimboxrequest", [r.pk for r in requests_])
              | about("certificates.certificate", [c.pk for c in certificates])
              | about("operators.vadocument", [v.pk for v in va_documents])
              | about("weather.incident", [i.pk for i in incidents]))
    return describe(AuditEntry.objects.filter(wanted).order_by("-seq")[:AUDIT_ROWS])


def _weather_figures(drimbox, now):
    """PERF and Df per month (from the first month the weather knew the DRIMbox) and the latency."""
    history = figures.drimbox_perf_history(drimbox, now=now)
    return (figures.drimbox_perf_figure(history, drimbox) if history else None,
            figures.latency_figure(drimbox, now=now))


@access(ANS_ADMIN)
def ans_drimbox(request, pk):
    now = timezone.now()
    drimbox = get_object_or_404(
        history.with_publication(history.with_weather(visible_drimboxes(request.user), now))
        .select_related("operator", "health_structure", "financing_order").annotate(dns_pending=dns_pending()),
        pk=pk)
    drimbox.status_label = history.STATUS_LABELS.get(drimbox.display_status, drimbox.display_status)
    requests_ = list(drimbox.requests.select_related("operator", "assigned_to").order_by("-created_at", "-pk"))
    certificates = figures.certificate_list(drimbox.certificates.select_related("operator").order_by(
        "-created_at", "-pk"))
    va_documents = list(drimbox.va_documents.select_related("operator").order_by("-due_at"))
    incidents = [history.incident_clocks(i, now) for i in history.with_maintenance_flag(
        Incident.objects.filter(drimbox=drimbox)).select_related("acknowledged_by").order_by("-opened_at")[:10]]
    perf_figure, latency_figure = _weather_figures(drimbox, now)
    return render(request, "dashboards/ans_drimbox.html", {
        "drimbox": drimbox, "requests": requests_, "certificates": certificates, "va_documents": va_documents,
        "attestations": drimbox.attestations.all(), "dns_changes": dns_history(request.user, drimbox)[:10],
        "incidents": incidents, "incident_count": Incident.objects.filter(drimbox=drimbox).count(),
        "validity_figure": figures.validity_figure(
            drimbox, [c for c in certificates if c.superseded_at is None or c.not_after > now - RECENT_VALIDITY],
            now=now) if certificates else None,
        "perf_figure": perf_figure, "latency_figure": latency_figure,
        "audit": _audit(drimbox, requests_, certificates, va_documents, incidents), "now": now,
        "audit_url": f"{reverse('ans_history')}?objet={drimbox.db_fqdn}",
        "breadcrumb_data": _crumbs(f"DRIMbox {drimbox.identifiant}", (reverse("ans_registry"), "Registre des DRIMbox")),
    })


@access(AUTHENTICATED)
def drimbox_weather(request, pk):
    """One DRIMbox's weather and performance: for the people of its operator (and ANS)."""
    now = timezone.now()
    drimbox = get_object_or_404(
        history.with_publication(history.with_weather(visible_drimboxes(request.user), now))
        .select_related("operator"), pk=pk)
    drimbox.status_label = history.STATUS_LABELS.get(drimbox.display_status, drimbox.display_status)
    incidents = [history.incident_clocks(i, now) for i in history.with_maintenance_flag(
        Incident.objects.filter(drimbox=drimbox)).select_related("acknowledged_by").order_by("-opened_at")[:10]]
    perf_figure, latency_figure = _weather_figures(drimbox, now)
    return render(request, "dashboards/drimbox_weather.html", {
        "drimbox": drimbox, "incidents": incidents, "perf_figure": perf_figure, "latency_figure": latency_figure,
        "now": now, "breadcrumb_data": _crumbs(
            "Météo et performances",
            *([(reverse("ans_drimbox", args=[drimbox.pk]), f"DRIMbox {drimbox.identifiant}")]
              if request.user.is_ans_admin else
              [(reverse("drimbox_list"), "Mes DRIMbox"),
               (reverse("drimbox_detail", args=[drimbox.pk]), f"DRIMbox {drimbox.identifiant}")])),
    })

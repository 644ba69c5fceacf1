"""Onboarding pages: an iSC user applies for its operator; the application is then followed on the request page
shared with ANS (``views.lifecycle.request_detail``), where ANS reviews it like any request."""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from operators import onboarding, services
from operators.forms.onboarding import ApplicationForm
from operators.models import ONBOARDING_KINDS, ContractVersion, DrimboxRequest, Membership, RequestStatus, Role
from operators.request_data import APPLICATION_FIELDS
from trustspace.access import AUTHENTICATED, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once

INTRO = ("Renseignez l'entité juridique que vous représentez, votre carte de représentant légal (ou un justificatif "
         "de votre pouvoir de représenter) et le contrat d'adhésion signé. L'ANS instruit la demande : vous "
         "deviendrez représentant légal de l'opérateur lorsqu'elle l'aura approuvée.")


def _data(form):
    return {field: form.cleaned_data.get(field, "") for field in APPLICATION_FIELDS if field in form.cleaned_data}


@access(AUTHENTICATED)
def operator_register(request):
    initial = {"representative_name": request.user.display_name}
    posted = request.method == "POST"  # an empty POST is a submission too: its errors, not a blank form
    form = ApplicationForm(request.POST if posted else None, request.FILES if posted else None, initial=initial)
    if posted and (repeated := repeat_response(request, form, "home")):
        return repeated
    if request.method == "POST" and form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                req = services.apply_for_operator(
                    acting_user=request.user, data=_data(form),
                    contract_document=form.cleaned_data["contract_document"],
                    power_document=form.cleaned_data.get("power_document"),
                    contract_accepted=form.cleaned_data["contract_accepted"])
                submission.created(reverse("request_detail", args=[req.pk]), "voici la demande d'adhésion créée")
        except AlreadySubmitted as repeat:
            return repeat.response(request, "home")
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            notice = onboarding.attachment_notice(req)
            if notice:
                messages.warning(request, notice)
            else:
                messages.success(request, f"Votre demande d'adhésion {req.reference} est transmise à l'ANS. Vous serez "
                                          "prévenu par courriel de son instruction.")
            return redirect("request_detail", req.pk)
    return render(request, "operators/application_form.html", {
        "form": form, "title": "Enregistrer mon opérateur", "submit_label": "Déposer la demande d'adhésion",
        "intro": INTRO, "contract": ContractVersion.current(), "action": reverse("operator_register"),
    })


def application_edit(request, req):
    """Reached through ``request_edit`` for an application: only its applicant, only while it is editable."""
    if req.created_by_id != request.user.pk or not req.is_editable:
        messages.error(request, "Vous ne pouvez pas modifier cette demande." if req.is_editable else
                       f"La demande est « {req.get_status_display().lower()} » : elle n'est plus modifiable.")
        return redirect("request_detail", req.pk)
    posted = request.method == "POST"
    form = ApplicationForm(request.POST if posted else None, request.FILES if posted else None,
                           initial=dict(req.data), editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_application(req, acting_user=request.user, data=_data(form),
                                      contract_document=form.cleaned_data.get("contract_document"),
                                      power_document=form.cleaned_data.get("power_document"))
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, "Demande mise à jour : soumettez-la de nouveau à l'ANS.")
            return redirect("request_detail", req.pk)
    return render(request, "operators/application_form.html", {
        "form": form, "title": f"Modifier la demande {req.reference}", "submit_label": "Enregistrer",
        "contract": None, "action": reverse("request_edit", args=[req.pk]), "req": req,
    })


def review_context(request, req):
    """What the request page adds for an application: for ANS, the other applications for the same SIREN and
    the legal representatives already in place (a rattachement makes one more)."""
    if not req.is_onboarding or not request.user.is_ans_admin:
        return {}
    others = (DrimboxRequest.objects.filter(kind__in=ONBOARDING_KINDS, data__siren=req.data.get("siren"))
              .exclude(pk=req.pk).exclude(status=RequestStatus.DRAFT).select_related("created_by")
              .order_by("-created_at", "-pk")[:20])
    representatives = (Membership.objects.filter(operator_id=req.operator_id, role=Role.LEGAL_REPRESENTATIVE,
                                                 ended_at__isnull=True).select_related("user")
                       if req.operator_id else Membership.objects.none())
    return {"same_siren": others, "representatives": representatives}

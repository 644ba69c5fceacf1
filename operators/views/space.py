"""The operator space « Mon Espace de Confiance DRIM-M » (French UI, django-dsfr)."""
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from operators import permissions, services
from operators.context import SESSION_KEY, active_operator
from operators.contract_pdf import contract_filename, render_contract
from operators.forms.onboarding import InvitationCardForm
from operators.forms.space import (
    ContractAcceptanceForm,
    InvitationForm,
    OperatorForm,
    RemovalForm,
    SupportContactForm,
)
from operators.models import ContractVersion, Invitation, InvitationStatus, Membership, Operator
from trustspace.access import AUTHENTICATED, OPERATOR_MEMBER, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.history import history_page
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once, token_of
from trustspace.models import AuditEntry
from trustspace.paris_time import paris_datetime


@access(AUTHENTICATED)
@require_POST
def switch_operator(request):
    try:
        operator = permissions.operators_of(request.user).get(pk=request.POST.get("operator"))
    except (Operator.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    request.session[SESSION_KEY] = operator.pk
    messages.success(request, f"Vous agissez maintenant pour {operator.name}.")
    return redirect("home")


@access(OPERATOR_MEMBER)
def operator_detail(request):
    operator = active_operator(request)
    return render(request, "operators/operator_detail.html", {
        "operator": operator,
        "can_update": permissions.can(request.user, "operator.update", operator),
        "can_update_support": permissions.can(request.user, "support_contact.update", operator),
    })


@access(OPERATOR_MEMBER)
def operator_update(request):
    operator = active_operator(request)
    if not permissions.can(request.user, "operator.update", operator):
        messages.error(request, permissions.DEFAULT_DENIED)
        return redirect("operator_detail")
    initial = {field: getattr(operator, field) for field in services.OPERATOR_EDITABLE_FIELDS}
    form = OperatorForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_operator(operator, acting_user=request.user, data=form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, "Les données de l'opérateur sont mises à jour.")
            return redirect("operator_detail")
    return render(request, "operators/form_page.html", {
        "form": form, "title": "Modifier les données de l'opérateur", "submit_label": "Enregistrer",
        "intro": "Le SIREN et l'idNat_Struct ne se modifient pas ici : ils figurent dans vos certificats.",
        "back_url": "operator_detail",
    })


@access(OPERATOR_MEMBER)
def support_contact_update(request):
    operator = active_operator(request)
    if not permissions.can(request.user, "support_contact.update", operator):
        messages.error(request, permissions.DENIED_MESSAGES["support_contact.update"])
        return redirect("operator_detail")
    form = SupportContactForm(request.POST or None, initial={"support_contact": operator.support_contact})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_support_contact(operator, acting_user=request.user,
                                            support_contact=form.cleaned_data["support_contact"])
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, "Le contact support est mis à jour.")
            return redirect("operator_detail")
    return render(request, "operators/form_page.html", {
        "form": form, "title": "Contact support", "submit_label": "Enregistrer", "back_url": "operator_detail",
    })


@access(OPERATOR_MEMBER)
def contract(request):
    operator = active_operator(request)
    current, acceptance = services.contract_status(operator)
    can_accept = permissions.can(request.user, "contract.accept", operator)
    form = ContractAcceptanceForm(request.POST or None)
    if request.method == "POST":
        if not can_accept:
            messages.error(request, "Seuls le représentant légal ou un mandataire peuvent accepter le contrat.")
            return redirect("contract")
        if repeated := repeat_response(request, form, "home"):
            return repeated
        if form.is_valid():
            try:
                with submitted_once(request, form) as submission:
                    services.accept_contract(operator, acting_user=request.user, contract_version=current)
                    submission.created(reverse("home"), "le contrat d'adhésion est accepté")
            except AlreadySubmitted as repeat:
                return repeat.response(request, "home")
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, f"Le contrat d'adhésion (version {current.version}) est accepté.")
                return redirect("home")
    history = operator.contract_acceptances.select_related("contract_version", "accepted_by")
    return render(request, "operators/contract.html", {
        "operator": operator, "current": current, "acceptance": acceptance, "form": form,
        "can_accept": can_accept, "history": history,
    })


@access(OPERATOR_MEMBER)
def contract_pdf(request, pk):
    """A published version of the contract as a PDF, with the active operator's acceptance of it if any."""
    operator = active_operator(request)
    contract = get_object_or_404(ContractVersion.objects.filter(published_at__lte=timezone.now()), pk=pk)
    acceptance = operator.contract_acceptances.filter(contract_version=contract).select_related("accepted_by").first()
    return HttpResponse(render_contract(contract, operator=operator, acceptance=acceptance),
                        content_type="application/pdf",
                        headers={"Content-Disposition": content_disposition_header(True, contract_filename(contract))})


@access(OPERATOR_MEMBER)
def people(request):
    operator = active_operator(request)
    memberships = (operator.memberships.filter(ended_at__isnull=True).select_related("user")
                   .order_by("role", "created_at"))
    invitations = operator.invitations.filter(status=InvitationStatus.PENDING).select_related("invited_by")
    past = (operator.memberships.filter(ended_at__isnull=False).select_related("user", "ended_by")
            .order_by("-ended_at")[:50])
    user = request.user
    return render(request, "operators/people.html", {
        "operator": operator, "memberships": memberships, "invitations": invitations, "past": past,
        "removable": {m.pk for m in memberships if permissions.can(user, f"people.remove.{m.role}", operator)},
        "can_invite": permissions.can(user, "people.invite.administrateur_technique", operator),
        "can_download_mandates": permissions.can(user, "mandate.download", operator),
    })


@access(OPERATOR_MEMBER)
def person_invite(request):
    operator = active_operator(request)
    if not permissions.can(request.user, "people.invite.administrateur_technique", operator):
        messages.error(request, "Seuls le représentant légal ou un mandataire peuvent désigner des personnes.")
        return redirect("people")
    form = InvitationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and (repeated := repeat_response(request, form, "people")):
        return repeated
    if request.method == "POST" and form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                invitation, _token = services.invite_person(
                    operator, acting_user=request.user, email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"], mandate_document=form.cleaned_data.get("mandate_document"),
                )
                submission.created(reverse("people"), "l'invitation est déjà partie (voir les personnes désignées)")
        except AlreadySubmitted as repeat:
            return repeat.response(request, "people")
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"Une invitation a été envoyée à {invitation.email} ; le lien expire le "
                                      f"{paris_datetime(invitation.expires_at)}.")
            return redirect("people")
    return render(request, "operators/form_page.html", {
        "form": form, "title": "Désigner une personne", "submit_label": "Envoyer l'invitation", "multipart": True,
        "intro": "La personne reçoit un lien à usage unique, valable quelques jours, qu'elle ouvre après s'être "
                 "connectée avec iSC.",
        "back_url": "people",
    })


@access(OPERATOR_MEMBER)
@require_POST
def person_remove(request, pk):
    operator = active_operator(request)
    membership = get_object_or_404(Membership, pk=pk, operator=operator)
    form = RemovalForm(request.POST)
    form.is_valid()
    page = reverse("people")
    try:
        with submitted_once(request, token_of(request)) as submission:
            services.remove_membership(membership, acting_user=request.user,
                                       reason=form.cleaned_data.get("reason", ""))
            submission.created(page, f"{membership.user.display_name} n'a déjà plus ce rôle")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.display_name} n'est plus {membership.get_role_display().lower()}.")
    return redirect("people")


@access(OPERATOR_MEMBER)
@require_POST
def invitation_revoke(request, pk):
    operator = active_operator(request)
    invitation = get_object_or_404(Invitation, pk=pk, operator=operator)
    page = reverse("people")
    try:
        with submitted_once(request, token_of(request)) as submission:
            services.revoke_invitation(invitation, acting_user=request.user)
            submission.created(page, f"l'invitation de {invitation.email} est déjà annulée")
    except AlreadySubmitted as repeat:
        return repeat.response(request, page)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"L'invitation de {invitation.email} est annulée.")
    return redirect("people")


@access(OPERATOR_MEMBER)
def mandate_download(request, pk):
    operator = active_operator(request)
    membership = get_object_or_404(Membership, pk=pk, operator=operator)
    return mandate_response(request, membership)


def mandate_response(request, membership):
    if not membership.mandate_document or not permissions.can(request.user, "mandate.download", membership.operator):
        raise Http404
    return FileResponse(membership.mandate_document.open("rb"), as_attachment=True,
                        filename=f"mandat-{membership.pk}.pdf", content_type="application/pdf")


@access(AUTHENTICATED)
def invitation_accept(request, token):
    try:
        invitation = services.find_invitation(token)
    except DomainError as exc:
        return render(request, "operators/invitation_error.html", {"message": exc.message}, status=404)
    card_form = InvitationCardForm(request.POST or None) if services.needs_card(invitation) else None
    if request.method == "POST":
        card = card_form.cleaned_data["card_reference"] if card_form is not None and card_form.is_valid() else ""
        try:
            with submitted_once(request, token_of(request)) as submission:
                membership = services.accept_invitation(token, acting_user=request.user, card_reference=card)
                submission.created(reverse("home"), f"vous êtes {membership.get_role_display().lower()} de "
                                                    f"{membership.operator.name}")
        except AlreadySubmitted as repeat:
            return repeat.response(request, "home")
        except DomainError as exc:
            if card_form is not None and "card_reference" in exc.field_errors:
                # A missing or malformed card: the page again, the message on the field.
                apply_domain_error(card_form, exc)
                return render(request, "operators/invitation_accept.html",
                              {"invitation": invitation, "error": None, "card_form": card_form})
            return render(request, "operators/invitation_error.html", {"message": exc.message}, status=exc.status_code)
        request.session[SESSION_KEY] = membership.operator_id
        messages.success(request, f"Vous êtes maintenant {membership.get_role_display().lower()} de "
                                  f"{membership.operator.name}.")
        return redirect("home")
    error = None
    try:
        services.check_invitation_usable(invitation)
    except DomainError as exc:
        error = exc.message
    return render(request, "operators/invitation_accept.html",
                  {"invitation": invitation, "error": error, "card_form": card_form})


@access(OPERATOR_MEMBER)
def operator_history(request):
    """The operator's audit trail: filters, pages, CSV export (``?export=csv``)."""
    operator = active_operator(request)
    return history_page(request, AuditEntry.objects.filter(operator_id=operator.pk),
                        template="operators/history.html", context={"operator": operator},
                        filename=f"historique-{operator.siren or operator.pk}.csv")

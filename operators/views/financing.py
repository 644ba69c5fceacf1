"""Financing orders: the operator's list, one order's page (clients, PACS, documents, eligibility), ANS's list.

An order's page is reachable by ANS administrators and by the members of its operator; anyone else gets
a 404, so existence does not leak. Writes go through ``operators.services``.
"""
from django.contrib import messages
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from operators import permissions, services
from operators.context import active_operator
from operators.eligibility import order_problems
from operators.forms.lifecycle import (
    FinancingOrderForm,
    OrderClientAddForm,
    OrderClientForm,
    OrderCloseForm,
    OrderDocumentForm,
    OrderPacsForm,
)
from operators.models import FinancingOrderClient
from operators.queries import order_document, orders_with_details, visible_order
from operators.validators import as_small_int
from trustspace.access import ANS_ADMIN, AUTHENTICATED, OPERATOR_MEMBER, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once

ORDER_PAGE_SIZE = 100


def _create(request, operator, form):
    data = {name: value for name, value in form.cleaned_data.items() if name != "submission_token"}
    try:
        with submitted_once(request, form) as submission:
            order = services.create_financing_order(
                acting_user=request.user, operator=operator, reference=data["reference"],
                pacs_identifiers=data["pacs_identifiers"], client=form.client_data(),
                signed_order=data.get("signed_order"))
            submission.created(reverse("financing_order", args=[order.pk]), "voici le bon de commande enregistré")
    except AlreadySubmitted as repeat:
        return repeat.response(request, "financing_orders")
    except DomainError as exc:
        apply_domain_error(form, exc)
        return None
    messages.success(request, f"Bon de commande {order.reference} enregistré.")
    return redirect("financing_order", order.pk)


@access(OPERATOR_MEMBER)
def financing_orders(request):
    operator = active_operator(request)
    can_manage = permissions.can(request.user, "order.manage", operator)
    form = FinancingOrderForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and (repeated := repeat_response(request, form, "financing_orders")):
        return repeated
    if request.method == "POST" and form.is_valid() and (done := _create(request, operator, form)):
        return done
    orders = orders_with_details().filter(operator=operator)
    return render(request, "operators/financing_orders.html", {
        "operator": operator, "orders": orders, "form": form, "can_manage": can_manage,
    })


def _order_or_404(request, pk):
    order = visible_order(request.user, pk)
    if order is None:
        raise Http404
    return order


def _can_change(request, order):
    return order.is_active and (request.user.is_ans_admin
                                or permissions.can(request.user, "order.manage", order.operator))


def _client_initial(client):
    sites = client.sites.all()
    physicians = client.physicians.all()
    return {
        "client_siren": client.siren, "client_name": client.name,
        "activity_2023": "oui" if client.activity_2023 else "non" if client.activity_2023 is False else "",
        "finess_geographiques": "\n".join(s.finess_geographique for s in sites if not s.from_takeover),
        "am_numbers": "\n".join(p.am_number for p in physicians if not p.from_takeover),
        "ris_wave": client.ris_wave, "ris_order_reference": client.ris_order_reference,
        "takeover_siren": client.takeover_siren, "takeover_name": client.takeover_name,
        "takeover_finess_geographiques": "\n".join(s.finess_geographique for s in sites if s.from_takeover),
        "takeover_am_numbers": "\n".join(p.am_number for p in physicians if p.from_takeover),
    }


def _render_order(request, order, **forms):
    editing = None
    if (client_pk := as_small_int(request.GET.get("client", ""))) is not None:
        editing = next((client for client in order.clients.all() if client.pk == client_pk), None)
    if editing is not None and "edit_form" not in forms:
        forms["edit_form"] = OrderClientForm(initial=_client_initial(editing), prefix="edit")
    return render(request, "operators/financing_order.html", {
        "order": order, "problems": order_problems(order), "can_change": _can_change(request, order),
        "is_ans": request.user.is_ans_admin, "editing": editing,
        "client_form": forms.get("client_form") or OrderClientAddForm(prefix="client"),
        "edit_form": forms.get("edit_form"),
        "pacs_form": forms.get("pacs_form") or OrderPacsForm(prefix="pacs"),
        "document_form": forms.get("document_form") or OrderDocumentForm(order=order, prefix="document"),
        "close_form": forms.get("close_form") or OrderCloseForm(prefix="close"),
    })


@access(AUTHENTICATED)
def financing_order(request, pk):
    return _render_order(request, _order_or_404(request, pk))


def _post(request, order, form, name, action, success, repeated_what="voici le bon de commande"):
    """Run ``action(cleaned_data)``; on a refused change, show the page again with the form's errors. A form that
    adds something (client, PACS, document) carries a submission token: sent twice, it adds once."""
    page = reverse("financing_order", args=[order.pk])
    if repeated := repeat_response(request, form, page):
        return repeated
    if form.is_valid():
        try:
            with submitted_once(request, form) as submission:
                action(form.cleaned_data)
                submission.created(page, repeated_what)
        except AlreadySubmitted as repeat:
            return repeat.response(request, page)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, success)
            return redirect("financing_order", order.pk)
    return _render_order(request, _order_or_404(request, order.pk), **{name: form})


@access(AUTHENTICATED)
@require_POST
def financing_order_client_add(request, pk):
    order = _order_or_404(request, pk)
    form = OrderClientAddForm(request.POST, prefix="client")
    return _post(request, order, form, "client_form", lambda data: services.add_order_client(
        order, acting_user=request.user, client=form.client_data()), "Client ajouté au bon de commande.",
        "le client est ajouté au bon de commande")


@access(AUTHENTICATED)
@require_POST
def financing_order_client_edit(request, pk, client_pk):
    order = _order_or_404(request, pk)
    client = get_object_or_404(FinancingOrderClient, pk=client_pk, order=order)
    form = OrderClientForm(request.POST, prefix="edit")
    request.GET = request.GET.copy()
    request.GET["client"] = str(client.pk)  # the page shows this client's form again on an error
    return _post(request, order, form, "edit_form", lambda data: services.update_order_client(
        client, acting_user=request.user, client=form.client_data()), f"Client {client.label} mis à jour.")


@access(AUTHENTICATED)
@require_POST
def financing_order_pacs_add(request, pk):
    order = _order_or_404(request, pk)
    form = OrderPacsForm(request.POST, prefix="pacs")
    return _post(request, order, form, "pacs_form", lambda data: services.add_order_pacs(
        order, acting_user=request.user, pacs_identifiers=data["pacs_identifiers"]), "PACS ajouté.",
        "le PACS est ajouté au bon de commande")


@access(AUTHENTICATED)
@require_POST
def financing_order_document(request, pk):
    order = _order_or_404(request, pk)
    form = OrderDocumentForm(request.POST, request.FILES, order=order, prefix="document")

    def attach(data):
        client = next((c for c in order.clients.all() if str(c.pk) == data.get("client")), None)
        services.attach_order_document(order, acting_user=request.user, kind=data["kind"],
                                       uploaded_file=data["file"], client=client)

    return _post(request, order, form, "document_form", attach, "Document joint au bon de commande.",
                 "le document est joint au bon de commande")


@access(ANS_ADMIN)
@require_POST
def financing_order_close(request, pk):
    order = _order_or_404(request, pk)
    form = OrderCloseForm(request.POST, prefix="close")
    return _post(request, order, form, "close_form", lambda data: services.close_financing_order(
        order, acting_user=request.user, reason=data["reason"]), "Bon de commande clos.", "le bon de commande est clos")


@access(AUTHENTICATED)
def financing_order_document_download(request, pk, kind, client_pk=None):
    order = visible_order(request.user, pk, details=False)
    found = order_document(order, kind, client_pk) if order is not None else None
    if found is None:
        raise Http404
    document, filename = found
    return FileResponse(document.open("rb"), as_attachment=True, content_type="application/pdf", filename=filename)


@access(ANS_ADMIN)
def ans_financing_orders(request):
    """Every order, searchable by reference, SIREN, PACS, FINESS or AM: where a conflicting number sits."""
    query = (request.GET.get("q") or "").strip()[:100]
    orders = orders_with_details()
    if query:
        orders = orders.filter(Q(reference__icontains=query) | Q(clients__siren=query) | Q(pacs__identifier=query)
                               | Q(sites__finess_geographique=query.upper())
                               | Q(physicians__am_number=query)).distinct()
    return render(request, "operators/ans/financing_orders.html", {
        "orders": orders.order_by("reference")[:ORDER_PAGE_SIZE], "query": query})

"""ANS back office: operators, their people, contract status and history; contract versions."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from operators import queries, services, tables
from operators.forms.history import AnsHistoryFilterForm
from operators.forms.lifecycle import RegistrySearchForm, ReviewQueueFilterForm, VaDecisionForm, VaRefuseForm
from operators.forms.space import ContractVersionForm, OperatorSearchForm
from operators.models import (
    ONBOARDING_KINDS,
    ContractVersion,
    Membership,
    Operator,
    Role,
    VaDocument,
)
from operators.registry import dns_configured
from operators.views.space import mandate_response
from trustspace.access import ANS_ADMIN, access
from trustspace.errors import DomainError
from trustspace.forms_util import apply_domain_error
from trustspace.history import chain_state, describe, history_page
from trustspace.idempotency import AlreadySubmitted, repeat_response, submitted_once
from trustspace.models import AuditEntry
from trustspace.tables import SortedTable, table_export

PAGE_SIZE = 50
OPERATOR_HISTORY_ROWS = 20  # on the operator's page; the rest on ANS's history page, filtered on the operator


@access(ANS_ADMIN)
def operators_list(request):
    form = OperatorSearchForm(request.GET or None)
    current = ContractVersion.current()
    operators = queries.search_operators(**(form.cleaned_data if form.is_valid() else {}))
    table = SortedTable(request, tables.OPERATOR_COLUMNS, "nom")
    if exported := table_export(request, table, operators, filename="operateurs", title="Opérateurs",
                                row=tables.operator_row, columns=tables.OPERATOR_EXPORT):
        return exported
    page = Paginator(table.order(operators), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "operators/ans/operators_list.html", {
        "form": form, "page": page, "current_contract": current, "query": table.query_without_page(),
        "table": table,
    })


@access(ANS_ADMIN)
def operator_detail(request, pk):
    operator = get_object_or_404(Operator, pk=pk)
    current, acceptance = services.contract_status(operator)
    return render(request, "operators/ans/operator_detail.html", {
        "operator": operator,
        "current": current,
        "acceptance": acceptance,
        "acceptances": operator.contract_acceptances.select_related("contract_version", "accepted_by"),
        "memberships": operator.memberships.select_related("user", "ended_by").order_by("ended_at", "role",
                                                                                        "created_at"),
        "invitations": operator.invitations.select_related("invited_by", "accepted_by")[:50],
        "drimboxes": operator.drimboxes.select_related("health_structure"),
        "applications": operator.requests.filter(kind__in=ONBOARDING_KINDS).select_related("created_by", "decided_by"),
        "rows": describe(AuditEntry.objects.filter(operator_id=operator.pk).order_by("-seq")[:OPERATOR_HISTORY_ROWS]),
        "history_more_url": f"{reverse('ans_history')}?operateur={operator.pk}",
        "roles": Role,
    })


@access(ANS_ADMIN)
def mandate_download(request, pk):
    return mandate_response(request, get_object_or_404(Membership.objects.select_related("operator"), pk=pk))


@access(ANS_ADMIN)
def contract_versions(request):
    form = ContractVersionForm(request.POST or None)
    if request.method == "POST" and (repeated := repeat_response(request, form, "ans_contracts")):
        return repeated
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if name != "submission_token"}
        try:
            with submitted_once(request, form) as submission:
                version = services.publish_contract_version(acting_user=request.user, **data)
                submission.created(reverse("ans_contracts"), f"la version {version.version} est publiée")
        except AlreadySubmitted as repeat:
            return repeat.response(request, "ans_contracts")
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, f"La version {version.version} du contrat est publiée : chaque opérateur "
                                      "doit l'accepter.")
            return redirect("ans_contracts")
    versions = ContractVersion.objects.annotate(acceptance_count=Count("acceptances")).select_related("published_by")
    return render(request, "operators/ans/contracts.html", {
        "form": form, "versions": versions, "operator_count": Operator.objects.count(),
    })


# --- Review queue, FQDN registry, VA documents (DESIGN §4, §5) ----------------------------------


@access(ANS_ADMIN)
def review_queue(request):
    form = ReviewQueueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    requests_ = queries.review_queue(request.user, **filters)
    table = SortedTable(request, tables.REVIEW_COLUMNS, "soumise")
    if exported := table_export(request, table, requests_, filename="demandes", title="Demandes",
                                row=tables.request_row, columns=tables.REQUEST_EXPORT):
        return exported
    return render(request, "operators/ans/review_queue.html", {
        "form": form, "page": Paginator(table.order(requests_), PAGE_SIZE).get_page(request.GET.get("page")),
        "query": table.query_without_page(), "now": timezone.now(), "table": table,
    })


@access(ANS_ADMIN)
def registry(request):
    form = RegistrySearchForm(request.GET or None)
    drimboxes = queries.registry_search(**(form.cleaned_data if form.is_valid() else {}))
    table = SortedTable(request, tables.REGISTRY_COLUMNS, "identifiant")
    if exported := table_export(request, table, drimboxes, filename="registre-drimbox", title="Registre",
                                row=tables.registry_row, columns=tables.REGISTRY_EXPORT):
        return exported
    return render(request, "operators/ans/registry.html", {
        "form": form, "page": Paginator(table.order(drimboxes), PAGE_SIZE).get_page(request.GET.get("page")),
        "query": table.query_without_page(), "dns_configured": dns_configured(), "table": table,
    })


@access(ANS_ADMIN)
def va_documents(request):
    return va_review_page(request)


# ANS's decision forms of the VA page, per document: {name: (form class, its ids' pattern)}.
VA_DECISION_FORMS = {
    "validate_form": (VaDecisionForm, "va-{}-valider-%s"), "refuse_form": (VaRefuseForm, "va-{}-%s"),
    "lifting_validate_form": (VaDecisionForm, "lifting-{}-valider-%s"),
    "lifting_refuse_form": (VaRefuseForm, "lifting-{}-%s"),
}


def va_decision_form(name, va, *args):
    form_class, ids = VA_DECISION_FORMS[name]
    return form_class(*args, auto_id=ids.format(va.pk))


def va_review_page(request, *, failed=None):
    """ANS's VA page; ``failed``: (VA document, form name, form) of a decision sent with errors, shown again with
    them next to its field and summed up at the top."""
    now = timezone.now()
    base = VaDocument.objects.select_related("drimbox", "operator", "uploaded_by")

    def listed(state, limit=None):
        documents = queries.va_documents(state, documents=base, now=now)
        return documents[:limit] if limit else documents

    def with_forms(documents, names):
        documents = list(documents)
        for va in documents:
            for name in names:
                setattr(va, name, failed[2] if failed and failed[0].pk == va.pk and failed[1] == name
                        else va_decision_form(name, va))
        return documents

    return render(request, "operators/ans/va_documents.html", {
        "to_review": with_forms(listed("to_review"), ["validate_form", "refuse_form"]),
        "overdue": listed("overdue"), "upcoming": listed("due", 100),
        # VA signed « avec réserves »: lifting documents to review, overdue reservations, the others.
        "liftings_to_review": with_forms(listed("lifting_to_review"), ["lifting_validate_form", "lifting_refuse_form"]),
        "reservations_overdue": listed("reservations_overdue"),
        "reservations_running": listed("reservations_running", 100),
        "reservations_awaiting_ris": listed("reservations_awaiting_ris", 100),
        "failed_form": failed[2] if failed else None,
    })


@access(ANS_ADMIN)
def ans_history(request):
    """The whole audit trail (every operator, the whitelist, the weather, the platform) and the chain's state."""
    exporting = request.GET.get("export") == "csv"
    return history_page(request, AuditEntry.objects.all(), template="operators/ans/history.html",
                        context={} if exporting else {"chain": chain_state(force=request.GET.get("verifier") == "1")},
                        filename="historique-espace-de-confiance.csv", form_class=AnsHistoryFilterForm)

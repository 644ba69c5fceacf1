"""Read-side queries shared by the pages and the API: who sees which requests and DRIMboxes, the
ANS review queue and the FQDN registry search (one definition for both, so they never disagree)."""
from datetime import timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import onboarding, permissions
from .models import (
    ONBOARDING_KINDS,
    ContractAcceptance,
    ContractVersion,
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxRequest,
    FinancingOrder,
    FinancingOrderClient,
    Membership,
    Operator,
    RequestStatus,
    Role,
    VaDocument,
    VaStatus,
)
from .validators import as_small_int

WAITING_FOR_ANS = [RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW]


def visible_requests(user):
    if user.is_ans_admin:
        # A draft is the operator's work in progress: ANS sees it once submitted.
        return DrimboxRequest.objects.exclude(status=RequestStatus.DRAFT)
    # An operator's members see the requests of their operator; an application (adhesion, rattachement) only its
    # applicant and the legal representatives of the operator it is addressed to (``onboarding``).
    return DrimboxRequest.objects.filter(
        (Q(operator__in=permissions.operators_of(user)) & ~Q(kind__in=ONBOARDING_KINDS))
        | onboarding.visible_applications(user))


def applications_of(user):
    """The applications a user filed (the home page of a pending applicant shows them)."""
    if not user.is_authenticated:
        return DrimboxRequest.objects.none()
    return DrimboxRequest.objects.filter(kind__in=ONBOARDING_KINDS, created_by=user).order_by("-created_at", "-pk")


def visible_drimboxes(user):
    if user.is_ans_admin:
        return Drimbox.objects.all()
    return Drimbox.objects.filter(operator__in=permissions.operators_of(user))


def _count_of(queryset):
    """A correlated COUNT per operator: only the rows read are counted, no join fan-out."""
    counted = queryset.filter(operator=OuterRef("pk")).order_by().values("operator").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# The operators' search (ANS list page and GET /api/v1/operators/): contract in force accepted or not; with or
# without a technical administrator.
CONTRACT_FILTERS = {"accepte": "Contrat en vigueur accepté", "a_accepter": "Contrat à accepter"}
TECHNICAL_ADMIN_FILTERS = {"oui": "Avec administrateur technique", "non": "Sans administrateur technique"}


def search_operators(operators=None, *, q="", contract="", technical_admin=""):
    """``operators`` (all by default) with what their list shows — the contract in force accepted
    (``accepted_current``), their legal representatives, technical administrators and DRIMboxes (``*_count``) —,
    by name, whose ``q`` is part of the name or the start of the SIREN, SIRET or idNat_Struct."""
    operators = Operator.objects.all() if operators is None else operators
    current = ContractVersion.current()
    active = Membership.objects.filter(ended_at__isnull=True)
    operators = operators.annotate(
        accepted_current=Exists(ContractAcceptance.objects.filter(operator=OuterRef("pk"), contract_version=current)),
        legal_count=_count_of(active.filter(role=Role.LEGAL_REPRESENTATIVE)),
        technical_count=_count_of(active.filter(role=Role.TECHNICAL_ADMIN)),
        drimbox_count=_count_of(Drimbox.objects.all()),
    ).order_by("name", "pk")
    q = (q or "").strip()
    if q:
        compact = q.replace(" ", "")
        operators = operators.filter(Q(name__icontains=q) | Q(siren__startswith=compact)
                                     | Q(siret__startswith=compact) | Q(id_nat_struct__startswith=compact))
    if contract == "accepte":
        operators = operators.filter(accepted_current=True)
    elif contract == "a_accepter":
        operators = operators.filter(accepted_current=False)
    if technical_admin == "oui":
        operators = operators.filter(technical_count__gt=0)
    elif technical_admin == "non":
        operators = operators.filter(technical_count=0)
    return operators


def dns_history(user, drimbox):
    """A DRIMbox's DNS changes, newest first: ANS sees every one; its operator only those made since it took the
    DRIMbox over (its first attestation for it), not those of a previous operator."""
    changes = drimbox.dns_changes.order_by("-created_at", "-pk")
    if not user.is_ans_admin:
        since = drimbox.attestations.filter(operator=drimbox.operator_id).order_by("issued_at").values_list(
            "issued_at", flat=True).first()
        if since is not None:
            changes = changes.filter(created_at__gte=since - timedelta(minutes=1))
    return changes


def dns_pending():
    """Annotation: the DRIMbox has a DNS change not yet applied (« DNS en attente »)."""
    return Exists(DnsChange.objects.filter(drimbox=OuterRef("pk"), status=DnsChangeStatus.PENDING))


def review_queue(user, *, kind="", status="", operator="", age=None, assigned=""):
    """Submitted requests, oldest submission first; by default those waiting for ANS.

    ``status`` « toutes » keeps every submitted one; ``assigned`` is « moi » or « aucune »; ``age`` in days.
    """
    requests_ = (DrimboxRequest.objects.exclude(status=RequestStatus.DRAFT)
                 .select_related("operator", "drimbox", "assigned_to").order_by("submitted_at", "pk"))
    if kind:
        requests_ = requests_.filter(kind=kind)
    if (operator or "").strip():
        # An application not yet approved names its company only in its data.
        requests_ = requests_.filter(Q(operator__name__icontains=operator.strip())
                                     | Q(operator__isnull=True, data__name__icontains=operator.strip()))
    if age not in (None, ""):
        requests_ = requests_.filter(submitted_at__lte=timezone.now() - timedelta(days=int(age)))
    if assigned == "moi":
        requests_ = requests_.filter(assigned_to=user)
    elif assigned == "aucune":
        requests_ = requests_.filter(assigned_to__isnull=True)
    if status == "toutes":
        return requests_
    if status:
        return requests_.filter(status=status)
    return requests_.filter(status__in=WAITING_FOR_ANS)


def registry_search(*, q="", operator="", structure="", status="", dns=""):
    """Every DRIMbox of the registry, by Identifiant; ``q`` is an FQDN prefix or an Identifiant."""
    drimboxes = (Drimbox.objects.select_related("operator", "health_structure")
                 .annotate(dns_pending=dns_pending()).order_by("identifiant"))
    q = (q or "").strip().lower().rstrip(".")
    if q:
        match = Q(db_fqdn__startswith=q) | Q(vi_fqdn__startswith=q)
        if as_small_int(q):
            match |= Q(identifiant=as_small_int(q))
        drimboxes = drimboxes.filter(match)
    if (operator or "").strip():
        drimboxes = drimboxes.filter(operator__name__icontains=operator.strip())
    if (structure or "").strip():
        term = structure.strip()
        compact = term.replace(" ", "")
        drimboxes = drimboxes.filter(Q(health_structure__name__icontains=term) | Q(health_structure__siren=compact)
                                     | Q(health_structure__finess_geographique=compact.upper()))
    if status:
        drimboxes = drimboxes.filter(status=status)
    if dns == "en_attente":
        drimboxes = drimboxes.filter(dns_pending=True)
    return drimboxes


def orders_with_details():
    """Orders with what their pages and the API show (clients, PACS, identifiers, DRIMboxes), in a fixed number
    of queries whatever their number."""
    return FinancingOrder.objects.select_related("operator").prefetch_related(
        "pacs", "sites", "physicians", "clients__sites", "clients__physicians",
        Prefetch("drimboxes", queryset=Drimbox.objects.only("identifiant", "financing_order_id")))


def visible_order(user, pk, *, details=True):
    """The order, for ANS and for the members of its operator; None for anyone else (the caller answers 404).
    ``details``: with what its page shows (a download needs only the order)."""
    orders = orders_with_details() if details else FinancingOrder.objects.select_related("operator")
    order = orders.filter(pk=pk).first()
    if order is None or not (user.is_ans_admin or permissions.roles_of(user, order.operator)):
        return None
    return order


# An order's documents by the name their URLs give them: the signed order, and a client's signature or take-over proof.
ORDER_DOCUMENT_FIELDS = {"bon-signe": "signed_file", "signature": "signature_file", "reprise": "takeover_proof_file"}


def order_document(order, kind, client_pk):
    """(file, download name) of one of ``order``'s documents, or None when ``kind``/``client_pk`` names none."""
    if kind not in ORDER_DOCUMENT_FIELDS or (kind == "bon-signe") != (client_pk is None):
        return None
    owner = order if client_pk is None else FinancingOrderClient.objects.filter(pk=client_pk, order=order).first()
    document = getattr(owner, ORDER_DOCUMENT_FIELDS[kind]) if owner is not None else None
    if not document:
        return None
    suffix = "" if client_pk is None else f"-client-{client_pk}"
    return document, f"{kind}-{order.reference}{suffix}.pdf"


# The VA documents by where they stand (ANS's VA page, GET /api/v1/va/?state=): the state's label, the statuses it
# holds, its condition on the deadlines at ``now``, its order.
VA_STATES = {
    "to_review": "Déposés, à valider",
    "overdue": "En retard (attendus ou refusés, échéance passée)",
    "due": "Attendus ou à redéposer, échéance à venir",
    "lifting_to_review": "Levées des réserves déposées, à valider",
    "reservations_overdue": "Réserves non levées à leur échéance",
    "reservations_running": "Réserves à lever, échéance à venir",
    "reservations_awaiting_ris": "Validés avec réserves, mise à jour du RIS pas encore signalée",
}
AWAITED = [VaStatus.DUE, VaStatus.REFUSED]


def va_documents(state="", *, documents=None, now=None):
    """The VA documents (``documents``: all by default) in ``state`` (a key of ``VA_STATES``; empty: every one, by
    deadline), in the order their list shows them."""
    documents = VaDocument.objects.all() if documents is None else documents
    now = now or timezone.now()
    reserved = documents.filter(status=VaStatus.VALIDATED_RESERVATIONS)
    by_state = {
        "to_review": lambda: documents.filter(status=VaStatus.SUBMITTED).order_by("uploaded_at", "pk"),
        "overdue": lambda: documents.filter(status__in=AWAITED, due_at__lt=now).order_by("due_at", "pk"),
        "due": lambda: documents.filter(status__in=AWAITED, due_at__gte=now).order_by("due_at", "pk"),
        "lifting_to_review": lambda: documents.filter(status=VaStatus.LIFTING_SUBMITTED).order_by(
            "lifting_uploaded_at", "pk"),
        "reservations_overdue": lambda: reserved.filter(reservations_due_at__lt=now).order_by(
            "reservations_due_at", "pk"),
        "reservations_running": lambda: reserved.filter(reservations_due_at__gte=now).order_by(
            "reservations_due_at", "pk"),
        "reservations_awaiting_ris": lambda: reserved.filter(reservations_due_at__isnull=True).order_by(
            "decided_at", "pk"),
    }
    if not state:
        return documents.order_by("due_at", "pk")
    return by_state[state]()

"""The work waiting, as the home pages count it: ANS's (requests to review, VA, certificates, incidents and GTI/GTR
breaches, the whitelist version due, operations) and an operator's (what each person can do, and who else can).

Each count is one aggregate over its table (several counts share one query), so the ANS home runs a fixed number of
queries whatever the size of the trust space. Each count links to the list it counts, filtered the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from certificates import queries as certificate_queries
from certificates.models import Certificate
from certificates.queries import EXPIRING_DAYS
from operators import permissions
from operators.models import (
    ONBOARDING_KINDS,
    DnsChange,
    DnsChangeStatus,
    Drimbox,
    DrimboxRequest,
    RequestStatus,
    VaDocument,
    VaStatus,
)
from operators.queries import WAITING_FOR_ANS
from trustspace.models import Alert, OutboxMessage, OutboxStatus
from trustspace.text import plural
from weather.history import overdue_filter
from weather.models import Incident
from whitelist.models import GitHubIssueRequest, GitHubIssueStatus, WhitelistVersion, WhitelistVersionStatus
from whitelist.pending import version_due

RECENT_DAYS = 30
AWAITED = [VaStatus.DUE, VaStatus.REFUSED]


@dataclass
class Count_:
    """One figure of a card: « 3 non affectées », linking to the list filtered on them."""
    label: str
    value: int
    url: str
    alert: bool = False  # a figure that should be zero (overdue, breached): shown in red when it is not


@dataclass
class Card:
    title: str
    key: str
    counts: list[Count_] = field(default_factory=list)
    detail: str = ""

    @property
    def total(self):
        return sum(c.value for c in self.counts)


def _url(name, **params):
    url = reverse(name)
    return f"{url}?{urlencode(params)}" if params else url


def ans_cards(user, now=None) -> list[Card]:
    """The ANS home's cards, in the order of the work: review, VA, certificates, incidents, whitelist, operations."""
    now = now or timezone.now()
    requests_ = DrimboxRequest.objects.aggregate(
        waiting=Count("pk", filter=Q(status__in=WAITING_FOR_ANS)),
        unassigned=Count("pk", filter=Q(status__in=WAITING_FOR_ANS, assigned_to__isnull=True)),
        mine=Count("pk", filter=Q(status__in=WAITING_FOR_ANS, assigned_to=user)),
        old=Count("pk", filter=Q(status__in=WAITING_FOR_ANS, submitted_at__lte=now - timedelta(days=7))))
    va = VaDocument.objects.aggregate(
        to_review=Count("pk", filter=Q(status=VaStatus.SUBMITTED)),
        overdue=Count("pk", filter=Q(status__in=AWAITED, due_at__lt=now)),
        lifting=Count("pk", filter=Q(status=VaStatus.LIFTING_SUBMITTED)),
        reservations_overdue=Count("pk", filter=Q(status=VaStatus.VALIDATED_RESERVATIONS,
                                                  reservations_due_at__lt=now)))
    # The certificate dashboard's own sections, counted: the figures are those of the page they link to.
    certificates = {name: rows.count() for name, rows in certificate_queries.dashboard(
        Drimbox.objects.all(), Certificate.objects.all(), now=now).items()
        if name in ("expiring", "expired", "missing", "revocations")}
    recent = Q(opened_at__gte=now - timedelta(days=RECENT_DAYS))
    incidents = Incident.objects.aggregate(
        open=Count("pk", filter=Q(restored_at__isnull=True)),
        open_gti=Count("pk", filter=Q(restored_at__isnull=True) & overdue_filter("gti", now)),
        open_gtr=Count("pk", filter=Q(restored_at__isnull=True) & overdue_filter("gtr", now)),
        recent=Count("pk", filter=recent),
        recent_late=Count("pk", filter=recent & (overdue_filter("gti", now) | overdue_filter("gtr", now))))
    due = version_due(now)
    versions = WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PREPARED).count()
    github = GitHubIssueRequest.objects.filter(status=GitHubIssueStatus.TO_REVIEW).count()
    alerts = Alert.objects.filter(resolved_at__isnull=True).count()
    failed = OutboxMessage.objects.filter(status=OutboxStatus.FAILED).count()
    dns = DnsChange.objects.filter(status=DnsChangeStatus.PENDING).values("drimbox").distinct().count()
    since = (now - timedelta(days=RECENT_DAYS)).astimezone(timezone.get_default_timezone()).date().isoformat()

    oldest = due.oldest
    return [
        Card("Demandes à instruire", "demandes", [
            Count_("en attente de l'ANS", requests_["waiting"], _url("ans_review_queue")),
            Count_("non affectées", requests_["unassigned"], _url("ans_review_queue", assigned="aucune"),
                   alert=True),
            Count_("affectées à moi", requests_["mine"], _url("ans_review_queue", assigned="moi")),
            Count_("soumises depuis plus de 7 jours", requests_["old"], _url("ans_review_queue", age="7"),
                   alert=True),
        ]),
        Card("Documents VA", "va", [
            Count_("déposés, à valider", va["to_review"], _url("ans_va") + "#va-a-valider"),
            Count_("en retard", va["overdue"], _url("ans_va") + "#va-en-retard", alert=True),
            Count_("levées des réserves à valider", va["lifting"], _url("ans_va") + "#va-reserves"),
            Count_("réserves non levées à l'échéance", va["reservations_overdue"], _url("ans_va") + "#va-reserves",
                   alert=True),
        ]),
        Card("Certificats", "certificats", [
            Count_(f"expirent dans les {EXPIRING_DAYS} jours", certificates["expiring"],
                   _url("ans_certificates") + "#certificats-expirant"),
            Count_("expirés, non remplacés", certificates["expired"], _url("ans_certificates") + "#certificats-expires",
                   alert=True),
            Count_("DRIMbox sans certificat en cours", certificates["missing"],
                   _url("ans_certificates") + "#certificats-manquants", alert=True),
            Count_("révocations à faire", certificates["revocations"],
                   _url("ans_certificates") + "#certificats-revocations"),
        ]),
        Card("Incidents", "incidents", [
            Count_("en cours", incidents["open"], _url("ans_incidents", state="ouvert")),
            Count_("en cours, GTI dépassée", incidents["open_gti"], _url("ans_incidents", state="ouvert", breach="gti"),
                   alert=True),
            Count_("en cours, GTR dépassée", incidents["open_gtr"], _url("ans_incidents", state="ouvert", breach="gtr"),
                   alert=True),
            Count_(f"GTI ou GTR dépassée sur {RECENT_DAYS} jours (sur {incidents['recent']} incidents)",
                   incidents["recent_late"], _url("ans_incidents", breach="gti_gtr", since=since), alert=True),
        ]),
        Card("Liste blanche", "liste-blanche", [
            Count_("changements à publier", len(due.changes), _url("ans_whitelist")),
            Count_("versions préparées, à approuver", versions, _url("ans_whitelist")),
            Count_("demandes GitHub à examiner", github,
                   _url("ans_github_requests", statut=GitHubIssueStatus.TO_REVIEW)),
        ], detail=(f"Nouvelle version due : {due.summary}, en attente depuis le "
                   f"{timezone.localtime(oldest.since):%d/%m/%Y}." if oldest else
                   "La liste publiée est à jour.")),
        Card("Exploitation", "exploitation", [
            Count_("alertes ouvertes", alerts, _url("ans_alerts"), alert=True),
            Count_("envois en échec", failed, _url("ans_outbox", statut=OutboxStatus.FAILED), alert=True),
            Count_("DRIMbox avec DNS en attente", dns, _url("ans_registry", dns="en_attente")),
        ]),
    ]


# --- The operator's home -----------------------------------------------------------------------------------------

@dataclass
class Task:
    """Something an operator's people have to do: ``can_act`` for the person looking, else ``who`` can."""
    title: str
    count: int
    detail: str
    url: str
    link: str
    can_act: bool = True
    who: str = ""
    urgent: bool = False


def _task(user, operator, people, permission, **kwargs):
    task = Task(**kwargs)
    if permission:
        task.can_act = permissions.can(user, permission, operator)
        task.who = "" if task.can_act else people.who_can(permission)
    return task


def operator_tasks(user, operator, people, now=None) -> list[Task]:
    """What waits on the operator's side (requests to complete, VA, certificates, incidents), as tasks; the ones
    with nothing to do are left out. A fixed number of queries."""
    now = now or timezone.now()
    tasks = []
    requests_ = (DrimboxRequest.objects.filter(operator=operator)
                 .exclude(kind__in=ONBOARDING_KINDS)
                 .aggregate(changes=Count("pk", filter=Q(status=RequestStatus.CHANGES_REQUESTED)),
                            drafts=Count("pk", filter=Q(status=RequestStatus.DRAFT))))
    if requests_["changes"]:
        tasks.append(_task(user, operator, people, "request.mise_a_jour", title="Demandes à compléter",
                           count=requests_["changes"], urgent=True,
                           detail="L'ANS a demandé des modifications : complétez puis soumettez à nouveau.",
                           url=_url("request_list", status=RequestStatus.CHANGES_REQUESTED), link="Voir ces demandes"))
    if requests_["drafts"]:
        tasks.append(_task(user, operator, people, "request.mise_a_jour", title="Brouillons à soumettre",
                           count=requests_["drafts"], detail="Des demandes commencées n'ont pas été soumises à l'ANS.",
                           url=_url("request_list", status=RequestStatus.DRAFT), link="Voir les brouillons"))
    va = VaDocument.objects.filter(operator=operator).aggregate(
        overdue=Count("pk", filter=Q(status__in=AWAITED, due_at__lt=now)),
        due=Count("pk", filter=Q(status__in=AWAITED, due_at__gte=now)),
        reservations=Count("pk", filter=Q(status=VaStatus.VALIDATED_RESERVATIONS, reservations_due_at__isnull=False)))
    if va["overdue"] or va["due"]:
        tasks.append(_task(user, operator, people, "va.upload", title="Documents VA à déposer",
                           count=va["overdue"] + va["due"], urgent=bool(va["overdue"]),
                           detail=(f"{va['overdue']} en retard, " if va["overdue"] else "") +
                           f"{va['due']} à déposer avant leur échéance (sur la page de chaque DRIMbox).",
                           url=_url("drimbox_list"), link="Voir mes DRIMbox"))
    if va["reservations"]:
        tasks.append(_task(user, operator, people, "va.upload", title="Réserves de VA à lever",
                           count=va["reservations"], detail="Déposez la levée des réserves signée par le client.",
                           url=_url("drimbox_list"), link="Voir mes DRIMbox"))
    sections = certificate_queries.dashboard(operator.drimboxes.all(), Certificate.objects.filter(operator=operator),
                                             now=now)
    certificates = {name: sections[name].count() for name in ("expired", "expiring")}
    missing = sections["missing"].count()
    problems = certificates["expired"] + missing
    if problems or certificates["expiring"]:
        parts = [plural(certificates["expired"], "expiré", "expirés") if certificates["expired"] else "",
                 f"{missing} DRIMbox sans certificat en cours" if missing else "",
                 f"{certificates['expiring']} expirant dans les {EXPIRING_DAYS} jours" if certificates["expiring"]
                 else ""]
        tasks.append(_task(user, operator, people, "certificate.manage", title="Certificats à renouveler ou déposer",
                           count=problems + certificates["expiring"], urgent=bool(problems),
                           detail=" ; ".join(p for p in parts if p) + ".",
                           url=_url("certificate_dashboard"), link="Voir mes certificats"))
    unacknowledged = Incident.objects.filter(drimbox__operator=operator, restored_at__isnull=True,
                                             acknowledged_at__isnull=True).count()
    if unacknowledged:
        tasks.append(_task(user, operator, people, "", title="Incidents à prendre en compte", count=unacknowledged,
                           urgent=True, detail="Prenez en compte chaque incident : le délai de GTI (30 min ouvrées) "
                                               "s'arrête à la prise en compte.",
                           url=_url("operator_weather"), link="Voir la météo de mes DRIMbox"))
    return tasks

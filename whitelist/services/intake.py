"""The write path of GitHub issue requests (DESIGN §7): import, answer on the issue, ANS decision.

A beat task polls the repository's issues in every state (``state=all``, so an issue opened and closed between
two polls is still imported and answered) carrying ``WHITELIST_GITHUB_INTAKE_LABEL`` (the label the issue form's
``labels:`` key adds; empty: no label filter), updated ``since`` the start of the last complete poll (with a
small overlap). The very first poll starts at ``WHITELIST_GITHUB_INTAKE_SINCE`` (ISO date); when that is unset
it only sets the cursor to now and imports nothing, so years of old issues are not imported and answered.
Each issue is read by ``whitelist.github_issues`` and imported exactly once (unique constraint +
``get_or_create`` in a transaction). An unparseable form is still imported once, marked « invalide » and answered.

An issue that cannot become a request (too long, or any error while reading or recording it) is recorded « en
quarantaine » with its reason and answered once: it never stops the issues after it nor the cursor. When even that
row is refused, a minimal one is recorded (number, reason, a title cut to printable characters: nothing else taken
from the issue). Should that fail too, the issue is not lost: the poll goes on with the others but keeps the
cursor before it (the next poll reads it again) and raises an ANS alert until an import succeeds. Only transient
errors (GitHub, lost database connection) end a poll early, and then the cursor stays.

The portal answers on the issue (receipt, then ANS's decision). A worker claims the row in a short
transaction, posts outside it and records the result; a transient failure is retried at the next poll, a
403/404/410 stops the retries (French reason shown). The portal stays the source of truth: accepting records
the decision and points ANS to the portal, it never changes registry data by itself.

Accepting links the issue to the portal request that carries the change (the request then shows « demandée sur
GitHub »), or records why there is none (said on the issue). The publication of the first version generated
after that request's approval marks the issue applied (``note_applied_issues``, in the publishing transaction):
the portal comments on the issue with the version number and closes it, by the same claim-and-post path.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from operators.models import DrimboxRequest, RequestKind, RequestStatus
from trustspace import audit
from trustspace.alerts import raise_alert, resolve_alert
from trustspace.errors import InvalidData, NotAllowed
from trustspace.models import User
from trustspace.outbox import enqueue_task
from trustspace.technical_detail import error_text
from trustspace.text import validate_display_text
from whitelist import github_issues
from whitelist.github_publish import NETWORK_ERRORS, client, configured, describe, repository_name
from whitelist.models import (
    GitHubIntakeCursor,
    GitHubIssueKind,
    GitHubIssueRequest,
    GitHubIssueStatus,
    WhitelistVersion,
)

logger = logging.getLogger(__name__)

TASK_ACTOR = "tâche relève des issues GitHub"


POLL_OVERLAP = timedelta(minutes=5)


COMMENT_CLAIM = timedelta(minutes=10)  # a worker that died while posting frees the row after this


def _transient(exc: BaseException) -> bool:
    """GitHub unreachable or the database gone: the poll stops and rereads from the same point next time. Any
    other error belongs to the issue: it is quarantined."""
    if isinstance(exc, (*NETWORK_ERRORS, InterfaceError)):
        return True
    if isinstance(exc, OperationalError):
        # SQLSTATE class 54 (« program limit exceeded », e.g. a value too large for an index) is the data's fault.
        return not str(getattr(exc.__cause__, "sqlstate", "") or "").startswith("54")
    return False


def import_issue(repository: str, issue: Any) -> tuple[GitHubIssueRequest, bool]:
    """Create the request of one GitHub issue, once. Returns ``(request, created)``.

    An issue that cannot become a request (text too long, or any error while reading or recording it) is recorded
    « en quarantaine » with its reason instead, so that it never stops the issues after it nor the cursor. Only
    transient errors (GitHub, database connection) are raised.
    """
    try:
        parsed = github_issues.parse_issue(issue.title, issue.body)
        if parsed.quarantine_reason:
            return _quarantine(repository, issue, parsed.quarantine_reason, parsed)
        return _record(repository, issue, parsed)
    except Exception as exc:
        if _transient(exc):
            raise
        logger.exception("GitHub issue %s#%s could not be imported: quarantined", repository, issue.number)
        reason = (f"Erreur à l'enregistrement de l'issue ({exc.__class__.__name__}) : son texte n'a pas été "
                  "importé (détails dans le journal du portail).")
    try:
        return _quarantine(repository, issue, reason)
    except Exception as exc:
        if _transient(exc):
            raise
        logger.exception("GitHub issue %s#%s: its quarantine row was refused, a minimal one is recorded", repository,
                         issue.number)
        return _quarantine_minimal(repository, issue, f"{reason} La fiche de quarantaine complète a été refusée "
                                                      f"({exc.__class__.__name__}) : seuls le numéro et le début du "
                                                      "titre sont conservés.")


MINIMAL_TITLE_CHARS = 200


def _minimal_title(issue: Any) -> str:
    """The beginning of the title, printable characters only (no control, format, surrogate or private-use
    character), or « (titre illisible) »."""
    try:
        raw = str(getattr(issue, "title", "") or "")[:MINIMAL_TITLE_CHARS * 4]
    except Exception:  # noqa: BLE001 - whatever the title is, the row must be recorded
        raw = ""
    title = " ".join("".join(ch if ch.isprintable() else " " for ch in raw).split())[:MINIMAL_TITLE_CHARS]
    return title or "(titre illisible)"


def _record(repository: str, issue: Any, parsed: github_issues.ParsedIssue) -> tuple[GitHubIssueRequest, bool]:
    values = parsed.fields or {"nom": "", "description": "", "dn_certificat_operateur": ""}
    dn = values["dn_certificat_operateur"]
    defaults = {
        "kind": parsed.kind, "title": parsed.title[:500], "nom": values["nom"][:500],
        "description": values["description"], "dn_certificat_operateur": dn[:1000],
        "body": parsed.body[:github_issues.STORED_BODY_CHARS], **github_issues.issue_details(issue),
        "intake_note": parsed.note,
        "status": GitHubIssueStatus.INVALID if parsed.invalid_reason else GitHubIssueStatus.TO_REVIEW,
        "invalid_reason": parsed.invalid_reason, "drimbox": github_issues.matching_drimbox(dn) if dn else None,
    }
    return _insert_once(repository, issue, defaults, action="whitelist.github_issue_imported", after={
        "issue": issue.number, "kind": parsed.kind, "status": defaults["status"],
        "drimbox": defaults["drimbox"].pk if defaults["drimbox"] else None,
        "invalid_reason": parsed.invalid_reason, "note": parsed.note})


def _insert_once(repository: str, issue: Any, defaults: dict[str, Any], *, action: str, after: dict[str, Any],
                 reason: str = "") -> tuple[GitHubIssueRequest, bool]:
    """The issue's request row, created once and audited in the same transaction. Returns ``(request, created)``."""
    try:
        with transaction.atomic():
            request, created = GitHubIssueRequest.objects.get_or_create(
                repository=repository, issue_number=issue.number, defaults=defaults)
            if created:
                audit.record(actor=TASK_ACTOR, action=action, obj=request, after=after, reason=reason)
    except IntegrityError:
        existing = GitHubIssueRequest.objects.filter(repository=repository, issue_number=issue.number).first()
        if existing is None:  # not another poller's insert: a value the database refused
            raise
        return existing, False  # another poller recorded it between our read and our insert
    return request, created


def _quarantine(repository: str, issue: Any, reason: str,
                parsed: github_issues.ParsedIssue | None = None) -> tuple[GitHubIssueRequest, bool]:
    """Record the issue « en quarantaine »: the title and GitHub metadata, the reason, and the beginning of the
    text when it was read (not after an error: the text may be what the database refused)."""
    title = (parsed.title if parsed else
             github_issues.clean_text(str(issue.title or "")[:github_issues.TITLE_READ_CHARS], multiline=False)[0])
    defaults = {
        "kind": github_issues.kind_of(title), "title": title[:500],
        "body": parsed.body[:github_issues.STORED_BODY_CHARS] if parsed else "",
        **github_issues.issue_details(issue), "status": GitHubIssueStatus.QUARANTINED, "quarantine_reason": reason,
        "intake_note": parsed.note if parsed else "",
    }
    request, created = _insert_once(repository, issue, defaults, action="whitelist.github_issue_quarantined",
                                    after={"issue": issue.number, "status": defaults["status"]}, reason=reason)
    if created:
        logger.warning("GitHub issue %s#%s quarantined: %s", repository, issue.number, reason)
    return request, created


def _quarantine_minimal(repository: str, issue: Any, reason: str) -> tuple[GitHubIssueRequest, bool]:
    """The last resort when the quarantine row itself was refused: the issue number, the reason and a cleaned
    title; every other column a constant (ANS finds the issue by its number)."""
    number = int(issue.number)
    defaults = {
        "kind": GitHubIssueKind.UNKNOWN, "title": _minimal_title(issue), "body": "", "author_login": "",
        "author_association": "", "html_url": "", "github_created_at": timezone.now(),
        "status": GitHubIssueStatus.QUARANTINED, "quarantine_reason": reason[:2000], "intake_note": "",
    }
    request, created = _insert_once(repository, issue, defaults, action="whitelist.github_issue_quarantined",
                                    after={"issue": number, "status": defaults["status"], "minimal": True},
                                    reason=reason[:2000])
    if created:
        logger.warning("GitHub issue %s#%s quarantined (minimal row): %s", repository, number, reason)
    return request, created


def intake_alert_key(repository: str) -> str:
    return f"whitelist.intake:{repository}"


def _alert_lost(repository: str, numbers: list[int]) -> None:
    """Issues that could not be recorded at all: ANS is told; the cursor stays before them."""
    listed = ", ".join(f"#{number}" for number in numbers[:20]) + (" …" if len(numbers) > 20 else "")
    raise_alert(intake_alert_key(repository), f"Relève GitHub bloquée : des issues de {repository} ne peuvent pas "
                                              "être enregistrées",
                f"Les issues {listed} du dépôt {repository} n'ont pu être enregistrées ni comme demandes ni en "
                "quarantaine (détails dans le journal du portail). Elles ne sont pas perdues : chaque relève les "
                "relit, les autres issues continuent d'être importées, mais le point de reprise de la relève "
                "n'avance plus tant qu'elles ne sont pas enregistrées.")


def poll_issues() -> dict[str, Any]:
    """Import new issues and post owed comments. Returns counts (and ``error``, French, on failure; ``message``
    when the first poll only started the cursor)."""
    result = {"imported": 0, "seen": 0, "comments": 0}
    if not configured() or not settings.WHITELIST_GITHUB_INTAKE_ENABLED:
        return result
    name = repository_name()
    started = timezone.now()
    cursor = GitHubIntakeCursor.objects.filter(repository=name).first()
    since = cursor.polled_at - POLL_OVERLAP if cursor is not None else github_issues.intake_since()
    if since is None:
        GitHubIntakeCursor.objects.create(repository=name, polled_at=started)
        result["message"] = (f"Première relève des issues de {name} : le point de départ est fixé à maintenant, "
                             "aucune issue antérieure n'est importée (WHITELIST_GITHUB_INTAKE_SINCE pour reprendre "
                             "plus tôt).")
        logger.info("GitHub issue intake of %s: first poll, cursor set to %s, nothing imported", name, started)
        return result
    query = {"state": "all", "sort": "created", "direction": "asc", "since": since}
    if github_issues.intake_label():
        query["labels"] = [github_issues.intake_label()]
    lost: list[int] = []
    try:
        repo = client().get_repo(name)
        for issue in repo.get_issues(**query):
            if github_issues.is_pull_request(issue):
                continue
            result["seen"] += 1
            try:
                request, created = import_issue(name, issue)
            except Exception as exc:
                if _transient(exc):
                    raise
                # Not even a minimal quarantine row: the poll goes on with the others (one issue never blocks
                # them), but the cursor stays before this one, read again next time, and ANS is alerted.
                logger.exception("GitHub issue %s#%s could not even be quarantined", name, issue.number)
                lost.append(issue.number)
                continue
            result["imported"] += created
            if created and request.status == GitHubIssueStatus.QUARANTINED:
                result["quarantined"] = result.get("quarantined", 0) + 1
    except NETWORK_ERRORS as exc:
        failure = describe(exc)
        logger.warning("GitHub issue intake of %s failed: %s (%s)", name, failure.message, failure.detail)
        result["error"] = failure.message
        return result  # the cursor stays: the next poll rereads from the same point
    if lost:
        result["failed"] = len(lost)
        result["error"] = (f"{len(lost)} issue(s) de {name} n'ont pu être enregistrées (ni en quarantaine) : la "
                           "relève les relira, son point de reprise n'avance pas.")
        _alert_lost(name, lost)
    else:
        GitHubIntakeCursor.objects.update_or_create(repository=name, defaults={"polled_at": started})
        resolve_alert(intake_alert_key(name), note="Toutes les issues relues ont été enregistrées.")
    for pk in owed_comments().values_list("pk", flat=True):
        result["comments"] += post_pending_comments(pk, repo=repo)
    return result


def owed_comments() -> QuerySet[GitHubIssueRequest]:
    decided = (GitHubIssueStatus.ACCEPTED, GitHubIssueStatus.REFUSED)
    return GitHubIssueRequest.objects.filter(
        Q(receipt_comment_id__isnull=True) | Q(status__in=decided, decision_comment_id__isnull=True)
        | Q(applied_version__isnull=False, closed_at__isnull=True),
        repository=repository_name(), comments_blocked=False)


def _owed(request: GitHubIssueRequest) -> list[tuple[str, str]]:
    owed = []
    if request.receipt_comment_id is None:
        owed.append(("receipt_comment_id", github_issues.receipt_text(request)))
    decided = request.status in (GitHubIssueStatus.ACCEPTED, GitHubIssueStatus.REFUSED)
    if decided and request.decision_comment_id is None:
        owed.append(("decision_comment_id", github_issues.decision_text(request)))
    if request.applied_version_id is not None and request.closing_comment_id is None:
        owed.append(("closing_comment_id", github_issues.applied_text(request)))
    return owed


def _close_owed(request: GitHubIssueRequest) -> bool:
    return request.applied_version_id is not None and request.closed_at is None


def _claim_comments(pk: int, now: datetime) -> tuple[GitHubIssueRequest, list[tuple[str, str]]] | None:
    """Mark the row as being answered (short transaction); the comments owed, or ``None`` when there is nothing
    to do (nothing owed, blocked after a permanent error, or another worker is posting)."""
    with transaction.atomic():
        request = GitHubIssueRequest.objects.select_for_update().filter(pk=pk).first()
        if request is None or request.comments_blocked:
            return None
        if request.comment_claimed_at is not None and request.comment_claimed_at > now - COMMENT_CLAIM:
            return None
        owed = _owed(request)
        if not owed and not _close_owed(request):
            return None
        request.comment_claimed_at = now
        request.save(update_fields=["comment_claimed_at"])
    return request, owed


def post_pending_comments(pk: int, *, repo: Any = None) -> int:
    """Post the receipt, decision and publication comments a request still owes (and close the issue once
    applied); returns how many comments were posted.

    The row is claimed in a short transaction and the comments are posted outside it (no row lock held during
    network calls); each posted comment's id is recorded at once, so a crash never posts it twice.
    """
    claimed = _claim_comments(pk, timezone.now())
    if claimed is None:
        return 0
    request, owed = claimed
    posted, error, blocked = 0, "", False
    try:
        repo = repo or client().get_repo(request.repository)
        issue = repo.get_issue(request.issue_number)
        for field, text in owed:
            comment_id = issue.create_comment(text).id
            GitHubIssueRequest.objects.filter(pk=pk).update(**{field: comment_id})
            posted += 1
        if _close_owed(request):  # after its comment: the issue closes once it says which version applies it
            issue.edit(state="closed", state_reason="completed")
            GitHubIssueRequest.objects.filter(pk=pk).update(closed_at=timezone.now())
    except NETWORK_ERRORS as exc:
        reason = github_issues.permanent_comment_failure(exc)
        blocked = reason is not None
        error = reason or error_text(describe(exc), "Échange avec GitHub en échec.")
        logger.warning("GitHub comment on %s failed: %s", request.reference, error)
    with transaction.atomic():
        request = GitHubIssueRequest.objects.select_for_update().get(pk=pk)
        before = {"comments_blocked": request.comments_blocked}
        request.comment_error = error[:2000]
        request.comment_claimed_at = None
        request.comments_blocked = request.comments_blocked or blocked
        request.save(update_fields=["comment_error", "comment_claimed_at", "comments_blocked"])
        if blocked:
            audit.record(actor=TASK_ACTOR, action="whitelist.github_comment_abandoned", obj=request, before=before,
                         after={"comments_blocked": True}, reason=error)
    return posted


def _schedule_comments(pk: int) -> None:
    enqueue_task("whitelist.tasks.post_github_comments", (pk,),
                 label=f"Tâche : commentaires GitHub de la demande #{pk}")


# Which portal requests carry the change an issue asks for: those whose approval changes the whitelist (a
# declaration does not, its integration does; a switch sends the DRIMbox back to integration).
LINKABLE_KINDS = {
    GitHubIssueKind.ADD: {RequestKind.INTEGRATION, RequestKind.REINTEGRATION},
    GitHubIssueKind.UPDATE: {RequestKind.UPDATE},
    GitHubIssueKind.DELETE: {RequestKind.WITHDRAWAL},
}
KIND_PHRASES = {GitHubIssueKind.ADD: "d'ajout", GitHubIssueKind.UPDATE: "de mise à jour",
                GitHubIssueKind.DELETE: "de suppression"}
LINKABLE_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.IN_REVIEW, RequestStatus.CHANGES_REQUESTED,
                     RequestStatus.APPROVED)


def linkable_requests(request: GitHubIssueRequest) -> QuerySet[DrimboxRequest]:
    """The portal requests an accepted issue may be linked to: the DRIMbox's own, of a matching kind, submitted
    or decided (not drafts, refused or cancelled ones)."""
    if request.drimbox_id is None:
        return DrimboxRequest.objects.none()
    kinds = LINKABLE_KINDS.get(request.kind, set().union(*LINKABLE_KINDS.values()))
    return (DrimboxRequest.objects.filter(drimbox_id=request.drimbox_id, kind__in=kinds, status__in=LINKABLE_STATUSES)
            .order_by("-created_at"))


def _refused_link(message: str) -> InvalidData:
    """A portal request that cannot carry the issue: the whole sentence, also on the field (a page shows it there)."""
    return InvalidData(message, field_errors={"portal_request": [message]})


def _portal_request(request: GitHubIssueRequest, reference: str) -> DrimboxRequest:
    reference = (reference or "").strip().upper()
    portal = DrimboxRequest.objects.filter(reference=reference).select_related("drimbox").first()
    if portal is None:
        raise _refused_link(f"Aucune demande du portail n'a la référence « {reference[:40]} ».")
    if request.drimbox_id is not None and portal.drimbox_id != request.drimbox_id:
        box = portal.drimbox.identifiant if portal.drimbox_id else "aucune"
        raise _refused_link(f"La demande {portal.reference} concerne la DRIMbox {box}, pas la DRIMbox "
                            f"{request.drimbox.identifiant} que désigne l'issue.")
    if portal.status not in LINKABLE_STATUSES:
        raise _refused_link(f"La demande {portal.reference} est « {portal.get_status_display().lower()} » : seule "
                            "une demande soumise, en instruction ou approuvée peut porter une issue GitHub.")
    kinds = LINKABLE_KINDS.get(request.kind)
    if kinds is not None and portal.kind not in kinds:
        raise _refused_link(f"La demande {portal.reference} est une demande de {portal.get_kind_display().lower()} : "
                            f"elle ne porte pas une demande GitHub {KIND_PHRASES[request.kind]}.")
    return portal


def decide(request: GitHubIssueRequest, *, acting_user: User, accept: bool, comment: str = "",
           portal_request: str = "", no_link_reason: str = "") -> GitHubIssueRequest:
    """ANS accepts or refuses a request « à examiner »; the decision is answered on the issue after commit.

    Accepting names the portal request that carries the change (its reference, ``portal_request``) or says why
    there is none (``no_link_reason``, published on the issue)."""
    if not getattr(acting_user, "is_ans_admin", False):
        raise NotAllowed("Réservé aux administrateurs ANS.")
    comment = (comment or "").strip()
    no_link_reason = (no_link_reason or "").strip() if accept else ""
    if not accept and not comment:
        message = "Indiquez le motif du refus : il est publié sur l'issue GitHub."
        raise InvalidData(message, field_errors={"comment": [message]})
    # Published on the GitHub issue: nothing that would read differently there.
    validate_display_text({"comment": comment, "no_link_reason": no_link_reason},
                          multiline={"comment", "no_link_reason"},
                          labels={"comment": "commentaire", "no_link_reason": "motif"})
    with transaction.atomic():
        # Only this row is locked: PostgreSQL refuses FOR UPDATE on the nullable side of the DRIMbox join.
        request = (GitHubIssueRequest.objects.select_for_update(of=("self",)).select_related("drimbox")
                   .get(pk=request.pk))
        before = {"status": request.status}
        request.transition_to(GitHubIssueStatus.ACCEPTED if accept else GitHubIssueStatus.REFUSED)
        if accept and bool((portal_request or "").strip()) == bool(no_link_reason):
            raise _refused_link("Pour accepter, indiquez la demande du portail qui porte la modification, ou bien le "
                                "motif pour lequel il n'y en a pas (il est publié sur l'issue GitHub).")
        portal = _portal_request(request, portal_request) if accept and not no_link_reason else None
        request.decided_by, request.decided_at = acting_user, timezone.now()
        request.decision_comment = comment[:4000]
        request.portal_request, request.no_link_reason = portal, no_link_reason[:4000]
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_comment", "portal_request",
                                    "no_link_reason"])
        audit.record(actor=acting_user, action="whitelist.github_issue_accepted" if accept else
                     "whitelist.github_issue_refused", obj=request, before=before,
                     after={"status": request.status, "comment": request.decision_comment,
                            "portal_request": portal.reference if portal else None,
                            "no_link_reason": request.no_link_reason},
                     operator_id=request.drimbox.operator_id if request.drimbox_id else None)
        _schedule_comments(request.pk)
    return request


def note_applied_issues(version: WhitelistVersion) -> list[int]:
    """In the transaction that publishes ``version``: the accepted issues whose portal request was approved before
    the version read the current state are applied by it; each owes its publication comment and closing (after
    commit)."""
    read_at = version.prepared_at or version.generated_at
    applied = list(GitHubIssueRequest.objects.select_for_update().filter(
        status=GitHubIssueStatus.ACCEPTED, applied_version__isnull=True,
        portal_request__status=RequestStatus.APPROVED, portal_request__decided_at__lt=read_at))
    for request in applied:
        request.applied_version = version
        request.save(update_fields=["applied_version"])
        audit.record(actor=TASK_ACTOR, action="whitelist.github_issue_applied", obj=request,
                     after={"version": version.number, "portal_request": request.portal_request_id})
        _schedule_comments(request.pk)
    return [request.pk for request in applied]

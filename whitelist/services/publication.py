"""The write path of GitHub publications (DESIGN §7): request one, push it from Celery, record the outcome.

``request_publication`` is called by ``whitelist.services.versions`` inside the publishing transaction; the push
runs after commit (outbox task ``whitelist.tasks.publish_to_github``), claims the row « en cours », talks to
GitHub outside any transaction (``whitelist.github_publish.push``) and records « publiée » or « échec » with the
French error and, when transient, the next attempt (backoff). The beat sweep retries what is due.

Pushes never go backwards: one push at a time (a PostgreSQL advisory lock held from the check to the end of the
push, so two workers never interleave their reads and writes of the branch), and a version is pushed only while
no newer one is published — checked under that lock, again right before the branch moves, and against what the
branch already holds on GitHub. A version overtaken by a newer one is recorded « remplacée par une version plus
récente » (not retried), never pushed on top of it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from trustspace import audit
from trustspace.errors import Conflict
from trustspace.outbox import enqueue_task
from trustspace.technical_detail import with_detail
from whitelist.github_publish import (
    NETWORK_ERRORS,
    GitHubFailure,
    PushResult,
    Superseded,
    backoff,
    describe,
    head_branch_of,
    push,
    repository_name,
    snapshot,
    stale_running,
)
from whitelist.models import (
    GitHubPublication,
    GitHubPublicationMode,
    GitHubPublicationStatus,
    WhitelistVersion,
    WhitelistVersionStatus,
)

logger = logging.getLogger(__name__)

TASK_ACTOR = "tâche publication GitHub"

# Key of the PostgreSQL advisory lock that serialises GitHub pushes (any constant bigint; not the key of
# ``whitelist.services.versions.WHITELIST_WRITE_LOCK``, which is held by transactions, not across network calls).
GITHUB_PUSH_LOCK = 0x7768_6974_6750_7368  # "whitgPsh"
# How long a push waits for the one under way (a push is a dozen GitHub calls); then a transient failure, retried.
PUSH_LOCK_WAIT_SECONDS = 60


def request_publication(version: WhitelistVersion) -> tuple[GitHubPublication, dict[str, Any] | None]:
    """Create (or reset) the version's publication row as « à publier » and push it after commit.

    Returns ``(publication, before)`` (``before``: the previous state for the audit, or ``None``).
    """
    now = timezone.now()
    mode = GitHubPublicationMode.COMMIT if settings.WHITELIST_GITHUB_MODE == "commit" else \
        GitHubPublicationMode.PULL_REQUEST
    publication = GitHubPublication.objects.select_for_update().filter(version=version).first()
    before = None
    if publication is None:
        publication = GitHubPublication(version=version, created_at=now)
    else:
        if publication.status == GitHubPublicationStatus.RUNNING and publication.updated_at > now - stale_running():
            raise Conflict("La publication sur GitHub de cette version est en cours : attendez son résultat.")
        before = snapshot(publication)
    publication.transition_to(GitHubPublicationStatus.PENDING)
    publication.mode = mode
    publication.repository = repository_name()
    publication.branch = settings.WHITELIST_GITHUB_BRANCH
    publication.head_branch = head_branch_of(version) if mode == GitHubPublicationMode.PULL_REQUEST else ""
    publication.last_error = ""
    publication.attempts = 0  # a fresh request (ANS « Republier ») starts a new backoff series
    publication.next_attempt_at = now
    publication.updated_at = now
    publication.save()
    _enqueue(publication.pk)
    return publication, before


def _enqueue(pk: int) -> None:
    """Through the outbox: the task is published once the request has committed (the sweep retries the rest)."""
    enqueue_task("whitelist.tasks.publish_to_github", (pk,), label=f"Tâche : publication GitHub #{pk}")


def _claimable(publication: GitHubPublication, now: datetime) -> bool:
    """« à publier » (new or reset by ``request_publication``), a transient failure whose backoff has passed, or a
    run abandoned « en cours ». A permanent failure (``next_attempt_at`` empty) waits for « Republier »."""
    status = publication.status
    if status == GitHubPublicationStatus.PENDING:
        return True
    if status == GitHubPublicationStatus.FAILED:
        return publication.next_attempt_at is not None and publication.next_attempt_at <= now
    return status == GitHubPublicationStatus.RUNNING and publication.updated_at <= now - stale_running()


def _claim(pk: int, now: datetime) -> GitHubPublication | None:
    """Mark the row « en cours » (one worker at a time); ``None`` when there is nothing to do."""
    with transaction.atomic():
        # The publication row only (``of``): the joined version row stays unlocked, else this statement, which
        # may lock the publication first, deadlocks with « Republier » (version, then publication).
        publication = (GitHubPublication.objects.select_for_update(of=("self",)).select_related("version")
                       .filter(pk=pk).first())
        if publication is None:
            return None
        if not _claimable(publication, now):
            return None
        publication.transition_to(GitHubPublicationStatus.RUNNING)
        publication.attempts += 1
        publication.updated_at = now
        publication.save(update_fields=["status", "attempts", "updated_at"])
    return publication


@contextmanager
def _one_push_at_a_time() -> Iterator[None]:
    """Hold the GitHub push lock from the check to the end of the push (a session-level advisory lock: it is not
    tied to a transaction, and PostgreSQL releases it if the worker dies). SQLite (development) needs none."""
    if connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{PUSH_LOCK_WAIT_SECONDS * 1000}"])
            cursor.execute("SELECT pg_advisory_lock(%s)", [GITHUB_PUSH_LOCK])
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    except OperationalError as exc:  # lock_timeout: the push under way takes too long
        raise GitHubFailure("Une autre publication sur GitHub est en cours : nouvel essai automatique.",
                            transient=True) from exc
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [GITHUB_PUSH_LOCK])
        except DatabaseError:  # the connection is gone, and the session's lock with it
            logger.warning("GitHub push lock: could not release it explicitly", exc_info=True)


def push_publication(pk: int) -> PushResult | GitHubFailure | None:
    """Push one publication; records « publiée », « remplacée » or « échec » (with the French error and the next
    attempt). Returns the result, the failure (``Superseded`` for « remplacée ») or ``None`` (nothing to do)."""
    publication = _claim(pk, timezone.now())
    if publication is None:
        return None
    version = publication.version
    try:
        with _one_push_at_a_time():
            # Under the lock: a newer version published before this point is seen here; one published after it
            # is pushed after this push ends (it waits for the lock), so it lands on top.
            _check_still_current(version)
            result = push(publication, before_update=lambda: _check_still_current(version))
    except Superseded as superseded:
        _record_superseded(pk, superseded)
        return superseded
    except NETWORK_ERRORS as exc:
        failure = describe(exc)
        _record_failure(pk, failure)
        return failure
    except Exception as exc:  # an unexpected answer must not leave the row « en cours »
        logger.exception("GitHub publication %s failed unexpectedly", pk)
        failure = GitHubFailure(f"Erreur inattendue pendant la publication sur GitHub ({exc.__class__.__name__}) : "
                                "nouvel essai automatique.", transient=True)
        _record_failure(pk, failure)
        return failure
    _record_success(pk, result)
    return result


def _check_still_current(version: WhitelistVersion) -> None:
    """Never put an older list back at the root of the repository: ``Superseded`` once a newer one is published."""
    if version.status != WhitelistVersionStatus.PUBLISHED or version.signed_xml is None:
        raise GitHubFailure(f"La version {version.number} n'est pas publiée : rien à pousser sur GitHub.",
                            transient=False)
    newer = (type(version).objects.filter(status=WhitelistVersionStatus.PUBLISHED, number__gt=version.number)
             .order_by("-number").values_list("number", flat=True).first())
    if newer is not None:
        raise Superseded(f"Remplacée par une version plus récente : la version {newer} est publiée, la version "
                         f"{version.number} n'est plus poussée sur GitHub.")


def _record_success(pk: int, result: PushResult) -> None:
    now = timezone.now()
    with transaction.atomic():
        publication = GitHubPublication.objects.select_for_update().get(pk=pk)
        before = snapshot(publication)
        publication.transition_to(GitHubPublicationStatus.PUBLISHED)
        publication.commit_sha = result.commit_sha
        publication.unchanged = result.unchanged
        if result.pr_number is not None:
            publication.pr_number, publication.pr_url = result.pr_number, result.pr_url
        publication.last_error = ""
        publication.next_attempt_at = None
        publication.updated_at = publication.published_at = now
        publication.save()
        audit.record(actor=TASK_ACTOR, action="whitelist.github_published", obj=publication, before=before,
                     after={**snapshot(publication), "unchanged": result.unchanged, "pr_url": publication.pr_url})


def _record_failure(pk: int, failure: GitHubFailure) -> None:
    now = timezone.now()
    with transaction.atomic():
        publication = GitHubPublication.objects.select_for_update().get(pk=pk)
        before = snapshot(publication)
        publication.transition_to(GitHubPublicationStatus.FAILED)
        publication.last_error = with_detail(failure.message, failure.detail)
        publication.next_attempt_at = now + backoff(publication.attempts) if failure.transient else None
        publication.updated_at = now
        publication.save()
        audit.record(actor=TASK_ACTOR, action="whitelist.github_failed", obj=publication, before=before,
                     after={**snapshot(publication), "transient": failure.transient,
                            "next_attempt_at": publication.next_attempt_at})


def _record_superseded(pk: int, superseded: Superseded) -> None:
    now = timezone.now()
    with transaction.atomic():
        publication = GitHubPublication.objects.select_for_update().get(pk=pk)
        before = snapshot(publication)
        publication.transition_to(GitHubPublicationStatus.SUPERSEDED)
        publication.last_error = with_detail(superseded.message, superseded.detail)
        publication.next_attempt_at = None
        publication.updated_at = now
        publication.save()
        audit.record(actor=TASK_ACTOR, action="whitelist.github_superseded", obj=publication, before=before,
                     after=snapshot(publication))


def due_publications(now: datetime | None = None) -> QuerySet[GitHubPublication]:
    """Rows the sweep must (re)try: due failures, pending rows whose task was lost, abandoned « en cours »."""
    now = now or timezone.now()
    return GitHubPublication.objects.filter(
        Q(status=GitHubPublicationStatus.FAILED, next_attempt_at__lte=now)
        | Q(status=GitHubPublicationStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=GitHubPublicationStatus.RUNNING, updated_at__lte=now - stale_running())
    ).order_by("version__number")


def retry_due_publications(now: datetime | None = None) -> dict[str, int]:
    """Retry every due publication (beat), oldest version first. Returns ``{"published": n, "failed": n}`` (a
    version found superseded is neither)."""
    counts = {"published": 0, "failed": 0}
    for pk in list(due_publications(now).values_list("pk", flat=True)):
        outcome = push_publication(pk)
        if isinstance(outcome, PushResult):
            counts["published"] += 1
        elif outcome is not None and not isinstance(outcome, Superseded):
            counts["failed"] += 1
    return counts

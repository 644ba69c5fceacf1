"""Publication of signed whitelist versions to GitHub (DESIGN §7), laid out like ansforge/MSS-liste-blanche.

One commit built with the git data API (blobs, tree, commit, ref) holds the signed file, ``checksum`` (SHA-256
hex of the exact bytes, no newline), a dated archive copy and ``.gitattributes`` (``*.xml -text``). Blobs are
sent base64-encoded and their returned git SHA-1 is checked against the local one, so no text normalisation
can touch the bytes. Mode ``pr`` (default): branch ``liste-blanche/vN`` and a pull request (an open one is
reused); mode ``commit``: the target branch is fast-forwarded. Idempotent: when the target already holds
identical blobs nothing is created.

Never backwards: before anything is written, the target branch is read, and when it already holds a newer version
(an archive ``…_vM_…`` with M above ours, or a list whose ``DateDeGeneration`` is later than ours) — or, in mode
``pr``, an open pull request of the portal carries one — the push stops with ``Superseded``. The caller also
checks its own database again right before the branch is moved (``before_update``), and the branch is only ever
fast-forwarded: a branch moved by someone else in between makes GitHub answer 422 and the next attempt reads it
again. ``whitelist.services.publication`` serialises pushes (one at a time) around all this.

PyGithub's own retries are off: ``whitelist.services.publication`` records a failure (French message from
``describe``) and, when transient (5xx, timeout, network, rate limit), retries it with backoff from a Celery task
and the beat sweep; a 401/403/404 waits for an ANS administrator (« Republier sur GitHub »), never a hot loop.
This module only talks to GitHub: it writes no row.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from github import Auth, Github, GithubException, InputGitTreeElement, UnknownObjectException

from trustspace.backoff import backoff as retry_backoff
from trustspace.paris_time import paris_datetime_seconds

from . import verify
from .models import GitHubPublicationMode

logger = logging.getLogger(__name__)

GITATTRIBUTES_LINE = "*.xml -text"
CHECKSUM_PATH = "checksum"
GITATTRIBUTES_PATH = ".gitattributes"
# The only 422s worth retrying: a concurrent push moved the branch. Any other 422 needs an administrator.
RACE_422 = ("Update is not a fast forward", "Reference already exists")
HEAD_PREFIX = "liste-blanche/v"

# --- client ---------------------------------------------------------------------------------------


class GitHubFailure(Exception):
    """A GitHub call failed. ``message``: French; ``detail``: GitHub's own words (English), kept apart for the
    technical detail; ``transient``: worth retrying later (5xx, timeout, network, rate limit)."""

    def __init__(self, message, *, transient, detail=None):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.detail = detail or None


class Superseded(GitHubFailure):
    """A newer version is already published (in the portal) or on GitHub: this one must not be pushed."""

    def __init__(self, message):
        super().__init__(message, transient=False)


def repository_name():
    return (getattr(settings, "WHITELIST_GITHUB_REPOSITORY", "") or "").strip()


def configured():
    return bool(repository_name())


def client():
    """PyGithub on ``WHITELIST_GITHUB_API_URL`` with the token; its retries are off (Celery retries)."""
    token = getattr(settings, "WHITELIST_GITHUB_TOKEN", "") or ""
    return Github(auth=Auth.Token(token) if token else None, base_url=settings.WHITELIST_GITHUB_API_URL.rstrip("/"),
                  timeout=settings.WHITELIST_GITHUB_TIMEOUT, retry=None, seconds_between_requests=None,
                  seconds_between_writes=settings.WHITELIST_GITHUB_SECONDS_BETWEEN_WRITES or None,
                  user_agent="portail-drim-m")


def _github_message(exc):
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or "").strip()
    details = [str(e.get("message") or e.get("code") or "") for e in data.get("errors", []) if isinstance(e, dict)]
    return " ; ".join(part for part in [message, *details] if part)[:300]


def describe(exc) -> GitHubFailure:
    """A ``GitHubFailure`` (French) for an exception raised while talking to GitHub."""
    if isinstance(exc, GitHubFailure):
        return exc
    if isinstance(exc, GithubException):
        status, detail = exc.status, _github_message(exc)
        detail = detail or f"HTTP {status}"
        if status == 401:
            return GitHubFailure("GitHub refuse le jeton d'accès (401) : vérifiez WHITELIST_GITHUB_TOKEN.",
                                 transient=False, detail=detail)
        if status == 403 and ("rate limit" in detail.lower() or "abuse" in detail.lower()):
            return GitHubFailure("Limite de requêtes GitHub atteinte (403) : nouvel essai plus tard.",
                                 transient=True, detail=detail)
        if status == 403:
            return GitHubFailure("Le jeton GitHub n'a pas les droits nécessaires sur le dépôt (403).",
                                 transient=False, detail=detail)
        if status == 404:
            return GitHubFailure(f"Dépôt GitHub « {repository_name()} » introuvable ou inaccessible avec ce jeton "
                                 "(404).", transient=False, detail=detail)
        if status == 429 or (status is not None and status >= 500):
            return GitHubFailure(f"GitHub est indisponible (erreur {status}) : nouvel essai automatique.",
                                 transient=True, detail=detail)
        if status == 422 and any(race in detail for race in RACE_422):
            return GitHubFailure("GitHub a refusé la modification (422) parce que la branche a bougé entre-temps : "
                                 "nouvel essai automatique.", transient=True, detail=detail)
        if status == 422:
            return GitHubFailure("GitHub a refusé la modification (422) : une intervention d'un administrateur est "
                                 "nécessaire (corrigez le dépôt ou la configuration, puis « Republier sur GitHub »), "
                                 "pas de nouvel essai automatique.", transient=False, detail=detail)
        return GitHubFailure(f"GitHub a répondu par une erreur {status}.", transient=False, detail=detail)
    technical = f"{exc.__class__.__name__} : {exc}"
    if isinstance(exc, requests.Timeout):
        return GitHubFailure("GitHub ne répond pas (délai dépassé) : nouvel essai automatique.", transient=True,
                             detail=technical)
    if isinstance(exc, (requests.ConnectionError, ConnectionError, OSError)):
        return GitHubFailure("Connexion à GitHub impossible : nouvel essai automatique.", transient=True,
                             detail=technical)
    # Any other requests.RequestException (NETWORK_ERRORS is the only caller's filter).
    return GitHubFailure("Échange avec GitHub en échec : nouvel essai automatique.", transient=True,
                         detail=technical)


NETWORK_ERRORS = (GithubException, requests.RequestException, OSError, GitHubFailure)

# --- layout ---------------------------------------------------------------------------------------


def blob_sha(content: bytes) -> str:
    """Git's object id of a blob: identical bytes give the identical SHA on GitHub."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def archive_path(version, file_name=None):
    file_name = file_name or settings.WHITELIST_GITHUB_FILE_NAME
    folder = (settings.WHITELIST_GITHUB_ARCHIVE_DIR or "").strip("/")
    name = f"{version.published_at:%Y-%m-%d}_v{version.number}_{file_name}"
    return f"{folder}/{name}" if folder else name


def archived_numbers(paths, file_name=None) -> list[int]:
    """The version numbers of the portal's archive copies among ``paths`` (``<dir>/<date>_v<N>_<file>``)."""
    file_name = file_name or settings.WHITELIST_GITHUB_FILE_NAME
    folder = (settings.WHITELIST_GITHUB_ARCHIVE_DIR or "").strip("/")
    pattern = re.compile(("" if not folder else re.escape(folder) + "/")
                         + r"\d{4}-\d{2}-\d{2}_v(\d{1,9})_" + re.escape(file_name))
    return [int(match.group(1)) for path in paths if (match := pattern.fullmatch(path))]


def gitattributes(existing: bytes | None) -> bytes:
    """The repository's ``.gitattributes`` with ``*.xml -text`` (other lines kept)."""
    if existing is None:
        return (GITATTRIBUTES_LINE + "\n").encode()
    lines = existing.decode("utf-8", "replace").splitlines()
    if any(line.split() == GITATTRIBUTES_LINE.split() for line in lines):
        return existing
    separator = b"" if not existing or existing.endswith(b"\n") else b"\n"
    return existing + separator + (GITATTRIBUTES_LINE + "\n").encode()


def expected_files(version, existing_gitattributes: bytes | None = None) -> dict[str, bytes]:
    signed = bytes(version.signed_xml)
    return {
        settings.WHITELIST_GITHUB_FILE_NAME: signed,
        CHECKSUM_PATH: hashlib.sha256(signed).hexdigest().encode("ascii"),  # no newline, as ANS's file
        archive_path(version): signed,
        GITATTRIBUTES_PATH: gitattributes(existing_gitattributes),
    }


# --- publication rows (written by whitelist.services.publication) ----------------------------------


def head_branch_of(version):
    return f"{HEAD_PREFIX}{version.number}"


def stale_running():
    """A publication « en cours » for longer was abandoned by its worker (killed, time limit): it may be resumed."""
    return timedelta(seconds=settings.WHITELIST_GITHUB_STALE_RUNNING_SECONDS)


def snapshot(publication):
    return {"status": publication.status, "mode": publication.mode, "repository": publication.repository,
            "branch": publication.branch, "commit_sha": publication.commit_sha, "pr_number": publication.pr_number,
            "attempts": publication.attempts, "last_error": publication.last_error}


def backoff(attempts):
    return retry_backoff(attempts, base_seconds=settings.WHITELIST_GITHUB_RETRY_BASE_SECONDS,
                         max_seconds=settings.WHITELIST_GITHUB_RETRY_MAX_SECONDS)


@dataclass
class PushResult:
    commit_sha: str
    unchanged: bool
    pr_number: int | None = None
    pr_url: str = ""


# --- talking to GitHub ----------------------------------------------------------------------------


def _files_of(repo, tree_sha):
    """path -> blob sha of every file of a tree (one recursive call), and the tree object."""
    tree = repo.get_git_tree(tree_sha, recursive=True)
    return {element.path: element.sha for element in tree.tree if element.type == "blob"}, tree


def _blob_bytes(repo, sha):
    return base64.b64decode(repo.get_git_blob(sha).content)


def _identical(current, wanted):
    return all(current.get(path) == blob_sha(content) for path, content in wanted.items())


def _generation_of(content: bytes):
    """The ``DateDeGeneration`` of a list, or ``None`` when the file is not one (nothing to compare with)."""
    try:
        return verify.read_entries(verify.parse(content).getroot())[0]
    except Exception:  # noqa: BLE001 - whatever the file is, it is not a newer list
        return None


def refuse_if_newer_on_branch(repo, version, current, branch):
    """``Superseded`` when the branch (``current``: path -> blob sha) already holds a newer version than ours."""
    newer = [number for number in archived_numbers(current) if number > version.number]
    if newer:
        raise Superseded(f"Remplacée par une version plus récente : la branche « {branch} » du dépôt GitHub contient "
                         f"déjà la version {max(newer)} ; la version {version.number} n'y est pas poussée (la liste "
                         "du dépôt ne revient jamais en arrière).")
    file_name = settings.WHITELIST_GITHUB_FILE_NAME
    signed = bytes(version.signed_xml)
    if file_name in current and current[file_name] != blob_sha(signed):
        generated = _generation_of(_blob_bytes(repo, current[file_name]))
        if generated is not None and generated > version.generated_at:
            raise Superseded(f"Remplacée par une version plus récente : la liste de la branche « {branch} » du dépôt "
                             f"GitHub a été générée le {paris_datetime_seconds(generated)}, après la version "
                             f"{version.number} ({paris_datetime_seconds(version.generated_at)}) : celle-ci n'y est "
                             "pas poussée (la liste du dépôt ne revient jamais en arrière).")


def _refuse_if_newer_pull(open_pulls, version, owner):
    """``Superseded`` when an open pull request of the portal already proposes a newer version."""
    newer = [number for pull in open_pulls if (number := _older_version_of(pull.head.ref)) is not None
             and number > version.number and (pull.head.label or "").startswith(f"{owner}:")]
    if newer:
        raise Superseded(f"Remplacée par une version plus récente : la demande de fusion de la version {max(newer)} "
                         f"est déjà ouverte ; la version {version.number} n'est pas proposée.")


def _commit(repo, version, base_commit, base_tree, current, wanted):
    """One commit on ``base_commit`` changing only the files whose bytes differ."""
    elements, sent = [], set()
    for path, content in wanted.items():
        expected = blob_sha(content)
        if current.get(path) == expected:
            continue
        if expected not in sent:  # the list and its archive copy are one blob
            blob = repo.create_git_blob(base64.b64encode(content).decode("ascii"), "base64")
            if blob.sha != expected:
                raise GitHubFailure(f"GitHub a enregistré « {path} » avec une empreinte inattendue ({blob.sha}) : "
                                    "publication interrompue.", transient=False)
            sent.add(expected)
        elements.append(InputGitTreeElement(path, "100644", "blob", sha=expected))
    tree = repo.create_git_tree(elements, base_tree=base_tree)
    message = (f"Liste blanche DRIM-M v{version.number}\n\nDateDeGeneration : "
               f"{version.generated_at:%Y-%m-%dT%H:%M:%SZ}\nSHA-256 : {version.sha256}\n"
               f"Entrées : {version.entry_count}\n")
    return repo.create_git_commit(message, tree, [base_commit])


def push(publication, before_update: Callable[[], None] | None = None) -> PushResult:
    """Put the version's files on GitHub; nothing is created when the target already holds them.

    Raises ``Superseded`` when the target already holds (or a pull request proposes) a newer version.
    ``before_update`` is called right before a branch or pull request is created or moved (it raises to stop)."""
    version = publication.version
    check = before_update or (lambda: None)
    repo = client().get_repo(publication.repository)
    try:
        base_ref = repo.get_git_ref(f"heads/{publication.branch}")
    except UnknownObjectException as exc:
        raise GitHubFailure(f"La branche « {publication.branch} » n'existe pas dans le dépôt GitHub "
                            f"« {publication.repository} ».", transient=False) from exc
    base_commit = repo.get_git_commit(base_ref.object.sha)
    current, base_tree = _files_of(repo, base_commit.tree.sha)
    existing_attributes = _blob_bytes(repo, current[GITATTRIBUTES_PATH]) if GITATTRIBUTES_PATH in current else None
    wanted = expected_files(version, existing_attributes)
    owner = publication.repository.split("/")[0]
    if _identical(current, wanted):  # already on the target branch (e.g. its pull request was merged)
        if publication.mode == GitHubPublicationMode.PULL_REQUEST:
            _close_superseded(repo, list(repo.get_pulls(state="open", base=publication.branch)), version.number,
                              owner)
        return PushResult(commit_sha=base_commit.sha, unchanged=True)
    refuse_if_newer_on_branch(repo, version, current, publication.branch)

    if publication.mode == GitHubPublicationMode.COMMIT:
        commit = _commit(repo, version, base_commit, base_tree, current, wanted)
        check()
        base_ref.edit(commit.sha, force=False)  # fast-forward only: a concurrent push gives 422, retried later
        return PushResult(commit_sha=commit.sha, unchanged=False)

    open_pulls = list(repo.get_pulls(state="open", base=publication.branch))
    _refuse_if_newer_pull(open_pulls, version, owner)
    head = publication.head_branch or head_branch_of(version)
    try:
        head_ref = repo.get_git_ref(f"heads/{head}")
    except UnknownObjectException:
        head_ref = None
    unchanged = False
    if head_ref is not None:
        head_commit = repo.get_git_commit(head_ref.object.sha)
        head_files, _tree = _files_of(repo, head_commit.tree.sha)
        # Up to date only when built on the current base: after a merge or a change of the base branch the pull
        # request would otherwise show (or revert) unrelated changes.
        on_base = [parent.sha for parent in head_commit.parents] == [base_commit.sha]
        if on_base and _identical(head_files, wanted):
            commit_sha, unchanged = head_commit.sha, True
        else:
            commit_sha = _commit(repo, version, base_commit, base_tree, current, wanted).sha
            check()
            head_ref.edit(commit_sha, force=True)  # the branch belongs to the portal
    else:
        commit_sha = _commit(repo, version, base_commit, base_tree, current, wanted).sha
        check()
        repo.create_git_ref(f"refs/heads/{head}", commit_sha)
    pull = next((p for p in open_pulls if p.head.ref == head and (p.head.label or "").startswith(f"{owner}:")),
                None)
    if pull is None:
        unchanged = False
        check()
        pull = repo.create_pull(
            base=publication.branch, head=head, title=f"Liste blanche DRIM-M v{version.number}",
            body=(f"Version {version.number} de la liste blanche DRIM-M, signée et vérifiée par le portail de "
                  f"l'Espace de Confiance.\n\n- DateDeGeneration : {version.generated_at:%Y-%m-%dT%H:%M:%SZ}\n"
                  f"- SHA-256 : `{version.sha256}`\n- Entrées : {version.entry_count}\n"
                  f"- Archive : `{archive_path(version)}`\n"))
    _close_superseded(repo, open_pulls, version.number, owner)
    return PushResult(commit_sha=commit_sha, unchanged=unchanged, pr_number=pull.number, pr_url=pull.html_url)


def _older_version_of(branch):
    """M for a portal branch ``liste-blanche/vM``, else ``None``."""
    suffix = branch.removeprefix(HEAD_PREFIX) if branch.startswith(HEAD_PREFIX) else ""
    return int(suffix) if suffix.isdigit() else None


def _close_superseded(repo, open_pulls, number, owner):
    """Close the portal's open pull requests of older versions (never merged: they would put an older list back)
    and delete their branches. Runs after the new pull request exists, so one is always open."""
    for pull in open_pulls:
        older = _older_version_of(pull.head.ref)
        if older is None or older >= number or not (pull.head.label or "").startswith(f"{owner}:"):
            continue
        pull.create_issue_comment(f"Remplacée par la version {number}")
        pull.edit(state="closed")
        try:
            repo.get_git_ref(f"heads/{pull.head.ref}").delete()
        except UnknownObjectException:
            pass  # already deleted (a retry after a partial run)

"""Publication of signed versions to GitHub (DESIGN §7) against a loopback server speaking GitHub's REST API."""
import datetime as dt
import hashlib
import re
import threading
import time

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.support.concurrency import in_parallel
from tests.support.github_server import GitHubServer, blob_sha
from tests.support.lifecycle import active_drimbox
from trustspace.errors import Conflict
from trustspace.models import AuditEntry
from trustspace.technical_detail import split_detail
from whitelist import builder, github_publish, services, tasks, verify
from whitelist.models import GitHubPublication, GitHubPublicationStatus, WhitelistVersion
from whitelist.services import versions as versions_services

REPO = "ansforge/MSS-liste-blanche-test"
FILE = "LISTEBLANCHE_DRIM-M.xml"


@pytest.fixture
def github(settings):
    with GitHubServer(token="s3cret") as server:
        server.add_repo(REPO, files={"README.md": b"# Liste blanche\n"})
        settings.WHITELIST_GITHUB_API_URL = server.base_url
        settings.WHITELIST_GITHUB_TOKEN = "s3cret"
        settings.WHITELIST_GITHUB_REPOSITORY = REPO
        settings.WHITELIST_GITHUB_BRANCH = "main"
        settings.WHITELIST_GITHUB_MODE = "pr"
        settings.WHITELIST_GITHUB_FILE_NAME = FILE
        settings.WHITELIST_GITHUB_ARCHIVE_DIR = "archives"
        settings.WHITELIST_GITHUB_SECONDS_BETWEEN_WRITES = 0
        settings.WHITELIST_GITHUB_TIMEOUT = 5
        yield server


@pytest.fixture
def publish(world, ans2, box, signer_p12, django_capture_on_commit_callbacks):
    """Prepare and publish a version; the GitHub push runs after commit (Celery eager in tests)."""
    def run():
        version = services.prepare_version(acting_user=world.ans)
        with django_capture_on_commit_callbacks(execute=True):
            version = services.approve_and_publish(version, acting_user=ans2)
        return version
    return run


def _archive(version):
    return f"archives/{version.published_at:%Y-%m-%d}_v{version.number}_{FILE}"


def test_pull_request_with_the_files_and_exact_bytes(github, publish):
    version = publish()
    signed = bytes(version.signed_xml)
    repo = github.repos[REPO]
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.PUBLISHED, publication.last_error
    assert publication.mode == "pr" and publication.attempts == 1 and not publication.unchanged

    # One pull request from liste-blanche/vN to main; main itself is untouched.
    assert [(p["head"], p["base"], p["state"]) for p in repo.pulls] == [(f"liste-blanche/v{version.number}", "main",
                                                                         "open")]
    assert publication.pr_number == repo.pulls[0]["number"]
    assert publication.pr_url.endswith(f"/pull/{publication.pr_number}")
    assert set(repo.files_at("refs/heads/main")) == {"README.md"}

    files = repo.files_at(f"refs/heads/liste-blanche/v{version.number}")
    assert set(files) == {"README.md", FILE, "checksum", _archive(version), ".gitattributes"}
    assert files[FILE] == signed and files[_archive(version)] == signed
    assert files["checksum"] == hashlib.sha256(signed).hexdigest().encode() == version.sha256.encode()
    assert not files["checksum"].endswith(b"\n") and len(files["checksum"]) == 64
    assert files[".gitattributes"] == b"*.xml -text\n"
    assert publication.commit_sha == repo.refs[f"refs/heads/liste-blanche/v{version.number}"]
    commit = repo.get(publication.commit_sha, "commit")
    assert commit["parents"] == [repo.refs["refs/heads/main"]] and f"v{version.number}" in commit["message"]
    assert AuditEntry.objects.filter(action="whitelist.github_published", object_id=str(publication.pk)).count() == 1


def test_republish_is_a_no_op(github, publish, world, django_capture_on_commit_callbacks):
    version = publish()
    repo = github.repos[REPO]
    commits, writes, pulls = repo.commit_count(), len(github.writes()), len(repo.pulls)

    with django_capture_on_commit_callbacks(execute=True):
        services.republish_on_github(version, acting_user=world.ans)
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.PUBLISHED and publication.unchanged
    assert publication.attempts == 1  # « Republier » starts a new series of attempts
    assert repo.commit_count() == commits and len(repo.pulls) == pulls
    assert len(github.writes()) == writes, github.writes()[writes:]
    assert AuditEntry.objects.filter(action="whitelist.github_republish_requested").count() == 1


def test_commit_mode_fast_forwards_the_branch_and_keeps_gitattributes(github, publish, settings, world,
                                                                      django_capture_on_commit_callbacks):
    settings.WHITELIST_GITHUB_MODE = "commit"
    repo = github.repos[REPO]
    tree = repo.build({"README.md": ("100644", repo.put_blob(b"x\n")),
                       ".gitattributes": ("100644", repo.put_blob(b"*.pdf binary"))})
    old_main = repo.refs["refs/heads/main"] = repo.put_commit(tree, [repo.refs["refs/heads/main"]], "attrs",
                                                              timezone.now())
    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.PUBLISHED, publication.last_error
    assert publication.mode == "commit" and publication.pr_number is None and repo.pulls == []
    assert repo.refs["refs/heads/main"] == publication.commit_sha
    assert repo.get(publication.commit_sha, "commit")["parents"] == [old_main]
    files = repo.files_at()
    assert files[FILE] == bytes(version.signed_xml) and files["checksum"] == version.sha256.encode()
    assert files[".gitattributes"] == b"*.pdf binary\n*.xml -text\n"

    commits = repo.commit_count()
    with django_capture_on_commit_callbacks(execute=True):
        services.republish_on_github(version, acting_user=world.ans)
    assert repo.commit_count() == commits and repo.refs["refs/heads/main"] == publication.commit_sha
    assert GitHubPublication.objects.get(version=version).unchanged


def test_server_errors_then_recovery_through_the_retry_task(github, publish):
    github.fail_next(1, 502, method="POST", path_contains="/git/trees")  # after the blobs were sent
    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.FAILED
    assert "indisponible (erreur 502)" in publication.last_error
    assert publication.next_attempt_at > timezone.now()
    repo = github.repos[REPO]
    assert repo.pulls == [] and set(repo.refs) == {"refs/heads/main"}

    # Not due yet: the sweep leaves it alone.
    requests = len(github.requests)
    assert tasks.retry_github_publications() == {"published": 0, "failed": 0}
    assert len(github.requests) == requests

    # Due, but GitHub still answers 503: backoff grows.
    GitHubPublication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    github.fail_next(1, 503)
    assert tasks.retry_github_publications() == {"published": 0, "failed": 1}
    publication.refresh_from_db()
    assert publication.attempts == 2 and "erreur 503" in publication.last_error
    assert (publication.next_attempt_at - publication.updated_at).total_seconds() == pytest.approx(120, abs=2)

    GitHubPublication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    assert tasks.retry_github_publications() == {"published": 1, "failed": 0}
    publication.refresh_from_db()
    assert publication.status == GitHubPublicationStatus.PUBLISHED and publication.last_error == ""
    assert publication.attempts == 3 and publication.next_attempt_at is None
    assert len(repo.pulls) == 1
    files = repo.files_at(f"refs/heads/liste-blanche/v{version.number}")
    assert files[FILE] == bytes(version.signed_xml)


def test_network_failure_is_retried(github, publish, settings):
    settings.WHITELIST_GITHUB_API_URL = "http://127.0.0.1:9/api/v3"  # closed port
    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.FAILED
    assert "Connexion à GitHub impossible" in publication.last_error and publication.next_attempt_at is not None
    assert github.requests == []

    # GitHub is reachable again: once the backoff has passed, the sweep publishes it.
    settings.WHITELIST_GITHUB_API_URL = github.base_url
    GitHubPublication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    assert tasks.retry_github_publications() == {"published": 1, "failed": 0}
    publication.refresh_from_db()
    assert publication.status == GitHubPublicationStatus.PUBLISHED and publication.attempts == 2
    assert publication.last_error == "" and publication.next_attempt_at is None
    files = github.repos[REPO].files_at(f"refs/heads/liste-blanche/v{version.number}")
    assert files[FILE] == bytes(version.signed_xml)


def test_bad_token_is_a_failure_shown_without_hot_loop(github, publish, settings, client, world):
    settings.WHITELIST_GITHUB_TOKEN = "wrong"
    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.FAILED
    assert "401" in publication.last_error and "WHITELIST_GITHUB_TOKEN" in publication.last_error
    assert publication.next_attempt_at is None
    requests = len(github.requests)
    assert tasks.retry_github_publications() == {"published": 0, "failed": 0}
    assert len(github.requests) == requests

    client.force_login(world.ans)
    page = client.get(reverse("ans_whitelist_version", kwargs={"number": version.number})).content.decode()
    assert "échec" in page and "jeton d&#x27;accès (401)" in page and "Republier sur GitHub" in page
    history = client.get(reverse("ans_whitelist")).content.decode()
    assert "GitHub : échec" in history
    # GitHub's own words are kept, but only as the technical detail under the French message.
    message, detail = split_detail(publication.last_error)
    assert "Bad credentials" not in message and detail == "Bad credentials"
    assert '<summary>Détail technique</summary><code lang="en" data-error-detail>Bad credentials</code>' in page
    assert page.count("Bad credentials") == 1


def test_republish_button_after_fixing_the_token(github, publish, settings, client, world,
                                                 django_capture_on_commit_callbacks):
    settings.WHITELIST_GITHUB_TOKEN = "wrong"
    version = publish()
    settings.WHITELIST_GITHUB_TOKEN = "s3cret"
    client.force_login(world.ans)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ans_whitelist_github_republish", kwargs={"number": version.number}))
    assert response.status_code == 302
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.PUBLISHED and publication.pr_number
    page = client.get(reverse("ans_whitelist_version", kwargs={"number": version.number})).content.decode()
    assert publication.pr_url in page and "publiée" in page


def test_older_version_is_never_pushed_back(github, publish, world, settings):
    settings.WHITELIST_GITHUB_TOKEN = "wrong"
    first = publish()
    settings.WHITELIST_GITHUB_TOKEN = "s3cret"
    second = publish()
    assert GitHubPublication.objects.get(version=second).is_published
    with pytest.raises(Conflict, match="dernière version publiée"):
        services.republish_on_github(first, acting_user=world.ans)
    GitHubPublication.objects.filter(version=first).update(status=GitHubPublicationStatus.PENDING,
                                                           next_attempt_at=timezone.now())
    assert tasks.retry_github_publications() == {"published": 0, "failed": 0}
    old = GitHubPublication.objects.get(version=first)
    assert old.status == GitHubPublicationStatus.SUPERSEDED and old.next_attempt_at is None
    assert old.last_error == (f"Remplacée par une version plus récente : la version {second.number} est publiée, la "
                              f"version {first.number} n'est plus poussée sur GitHub.")
    assert AuditEntry.objects.filter(action="whitelist.github_superseded", object_id=str(old.pk)).count() == 1
    requests = len(github.requests)
    assert tasks.retry_github_publications() == {"published": 0, "failed": 0}  # « remplacée » is never retried
    assert len(github.requests) == requests
    assert github.repos[REPO].files_at(f"refs/heads/liste-blanche/v{second.number}")[FILE] == \
        bytes(second.signed_xml)
    assert f"refs/heads/liste-blanche/v{first.number}" not in github.repos[REPO].refs


def test_not_configured(publish, settings, client, world):
    settings.WHITELIST_GITHUB_REPOSITORY = ""
    version = publish()
    assert not GitHubPublication.objects.exists()
    with pytest.raises(Conflict, match="pas configurée"):
        services.republish_on_github(version, acting_user=world.ans)
    client.force_login(world.ans)
    assert "non configurée" in client.get(reverse("ans_whitelist_version", kwargs={"number": version.number})
                                          ).content.decode()
    assert "non configurée" in client.get(reverse("ans_whitelist")).content.decode()


def test_server_blob_ids_are_git_object_ids():
    # The loopback server and the portal agree with git: `git hash-object` of "hello\n".
    assert blob_sha(b"hello\n") == github_publish.blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_failure_after_the_branch_was_pushed_reuses_it(github, publish):
    github.fail_next(1, 500, method="POST", path_contains="/pulls")
    version = publish()
    repo = github.repos[REPO]
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.FAILED and repo.pulls == []
    head = f"refs/heads/liste-blanche/v{version.number}"
    pushed, commits = repo.refs[head], repo.commit_count()

    GitHubPublication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now())
    assert tasks.retry_github_publications() == {"published": 1, "failed": 0}
    publication.refresh_from_db()
    assert publication.is_published and publication.commit_sha == pushed == repo.refs[head]
    assert repo.commit_count() == commits and len(repo.pulls) == 1
    # Written once: 3 blobs (the list and its archive copy share one), 1 tree, 1 commit, 1 ref.
    assert [m for m, p in github.writes() if "/git/" in p] == ["POST"] * 6


def _open_pulls(repo):
    return [(p["head"], p["state"]) for p in repo.pulls if p["state"] == "open"]


def test_two_versions_before_the_first_pull_request_is_merged(github, publish):
    repo = github.repos[REPO]
    first = publish()
    first_pr = GitHubPublication.objects.get(version=first).pr_number
    assert _open_pulls(repo) == [(f"liste-blanche/v{first.number}", "open")]

    second = publish()
    publication = GitHubPublication.objects.get(version=second)
    assert publication.is_published, publication.last_error
    # Only the newest version's pull request stays open; the older one is closed with a comment, its branch deleted.
    assert _open_pulls(repo) == [(f"liste-blanche/v{second.number}", "open")]
    assert [c["body"] for c in repo.comments[first_pr]] == [f"Remplacée par la version {second.number}"]
    assert f"refs/heads/liste-blanche/v{first.number}" not in repo.refs
    head = repo.refs[f"refs/heads/liste-blanche/v{second.number}"]
    assert repo.get(head, "commit")["parents"] == [repo.refs["refs/heads/main"]]
    assert repo.files_at(f"refs/heads/liste-blanche/v{second.number}")[FILE] == bytes(second.signed_xml)

    # Merging the newest pull request puts the newest list on main; a republish then creates nothing.
    github.merge_pull(REPO, publication.pr_number)
    assert repo.files_at()[FILE] == bytes(second.signed_xml)


def test_branch_rebuilt_when_the_base_moved(github, publish, world, django_capture_on_commit_callbacks):
    repo = github.repos[REPO]
    version = publish()
    head_ref = f"refs/heads/liste-blanche/v{version.number}"
    old_head = repo.refs[head_ref]
    # Someone changes main (e.g. the README) before the pull request is merged.
    tree = repo.build({"README.md": ("100644", repo.put_blob(b"# Liste blanche (modifiee)\n"))})
    new_main = repo.refs["refs/heads/main"] = repo.put_commit(tree, [repo.refs["refs/heads/main"]], "readme",
                                                              timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.republish_on_github(version, acting_user=world.ans)
    publication = GitHubPublication.objects.get(version=version)
    assert publication.is_published and not publication.unchanged, publication.last_error
    # Same files on the old head, but built on an old base: rebuilt on the current main (force-updated ref).
    assert repo.refs[head_ref] != old_head and repo.get(repo.refs[head_ref], "commit")["parents"] == [new_main]
    files = repo.files_at(head_ref)
    assert files["README.md"] == b"# Liste blanche (modifiee)\n" and files[FILE] == bytes(version.signed_xml)
    assert len([p for p in repo.pulls if p["state"] == "open"]) == 1


def test_only_a_race_422_is_retried(github, publish, world, django_capture_on_commit_callbacks):
    github.fail_next(1, 422, method="POST", path_contains="/git/refs", message="Reference already exists")
    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.FAILED and publication.next_attempt_at is not None
    assert "a bougé" in publication.last_error

    github.fail_next(1, 422, method="POST", path_contains="/pulls", message="Validation Failed")
    with django_capture_on_commit_callbacks(execute=True):
        services.republish_on_github(version, acting_user=world.ans)
    publication.refresh_from_db()
    assert publication.status == GitHubPublicationStatus.FAILED and publication.next_attempt_at is None
    assert "intervention d'un administrateur" in publication.last_error
    assert "Validation Failed" in split_detail(publication.last_error)[1]
    requests = len(github.requests)
    assert tasks.retry_github_publications() == {"published": 0, "failed": 0}
    assert len(github.requests) == requests


def test_permanent_failure_is_never_claimed_automatically_and_republish_resets_attempts(
        github, publish, settings, world, django_capture_on_commit_callbacks):
    settings.WHITELIST_GITHUB_TOKEN = "wrong"
    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.is_failed and publication.next_attempt_at is None and publication.attempts == 1
    requests = len(github.requests)
    assert tasks.publish_to_github(publication.pk) == "rien à faire"  # a stray task: still not retried
    assert len(github.requests) == requests
    # A transient failure whose backoff has not passed is not taken either.
    GitHubPublication.objects.filter(pk=publication.pk).update(next_attempt_at=timezone.now() + timezone.timedelta(
        minutes=5), attempts=7)
    assert tasks.publish_to_github(publication.pk) == "rien à faire" and len(github.requests) == requests

    settings.WHITELIST_GITHUB_TOKEN = "s3cret"
    with django_capture_on_commit_callbacks(execute=True):
        services.republish_on_github(version, acting_user=world.ans)
    publication.refresh_from_db()
    assert publication.is_published and publication.attempts == 1


# --- never backwards: a newer version already on GitHub, concurrent pushes --------------------------------------


def _put_on_main(repo, files):
    """Someone (another portal instance, a restored database…) committed these files to main."""
    head = repo.refs["refs/heads/main"]
    current = repo.flatten(repo.get(head, "commit")["tree"])
    current.update({path: ("100644", repo.put_blob(content)) for path, content in files.items()})
    repo.refs["refs/heads/main"] = repo.put_commit(repo.build(current), [head], "ailleurs", timezone.now())
    return repo.refs["refs/heads/main"]


@pytest.mark.parametrize("mode", ["commit", "pr"])
def test_a_branch_holding_a_newer_archive_is_never_overwritten(github, publish, settings, mode):
    settings.WHITELIST_GITHUB_MODE = mode
    repo = github.repos[REPO]
    main = _put_on_main(repo, {f"archives/2099-01-01_v7_{FILE}": b"<liste v7/>"})
    writes = len(github.writes())

    version = publish()  # v1, while the repository already has v7
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.SUPERSEDED and publication.next_attempt_at is None
    assert publication.last_error.startswith("Remplacée par une version plus récente : la branche « main » du dépôt "
                                             "GitHub contient déjà la version 7 ; la version 1 n'y est pas poussée")
    assert github.writes()[writes:] == [] and repo.refs["refs/heads/main"] == main and repo.pulls == []


def test_a_branch_holding_a_later_generation_date_is_never_overwritten(github, publish, settings, client, world):
    settings.WHITELIST_GITHUB_MODE = "commit"
    repo = github.repos[REPO]
    later = builder.render([], generated_at=timezone.now() + dt.timedelta(days=1))
    main = _put_on_main(repo, {FILE: later})
    writes = len(github.writes())

    version = publish()
    publication = GitHubPublication.objects.get(version=version)
    assert publication.status == GitHubPublicationStatus.SUPERSEDED, publication.last_error
    assert "a été générée le" in publication.last_error and "après la version 1" in publication.last_error
    assert github.writes()[writes:] == [] and repo.refs["refs/heads/main"] == main
    client.force_login(world.ans)
    page = client.get(reverse("ans_whitelist_version", kwargs={"number": version.number})).content.decode()
    assert "GitHub : remplacée par une version plus récente" in page

    # An older list on the branch (or a file that is not a list) does not stop a push.
    _put_on_main(repo, {FILE: builder.render([], generated_at=timezone.now() - dt.timedelta(days=1))})
    GitHubPublication.objects.filter(pk=publication.pk).update(status=GitHubPublicationStatus.PENDING,
                                                               next_attempt_at=timezone.now())
    assert tasks.retry_github_publications() == {"published": 1, "failed": 0}
    assert repo.files_at()[FILE] == bytes(version.signed_xml)


def _new_version(world, ans2):
    """One more active DRIMbox, then a version prepared and published (its push runs after the commit)."""
    active_drimbox(world.operator, world.legal, world.ans)
    return services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)


def _history(repo, ref="refs/heads/main"):
    """(version number, DateDeGeneration) of the list at each commit of the branch, oldest first."""
    states, sha = [], repo.refs[ref]
    while sha:
        commit = repo.get(sha, "commit")
        files = repo.flatten(commit["tree"])
        if FILE in files:
            content = repo.get(files[FILE][1], "blob")
            number = re.match(r"Liste blanche DRIM-M v(\d+)", commit["message"])
            states.append((int(number.group(1)) if number else None,
                           verify.read_entries(verify.parse(content).getroot())[0]))
        sha = commit["parents"][0] if commit["parents"] else None
    return states[::-1]


def _advisory_lock_waiters():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                       "(SELECT oid FROM pg_database WHERE datname = current_database())")
        return cursor.fetchone()[0]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_older_push_caught_mid_way_never_lands_on_a_newer_one(github, world, ans2, box, signer_p12, settings):
    """vN's push has checked the database and is about to read the branch when vN+1 is published: vN+1's push waits
    for vN's to end, and vN, checked again before the branch moves, is not pushed."""
    settings.WHITELIST_GITHUB_MODE = "commit"
    settings.WHITELIST_GITHUB_TOKEN = "wrong"  # published, not yet pushed
    older = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    settings.WHITELIST_GITHUB_TOKEN = "s3cret"
    active_drimbox(world.operator, world.legal, world.ans)
    newer = services.prepare_version(acting_user=world.ans)
    GitHubPublication.objects.filter(version=older).update(status=GitHubPublicationStatus.PENDING,
                                                           next_attempt_at=timezone.now())
    arrived, release = github.hold_next("GET", "/git/ref/heads/main")
    outcomes = {}

    def run(name, work):
        try:
            outcomes[name] = work()
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[name] = exc
        finally:
            connection.close()

    old_push = threading.Thread(target=run, args=("older", lambda: services.push_publication(
        GitHubPublication.objects.get(version=older).pk)))
    old_push.start()
    assert arrived.wait(30)  # the older push is in the middle, holding the push lock
    new_publication = threading.Thread(target=run, args=("newer", lambda: services.approve_and_publish(
        newer, acting_user=ans2)))
    new_publication.start()
    waited = 0
    deadline = time.monotonic() + 60  # until the newer push waits for the lock (or, unserialised, has finished)
    while new_publication.is_alive() and not (waited := _advisory_lock_waiters()) and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    old_push.join(60)
    new_publication.join(60)

    assert waited  # the newer push waited for the one under way
    assert isinstance(outcomes["newer"], WhitelistVersion), outcomes
    repo = github.repos[REPO]
    newer.refresh_from_db()
    assert repo.files_at()[FILE] == bytes(newer.signed_xml)
    # Checked again before moving the branch, the older version was not pushed at all.
    assert isinstance(outcomes["older"], github_publish.Superseded), outcomes
    assert [number for number, _ in _history(repo)] == [newer.number]
    assert GitHubPublication.objects.get(version=older).status == GitHubPublicationStatus.SUPERSEDED
    assert GitHubPublication.objects.get(version=newer).status == GitHubPublicationStatus.PUBLISHED


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["commit", "pr"])
def test_parallel_pushes_of_several_versions_end_on_the_newest_and_never_go_back(
        github, world, ans2, box, signer_p12, settings, mode):
    settings.WHITELIST_GITHUB_MODE = mode
    settings.WHITELIST_GITHUB_TOKEN = "wrong"  # four versions published, none pushed yet
    versions = [services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)]
    versions += [_new_version(world, ans2) for _ in range(3)]
    settings.WHITELIST_GITHUB_TOKEN = "s3cret"
    GitHubPublication.objects.update(status=GitHubPublicationStatus.PENDING, next_attempt_at=timezone.now())
    pks = [GitHubPublication.objects.get(version=version).pk for version in versions]
    newest = versions[-1]
    republish = reverse("ans_whitelist_github_republish", kwargs={"number": newest.number})
    turn = iter(range(20))
    turn_lock = threading.Lock()

    def work():
        with turn_lock:
            index = next(turn)
        if index % 5 == 4:  # ANS clicks « Republier sur GitHub » meanwhile
            client = Client()
            client.force_login(world.ans)
            response = client.post(republish)
            return response.status_code, [m.message for m in get_messages(response.wsgi_request)]
        return services.push_publication(pks[index % 4])

    results, errors = in_parallel(20, work)
    services.retry_due_publications()  # whatever a click reset meanwhile

    assert errors == [] and len(results) == 20
    clicks = [result for result in results if isinstance(result, tuple)]
    assert len(clicks) == 4 and {status for status, _ in clicks} == {302}  # never a 500
    assert all(not isinstance(r, github_publish.GitHubFailure) or isinstance(r, github_publish.Superseded)
               for r in results), [r.message for r in results if isinstance(r, github_publish.GitHubFailure)]
    rows = {row.version_id: row for row in GitHubPublication.objects.all()}
    assert rows[newest.pk].status == GitHubPublicationStatus.PUBLISHED, rows[newest.pk].last_error
    assert {rows[v.pk].status for v in versions[:-1]} <= {GitHubPublicationStatus.PUBLISHED,
                                                          GitHubPublicationStatus.SUPERSEDED}
    repo = github.repos[REPO]
    if mode == "commit":
        newest.refresh_from_db()
        assert repo.files_at()[FILE] == bytes(newest.signed_xml)
        history = _history(repo)
        assert history[-1][0] == newest.number
        # Never backwards: each list on main is newer than the one before it.
        assert all(a[0] < b[0] and a[1] <= b[1] for a, b in zip(history, history[1:], strict=False)), history
    else:
        assert _open_pulls(repo) == [(f"liste-blanche/v{newest.number}", "open")]
        assert FILE not in repo.files_at()  # main only changes when ANS merges


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_version_held_by_a_writer_does_not_block_the_commit_of_its_publication_written_twice(
        world, ans2, box, signer_p12, settings):
    """A task delivered in the outbox's transaction (the in-process runner) claims the publication, then records
    the outcome: the same row written twice in one transaction, whose foreign key to the version PostgreSQL checks
    again at the commit. A version writer (« Republier », which then waits for the publication) must not block
    that check: the two would deadlock (seen in a parallel run of the test above). The commit here gives up after
    5 s of waiting instead of waiting for the writer, which only lets go at the end."""
    settings.WHITELIST_GITHUB_REPOSITORY = "ansforge/absent"
    settings.WHITELIST_GITHUB_API_URL = "http://127.0.0.1:9/api/v3"  # closed port: the push fails, the row stays
    version = services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)
    publication = GitHubPublication.objects.get(version=version)
    held, release = threading.Event(), threading.Event()

    def version_writer():
        try:
            with transaction.atomic():
                versions_services._lock(version)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    writer = threading.Thread(target=version_writer)
    writer.start()
    try:
        assert held.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            for error in ("premier essai", "second essai"):
                publication.last_error = error
                publication.save()
        publication.refresh_from_db()
        assert publication.last_error == "second essai"
    finally:
        release.set()
        writer.join(30)

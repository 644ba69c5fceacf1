"""Operators' requests filed as GitHub issues (issue form) imported for ANS review (DESIGN §7)."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certificates.models import Certificate
from tests.support.lifecycle import active_drimbox
from tests.whitelist.conftest import REPO
from trustspace.errors import Conflict, InvalidData
from trustspace.models import AuditEntry
from whitelist import services, tasks
from whitelist.models import GitHubIntakeCursor, GitHubIssueRequest, GitHubIssueStatus
from whitelist.services import intake


def form(nom="E-MEDIA", description="Nouvelle DRIMbox du site de Dijon.", dn=None, labels=None):
    labels = labels or ("Nom", "Description", "DNCertificatOperateur")
    values = (nom, description, dn if dn is not None else "CN=db175.test.mesimagesmedicales.fr,OU=300000001831981,"
                                                        "O=E-MEDIA,ST=Côte-d'Or (21),C=FR")
    return "\n\n".join(f"### {label}\n\n{value or '_No response_'}" for label, value in zip(labels, values,
                                                                                          strict=True))


def _comments(github, number):
    return [c["body"] for c in github.repos[REPO].comments.get(number, [])]


def test_issue_form_imported_once_and_answered_once(github, world):
    box = active_drimbox(world.operator, world.legal, world.ans)
    number = github.add_issue(REPO, title="[Update]: changement de contact",
                              body=form(dn=f"CN={box.db_fqdn},OU=300000001831981,O=OP,C=FR"), login="op-a",
                              author_association="CONTRIBUTOR")

    assert tasks.poll_github_issues() == {"imported": 1, "seen": 1, "comments": 1}
    request = GitHubIssueRequest.objects.get()
    assert (request.repository, request.issue_number, request.kind) == (REPO, number, "update")
    assert request.status == GitHubIssueStatus.TO_REVIEW and request.invalid_reason == ""
    assert request.nom == "E-MEDIA" and request.description == "Nouvelle DRIMbox du site de Dijon."
    assert request.dn_certificat_operateur.startswith(f"CN={box.db_fqdn},")
    assert request.drimbox == box and request.author_login == "op-a"
    assert request.author_association == "CONTRIBUTOR"
    assert request.html_url.endswith(f"/issues/{number}")
    comments = _comments(github, number)
    assert len(comments) == 1 and request.receipt_comment_id is not None
    assert comments[0] == (f"Demande reçue par le portail de l'Espace de Confiance DRIM-M sous la référence "
                           f"{request.reference} ; elle sera examinée par l'ANS.")

    # Second poll: `since` is sent, nothing imported again, no second comment.
    assert tasks.poll_github_issues() == {"imported": 0, "seen": 1, "comments": 0}
    issue_lists = [path for method, path in github.requests if method == "GET" and "/issues?" in path]
    assert "since=2020-01-01" in issue_lists[0] and "since=" in issue_lists[1] and "2020" not in issue_lists[1]
    assert all("state=all" in path and "labels=demande" in path for path in issue_lists)
    assert GitHubIssueRequest.objects.count() == 1 and len(_comments(github, number)) == 1
    assert AuditEntry.objects.filter(action="whitelist.github_issue_imported").count() == 1


def test_kinds_labels_and_empty_answers(github, world):
    github.add_issue(REPO, title="[Add] nouvelle DRIMbox", body=form(description=""))
    github.add_issue(REPO, title="[delete] retrait", body=form(labels=(
        "Nom de l'opérateur (Nom)", "Description de la demande", "DN du certificat (DNCertificatOperateur)")))
    tasks.poll_github_issues()
    add, delete = GitHubIssueRequest.objects.order_by("issue_number")
    assert add.kind == "add" and add.description == "" and add.status == GitHubIssueStatus.TO_REVIEW
    assert delete.kind == "delete" and delete.nom == "E-MEDIA" and delete.dn_certificat_operateur.startswith("CN=db175")
    assert delete.description == "Nouvelle DRIMbox du site de Dijon."
    assert add.drimbox is None  # db175 is not in this registry


def test_drimbox_matched_by_certificate_subject(github, world):
    box = active_drimbox(world.operator, world.legal, world.ans)
    # A certificate whose CN is not the registry FQDN (e.g. issued before a renaming): found by its subject.
    subject = "CN=ancien-nom.example.fr,OU=300000001831981,O=OP,C=FR"
    Certificate.objects.filter(drimbox=box, kind="db").update(subject=subject)
    request = services.import_issue(REPO, _issue(9, body=form(dn=subject.replace(",", ", "))))[0]
    assert request.drimbox == box
    other = services.import_issue(REPO, _issue(10, body=form(dn="CN=ancien-nom.example.fr,O=AUTRE,C=FR")))[0]
    assert other.drimbox is None


def _issue(number, *, title="[Add] x", body=""):
    from types import SimpleNamespace
    return SimpleNamespace(number=number, title=title, body=body, html_url=f"https://github.com/o/r/issues/{number}",
                           user=SimpleNamespace(login="x"), created_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
                           author_association="NONE")


def test_invalid_form_imported_once_marked_and_answered(github, world):
    free_text = github.add_issue(REPO, title="[Add] merci d'ajouter notre DRIMbox", body="Bonjour, pouvez-vous…")
    bad_title = github.add_issue(REPO, title="Ajout DRIMbox", body=form())
    no_dn = github.add_issue(REPO, title="[Update]: x", body=form(dn=""))
    tasks.poll_github_issues()
    tasks.poll_github_issues()
    rows = {r.issue_number: r for r in GitHubIssueRequest.objects.all()}
    assert set(rows) == {free_text, bad_title, no_dn}
    assert all(r.status == GitHubIssueStatus.INVALID for r in rows.values())
    assert "formulaire" in rows[free_text].invalid_reason
    assert rows[bad_title].kind == "inconnu" and "[Add], [Update]: ou [Delete]" in rows[bad_title].invalid_reason
    assert "DNCertificatOperateur est vide" in rows[no_dn].invalid_reason
    for number, row in rows.items():
        comments = _comments(github, number)
        assert len(comments) == 1 and "ne peut pas être examinée" in comments[0] and row.invalid_reason in comments[0]


def test_pull_requests_in_the_issue_list_are_ignored(github, world):
    github.add_issue(REPO, title="[Add] via une PR", body=form(), pull_request=True)
    assert tasks.poll_github_issues()["seen"] == 0
    assert not GitHubIssueRequest.objects.exists() and _comments(github, 1) == []


def test_pagination_is_followed(github, world):
    for n in range(35):  # PyGithub asks 30 per page: the Link header leads to the second page
        github.add_issue(REPO, title=f"[Add] n°{n}", body=form(nom=f"Op {n}"))
    assert tasks.poll_github_issues()["imported"] == 35
    assert any("page=2" in path for _m, path in github.requests)
    assert GitHubIssueRequest.objects.count() == 35


def test_github_down_keeps_the_cursor_and_comment_failures_are_retried(github, world):
    github.add_issue(REPO, title="[Add] x", body=form())
    github.fail_next(1, 502)
    result = tasks.poll_github_issues()
    assert "indisponible (erreur 502)" in result["error"] and not GitHubIntakeCursor.objects.exists()

    github.fail_next(1, 503, method="POST", path_contains="/comments")
    assert tasks.poll_github_issues()["imported"] == 1
    request = GitHubIssueRequest.objects.get()
    assert request.receipt_comment_id is None and "erreur 503" in request.comment_error
    assert _comments(github, 1) == []
    assert tasks.poll_github_issues()["comments"] == 1
    request.refresh_from_db()
    assert request.receipt_comment_id is not None and request.comment_error == ""
    assert len(_comments(github, 1)) == 1


def test_ans_accepts_and_refuses_with_comments_back(github, world, client, django_capture_on_commit_callbacks):
    box = active_drimbox(world.operator, world.legal, world.ans)
    accepted = github.add_issue(REPO, title="[Update]: x", body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR"))
    refused = github.add_issue(REPO, title="[Delete] y", body=form())
    tasks.poll_github_issues()
    first, second = GitHubIssueRequest.objects.order_by("issue_number")
    client.force_login(world.ans)

    page = client.get(reverse("ans_github_request", kwargs={"pk": first.pk})).content.decode()
    assert "Accepter" in page and box.db_fqdn in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ans_github_request_decide", kwargs={"pk": first.pk}),
                               {"decision": "accepter", "comment": "Contact mis à jour dans le portail.",
                                "no_link_reason": "Contact changé par l'ANS à la demande de l'opérateur."})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == GitHubIssueStatus.ACCEPTED and first.decided_by == world.ans
    assert first.decision_comment_id is not None
    comments = _comments(github, accepted)
    assert len(comments) == 2 and "acceptée par l'ANS, sans demande dans le portail" in comments[1]
    assert "Contact changé par l'ANS" in comments[1] and "Contact mis à jour" in comments[1]
    page = client.get(reverse("ans_github_request", kwargs={"pk": first.pk})).content.decode()
    assert reverse("drimbox_detail", kwargs={"pk": box.pk}) in page and "source de vérité" in page

    with pytest.raises(InvalidData, match="motif"):
        services.decide(second, acting_user=world.ans, accept=False, comment=" ")
    with django_capture_on_commit_callbacks(execute=True):
        services.decide(second, acting_user=world.ans, accept=False, comment="Demande en double.")
    comments = _comments(github, refused)
    assert len(comments) == 2 and "refusée par l'ANS" in comments[1] and "Demande en double." in comments[1]
    with pytest.raises(Conflict, match="déjà été traitée"):
        services.decide(second, acting_user=world.ans, accept=True)
    assert AuditEntry.objects.filter(action__in=["whitelist.github_issue_accepted",
                                                 "whitelist.github_issue_refused"]).count() == 2
    # A later poll owes nothing more.
    assert tasks.poll_github_issues()["comments"] == 0 and len(_comments(github, refused)) == 2


def test_review_queue_shows_waiting_github_requests(github, world, client):
    github.add_issue(REPO, title="[Add] à examiner", body=form(nom="Opérateur GitHub"))
    github.add_issue(REPO, title="pas un formulaire", body="?")
    tasks.poll_github_issues()
    client.force_login(world.ans)
    page = client.get(reverse("ans_review_queue")).content.decode()
    assert "Demandes reçues par GitHub" in page and "1 demande à examiner" in page
    assert "Opérateur GitHub" in page and reverse("ans_github_requests") in page
    listing = client.get(reverse("ans_github_requests")).content.decode()
    assert "Opérateur GitHub" in listing and "invalide" in listing
    filtered = client.get(reverse("ans_github_requests"), {"statut": "invalide"}).content.decode()
    assert "Opérateur GitHub" not in filtered and "#2" in filtered


def test_list_page_query_count_is_constant(world, client):
    client.force_login(world.ans)

    def count():
        client.get(reverse("ans_github_requests"))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("ans_github_requests")).status_code == 200
        return len(queries)

    def add(numbers):
        # Every row of the larger set links a DRIMbox and half are decided: their joins must not add queries.
        for n in numbers:
            box = active_drimbox(world.operator, world.legal, world.ans)
            request = services.import_issue(REPO, _issue(n, body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR")))[0]
            assert request.drimbox == box
            if n % 2:
                services.decide(request, acting_user=world.ans, accept=True, no_link_reason="Fait par l'ANS.")

    add(range(1, 3))
    small = count()
    add(range(3, 13))
    assert GitHubIssueRequest.objects.exclude(decided_by=None).count() == 6
    page = client.get(reverse("ans_github_requests")).content.decode()
    assert world.ans.display_name in page and "(NONE)" in page
    assert count() == small


def test_not_configured_does_nothing(settings, world):
    settings.WHITELIST_GITHUB_REPOSITORY = ""
    assert tasks.poll_github_issues() == {"imported": 0, "seen": 0, "comments": 0}


def test_first_poll_without_since_imports_nothing_and_starts_the_cursor(github, world, settings):
    settings.WHITELIST_GITHUB_INTAKE_SINCE = ""
    github.add_issue(REPO, title="[Add] ancienne demande", body=form(),
                     created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    result = tasks.poll_github_issues()
    assert result["imported"] == 0 and "aucune issue antérieure" in result["message"]
    assert GitHubIntakeCursor.objects.filter(repository=REPO).exists()
    assert not GitHubIssueRequest.objects.exists() and _comments(github, 1) == []
    assert not [p for m, p in github.requests if "/issues" in p]  # not even listed

    new = github.add_issue(REPO, title="[Add] nouvelle demande", body=form())
    assert tasks.poll_github_issues()["imported"] == 1
    assert GitHubIssueRequest.objects.get().issue_number == new


def test_only_issues_with_the_form_label_unless_the_setting_is_empty(github, world, settings):
    labelled = github.add_issue(REPO, title="[Add] via le formulaire", body=form())
    github.add_issue(REPO, title="[Add] question libre", body=form(), labels=())
    tasks.poll_github_issues()
    assert list(GitHubIssueRequest.objects.values_list("issue_number", flat=True)) == [labelled]
    settings.WHITELIST_GITHUB_INTAKE_LABEL = ""
    assert tasks.poll_github_issues()["imported"] == 1
    assert GitHubIssueRequest.objects.count() == 2


def test_issue_opened_and_closed_between_two_polls_is_imported_and_answered(github, world):
    tasks.poll_github_issues()
    number = github.add_issue(REPO, title="[Delete] retrait", body=form())
    github.close_issue(REPO, number)
    assert tasks.poll_github_issues()["imported"] == 1
    request = GitHubIssueRequest.objects.get(issue_number=number)
    assert request.receipt_comment_id is not None and len(_comments(github, number)) == 1


def test_author_is_shown_as_unverified(github, world, client):
    box = active_drimbox(world.operator, world.legal, world.ans)
    github.add_issue(REPO, title="[Update]: x", body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR"), login="inconnu",
                     author_association="NONE")
    tasks.poll_github_issues()
    request = GitHubIssueRequest.objects.get()
    client.force_login(world.ans)
    page = client.get(reverse("ans_github_request", kwargs={"pk": request.pk})).content.decode()
    assert "DRIMbox correspondant au DN indiqué (auteur GitHub non vérifié)" in page
    assert "avec le dépôt (GitHub) : NONE" in page and box.db_fqdn in page
    listing = client.get(reverse("ans_github_requests")).content.decode()
    assert "auteur GitHub non vérifié" in listing and "inconnu (NONE)" in listing


@pytest.mark.parametrize("status", [403, 404, 410])
def test_permanent_comment_failure_stops_the_retries(github, world, client, status):
    github.add_issue(REPO, title="[Add] x", body=form())
    github.fail_next(1, status, method="POST", path_contains="/comments", message="Issue locked")
    assert tasks.poll_github_issues()["comments"] == 0
    request = GitHubIssueRequest.objects.get()
    assert request.comments_blocked and request.receipt_comment_id is None and request.comment_claimed_at is None
    assert f"({status})" in request.comment_error and "Plus de nouvel essai automatique" in request.comment_error
    assert AuditEntry.objects.filter(action="whitelist.github_comment_abandoned").count() == 1
    posts = len(github.writes("POST"))
    assert tasks.poll_github_issues()["comments"] == 0 and tasks.post_github_comments(request.pk) == 0
    assert len(github.writes("POST")) == posts and _comments(github, 1) == []
    client.force_login(world.ans)
    page = client.get(reverse("ans_github_request", kwargs={"pk": request.pk})).content.decode()
    assert "Plus de nouvel essai automatique" in page and "nouvel essai à la prochaine relève" not in page


def test_a_claimed_row_is_not_posted_twice_and_no_lock_is_held_while_posting(github, world):
    from django.utils import timezone

    github.add_issue(REPO, title="[Add] x", body=form())
    github.fail_next(1, 503, method="POST", path_contains="/comments")
    tasks.poll_github_issues()
    request = GitHubIssueRequest.objects.get()
    GitHubIssueRequest.objects.filter(pk=request.pk).update(comment_claimed_at=timezone.now())
    assert services.post_pending_comments(request.pk) == 0 and _comments(github, 1) == []  # another worker
    GitHubIssueRequest.objects.filter(pk=request.pk).update(
        comment_claimed_at=timezone.now() - intake.COMMENT_CLAIM * 2)  # that worker died
    assert services.post_pending_comments(request.pk) == 1 and len(_comments(github, 1)) == 1
    request.refresh_from_db()
    assert request.comment_claimed_at is None and request.receipt_comment_id is not None


def test_one_repository_lookup_per_poll(github, world):
    for n in range(3):
        github.add_issue(REPO, title=f"[Add] n°{n}", body=form(nom=f"Op {n}"))
    assert tasks.poll_github_issues()["comments"] == 3
    repo_reads = [p for m, p in github.requests if m == "GET" and p.rstrip("/").endswith(REPO)]
    assert len(repo_reads) == 1

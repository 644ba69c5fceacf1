"""GitHub intake against hostile issues: control characters, huge bodies, and issues that cannot be recorded —
quarantined with their reason, never blocking the others or the cursor."""
import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from tests.whitelist.conftest import REPO
from tests.whitelist.test_github_intake import _comments, form
from trustspace.errors import Conflict
from trustspace.models import Alert, AuditEntry
from whitelist import github_issues, services, tasks
from whitelist.models import GitHubIntakeCursor, GitHubIssueRequest, GitHubIssueStatus
from whitelist.services import intake

KIB = 1024
MIB = 1024 * KIB


def _issue(number, *, title="[Add] x", body=""):
    return SimpleNamespace(number=number, title=title, body=body, html_url=f"https://github.com/o/r/issues/{number}",
                           user=SimpleNamespace(login="x"), created_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
                           author_association="NONE")


def _cursor():
    return GitHubIntakeCursor.objects.get(repository=REPO).polled_at


# --- control characters ---------------------------------------------------------------------------------------


def test_nul_and_control_characters_are_removed_and_the_poll_goes_on(github, world):
    """On PostgreSQL a U+0000 used to make the insert fail on every poll, the cursor never moving again."""
    dirty = github.add_issue(
        REPO, title="[Add]\x00 nouvelle\u202e DRIMbox\n",
        body=form(nom="E-\x00MEDIA\x1b", description="Ligne 1\x00\n\tLigne 2\ud800\r\nLigne 3",
                  dn="CN=db175.test.mesimagesmedicales.fr\x00,O=E-MEDIA,C=FR"))
    after = github.add_issue(REPO, title="[Update]: suivante", body=form(nom="Suivante"))
    started = timezone.now()

    assert tasks.poll_github_issues() == {"imported": 2, "seen": 2, "comments": 2}
    request = GitHubIssueRequest.objects.get(issue_number=dirty)
    assert request.status == GitHubIssueStatus.TO_REVIEW and request.kind == "add"
    assert request.title == "[Add] nouvelle DRIMbox"
    assert request.nom == "E-MEDIA" and request.description == "Ligne 1\n\tLigne 2\nLigne 3"
    assert request.dn_certificat_operateur == "CN=db175.test.mesimagesmedicales.fr,O=E-MEDIA,C=FR"
    assert "\x00" not in request.body and "\ud800" not in request.body and "### Nom" in request.body
    # ANS is told that the text was changed, and by what.
    assert request.intake_note.startswith("Titre : 3 caractères de contrôle ou invisibles retirés")
    assert "(le premier : U+0000 NULL)" in request.intake_note and "texte : 5 caractères" in request.intake_note
    audit = AuditEntry.objects.get(action="whitelist.github_issue_imported", object_id=str(request.pk))
    assert "U+0000" in audit.after["note"]
    assert GitHubIssueRequest.objects.get(issue_number=after).nom == "Suivante"
    assert _cursor() >= started
    assert len(_comments(github, dirty)) == 1 and len(_comments(github, after)) == 1

    # The next poll rereads both (overlap): nothing imported twice, the cursor moves on, new issues still come.
    newest = github.add_issue(REPO, title="[Delete] encore une", body=form())
    assert tasks.poll_github_issues() == {"imported": 1, "seen": 3, "comments": 1}
    assert GitHubIssueRequest.objects.filter(issue_number=newest).exists() and GitHubIssueRequest.objects.count() == 3


def test_text_refused_by_the_database_is_quarantined_and_the_next_issue_still_imported(github, world, monkeypatch):
    """The last line of defence, on the real database: with the cleaning switched off, a NUL reaches the INSERT.
    PostgreSQL refuses it (DataError): the issue is quarantined instead of failing the poll; SQLite stores it."""
    monkeypatch.setattr(github_issues, "clean_text", lambda text, *, multiline: (text, ""))
    poisoned = github.add_issue(REPO, title="[Add] poison", body=form(description="avant\x00après"))
    after = github.add_issue(REPO, title="[Add] suivante", body=form(nom="Suivante"))
    started = timezone.now()

    result = tasks.poll_github_issues()
    assert result["imported"] == 2 and "error" not in result and "failed" not in result
    request = GitHubIssueRequest.objects.get(issue_number=poisoned)
    if connection.vendor == "postgresql":
        assert result["quarantined"] == 1
        assert request.status == GitHubIssueStatus.QUARANTINED and "(DataError)" in request.quarantine_reason
        assert request.title == "[Add] poison" and request.body == ""
        assert "n'a pas pu être importée" in _comments(github, poisoned)[0]
    else:
        assert "quarantined" not in result and request.status == GitHubIssueStatus.TO_REVIEW
    assert GitHubIssueRequest.objects.get(issue_number=after).status == GitHubIssueStatus.TO_REVIEW
    assert _cursor() >= started


# --- size ------------------------------------------------------------------------------------------------------


def test_a_1_mib_body_is_quarantined_with_its_reason_shown_and_answered(github, world, client):
    huge = github.add_issue(REPO, title="[Add] énorme", body=form() + "\n\n" + "x" * MIB)
    after = github.add_issue(REPO, title="[Add] suivante", body=form(nom="Suivante"))

    result = tasks.poll_github_issues()
    assert result == {"imported": 2, "seen": 2, "comments": 2, "quarantined": 1}
    request = GitHubIssueRequest.objects.get(issue_number=huge)
    assert request.status == GitHubIssueStatus.QUARANTINED and request.kind == "add"
    size = len((form() + "\n\n").encode()) + MIB
    spelt = f"{size:,}".replace(",", " ")
    assert request.quarantine_reason == (f"Texte de l'issue trop long ({spelt} octets, au plus 65 536) : "
                                         "il n'a pas été lu.")
    assert request.nom == "" and request.drimbox is None and request.invalid_reason == ""
    assert len(request.body) == github_issues.STORED_BODY_CHARS and request.body.startswith("### Nom")
    entry = AuditEntry.objects.get(action="whitelist.github_issue_quarantined")
    assert entry.object_id == str(request.pk) and entry.reason == request.quarantine_reason
    comment = _comments(github, huge)[0]
    assert request.reference in comment and request.quarantine_reason in comment and "quarantaine" in comment
    assert GitHubIssueRequest.objects.get(issue_number=after).status == GitHubIssueStatus.TO_REVIEW

    client.force_login(world.ans)
    listing = client.get(reverse("ans_github_requests"), {"statut": "quarantaine"}).content.decode()
    assert "en quarantaine" in listing and "trop long" in listing and f"#{huge}<" in listing
    assert f"#{after}<" not in listing and "1 demande à examiner" in listing
    detail = client.get(reverse("ans_github_request", kwargs={"pk": request.pk})).content.decode()
    assert "Motif de la quarantaine : Texte de l&#x27;issue trop long" in detail and "Accepter" not in detail
    with pytest.raises(Conflict, match="en quarantaine"):
        services.decide(request, acting_user=world.ans, accept=True)
    # Quarantined once: a later poll neither imports nor answers it again.
    assert tasks.poll_github_issues() == {"imported": 0, "seen": 2, "comments": 0}
    assert len(_comments(github, huge)) == 1


def test_the_limit_is_a_setting_counted_in_utf8_bytes(settings, world):
    settings.WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES = 1000
    body = form(description="é" * 480)  # < 1000 characters, > 1000 bytes
    assert len(body) < 1000 < len(body.encode())
    request, created = services.import_issue(REPO, _issue(1, body=body))
    assert created and request.status == GitHubIssueStatus.QUARANTINED and "au plus 1 000)" in request.quarantine_reason
    settings.WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES = 2000
    assert services.import_issue(REPO, _issue(2, body=body))[0].status == GitHubIssueStatus.TO_REVIEW


# --- issues that cannot be recorded -----------------------------------------------------------------------------


def test_an_issue_breaking_the_import_is_quarantined_shown_to_ans_and_answered(github, world, client, monkeypatch):
    """Fault injection: whatever goes wrong with one issue (here the DRIMbox lookup) stays with that issue."""
    real = github_issues.matching_drimbox

    def lookup(dn):
        if "cassé" in dn:
            raise ValueError("DN illisible")
        return real(dn)

    monkeypatch.setattr(github_issues, "matching_drimbox", lookup)
    broken = github.add_issue(REPO, title="[Update]: DN cassé", body=form(dn="CN=cassé.example.fr,O=X,C=FR"))
    after = github.add_issue(REPO, title="[Add] suivante", body=form(nom="Suivante"))
    started = timezone.now()

    assert tasks.poll_github_issues() == {"imported": 2, "seen": 2, "comments": 2, "quarantined": 1}
    request = GitHubIssueRequest.objects.get(issue_number=broken)
    assert request.status == GitHubIssueStatus.QUARANTINED and request.kind == "update"
    assert request.quarantine_reason == ("Erreur à l'enregistrement de l'issue (ValueError) : son texte n'a pas été "
                                         "importé (détails dans le journal du portail).")
    assert "DN illisible" not in _comments(github, broken)[0]  # the error detail stays in the logs, not on GitHub
    assert GitHubIssueRequest.objects.get(issue_number=after).status == GitHubIssueStatus.TO_REVIEW
    assert _cursor() >= started

    client.force_login(world.ans)
    listing = client.get(reverse("ans_github_requests")).content.decode()
    assert "en quarantaine" in listing and "Erreur à l&#x27;enregistrement de l&#x27;issue (ValueError)" in listing


def test_a_refused_quarantine_row_leaves_a_minimal_one_and_never_loses_the_issue(github, world, monkeypatch):
    """The issue's GitHub metadata is what the database refuses: neither the request nor its quarantine row can be
    written; a minimal row (number, reason, cleaned title) is, and the issue is answered like any other."""
    real_details = github_issues.issue_details

    def hostile(issue):
        if issue.number == 1:
            raise ValueError("métadonnées refusées")
        return real_details(issue)

    monkeypatch.setattr(github_issues, "issue_details", hostile)
    first = github.add_issue(REPO, title="[Add]\x00 Centre d'imagerie\u202e Nord\t" + "x" * 400, body=form())
    second = github.add_issue(REPO, title="[Add] b", body=form())
    started = timezone.now()

    assert tasks.poll_github_issues() == {"imported": 2, "seen": 2, "comments": 2, "quarantined": 1}
    request = GitHubIssueRequest.objects.get(issue_number=first)
    assert request.status == GitHubIssueStatus.QUARANTINED and request.kind == "inconnu"
    assert request.title == ("[Add] Centre d'imagerie Nord " + "x" * 400)[:200]
    assert request.body == "" and request.author_login == "" and request.html_url == ""
    assert request.quarantine_reason == (
        "Erreur à l'enregistrement de l'issue (ValueError) : son texte n'a pas été importé (détails dans le journal "
        "du portail). La fiche de quarantaine complète a été refusée (ValueError) : seuls le numéro et le début du "
        "titre sont conservés.")
    audit = AuditEntry.objects.get(action="whitelist.github_issue_quarantined", object_id=str(request.pk))
    assert audit.after["minimal"] is True
    assert len(_comments(github, first)) == 1  # answered on the issue, as any quarantined one
    assert GitHubIssueRequest.objects.get(issue_number=second).status == GitHubIssueStatus.TO_REVIEW
    assert _cursor() >= started


def test_an_issue_that_cannot_be_recorded_at_all_keeps_the_cursor_and_alerts_ans(github, world, monkeypatch):
    """Not even the minimal row: the others are imported, the cursor stays before it (read again at each poll)
    and ANS gets an alert, resolved once the issue is recorded."""
    def refuse(repository, issue, *args, **kwargs):
        if issue.number == first:
            raise ValueError("refusé")
        return real_insert(repository, issue, *args, **kwargs)

    real_insert = intake._insert_once
    monkeypatch.setattr(intake, "_insert_once", refuse)
    first = github.add_issue(REPO, title="[Add] a", body=form())
    second = github.add_issue(REPO, title="[Add] b", body=form())
    GitHubIntakeCursor.objects.create(repository=REPO, polled_at=timezone.now() - dt.timedelta(days=1))
    before = _cursor()

    result = tasks.poll_github_issues()
    assert result["imported"] == 1 and result["seen"] == 2 and result["failed"] == 1
    assert "n'ont pu être enregistrées" in result["error"]
    assert list(GitHubIssueRequest.objects.values_list("issue_number", flat=True)) == [second]
    assert _cursor() == before  # the next poll reads the lost issue again
    alert = Alert.objects.get(key=f"whitelist.intake:{REPO}", resolved_at__isnull=True)
    assert alert.subject == f"Relève GitHub bloquée : des issues de {REPO} ne peuvent pas être enregistrées"
    assert f"#{first}" in alert.body
    assert len(_comments(github, second)) == 1  # the others are still answered

    # Still refused at the next poll: still there, the cursor still waits, one alert (refreshed, not repeated).
    assert tasks.poll_github_issues()["failed"] == 1 and _cursor() == before
    assert Alert.objects.filter(key=f"whitelist.intake:{REPO}").count() == 1

    monkeypatch.undo()  # whatever refused it is fixed
    started = timezone.now()
    result = tasks.poll_github_issues()
    assert result["imported"] == 1 and "error" not in result
    assert GitHubIssueRequest.objects.get(issue_number=first).status == GitHubIssueStatus.TO_REVIEW
    assert _cursor() >= started
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_a_lost_database_connection_ends_the_poll_and_keeps_the_cursor(github, world, monkeypatch):
    """Not the issue's fault: nothing is quarantined, the next poll rereads from the same point."""
    def lost(*args):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(intake, "_record", lost)
    github.add_issue(REPO, title="[Add] a", body=form())
    with pytest.raises(OperationalError):
        tasks.poll_github_issues()
    assert not GitHubIssueRequest.objects.exists() and not GitHubIntakeCursor.objects.exists()
    monkeypatch.undo()
    assert tasks.poll_github_issues()["imported"] == 1

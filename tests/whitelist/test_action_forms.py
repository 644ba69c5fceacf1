"""The whitelist's ANS forms (issue 16, item 2): errors next to their field and in the summary; prepare, abandon,
publish and the GitHub decision carry a single-use submission token (sent twice, done once)."""
import html

from django.urls import reverse

from tests.operators.test_double_submit import token_of_field
from tests.support import form_html
from tests.whitelist.conftest import REPO
from tests.whitelist.test_github_intake import form
from trustspace.models import AuditEntry
from whitelist import services, tasks
from whitelist.models import GitHubIssueRequest, GitHubIssueStatus, WhitelistVersion, WhitelistVersionStatus

RLO = "\u202e"


def test_a_refused_abandon_is_shown_next_to_its_reason_then_done_once(world, box, client):
    version = services.prepare_version(acting_user=world.ans)
    client.force_login(world.ans)
    page = client.get(reverse("ans_whitelist_version", kwargs={"number": version.number}))
    doc = form_html.parse(page)
    assert not form_html.marked_required(doc, page.context["abandon_form"]["reason"])
    url = reverse("ans_whitelist_abandon", kwargs={"number": version.number})
    token = token_of_field(page, "submission_token")

    response = client.post(url, {"reason": f"Erreur{RLO}", "submission_token": token})
    assert response.status_code == 200
    assert list(response.context["failed_form"].errors) == ["reason"]
    form_html.assert_form_errors_shown(response, response.context["failed_form"])
    version.refresh_from_db()
    assert version.status == WhitelistVersionStatus.PREPARED

    assert client.post(url, {"reason": "Préparée par erreur", "submission_token": token}).status_code == 302
    audits = AuditEntry.objects.count()
    again = client.post(url, {"reason": "Préparée par erreur", "submission_token": token}, follow=True)
    assert "Ce formulaire a déjà été envoyé : la version" in html.unescape(again.content.decode())
    assert AuditEntry.objects.count() == audits


def test_a_prepare_comment_refused_is_shown_next_to_it(world, box, client):
    client.force_login(world.ans)
    response = client.post(reverse("ans_whitelist_prepare"), {"comment": f"x{RLO}"})
    assert response.status_code == 200
    form_html.assert_form_errors_shown(response, response.context["failed_form"])
    assert not WhitelistVersion.objects.exists()


def test_a_github_refusal_without_comment_is_shown_next_to_the_comment(github, world, client):
    github.add_issue(REPO, title="[Delete] y", body=form())
    tasks.poll_github_issues()
    issue = GitHubIssueRequest.objects.get()
    client.force_login(world.ans)
    url = reverse("ans_github_request_decide", kwargs={"pk": issue.pk})
    response = client.post(url, {"decision": "refuser", "comment": ""})
    assert response.status_code == 200
    failed = response.context["failed_form"]
    assert failed.errors["comment"] == ["Indiquez le motif du refus : il est publié sur l'issue GitHub."]
    form_html.assert_form_errors_shown(response, failed)
    response = client.post(url, {"decision": "accepter", "portal_request": "DEM-INCONNUE"})
    failed = response.context["failed_form"]
    assert failed.errors["portal_request"] == ["Aucune demande du portail n'a la référence « DEM-INCONNUE »."]
    form_html.assert_form_errors_shown(response, failed)
    issue.refresh_from_db()
    assert issue.status == GitHubIssueStatus.TO_REVIEW


def test_the_whitelist_pages_give_every_post_form_a_token(world, box, client):
    version = services.prepare_version(acting_user=world.ans)
    client.force_login(world.ans)
    for url in (reverse("ans_whitelist"), reverse("ans_whitelist_version", kwargs={"number": version.number})):
        doc = form_html.parse(client.get(url))
        post_forms = doc.xpath("//main//form[@method='post']")
        assert post_forms
        for post_form in post_forms:
            assert post_form.xpath(".//input[@name='submission_token']"), post_form.get("action")

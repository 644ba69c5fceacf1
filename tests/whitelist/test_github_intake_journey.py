"""A GitHub issue linked to the journey: ANS links it to the portal request that carries the change (the request
shows « Demandée sur GitHub »); the version that applies it, once published, is announced on the issue, which the
portal then closes. Against the loopback GitHub server."""
import pytest
from django.urls import reverse

from operators import services as operator_services
from operators.models import RequestKind
from tests.support.lifecycle import active_drimbox, approve, declared_drimbox, give_certificates
from tests.whitelist.conftest import REPO
from tests.whitelist.test_github_intake import form
from trustspace.errors import InvalidData
from trustspace.models import AuditEntry
from whitelist import services, tasks
from whitelist.models import GitHubIssueRequest, GitHubIssueStatus


def publish(world, ans2):
    return services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)


def comments(github, number):
    return [c["body"] for c in github.repos[REPO].comments.get(number, [])]


def update_request(world, box, contact="hotline@example.fr"):
    req = operator_services.create_request(acting_user=world.technical, operator=world.operator,
                                           kind=RequestKind.UPDATE, drimbox=box)
    operator_services.update_request(req, acting_user=world.technical, data={"support_contact": contact})
    return operator_services.submit_request(req, acting_user=world.technical)


def test_issue_linked_commented_and_closed_by_the_publication_that_applies_it(github, world, ans2, signer_p12,
                                                                               client,
                                                                               django_capture_on_commit_callbacks):
    box = active_drimbox(world.operator, world.legal, world.ans)
    publish(world, ans2)
    # The form names the DRIMbox by its db FQDN alone (a DN whose CN is the FQDN works too).
    number = github.add_issue(REPO, title="[Update]: nouveau contact support", body=form(dn=box.db_fqdn))
    tasks.poll_github_issues()
    issue = GitHubIssueRequest.objects.get()
    assert issue.drimbox == box
    portal = update_request(world, box)

    client.force_login(world.ans)
    page = client.get(reverse("ans_github_request", kwargs={"pk": issue.pk})).content.decode()
    assert f'value="{portal.reference}"' in page  # the only candidate, proposed
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ans_github_request_decide", kwargs={"pk": issue.pk}),
                    {"decision": "accepter", "portal_request": portal.reference.lower()})
    issue.refresh_from_db()
    assert issue.status == GitHubIssueStatus.ACCEPTED and issue.portal_request == portal
    assert f"par la demande {portal.reference}" in comments(github, number)[1]
    assert "sera fermée quand la version" in comments(github, number)[1]
    client.force_login(world.technical)
    request_page = client.get(reverse("request_detail", kwargs={"pk": portal.pk})).content.decode()
    assert "Demandée sur GitHub" in request_page and f"Issue n° {number}" in request_page

    # A version published before the request is approved does not apply it.
    publish(world, ans2)
    issue.refresh_from_db()
    assert issue.applied_version is None
    approve(portal, world.ans)
    version = publish(world, ans2)
    issue.refresh_from_db()
    assert issue.applied_version == version
    assert github.repos[REPO].issues[number - 1]["state"] == "open"  # commented and closed after commit

    assert tasks.poll_github_issues()["comments"] == 1
    issue.refresh_from_db()
    closing = comments(github, number)[2]
    assert f"publiée dans la version {version.number} de la liste blanche" in closing
    assert portal.reference in closing and issue.closing_comment_id is not None and issue.closed_at is not None
    closed = github.repos[REPO].issues[number - 1]
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
    assert [path for _m, path in github.writes("PATCH")] == [f"/api/v3/repos/{REPO}/issues/{number}"]
    assert AuditEntry.objects.filter(action="whitelist.github_issue_applied", object_id=str(issue.pk)).count() == 1
    # Nothing owed any more; a later publication does not touch it again.
    assert tasks.poll_github_issues()["comments"] == 0
    publish(world, ans2)
    issue.refresh_from_db()
    assert issue.applied_version == version and len(comments(github, number)) == 3

    client.force_login(world.ans)
    page = client.get(reverse("ans_github_request", kwargs={"pk": issue.pk})).content.decode()
    assert "appliquée par la version" in page and "issue commentée et fermée" in page


@pytest.mark.parametrize(("values", "message"), [
    ({}, "ou bien le motif"),
    ({"portal_request": "DEM-0000000000", "no_link_reason": "Les deux."}, "ou bien le motif"),
    ({"portal_request": "DEM-0000000000"}, "Aucune demande du portail n'a la référence"),
    ({"portal_request": "other"}, "concerne la DRIMbox"),
    ({"portal_request": "draft"}, "brouillon"),
    ({"portal_request": "integration"}, "ne porte pas une demande GitHub de mise à jour"),
])
def test_a_wrong_link_is_refused_in_french_and_changes_nothing(github, world, client, values, message):
    box = active_drimbox(world.operator, world.legal, world.ans)
    other = active_drimbox(world.operator, world.legal, world.ans)
    github.add_issue(REPO, title="[Update]: contact", body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR"))
    tasks.poll_github_issues()
    issue = GitHubIssueRequest.objects.get()
    references = {
        "other": update_request(world, other).reference,
        "draft": operator_services.create_request(acting_user=world.technical, operator=world.operator,
                                                  kind=RequestKind.UPDATE, drimbox=box).reference,
        "integration": box.requests.get(kind=RequestKind.INTEGRATION).reference,
    }
    values = {key: references.get(value, value) for key, value in values.items()}
    with pytest.raises(InvalidData, match=message):
        services.decide(issue, acting_user=world.ans, accept=True, **values)
    issue.refresh_from_db()
    assert issue.status == GitHubIssueStatus.TO_REVIEW and issue.portal_request is None
    client.force_login(world.ans)
    response = client.post(reverse("ans_github_request_decide", kwargs={"pk": issue.pk}),
                           {"decision": "accepter", **values}, follow=True)
    assert response.status_code == 200 and message.replace("'", "&#x27;") in response.content.decode()
    assert GitHubIssueRequest.objects.get().status == GitHubIssueStatus.TO_REVIEW
    assert not AuditEntry.objects.filter(action="whitelist.github_issue_accepted").exists()


def test_an_add_issue_is_carried_by_the_integration_not_the_declaration(github, world, ans2, signer_p12):
    """A declaration's approval changes nothing in the list: the [Add] issue links to the integration request, and
    the version published after that integration's approval closes it."""
    box = declared_drimbox(world.operator, world.legal, world.ans)
    github.add_issue(REPO, title="[Add] nouvelle DRIMbox", body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR"))
    tasks.poll_github_issues()
    issue = GitHubIssueRequest.objects.get()
    declaration = box.requests.get(kind=RequestKind.DECLARATION)
    with pytest.raises(InvalidData, match="ne porte pas une demande GitHub d'ajout"):
        services.decide(issue, acting_user=world.ans, accept=True, portal_request=declaration.reference)
    give_certificates(box)
    integration = operator_services.submit_request(operator_services.create_request(
        acting_user=world.legal, operator=world.operator, kind=RequestKind.INTEGRATION, drimbox=box),
        acting_user=world.legal)
    assert list(services.linkable_requests(issue)) == [integration]
    services.decide(issue, acting_user=world.ans, accept=True, portal_request=integration.reference)
    approve(integration, world.ans)
    version = publish(world, ans2)
    issue.refresh_from_db()
    assert issue.applied_version == version and box.identifiant in [e["identifiant"] for e in version.diff["added"]]

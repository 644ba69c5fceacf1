"""The whitelist API (ANS): versions prepared, approved by another administrator, signed and published, downloaded
and compared; requests received as GitHub issues decided — all through ``whitelist.services``, as the pages."""
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certificates.models import Certificate
from tests.support.api import API, api, error_of
from tests.support.concurrency import in_parallel
from tests.support.lifecycle import active_drimbox
from tests.whitelist.signing import SIGNER_CN, verify_with_test_hierarchy
from trustspace.models import AuditEntry
from trustspace.services import create_api_token
from whitelist import services
from whitelist.models import GitHubIssueRequest, GitHubIssueStatus, WhitelistVersion, WhitelistVersionStatus
from whitelist.services.versions import WHITELIST_WRITE_LOCK

from .test_github_intake import _issue, form

VERSIONS = f"{API}/whitelist/versions/"
GITHUB = f"{API}/whitelist/github-requests/"


def ans_token(user, scopes=("ans",)):
    return api(token=create_api_token(acting_user=user, name="script ANS", scopes=list(scopes))[1])


def _publish_by_api(preparer, approver):
    prepared = preparer.post(VERSIONS, {"comment": "Par l'API"}, format="json")
    assert prepared.status_code == 201, prepared.content
    number = prepared.json()["number"]
    approved = approver.post(f"{VERSIONS}{number}/approve/")
    assert approved.status_code == 200, approved.content
    return approved.json()


def test_prepare_then_approve_by_another_admin_then_download_verifies(world, ans2, box, signer_p12):
    preparer, approver = ans_token(world.ans), ans_token(ans2)

    response = preparer.post(VERSIONS, {"comment": "Première version par l'API"}, format="json")
    assert response.status_code == 201, response.content
    version = response.json()
    assert (version["number"], version["status"], version["entry_count"]) == (1, "preparee", 1)
    assert version["prepared_by"] == world.ans.display_name and version["prepared_at"]
    assert version["approved_by"] is None and version["published_at"] is None and version["sha256"] is None
    assert version["diff"]["added"] == [{"identifiant": box.identifiant, "db": box.db_fqdn,
                                         "denomination": world.operator.name}]
    assert version["four_eyes"] is True and version["can_approve"] is False and version["can_abandon"] is True
    assert version["document_url"] is None and version["github"] is None
    # Preparing again without any change gives the same prepared version back (200), nothing is created.
    again = preparer.post(VERSIONS, {}, format="json")
    assert again.status_code == 200 and again.json()["number"] == 1 and again.json()["comment"] == (
        "Première version par l'API")
    assert WhitelistVersion.objects.count() == 1
    # The body is what the schema says: a comment is a string of at most 2,000 characters.
    for comment in (12, True, "x" * 2001):
        assert "comment" in error_of(preparer.post(VERSIONS, {"comment": comment}, format="json"), 400)["fields"]
    for body in ("null", "[]", '"commentaire"'):
        response = preparer.post(VERSIONS, body, content_type="application/json")
        assert "non_field_errors" in error_of(response, 400)["fields"], body
    error_of(preparer.post(VERSIONS, {"comment": "formulaire"}, format="multipart"), 415)

    # Four eyes: the preparer cannot approve it; nothing is signed.
    error = error_of(preparer.post(f"{VERSIONS}1/approve/"), 403)
    assert error["code"] == "whitelist_four_eyes" and "quatre yeux" in error["message"]
    assert error_of(preparer.get(f"{VERSIONS}1/document/"), 404)["message"] == (
        "La version 1 n'est pas publiée : elle n'a pas de liste signée.")
    assert approver.get(f"{VERSIONS}1/").json()["can_approve"] is True

    published = approver.post(f"{VERSIONS}1/approve/")
    assert published.status_code == 200, published.content
    body = published.json()
    assert body["status"] == "publiee" and body["status_label"] == "publiée"
    assert body["approved_by"] == ans2.display_name and body["prepared_by"] == world.ans.display_name
    assert body["approved_at"] == body["published_at"] is not None
    assert f"CN={SIGNER_CN}" in body["signer_subject"] and len(body["sha256"]) == 64
    assert body["github"]["state"] == "non_configuree" and body["can_approve"] is False
    assert body["document_url"].endswith(f"{VERSIONS}1/document/")
    assert body["public_url"].endswith("/liste-blanche/versions/1.xml")
    assert AuditEntry.objects.filter(action="whitelist.version_published", actor=ans2).count() == 1

    download = preparer.get(f"{VERSIONS}1/document/")
    assert download.status_code == 200 and download["Content-Type"] == "application/xml"
    assert download["ETag"] == f'"{body["sha256"]}"'
    assert 'filename="listeblanche-v1.xml"' in download["Content-Disposition"]
    signed = download.content
    assert signed == bytes(WhitelistVersion.objects.get(number=1).signed_xml)
    verified = verify_with_test_hierarchy(signed)
    assert [entry["Identifiant"] for entry in verified.entries] == [str(box.identifiant)]
    # A read-only token downloads it too; the published version is neither approved nor abandoned again.
    assert ans_token(world.ans, ["read"]).get(f"{VERSIONS}1/document/").content == signed
    assert error_of(approver.post(f"{VERSIONS}1/approve/"), 409)["code"] == "conflict"
    assert error_of(approver.post(f"{VERSIONS}1/abandon/", {}, format="json"), 409)["code"] == "conflict"

    listing = preparer.get(VERSIONS).json()
    assert listing["count"] == 1
    row = listing["results"][0]
    assert (row["number"], row["status"], row["approved_by"], row["sha256"]) == (
        1, "publiee", ans2.display_name, body["sha256"])
    assert row["generated_at"] == body["generated_at"] and row["entry_count"] == 1
    assert "diff" not in row


def test_versions_are_listed_newest_first_and_paginated(world, ans2, box, signer_p12):
    client, approver = ans_token(world.ans), ans_token(ans2)
    _publish_by_api(client, approver)
    box.support_contact = "autre-support@example.fr"
    box.save(update_fields=["support_contact"])
    _publish_by_api(client, approver)
    active_drimbox(world.operator, world.legal, world.ans)
    client.post(VERSIONS, {}, format="json")
    numbers = [row["number"] for row in client.get(VERSIONS).json()["results"]]
    assert numbers == [3, 2, 1]
    page = client.get(VERSIONS, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 3 and [row["number"] for row in page["results"]] == [2]
    assert "limit" in error_of(client.get(VERSIONS, {"limit": "beaucoup"}), 400)["fields"]
    assert "offset" in error_of(client.get(VERSIONS, {"offset": -1}), 400)["fields"]


def test_diff_against_the_previous_published_version_or_any_other(world, ans2, box, signer_p12):
    client, approver = ans_token(world.ans), ans_token(ans2)
    _publish_by_api(client, approver)
    old_support = box.support_contact
    box.support_contact = "nouveau-support@example.fr"
    box.save(update_fields=["support_contact"])
    second = active_drimbox(world.operator, world.legal, world.ans)
    assert client.post(VERSIONS, {}, format="json").status_code == 201

    diff = client.get(f"{VERSIONS}2/diff/").json()
    assert (diff["version"], diff["against"]) == (2, 1)
    assert diff["added"] == [{"identifiant": second.identifiant, "db": second.db_fqdn,
                              "denomination": world.operator.name}]
    assert diff["removed"] == []
    assert diff["changed"] == [{"identifiant": box.identifiant, "db": box.db_fqdn,
                                "fields": {"SupportContact": [old_support, "nouveau-support@example.fr"]}}]
    # The version page's differences are the same here (computed at preparation against v1).
    assert client.get(f"{VERSIONS}2/").json()["diff"] == {key: diff[key] for key in ("added", "removed", "changed")}

    backwards = client.get(f"{VERSIONS}1/diff/", {"against": 2}).json()
    assert backwards["against"] == 2 and backwards["added"] == []
    assert [entry["identifiant"] for entry in backwards["removed"]] == [second.identifiant]
    assert backwards["changed"][0]["fields"] == {"SupportContact": ["nouveau-support@example.fr", old_support]}
    first = client.get(f"{VERSIONS}1/diff/").json()  # nothing published before v1
    assert first["against"] is None and [e["identifiant"] for e in first["added"]] == [box.identifiant]
    same = client.get(f"{VERSIONS}2/diff/", {"against": 2}).json()
    assert same["added"] == same["removed"] == same["changed"] == []

    assert error_of(client.get(f"{VERSIONS}2/diff/", {"against": 99}), 404)["message"] == (
        "La version de comparaison 99 n'existe pas.")
    assert "against" in error_of(client.get(f"{VERSIONS}2/diff/", {"against": "v1"}), 400)["fields"]
    assert error_of(client.get(f"{VERSIONS}9/diff/"), 404)["message"] == (
        "La version 9 de la liste blanche n'existe pas.")


def test_refusals_are_structured_409s_in_french(world, ans2, box, signer_p12, settings):
    client, approver = ans_token(world.ans), ans_token(ans2)
    client.post(VERSIONS, {}, format="json")
    Certificate.objects.filter(drimbox=box, kind="db").update(revoked_at=timezone.now())
    error = error_of(approver.post(f"{VERSIONS}1/approve/"), 409)
    assert error["code"] == "whitelist_publication_refused"
    assert f"La DRIMbox {box.identifiant} ({box.db_fqdn}) est active mais n'a pas de certificat db valide" in (
        error["message"])
    assert WhitelistVersion.objects.get(number=1).status == WhitelistVersionStatus.PREPARED

    Certificate.objects.filter(drimbox=box, kind="db").update(revoked_at=None)
    settings.WHITELIST_SIGNER_P12 = ""  # no signer any more
    error = error_of(approver.post(f"{VERSIONS}1/approve/"), 409)
    assert error["code"] == "whitelist_signer" and "Aucun signataire de la liste blanche" in error["message"]
    version = WhitelistVersion.objects.get(number=1)
    assert version.status == WhitelistVersionStatus.PREPARED and version.signed_xml is None

    # GitHub not configured: republishing is refused, with the reason.
    error = error_of(approver.post(f"{VERSIONS}1/github-republish/"), 409)
    assert "WHITELIST_GITHUB_REPOSITORY" in error["message"]


def test_abandon(world, box):
    client = ans_token(world.ans)
    client.post(VERSIONS, {}, format="json")
    response = client.post(f"{VERSIONS}1/abandon/", {"reason": "Préparée par erreur"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "abandonnee"
    assert response.json()["can_abandon"] is False and response.json()["can_approve"] is False
    assert AuditEntry.objects.get(action="whitelist.version_abandoned").reason == "Préparée par erreur"
    assert error_of(client.post(f"{VERSIONS}1/approve/"), 409)["code"] == "conflict"
    error_of(client.get(f"{VERSIONS}1/document/"), 404)
    assert "reason" in error_of(client.post(f"{VERSIONS}1/abandon/", {"reason": "x" * 2001}, format="json"),
                                400)["fields"]


def test_operators_get_a_structured_403_and_nothing_changes(world, box):
    services.prepare_version(acting_user=world.ans)
    request = services.import_issue("o/r", _issue(5, body=form()))[0]
    for user in (world.legal, world.technical):
        client = api(token=create_api_token(acting_user=user, name="tout")[1])  # all its owner's rights
        for method, url in (("get", VERSIONS), ("post", VERSIONS), ("get", f"{VERSIONS}1/"),
                            ("get", f"{VERSIONS}1/diff/"), ("get", f"{VERSIONS}1/document/"),
                            ("post", f"{VERSIONS}1/approve/"), ("get", GITHUB), ("get", f"{GITHUB}{request.pk}/"),
                            ("post", f"{GITHUB}{request.pk}/refuse/")):
            error = error_of(getattr(client, method)(url, {"reason": "x"}, format="json") if method == "post"
                             else client.get(url), 403)
            assert error["code"] == "forbidden" and error["message"] == "Réservé aux administrateurs ANS.", url
    assert WhitelistVersion.objects.count() == 1
    assert GitHubIssueRequest.objects.get().status == GitHubIssueStatus.TO_REVIEW
    # An ANS token needs the « ans » (or, to read, « read ») scope.
    error = error_of(ans_token(world.ans, ["requests"]).get(VERSIONS), 403)
    assert error["code"] == "token_scope"
    assert error_of(ans_token(world.ans, ["read"]).post(VERSIONS, {}, format="json"), 403)["code"] == "token_scope"


def test_list_queries_do_not_grow_with_rows(world, ans2, box, signer_p12):
    client, approver = ans_token(world.ans), ans_token(ans2)

    def queries(url):
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    def add(numbers):
        for n in numbers:
            # A published version (GitHub row absent) and a prepared one, each with its two users.
            _publish_by_api(client, approver)
            box.support_contact = f"support-{n}@example.fr"
            box.save(update_fields=["support_contact"])
            decided = services.import_issue("o/r", _issue(n, body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR")))[0]
            services.decide(decided, acting_user=world.ans, accept=True, no_link_reason="Fait par l'ANS.")

    add(range(1, 2))
    small = {url: queries(url) for url in (VERSIONS, GITHUB)}
    add(range(2, 6))
    for url, (count, rows) in small.items():
        assert queries(url) == (count, rows + 4), url


# --- GitHub requests ---------------------------------------------------------------------------------


def test_github_requests_listed_filtered_and_decided(world, settings):
    box = active_drimbox(world.operator, world.legal, world.ans)
    client = ans_token(world.ans)
    to_accept = services.import_issue("o/r", _issue(1, title="[Update] contact",
                                                    body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR")))[0]
    to_refuse = services.import_issue("o/r", _issue(2, body=form()))[0]
    invalid = services.import_issue("o/r", _issue(3, title="pas un formulaire", body="?"))[0]
    settings.WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES = 64
    quarantined = services.import_issue("o/r", _issue(4, body=form(description="x" * 200)))[0]
    assert quarantined.status == GitHubIssueStatus.QUARANTINED and invalid.status == GitHubIssueStatus.INVALID

    listing = client.get(GITHUB).json()
    assert listing["count"] == 4
    assert {row["status"] for row in listing["results"]} == {"a_examiner", "invalide", "quarantaine"}
    rows = client.get(GITHUB, {"status": "quarantaine"}).json()["results"]
    assert [row["id"] for row in rows] == [quarantined.pk]
    assert rows[0]["quarantine_reason"] == quarantined.quarantine_reason and "trop long" in rows[0][
        "quarantine_reason"]
    assert {row["id"] for row in client.get(GITHUB, {"status": "a_examiner"}).json()["results"]} == {
        to_accept.pk, to_refuse.pk}
    assert "status" in error_of(client.get(GITHUB, {"status": "perdue"}), 400)["fields"]

    detail = client.get(f"{GITHUB}{to_accept.pk}/").json()
    assert detail["reference"] == "GH-o/r#1" and detail["kind"] == "update"
    assert detail["drimbox"]["identifiant"] == box.identifiant and detail["body"]
    assert detail["candidates"] == []  # no update request of this DRIMbox in the portal

    # Accepting needs a portal request or a reason; the service says so (structured 400).
    error = error_of(client.post(f"{GITHUB}{to_accept.pk}/accept/", {}, format="json"), 400)
    assert "portal_request" in error["fields"]
    error = error_of(client.post(f"{GITHUB}{to_accept.pk}/accept/", {"portal_request": "DEM-INCONNUE"},
                                 format="json"), 400)
    assert "Aucune demande du portail" in error["message"]
    accepted = client.post(f"{GITHUB}{to_accept.pk}/accept/",
                           {"no_link_reason": "Contact changé par l'ANS.", "comment": "Fait."}, format="json")
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert body["status"] == "acceptee" and body["decided_by"] == world.ans.display_name
    assert body["no_link_reason"] == "Contact changé par l'ANS." and body["decision_comment"] == "Fait."
    assert body["candidates"] == [] and body["portal_request"] is None

    # Refusing needs a reason, named « reason » here.
    error = error_of(client.post(f"{GITHUB}{to_refuse.pk}/refuse/", {"reason": "  "}, format="json"), 400)
    assert set(error["fields"]) == {"reason"} and "motif" in error["message"]
    assert "reason" in error_of(client.post(f"{GITHUB}{to_refuse.pk}/refuse/", {}, format="json"), 400)["fields"]
    refused = client.post(f"{GITHUB}{to_refuse.pk}/refuse/", {"reason": "Demande en double."}, format="json")
    assert refused.status_code == 200 and refused.json()["status"] == "refusee"
    assert refused.json()["decision_comment"] == "Demande en double."
    assert AuditEntry.objects.filter(action__in=["whitelist.github_issue_accepted",
                                                 "whitelist.github_issue_refused"]).count() == 2

    # Decided, invalid or quarantined requests are not decided again: 409 with the model's French reason.
    assert "déjà été traitée" in error_of(client.post(f"{GITHUB}{to_refuse.pk}/accept/",
                                                      {"no_link_reason": "x"}, format="json"), 409)["message"]
    error = error_of(client.post(f"{GITHUB}{quarantined.pk}/refuse/", {"reason": "Non"}, format="json"), 409)
    assert "en quarantaine" in error["message"]
    assert error_of(client.get(f"{GITHUB}999999/"), 404)["code"] == "not_found"


def test_accepting_links_the_portal_request(world):
    from operators import services as operator_services

    box = active_drimbox(world.operator, world.legal, world.ans)
    issue = services.import_issue("o/r", _issue(8, title="[Delete] retrait",
                                                body=form(dn=f"CN={box.db_fqdn},O=OP,C=FR")))[0]
    withdrawal = operator_services.submit_request(operator_services.create_request(
        acting_user=world.legal, operator=world.operator, kind="retrait", drimbox=box,
        data={"reason": "Fin du contrat"}), acting_user=world.legal)
    client = ans_token(world.ans)
    detail = client.get(f"{GITHUB}{issue.pk}/").json()
    assert [c["reference"] for c in detail["candidates"]] == [withdrawal.reference]
    response = client.post(f"{GITHUB}{issue.pk}/accept/", {"portal_request": withdrawal.reference.lower()},
                           format="json")
    assert response.status_code == 200, response.content
    assert response.json()["portal_request"]["reference"] == withdrawal.reference


# --- Concurrency (PostgreSQL) ------------------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_prepare_during_another_preparation_is_a_409(world, box):
    client = ans_token(world.ans)
    other = connections.create_connection("default")  # another session: a preparation or publication running
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [WHITELIST_WRITE_LOCK])
        error = error_of(client.post(VERSIONS, {"comment": "Pendant une autre"}, format="json"), 409)
        assert error["code"] == "whitelist_busy"
        assert error["message"] == "Une version est déjà en préparation : réessayez dans un instant."
        assert not WhitelistVersion.objects.exists()
    finally:
        other.close()
    assert client.post(VERSIONS, {}, format="json").status_code == 201


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_parallel_prepare_calls_give_one_version_or_a_busy_409(world, box):
    raw = create_api_token(acting_user=world.ans, name="course", scopes=["ans"])[1]

    def prepare():
        response = api(token=raw).post(VERSIONS, {}, format="json")
        return response.status_code, response.json()

    results, errors = in_parallel(10, prepare)
    assert errors == []
    version = WhitelistVersion.objects.get()  # exactly one
    statuses = sorted(code for code, _ in results)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}
    for code, body in results:
        if code == 409:
            assert body["error"]["code"] == "whitelist_busy"
        else:
            assert body["number"] == version.number


def test_an_idempotency_key_replays_the_preparation(world, box):
    client = ans_token(world.ans)
    first = client.post(VERSIONS, {"comment": "Une fois"}, format="json", HTTP_IDEMPOTENCY_KEY="preparation-1")
    again = client.post(VERSIONS, {"comment": "Une fois"}, format="json", HTTP_IDEMPOTENCY_KEY="preparation-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert AuditEntry.objects.filter(action="whitelist.version_prepared").count() == 1

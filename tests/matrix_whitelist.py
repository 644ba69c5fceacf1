"""Authorization matrix entries merged into ``tests/test_authorization_matrix.MATRIX`` (same format).

Whitelist GitHub pages and actions are for ANS administrators only. The objects are built through the services
(a prepared version; a request imported from an issue-like object, as the intake does).
"""
import datetime as dt
from types import SimpleNamespace

from whitelist import services as whitelist_services
from whitelist.models import GitHubIssueRequest, WhitelistVersion, WhitelistVersionStatus

LOGIN = ("redirect", "/connexion/")
ANS_ONLY_GET = {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": 200}
ROLES = ("anonymous", "other", "technical", "legal", "ans")


def _ans_only_post(success_prefix):
    return {"anonymous": LOGIN, "other": 403, "technical": 403, "legal": 403, "ans": ("redirect", success_prefix)}


def _prepared(w):
    if not hasattr(w, "prepared_version"):
        w.prepared_version = whitelist_services.prepare_version(acting_user=w.ans)
    return {"number": w.prepared_version.number}


def _version_status(expected_for_ans):
    def check_for(role):
        expected = expected_for_ans if role == "ans" else WhitelistVersionStatus.PREPARED
        return lambda w: WhitelistVersion.objects.get(pk=w.prepared_version.pk).status == expected
    return {role: check_for(role) for role in ROLES}


def _github_request(w):
    if not hasattr(w, "github_request"):
        issue = SimpleNamespace(
            number=7, title="[Add] Nouvelle DRIMbox", html_url="https://github.com/o/r/issues/7",
            user=SimpleNamespace(login="operateur-a"), created_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
            body="### Nom\n\nOpérateur\n\n### Description\n\nAjout\n\n### DNCertificatOperateur\n\n"
                 "CN=db900.test.mesimagesmedicales.fr,O=X,C=FR")
        w.github_request = whitelist_services.import_issue("o/r", issue)[0]
    return {"pk": w.github_request.pk}


def _request_status(expected_for_ans):
    def check_for(role):
        expected = expected_for_ans if role == "ans" else "a_examiner"
        return lambda w: GitHubIssueRequest.objects.get(pk=w.github_request.pk).status == expected
    return {role: check_for(role) for role in ROLES}


WHITELIST_MATRIX = {
    # Not configured in the test world: ANS gets its French message on the version page (redirect).
    "ans_whitelist_github_republish": ("post", _prepared, None, _ans_only_post("/ans/liste-blanche/")),
    "ans_whitelist_abandon": ("post", _prepared, lambda w: {"reason": "Matrice"},
                              _ans_only_post("/ans/liste-blanche/"), _version_status("abandonnee")),
    "ans_github_requests": ("get", None, None, ANS_ONLY_GET),
    "ans_github_request": ("get", _github_request, None, ANS_ONLY_GET),
    "ans_github_request_decide": ("post", _github_request, lambda w: {"decision": "refuser", "comment": "Doublon"},
                                  _ans_only_post("/ans/liste-blanche/demandes-github/"), _request_status("refusee")),
}

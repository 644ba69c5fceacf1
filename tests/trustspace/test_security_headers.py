"""Content-Security-Policy (fresh nonce per request), Permissions-Policy and the French CSRF failure page.

Every page of the authorization matrix carries both headers for every kind of caller (checked there, on each of
its answers: tests/test_authorization_matrix.py), each HTML page using only the request's nonce and nothing the
policy would block (inline handlers, style attributes, scripts or styles without the nonce). Here: the pages
outside the matrix, the nonce's freshness, the policy's settings and the CSRF failure page. The browser side is
checked by tests/browser (the ``securitypolicyviolation`` listener of its conftest).
"""
import json
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.support.security_headers import check_headers, directives


def test_the_nonce_is_fresh_for_each_request(client):
    nonces = [check_headers(client.get("/connexion/"), "login") for _ in range(3)]
    assert all(nonces) and len(set(nonces)) == 3


def test_api_docs_and_error_pages_carry_the_policies(client):
    for url in ("/api/v1/docs/", "/api/v1/redoc/", "/page-qui-n-existe-pas/", "/api/v1/inexistant/"):
        check_headers(client.get(url), url)
    docs = client.get("/api/v1/docs/").content.decode()
    redoc = client.get("/api/v1/redoc/").content.decode()
    assert "fonts.googleapis.com" not in redoc
    # The tools' inline scripts are there, signed like every inline script (check_headers).
    assert "SwaggerUIBundle(" in docs and "Redoc.init(" in redoc


def test_the_django_admin_carries_the_policies(world, client, make_user):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    pages = ["/admin/", "/admin/operators/operator/", f"/admin/operators/operator/{world.operator.pk}/change/",
             "/admin/trustspace/auditentry/", "/admin/trustspace/user/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        check_headers(response, url)


def test_form_action_allows_the_identity_provider_read_at_each_request(client, settings):
    """The logout form ends at the provider's end-session endpoint: browsers check form-action on that redirect."""
    settings.OIDC_ISSUER = "https://idp.example.org:8443/realms/x"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "https://idp.example.org:8443/auth"
    settings.OIDC_OP_LOGOUT_ENDPOINT = "https://logout.example.org/fin?x=1"
    form_action = directives(client.get("/connexion/")["Content-Security-Policy"])["form-action"]
    assert form_action == ["'self'", "https://idp.example.org:8443", "https://logout.example.org"]
    settings.OIDC_OP_LOGOUT_ENDPOINT = "javascript:alert(1)"  # never a source expression
    form_action = directives(client.get("/connexion/")["Content-Security-Policy"])["form-action"]
    assert form_action == ["'self'", "https://idp.example.org:8443"]


def test_form_action_allows_a_discovered_end_session_endpoint_on_another_origin(client, settings):
    """The end-session endpoint read from the discovery document (no OIDC_OP_LOGOUT_ENDPOINT) counts too."""
    from tests.support.oidc_provider import running_provider
    from trustspace import oidc_discovery

    with running_provider() as issuer:
        settings.OIDC_ISSUER = issuer
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = settings.OIDC_OP_LOGOUT_ENDPOINT = ""
        oidc_discovery.clear_caches()
        before = directives(client.get("/connexion/")["Content-Security-Policy"])["form-action"]
        assert before == ["'self'", issuer]  # nothing discovered yet, and no network call for a header
        document = oidc_discovery.provider_metadata()
        document["end_session_endpoint"] = "https://sso.example.org/logout"  # the held copy, as if announced
        form_action = directives(client.get("/connexion/")["Content-Security-Policy"])["form-action"]
        oidc_discovery.clear_caches()
    assert form_action == ["'self'", issuer, "https://sso.example.org"]


def test_report_only_mode_moves_the_policy_to_the_report_only_header(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None
    response = client.get("/connexion/")
    assert "Content-Security-Policy" not in response
    assert "'nonce-" in response["Content-Security-Policy-Report-Only"]


def test_settings_read_report_uri_and_report_only_from_the_environment(tmp_path):
    code = ("import json; from trustspace import settings as s; "
            "print(json.dumps([hasattr(s, 'CONTENT_SECURITY_POLICY'), "
            "s.CONTENT_SECURITY_POLICY_REPORT_ONLY['DIRECTIVES']['report-uri']]))")
    env = {"CSP_REPORT_ONLY": "1", "CSP_REPORT_URI": "https://csp.example.org/rapport", "VAR_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    output = subprocess.run([sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR, check=True,
                            capture_output=True, text=True).stdout
    assert json.loads(output.strip().splitlines()[-1]) == [False, "https://csp.example.org/rapport"]


# --- CSRF failure --------------------------------------------------------------------------------------------


@pytest.fixture
def strict_client(settings):
    settings.DEBUG = False
    return Client(enforce_csrf_checks=True)


def test_csrf_failure_is_a_french_page(strict_client, world):
    strict_client.force_login(world.legal)
    response = strict_client.post("/deconnexion/", HTTP_REFERER="http://testserver/espace/operateur/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Formulaire expiré" in body and "rechargez la page, puis recommencez" in body
    assert "Rien n&#x27;a été enregistré." in body and 'href="http://testserver/espace/operateur/"' in body
    assert "Forbidden" not in body and "CSRF verification failed" not in body
    check_headers(response, "csrf page")
    assert strict_client.get("/espace/operateur/").status_code == 200  # still logged in: nothing was done


def test_csrf_failure_does_not_link_back_to_another_site(strict_client):
    response = strict_client.post("/connexion/", {"username": "x"}, HTTP_REFERER="https://evil.example/")
    assert response.status_code == 403
    assert "evil.example" not in response.content.decode()


def test_csrf_failure_in_the_api_is_structured_json(strict_client, world):
    from operators.models import Operator

    strict_client.force_login(world.legal)
    response = strict_client.patch(f"/api/v1/operators/{world.operator.pk}/", {"name": "Piraté"},
                                   content_type="application/json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "csrf" and error["fields"] == {}
    assert "anti-falsification" in error["message"]
    assert Operator.objects.get(pk=world.operator.pk).name == "Opérateur A"


def test_csrf_failure_view_answers_json_under_api(rf):
    from trustspace.views.errors import csrf_failure

    response = csrf_failure(rf.post("/api/v1/autre"), reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content)["error"]["code"] == "csrf"

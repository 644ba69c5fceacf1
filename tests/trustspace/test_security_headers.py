"""Content-Security-Policy (fresh nonce per request), Permissions-Policy and the French CSRF failure page.

Every page of the authorization matrix is walked for every kind of caller: each answer carries both headers,
each HTML page uses only the request's nonce and nothing the policy would block (inline handlers, style
attributes, scripts or styles without the nonce). The browser side is checked by tests/browser (the
``securitypolicyviolation`` listener of its conftest).
"""
import json
import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from tests.test_authorization_matrix import MATRIX, ROLES, _client_for

NONCE_IN_HEADER = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'")
NONCE_ATTRIBUTE = re.compile(r"""\snonce=["']?([^"'\s>]*)""")
TAG = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
DENIED_FEATURES = ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()", "interest-cohort=()")


def directives(header):
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def check_headers(response, label):
    """Both headers on any answer; on an HTML page, the nonce of the header and nothing inline unsigned."""
    policy = response.get("Permissions-Policy", "")
    assert all(feature in policy for feature in DENIED_FEATURES), f"{label}: Permissions-Policy {policy!r}"
    header = response.get("Content-Security-Policy")
    assert header, f"{label}: no Content-Security-Policy ({response.status_code})"
    policy = directives(header)
    if policy["default-src"] == ["'none'"] and "sandbox" in policy:
        return None  # a view's own, stricter policy (the SVG badge, embedded by other sites)
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"], label
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"], label
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"], label
    if "text/html" not in response.get("Content-Type", "") or not response.content:
        return None
    body = response.content.decode()
    nonces = set(NONCE_ATTRIBUTE.findall(body))
    match = NONCE_IN_HEADER.search(header)
    if nonces:
        assert match, f"{label}: nonce attributes but none in the policy"
        assert nonces == {match.group(1)}, f"{label}: page nonces {nonces} ≠ header {match.group(1)}"
    for tag, attributes in TAG.findall(body):
        signed = NONCE_ATTRIBUTE.search(attributes) is not None
        external = tag.lower() == "script" and re.search(r"\ssrc=", attributes)
        assert signed or external, f"{label}: <{tag}{attributes}> without the nonce"
    assert not INLINE_HANDLER.search(body), f"{label}: inline event handler {INLINE_HANDLER.search(body).group(0)}"
    assert not STYLE_ATTRIBUTE.search(body), f"{label}: style attribute {STYLE_ATTRIBUTE.search(body).group(0)}"
    assert "javascript:" not in body.lower(), f"{label}: javascript: URL"
    return match.group(1) if match else None


GET_KEYS = [key for key, entry in MATRIX.items() if entry[0] == "get"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_matrix_carries_the_policies(role, world, client):
    client = _client_for(role, world, client)
    html_pages = 0
    for key in GET_KEYS:
        _method, kwargs_builder, data_builder, *_rest = MATRIX[key]
        url = reverse(key.split(" ")[0], kwargs=kwargs_builder(world) if kwargs_builder else None)
        response = client.get(url, data_builder(world) if data_builder else None)
        nonce = check_headers(response, f"{key}/{role} {url}")
        html_pages += nonce is not None
    assert html_pages >= 5, "the walk saw too few HTML pages to mean anything"


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

"""Scoped API tokens in the authorization matrix: every authenticated API endpoint × every scope.

For each API entry of ``tests/test_authorization_matrix.MATRIX`` (same objects, same calls), the caller that
may act there (legal representative, technical administrator or ANS administrator) calls it with a personal
token of each scope. SCOPES declares which scopes let the call through: with any of them the answer is the
one MATRIX expects for that caller; with any other, a structured 403 ``token_scope`` and no change. Then:
an expired token (401 ``token_expired``), a token limited to the caller's other operator (the answer MATRIX
expects for a user of that other operator), and for certificate endpoints a token limited to another
DRIMbox (403 ``token_drimbox``; for the operator's export, an export without this DRIMbox) while one limited
to this DRIMbox works.

An API view that is not declared here, or whose writes declare no scope, makes
``test_every_api_endpoint_declares_its_token_scope`` fail.
"""
import json
from datetime import timedelta

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView

from operators.models import Role
from tests.conftest import add_role
from tests.support import weather as wx
from tests.test_authorization_matrix import MATRIX, _all_patterns, _check
from trustspace.api.permissions import TokenScopePermission, granting_scopes
from trustspace.models import ApiScope, ApiToken
from trustspace.services import create_api_token

pytestmark = pytest.mark.access

ALL_SCOPES = list(ApiScope.values)
R = {ApiScope.READ}
REQ = {ApiScope.REQUESTS}
CERT = {ApiScope.CERTIFICATES}
PEOPLE = {ApiScope.PEOPLE}
OPERATOR = {ApiScope.OPERATOR}
WEATHER = {ApiScope.WEATHER}
TOKENS = {ApiScope.TOKENS}
ANS = {ApiScope.ANS}

# MATRIX key -> the scopes that let a token make this call.
SCOPES = {
    # Operators, people, contract
    "api_me": R,
    "api_operators": R | OPERATOR,
    "api_operators POST": OPERATOR,  # an application for a new operator
    "api_applications": R | OPERATOR,
    "api_applications POST": OPERATOR,  # registering an operator
    "api_operator": R | OPERATOR,
    "api_operator PATCH": OPERATOR,
    "api_support_contact": OPERATOR,
    "api_people": R | PEOPLE,
    "api_person": PEOPLE,
    "api_invitations": R | PEOPLE,
    "api_invitations POST": PEOPLE,
    "api_invitation": PEOPLE,
    "api_invitation_accept": PEOPLE,
    "api_contract": R | OPERATOR,
    "api_contract_versions": R | ANS,
    "api_contract_versions POST": ANS,
    "api_contract_accept": OPERATOR,
    "api_history": R,
    # DRIMbox lifecycle
    "api_operator_requests": R | REQ,
    "api_operator_requests POST": REQ,
    "api_request": R | REQ,
    "api_request PATCH": REQ,
    "api_request_attachments": REQ,
    "api_request_submit": REQ,
    "api_request_cancel": REQ,
    "api_request_comments": REQ,
    "api_request_assign": ANS,
    "api_request_changes": ANS,
    "api_request_approve": ANS,
    "api_request_reject": ANS,
    "api_review_queue": R | ANS,
    "api_operator_drimboxes": R,
    "api_drimbox": R,
    "api_drimbox_dns_changes": R,
    "api_drimbox_request_kinds": R | REQ,
    "api_registry": R | ANS,
    "api_financing_orders": R | REQ,
    "api_financing_orders POST": REQ,
    "api_financing_order": R | REQ,
    "api_financing_order_clients": REQ,
    "api_financing_order_client": REQ,
    "api_financing_order_pacs": REQ,
    "api_financing_order_documents": REQ,
    "api_financing_order_close": ANS,
    "api_attestation_document": R,
    "api_request_attachment_document": R,
    "api_va_document_file": R,
    "api_va_lifting_file": R,
    "api_mandate_document": R,
    "api_financing_order_document_file": R,
    "api_financing_order_client_document_file": R,
    "api_operator_perf_report": R,
    "api_ans_perf_report": R | ANS,
    "api_operator_perf": R,
    "api_ans_perf": R | ANS,
    "api_operator_perf_generated": R,
    "api_operator_perf_generated_file": R,
    "api_ans_perf_generated": R | ANS,
    "api_ans_perf_generated_file": R | ANS,
    "api_weather_policy": R | ANS,
    "api_weather_policy POST": ANS,
    "api_va_list": R | REQ,
    "api_va_document": REQ,
    "api_va_validate": ANS,
    "api_va_refuse": ANS,
    "api_va_ris_update": REQ,
    "api_va_lifting_document": REQ,
    "api_va_lifting_validate": ANS,
    "api_va_lifting_refuse": ANS,
    # Certificates
    "api_drimbox_certificates": R | CERT,
    "api_drimbox_certificates POST": CERT,
    "api_vi_orders": R | CERT,
    "api_vi_orders POST": CERT,
    "api_vi_certificate": R | CERT,
    "api_vi_market_certificates": CERT,
    "api_drimbox_acme_dns": CERT,
    "api_certificate": R | CERT,
    "api_certificate_revoke": CERT,
    "api_certificate_export": R | CERT,
    "api_operator_certificates": R | CERT,
    "api_certificates": R | CERT,
    # Weather (operator writes)
    "api_weather_incident_acknowledge": WEATHER,
    "api_weather_maintenance": R | WEATHER,
    "api_weather_maintenance POST": WEATHER,
    "api_weather_maintenance_cancel": WEATHER,
    # Whitelist (ANS): versions and GitHub requests
    "api_whitelist_versions": R | ANS,
    "api_whitelist_versions POST": ANS,
    "api_whitelist_version": R | ANS,
    "api_whitelist_version_approve": ANS,
    "api_whitelist_version_abandon": ANS,
    "api_whitelist_version_github_republish": ANS,
    "api_whitelist_version_document": R | ANS,
    "api_whitelist_version_diff": R | ANS,
    "api_whitelist_github_requests": R | ANS,
    "api_whitelist_github_request": R | ANS,
    "api_whitelist_github_request_accept": ANS,
    "api_whitelist_github_request_refuse": ANS,
    # One's own tokens
    "api_token_list": R | TOKENS,
    "api_token_list POST": TOKENS,
    "api_token_detail GET": R | TOKENS,
    "api_token_detail": TOKENS,
}
# API views that take no personal token at all (public, or their own credentials like acme-dns).
UNAUTHENTICATED_API = {"api_attestation", "api_weather", "api_weather_drimbox", "api_weather_incidents",
                       "api_schema", "api_docs", "api_redoc", "api_acme_dns_update", "api_acme_dns_register",
                       "api_acme_dns_health"}
# Certificate endpoints about one DRIMbox: a token limited to other DRIMboxes gets 403 there.
DRIMBOX_BOUND = {"api_drimbox_certificates", "api_drimbox_certificates POST", "api_vi_orders", "api_vi_orders POST",
                 "api_vi_certificate", "api_vi_market_certificates", "api_drimbox_acme_dns", "api_certificate",
                 "api_certificate_revoke", "api_certificate_export"}
# Among them, calls about several DRIMboxes: a token limited to other DRIMboxes gets an answer without this
# DRIMbox's certificates (rather than a 403), one limited to this DRIMbox an answer with them.
DRIMBOX_FILTERED = {"api_certificate_export"}
# A token limited to the caller's other operator answers as MATRIX's « other » caller, except here.
LIMITED_TO_OTHER_OPERATOR = {
    "api_invitation_accept": 403,  # joining an operator is not for a token limited to another one
    "api_operators POST": 403,  # nor applying for a new operator
    "api_applications": 403,  # applications concern operators the token is not limited to
    "api_applications POST": 403,  # registering an operator too
    "api_token_list POST": 400,  # the new token would not be limited to that operator: wider than the caller
    "api_token_detail": 403,  # the token to revoke (all rights) is wider than the caller
    "api_token_detail GET": 200,  # one's own tokens are one's own whatever the operator (as api_token_list)
}
# Where the scope is right but the call would widen the token's rights: the service refuses (never token_scope).
NO_ESCALATION = {
    ("api_token_list POST", ApiScope.TOKENS): 400,  # the new token would read, which the caller may not
    ("api_token_detail", ApiScope.TOKENS): 403,  # the token to revoke has all rights: wider than the caller
}


def _api_views():
    """(name, view class) of every DRF view in the URL configuration (Django admin aside)."""
    for namespace, pattern in _all_patterns(get_resolver()):
        view_class = getattr(pattern.callback, "cls", None)
        if namespace.startswith("admin:") or view_class is None or not issubclass(view_class, APIView):
            continue
        yield pattern.name, view_class


def _method(key):
    if " " in key:
        return key.split(" ")[1]
    return MATRIX[key][0].upper() if key in MATRIX else "GET"


def test_every_api_endpoint_declares_its_token_scope():
    problems = []
    declared_names = {key.split(" ")[0] for key in SCOPES}
    for name, view_class in _api_views():
        if not view_class.authentication_classes:
            if name not in UNAUTHENTICATED_API:
                problems.append(f"{name}: API view without authentication, not declared in UNAUTHENTICATED_API")
            continue
        if TokenScopePermission not in view_class.permission_classes:
            problems.append(f"{name}: TokenScopePermission missing from permission_classes")
        if name not in declared_names:
            problems.append(f"{name}: no entry in SCOPES")
        for method in ("post", "put", "patch", "delete"):
            if hasattr(view_class, method) and not getattr(view_class, "token_scope", None):
                problems.append(f"{name}: {method.upper()} without a declared token_scope")
        for key in sorted({k for k in [*MATRIX, *SCOPES] if k.split(" ")[0] == name}):
            if key not in SCOPES:
                problems.append(f"{key}: in MATRIX, not in SCOPES")
            elif set(granting_scopes(view_class, _method(key))) != SCOPES[key]:
                problems.append(f"{key}: view grants {sorted(granting_scopes(view_class, _method(key)))}, "
                                f"declared {sorted(SCOPES[key])}")
    assert problems == []


def test_writes_need_exactly_one_scope():
    # Otherwise a write would be made twice by the matrix below (and a scope would imply another).
    assert [key for key, scopes in SCOPES.items() if _method(key) not in SAFE_METHODS and len(scopes) != 1] == []


def _acting_role(expectations):
    for wanted in (range(200, 300), (400, 409)):
        for role in ("legal", "technical", "ans"):
            if isinstance(expectations[role], int) and expectations[role] in wanted:
                return role
    raise AssertionError(f"no caller may act: {expectations}")


def _token(user, scopes=None, **columns):
    """A token of ``user`` made by the service (``scopes`` None: all rights); ``columns`` are then written through
    the ORM: limits the service would refuse (to prove the API refuses them too), an expiry in the past."""
    token, raw = create_api_token(acting_user=user, name="matrice", scopes=scopes)
    if columns:
        ApiToken.objects.filter(pk=token.pk).update(**columns)
    return raw


def _call(client, method, url, data, raw):
    headers = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    if method == "GET":
        return client.get(url, **headers)
    body = json.dumps(data) if data is not None else ""
    return client.generic(method, url, body, content_type="application/json", **headers)


def _error_code(response):
    return response.json()["error"]["code"]


def _exported_drimboxes(response):
    """The DRIMbox identifiants of the rows of a CSV certificate export (first column, header skipped)."""
    assert response.status_code == 200, response.content[:300]
    lines = response.content.decode("utf-8-sig").splitlines()[1:]
    return {int(line.split(";")[0]) for line in lines}


# Calls MATRIX knows how to make (objects, bodies, expected answers).
SCOPED_KEYS = sorted(key for key in SCOPES if key in MATRIX)


@pytest.mark.parametrize("key", SCOPED_KEYS)
def test_scopes(key, world, client):
    method, kwargs_builder, data_builder, expectations, *post = MATRIX[key]
    method = method.upper()
    role = _acting_role(expectations)
    user = getattr(world, role)
    if role != "ans":  # the caller is also a member of operator B (before any builder changes the world)
        add_role(world.other_operator, world.other, user, Role.MANDATAIRE)
    name = key.split(" ")[0]
    url = reverse(name, kwargs=kwargs_builder(world) if kwargs_builder else None)
    data = data_builder(world) if data_builder else None
    allowed = SCOPES[key]

    # Refusals first: none of them may change anything.
    for scope in ALL_SCOPES:
        if scope in allowed or (scope == ApiScope.ANS and not user.is_ans_admin):
            continue
        response = _call(client, method, url, data, _token(user, [scope]))
        assert response.status_code == 403, f"{key}/{scope}: {response.status_code} {response.content[:200]!r}"
        assert _error_code(response) == "token_scope", key
        assert "portée" in response.json()["error"]["message"], key

    response = _call(client, method, url, data, _token(user, expires_at=timezone.now() - timedelta(minutes=1)))
    assert response.status_code == 401, f"{key}/expired: {response.status_code}"
    assert _error_code(response) == "token_expired" and "expiré" in response.json()["error"]["message"]

    if role == "ans":
        # An ANS administrator's token limited to an operator (made before the owner became ANS) is refused.
        response = _call(client, method, url, data, _token(user, operator_id=world.operator.pk))
        assert response.status_code == 403 and _error_code(response) == "token_operator", key
    else:
        raw = _token(user, scopes=[s for s in ALL_SCOPES if s != ApiScope.ANS],
                     operator_id=world.other_operator.pk)
        expected = LIMITED_TO_OTHER_OPERATOR.get(key, expectations["other"])
        _check(_call(client, method, url, data, raw), expected, world, f"{key}/limited to operator B")

    if key in DRIMBOX_BOUND:
        elsewhere = wx.make_drimboxes(world.operator, 1)[0]
        raw = _token(user, scopes=[ApiScope.READ, ApiScope.CERTIFICATES],
                     operator_id=world.operator.pk, drimbox_ids=[elsewhere.pk])
        response = _call(client, method, url, data, raw)
        if key in DRIMBOX_FILTERED:
            assert world.certified_drimbox.identifiant not in _exported_drimboxes(response), key
        else:
            assert response.status_code == 403 and _error_code(response) == "token_drimbox", \
                f"{key}: {response.status_code}"

    # Then every scope that lets the call through (a write: exactly one), and the answer MATRIX expects.
    for scope in sorted(allowed):
        if scope == ApiScope.CERTIFICATES and key in DRIMBOX_BOUND:
            raw = _token(user, scopes=[scope], operator_id=world.operator.pk,
                         drimbox_ids=[world.certified_drimbox.pk])  # limited to this very DRIMbox
        else:
            raw = _token(user, [scope])
        response = _call(client, method, url, data, raw)
        if key in DRIMBOX_FILTERED:
            assert world.certified_drimbox.identifiant in _exported_drimboxes(response), f"{key}/{scope}"
        if (key, scope) in NO_ESCALATION:
            assert response.status_code == NO_ESCALATION[key, scope], f"{key}/{scope}: {response.status_code}"
            assert _error_code(response) != "token_scope", key
            return
        _check(response, expectations[role], world, f"{key}/{scope}")
    if post and role in post[0]:
        assert post[0][role](world), f"{key}/{role}: post-condition failed"


def test_session_and_all_rights_tokens_are_not_limited(world, client):
    """Tokens made before scopes (« * ») and sessions keep every right of the user."""
    url = reverse("api_support_contact", kwargs={"pk": world.operator.pk})
    raw = _token(world.technical)
    response = _call(client, "PUT", url, {"support_contact": "support@a.fr"}, raw)
    assert response.status_code == 200, response.content
    client.force_login(world.technical)
    response = client.put(url, {"support_contact": "autre@a.fr"}, content_type="application/json")
    assert response.status_code == 200

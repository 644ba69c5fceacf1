"""People, roles, invitations, contract acceptance, multi-operator users, API tokens."""
import pytest
from django.core.management import call_command

from operators import permissions, services
from operators.models import ContractAcceptance, Membership, Role
from tests.conftest import HABILITATION, pdf_upload, register
from trustspace.errors import NotAllowed
from trustspace.models import ApiToken
from trustspace.services import create_api_token


def test_removal_of_a_technical_administrator_takes_effect_at_once(world, client):
    client.force_login(world.technical)
    assert client.get(f"/api/v1/operators/{world.operator.pk}/").status_code == 200
    services.remove_membership(world.technical_membership, acting_user=world.mandataire, reason="départ")
    assert client.get(f"/api/v1/operators/{world.operator.pk}/").status_code == 404
    assert client.get("/espace/operateur/").status_code == 302  # no operator any more
    ended = Membership.objects.get(pk=world.technical_membership.pk)
    assert ended.ended_by == world.mandataire and ended.end_reason == "départ"


def test_a_mandataire_designates_technical_admins_but_not_mandataires(world):
    invitation, _ = services.invite_person(world.operator, acting_user=world.mandataire, email="ta@a.fr",
                                           role=Role.TECHNICAL_ADMIN)
    assert invitation.invited_by == world.mandataire
    with pytest.raises(NotAllowed):
        services.invite_person(world.operator, acting_user=world.mandataire, email="m@a.fr", role=Role.MANDATAIRE,
                               mandate_document=pdf_upload())
    with pytest.raises(NotAllowed):
        services.invite_person(world.operator, acting_user=world.technical, email="ta@a.fr", role=Role.TECHNICAL_ADMIN)


def test_mandate_document_follows_the_invitation_and_is_downloadable(world, client):
    assert world.mandataire_membership.mandate_document.name.endswith(".pdf")
    client.force_login(world.legal)
    response = client.get(f"/espace/personnes/{world.mandataire_membership.pk}/mandat/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_invitation_binds_the_role_to_the_sub_of_whoever_accepts(world, make_user):
    invitee = make_user("invitee", email="someone-else@example.fr")
    membership = services.accept_invitation(world.pending_token, acting_user=invitee, card_reference=HABILITATION)
    assert membership.user == invitee and membership.role == Role.TECHNICAL_ADMIN
    assert permissions.can(invitee, "support_contact.update", world.operator)


def test_one_user_in_two_operators_switches_the_active_one(world, client):
    services.accept_invitation(world.pending_token, acting_user=world.other,  # other is now also TA of A
                               card_reference=HABILITATION)
    client.force_login(world.other)
    client.post("/espace/changer-operateur/", {"operator": world.operator.pk})
    assert world.operator.name in client.get("/").content.decode()
    client.post("/espace/changer-operateur/", {"operator": world.other_operator.pk})
    home = client.get("/").content.decode()
    assert world.other_operator.name in home and "Changer d'opérateur" in home


def test_home_shows_the_next_step_of_the_journey(db, make_user, client):
    ans = make_user("ans2", is_ans_admin=True)
    legal = make_user("newlegal")
    operator = register(legal, 33333333, "Opérateur C")  # approval records the version accepted in the application
    services.publish_contract_version(acting_user=ans, version="1", title="Contrat", body="Texte")
    client.force_login(legal)
    assert "Prochaine étape : Contrat d&#x27;adhésion" in client.get("/").content.decode()
    client.post("/espace/contrat/", {"confirm": "on"})
    assert ContractAcceptance.objects.filter(operator=operator).count() == 2
    assert "Prochaine étape : Administrateurs techniques" in client.get("/").content.decode()


def test_contract_acceptance_records_who_when_and_version(world):
    acceptance = ContractAcceptance.objects.get(operator=world.operator)
    assert acceptance.accepted_by == world.legal
    assert acceptance.contract_version.version == "2026-01"
    assert acceptance.accepted_at is not None


def test_ans_back_office_lists_and_filters_operators(world, client):
    client.force_login(world.ans)
    body = client.get("/ans/operateurs/?q=Opérateur B").content.decode()
    assert "Opérateur B" in body and "Opérateur A" not in body
    services.publish_contract_version(acting_user=world.ans, version="2026-02", title="V2", body="...")
    services.accept_contract(world.other_operator, acting_user=world.other,
                             contract_version=services.contract_status(world.other_operator)[0])
    body = client.get("/ans/operateurs/?contract=a_accepter").content.decode()
    assert "Opérateur A" in body and "Opérateur B" not in body
    body = client.get("/ans/operateurs/?technical_admin=non").content.decode()
    assert "Opérateur B" in body and "Opérateur A" not in body


def test_ans_list_query_count_does_not_grow_with_rows(world, client, django_assert_max_num_queries, make_user):
    client.force_login(world.ans)
    for n in range(5):
        register(make_user(f"extra{n}"), 40000000 + n, f"Extra {n}")
    with django_assert_max_num_queries(8):
        assert client.get("/ans/operateurs/").status_code == 200


def test_api_token_is_shown_once_hashed_and_revocable(world, client):
    token, raw = create_api_token(acting_user=world.technical, name="supervision")
    assert ApiToken.objects.get(pk=token.pk).key_hash != raw and raw not in str(token.__dict__)
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 200 and response.json()["id"] == world.technical.pk
    client.force_login(world.technical)
    page = client.post("/compte/jetons/", {"name": "autre", "scopes": ["read"]}).content.decode()
    assert "drimm_" in page and "ne sera plus jamais affiché" in page
    client.post(f"/compte/jetons/{token.pk}/revoquer/")
    client.logout()
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 401 and response.json()["error"]["message"]


def test_check_deploy_is_clean_in_production_settings(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 64 + "production-secret-key-for-the-check",
           "ALLOWED_HOSTS": "drimm.example.fr", "VAR_DIR": str(tmp_path), "DATABASE_URL": "",
           "AUDIT_HMAC_KEYS": "k1:" + "a2V5LWZvci10aGUtZGVwbG95LWNoZWNrLTMyLWJ5dGVzLWxvbmc=",
           "AUDIT_HMAC_CURRENT_KEY_ID": "k1", "OUTBOX_ENCRYPTION_KEY": "outbox-key-for-the-deploy-check"}
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**env, "FQDN_SITE_LABEL": "test", "DNS_SERVER": ""})
    assert result.returncode != 0 and "operators.W001" in result.stderr and "operators.W002" in result.stderr
    assert "certificates.W001" in result.stderr
    production = {**env, "FQDN_SITE_LABEL": "021", "DNS_SERVER": "ns.example.fr", "DNS_TSIG_SECRET": "c2VjcmV0",
                  "IGC_SANTE_ANCHORS": "/etc/drimm/igc-sante/racine.pem",
                  # DEBUG=0 refuses SQLite, the filesystem broker and LocMem (trustspace/checks.py); nothing connects.
                  "DATABASE_URL": "postgres://drimm@db.example.fr:5432/drimm", "REDIS_URL": "redis://redis.example.fr:6379/0"}
    result = subprocess.run(command, capture_output=True, text=True, env=production, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "", "VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_demo_trustspace_loads_and_is_idempotent(db, settings, capsys, tmp_path):
    settings.DEBUG = True
    # The demo's certificates come from the development hierarchy, trusted in development only.
    settings.DEV_PKI_DIR = tmp_path / "pki"
    settings.IGC_SANTE_ANCHORS = [str(tmp_path / "pki" / "root.pem")]
    settings.IGC_SANTE_INTERMEDIATES = [str(tmp_path / "pki" / "intermediate.pem")]
    call_command("demo_trustspace")
    from whitelist.models import WhitelistVersion

    published = WhitelistVersion.objects.get()
    assert published.status == "publiee" and published.prepared_by.username != published.approved_by.username
    call_command("demo_trustspace")
    out = capsys.readouterr().out
    assert "déjà chargé" in out and "ans.admin" in out
    assert {m.role for m in Membership.objects.all()} == set(Role.values)
    # Every demo operator joined through an application approved by the demo's ANS administrator; one waits.
    from operators.models import DrimboxRequest, Operator, RequestKind, RequestStatus

    adhesions = DrimboxRequest.objects.filter(kind=RequestKind.ADHESION)
    approved = adhesions.filter(status=RequestStatus.APPROVED)
    assert set(approved.values_list("decided_by__username", flat=True)) == {"ans.admin"}
    assert set(approved.values_list("operator", flat=True)) == set(Operator.objects.values_list("pk", flat=True))
    pending = adhesions.get(status=RequestStatus.SUBMITTED)
    assert pending.created_by.username == "rl.nouvel" and not Membership.objects.filter(user=pending.created_by)

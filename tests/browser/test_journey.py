"""End-to-end journey in headless Chromium, logging in through a real OpenID Connect provider.

A legal representative logs in with iSC (oidc-provider-mock on loopback), accepts the contract,
invites a technical administrator who accepts the e-mailed link, and the home page then shows the
next step of the journey. Run with ``pytest -m browser``; needs Debian's /usr/bin/chromium-headless-shell.
"""
import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from operators import services
from operators.models import (
    ContractAcceptance,
    Invitation,
    InvitationStatus,
    Membership,
    Role,
)
from tests.browser.conftest import login, logout
from tests.conftest import register
from tests.support.oidc_provider import set_user

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/journey-home.png")
LEGAL_SUB = "isc-legal-rep"
TECH_SUB = "isc-tech-admin"
TECH_EMAIL = "tech.admin@example.fr"


@pytest.fixture
def legal_operator(make_user, issuer):
    """A published contract and an operator, not yet bound by it, whose legal representative is iSC sub LEGAL_SUB."""
    ans = make_user("ans", is_ans_admin=True)
    legal = make_user("legal", oidc_sub=LEGAL_SUB, email="legal@example.fr")
    # Approved through onboarding under an earlier contract version; the version in force comes after.
    operator = register(legal, 11223344, "Imagerie Test SAS", ans=ans)
    contract = services.publish_contract_version(acting_user=ans, version="2026-01", title="Contrat d'adhésion DRIM-M",
                                                 body="Article 1 — L'opérateur respecte le référentiel DRIM-M.")
    set_user(issuer, LEGAL_SUB, {"email": "legal@example.fr", "given_name": "Louise", "family_name": "Légale"})
    set_user(issuer, TECH_SUB, {"email": TECH_EMAIL, "given_name": "Théo", "family_name": "Technique"})
    return operator, contract, legal


def step_badge(page, title):
    return page.locator("ol > li").filter(has=page.locator("strong", has_text=title)).locator(".fr-badge")


def test_legal_representative_journey_through_oidc(page, portal, issuer, legal_operator):
    operator, contract, legal = legal_operator
    next_step = page.locator("[data-testid=next-step]")

    # 1. Login with iSC: the provider's form, then back on « Mon Espace de Confiance DRIM-M ».
    login(page, portal, issuer, LEGAL_SUB)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon Espace de Confiance DRIM-M")
    expect(page.get_by_test_id("current-user")).to_contain_text("Imagerie Test SAS")
    expect(next_step).to_contain_text("Prochaine étape : Contrat d'adhésion")

    # 2. Accept the contract from the next-step callout.
    next_step.get_by_role("link", name="Lire et accepter le contrat").click()
    page.wait_for_url(portal + "/espace/contrat/")
    expect(page.get_by_label("Texte du contrat")).to_contain_text("référentiel DRIM-M")
    # DSFR draws the checkbox on its label (which takes the pointer events): tick it as a user does.
    acceptance_box = page.get_by_label("J'ai lu le contrat d'adhésion et je l'accepte")
    page.locator("label[for=id_confirm]").click()
    expect(acceptance_box).to_be_checked()
    page.get_by_role("button", name="Accepter le contrat").click()
    page.wait_for_url(portal + "/")
    expect(page.get_by_role("status")).to_contain_text("Le contrat d'adhésion (version 2026-01) est accepté.")

    # 3. Next step: technical administrators; invite one.
    expect(next_step).to_contain_text("Prochaine étape : Administrateurs techniques")
    next_step.get_by_role("link", name="Désigner un administrateur technique").click()
    page.wait_for_url(portal + "/espace/personnes/designer/")
    page.get_by_label("Courriel de la personne").fill(TECH_EMAIL)
    expect(page.get_by_label("Rôle")).to_have_value(Role.TECHNICAL_ADMIN)
    page.get_by_role("button", name="Envoyer l'invitation").click()
    page.wait_for_url(portal + "/espace/personnes/")
    expect(page.get_by_role("status")).to_contain_text(f"Une invitation a été envoyée à {TECH_EMAIL}")

    # A pending invitation is not a designation yet: the step stays the next one.
    page.goto(portal + "/")
    expect(next_step).to_contain_text("Prochaine étape : Administrateurs techniques")

    # 4. The invitation e-mail carries the one-time link (live server thread, same process: shared outbox).
    invitations = [m for m in mail.outbox if TECH_EMAIL in m.to]
    assert len(invitations) == 1, [m.subject for m in mail.outbox]
    link = re.search(r"https?://\S+/invitation/\S+/", invitations[0].body).group(0)
    assert link.startswith(portal + "/invitation/")

    # 5. The technical administrator logs in with iSC and accepts.
    logout(page, portal)
    login(page, portal, issuer, TECH_SUB)
    expect(page.get_by_text("Votre compte iSC n'est rattaché à aucun opérateur.")).to_be_visible()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Invitation de Imagerie Test SAS")
    page.get_by_label("Référence de votre carte").fill("IGCS-HAB-2026-0042")
    page.get_by_role("button", name="Accepter l'invitation").click()
    page.wait_for_url(portal + "/")
    expect(page.get_by_role("status")).to_contain_text(
        "Vous êtes maintenant administrateur technique de Imagerie Test SAS.")

    # 6. Back as the legal representative: the journey moved on to the DRIMbox declarations.
    logout(page, portal)
    login(page, portal, issuer, LEGAL_SUB)
    expect(next_step).to_contain_text("Prochaine étape : Déclarations de DRIMbox")
    expect(step_badge(page, "Contrat d'adhésion")).to_have_text("Fait")
    expect(step_badge(page, "Représentant légal")).to_have_text("Fait")
    expect(step_badge(page, "Administrateurs techniques")).to_have_text("Fait")
    expect(step_badge(page, "Déclarations de DRIMbox")).to_have_text("À faire")
    # The DSFR stylesheet is served by the live server and applied (Marianne font, DSFR blue buttons).
    assert "Marianne" in page.evaluate("getComputedStyle(document.body).fontFamily")
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_css("color", "rgb(0, 0, 145)")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The database agrees with the page.
    technical = Membership.objects.get(operator=operator, role=Role.TECHNICAL_ADMIN, ended_at__isnull=True)
    assert technical.user.oidc_sub == TECH_SUB
    assert technical.user.email == TECH_EMAIL
    assert Invitation.objects.get(operator=operator, email=TECH_EMAIL).status == InvitationStatus.ACCEPTED
    acceptance = ContractAcceptance.objects.get(operator=operator, contract_version=contract)
    assert acceptance.accepted_by_id == legal.pk
    legal.refresh_from_db()
    assert (legal.first_name, legal.last_name) == ("Louise", "Légale")  # claims applied at login


def test_invite_form_errors_are_summarised_and_focused(page, portal, issuer, legal_operator):
    operator, contract, legal = legal_operator
    services.accept_contract(operator, acting_user=legal, contract_version=contract)

    login(page, portal, issuer, LEGAL_SUB)
    page.goto(portal + "/espace/personnes/designer/")
    page.get_by_label("Courriel de la personne").fill("pas-un-courriel")
    page.get_by_role("button", name="Envoyer l'invitation").click()
    page.wait_for_load_state("load")

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Courriel de la personne")
    # The summary comes before the form's fields, and each error links to its field.
    assert summary.evaluate("s => s.compareDocumentPosition(document.querySelector('#id_email')) "
                            "& Node.DOCUMENT_POSITION_FOLLOWING") != 0
    expect(summary.locator("a[href='#id_email']")).to_have_count(1)
    # The focus is on the first field in error: the e-mail input.
    expect(page.locator("#id_email")).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "id_email"
    assert page.evaluate("document.activeElement.name") == "email"
    assert not Invitation.objects.filter(operator=operator).exists()

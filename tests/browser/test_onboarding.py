"""The whole onboarding in headless Chromium: an iSC user applies for its operator, ANS approves it in the back
office, and the applicant then acts for its operator. Run with ``pytest -m browser``; needs Debian's
/usr/bin/chromium-headless-shell."""
import pytest
from playwright.sync_api import expect

from demo.documents import demo_pdf
from operators import services
from operators.models import DrimboxRequest, Membership, Operator, RequestStatus, Role
from tests.browser.conftest import login, logout
from tests.conftest import CARD, application_data
from tests.support.oidc_provider import set_user

pytestmark = pytest.mark.browser

APPLICANT_SUB = "isc-applicant"
ANS_SUB = "isc-ans-onboarding"


@pytest.fixture
def people(make_user, issuer):
    ans = make_user("ans.onboarding", is_ans_admin=True, oidc_sub=ANS_SUB, email="instruction@ans.example.fr")
    services.publish_contract_version(acting_user=ans, version="2026-01", title="Contrat d'adhésion DRIM-M",
                                      body="Article 1 — L'opérateur respecte le référentiel DRIM-M.")
    applicant = make_user("applicant", oidc_sub=APPLICANT_SUB, email="claire@imagerie-ouest.example.fr")
    set_user(issuer, APPLICANT_SUB, {"email": applicant.email, "given_name": "Claire", "family_name": "Martin"})
    set_user(issuer, ANS_SUB, {"email": ans.email, "given_name": "Anne", "family_name": "Instructrice",
                               "groups": ["ans-drimm-admin"]})
    return applicant, ans


def test_applicant_applies_ans_approves_applicant_acts_for_its_operator(page, portal, issuer, people, tmp_path):
    applicant, _ans = people
    contract = tmp_path / "contrat-signe.pdf"
    contract.write_bytes(demo_pdf("Contrat d'adhésion signé"))
    data = application_data(13572468, "Imagerie de l'Ouest SAS")

    # 1. A new iSC user has no operator: the home page offers to register one.
    login(page, portal, issuer, APPLICANT_SUB)
    expect(page.get_by_text("Votre compte iSC n'est rattaché à aucun opérateur.")).to_be_visible()
    page.get_by_role("link", name="Enregistrer mon opérateur").click()
    page.wait_for_url(portal + "/espace/operateur/enregistrer/")

    # 2. The application: a card in the wrong format first, then the right one.
    for name in ("name", "siren", "siret", "id_nat_struct", "address_line", "postal_code", "city", "contact_email"):
        page.locator(f"[name={name}]").fill(data[name])
    page.locator("[name=representative_function]").fill("Présidente")
    page.locator("[name=legal_rep_card]").fill("12AB")
    page.locator("[name=contract_document]").set_input_files(str(contract))
    page.locator("label[for=id_contract_accepted]").click()
    expect(page.locator("#id_contract_accepted")).to_be_checked()
    page.get_by_role("button", name="Déposer la demande d'adhésion").click()
    page.wait_for_load_state("load")
    expect(page.locator("[data-error-summary]")).to_contain_text("10 chiffres")
    assert not DrimboxRequest.objects.exists()
    page.locator("[name=legal_rep_card]").fill(CARD)
    page.locator("[name=contract_document]").set_input_files(str(contract))  # a file is never sent back
    expect(page.locator("#id_contract_accepted")).to_be_checked()  # the acceptance is kept
    page.get_by_role("button", name="Déposer la demande d'adhésion").click()
    page.wait_for_url(portal + "/demandes/*/")
    expect(page.get_by_role("status")).to_contain_text("est transmise à l'ANS")
    req = DrimboxRequest.objects.get(created_by=applicant)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Adhésion d'un opérateur — {req.reference}")

    # 3. Until ANS approves: the status on the home page, and no operator page.
    page.goto(portal + "/")
    expect(page.locator(f"[data-application-status={RequestStatus.SUBMITTED}]")).to_contain_text("Soumise")
    page.goto(portal + "/espace/operateur/")
    page.wait_for_url(portal + "/")
    logout(page, portal)

    # 4. ANS: the review queue, the application, take it, approve it.
    login(page, portal, issuer, ANS_SUB)
    page.goto(portal + "/ans/demandes/?kind=adhesion")
    page.get_by_role("link", name=req.reference).click()
    expect(page.locator("[data-applicant]")).to_contain_text(applicant.email)
    expect(page.get_by_text(CARD)).to_be_visible()
    # What the reviewer checks: the company in the public directory, the other applications for its SIREN.
    expect(page.locator("[data-application-checks]")).to_contain_text("Annuaire des Entreprises")
    expect(page.locator("[data-same-siren]")).to_contain_text("aucune")
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.get_by_role("status")).to_contain_text("Demande prise en charge.")
    page.get_by_role("button", name="Approuver").click()
    expect(page.get_by_role("status")).to_contain_text("Demande approuvée.")
    logout(page, portal)

    # 5. The applicant is now the operator's legal representative.
    login(page, portal, issuer, APPLICANT_SUB)
    expect(page.get_by_test_id("current-user")).to_contain_text("Imagerie de l'Ouest SAS")
    page.goto(portal + "/espace/personnes/")
    expect(page.locator(f"[data-card='{CARD}']")).to_be_visible()
    operator = Operator.objects.get(siren=data["siren"])
    membership = Membership.objects.get(operator=operator, user=applicant)
    assert membership.role == Role.LEGAL_REPRESENTATIVE and membership.card_reference == CARD

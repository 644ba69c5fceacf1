"""A DRIMbox declaration in headless Chromium, end to end.

The operator declares, ANS asks for changes, the operator resubmits, ANS approves; the FQDNs appear
and resolve on the test BIND server, and the attestation downloaded from the portal is confirmed by
the public check page.
"""
import hashlib
import re

import pytest
from playwright.sync_api import expect

from operators import services
from operators.models import DrimboxRequest, RequestStatus
from tests.browser.conftest import login, logout
from tests.conftest import register
from tests.support.lifecycle import cgi_upload, finess, signed_order_upload, siren
from tests.support.oidc_provider import set_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LEGAL_SUB = "isc-legal-declarant"
ANS_SUB = "isc-ans-reviewer"


def field(page, name):
    """A form field by its name; its visible label is checked, so the page stays usable by a person."""
    locator = page.locator(f"[name={name}]")
    expect(page.locator(f"label[for={locator.get_attribute('id')}]")).to_be_visible()
    return locator


@pytest.fixture
def trust_space(make_user, issuer):
    ans = make_user("ans.reviewer", is_ans_admin=True, oidc_sub=ANS_SUB, email="reviewer@ans.example.fr")
    services.publish_contract_version(acting_user=ans, version="2026-01", title="Contrat",
                                      body="Article 1.")
    legal = make_user("legal", oidc_sub=LEGAL_SUB, email="legal@imagerie.example.fr")
    operator = register(legal, 11223355, "Imagerie Côte-d'Or SAS", ans=ans)  # approval accepts the contract
    order = services.create_financing_order(
        acting_user=legal, operator=operator, reference="SONS-IMG-DB-va2-0042", pacs_identifiers=["PACS-DIJON-01"],
        signed_order=signed_order_upload(), client={
            "client_siren": siren(30210042), "client_name": "Centre d'imagerie de Dijon", "activity_2023": True,
            "finess_geographiques": [finess(4242, "21")], "am_numbers": ["211004242"], "ris_wave": "vague_2",
            "ris_order_reference": "RIS-DIJON-V2"})
    set_user(issuer, LEGAL_SUB, {"email": legal.email, "given_name": "Louise", "family_name": "Légale"})
    set_user(issuer, ANS_SUB, {"email": ans.email, "given_name": "Rémi", "family_name": "Relecteur",
                               "groups": ["ans-drimm-admin"]})
    return operator, order


def test_declaration_review_approval_dns_and_attestation(page, portal, issuer, bind, trust_space, tmp_path):
    operator, order = trust_space
    status = page.get_by_role("status")

    # 1. The operator's legal representative declares a DRIMbox.
    login(page, portal, issuer, LEGAL_SUB)
    menu = page.get_by_role("navigation", name="Menu principal")
    menu.get_by_role("button", name="DRIMbox").click()  # a sub-menu of the header navigation
    menu.get_by_role("link", name="Mes DRIMbox").click()
    page.get_by_role("link", name="Déclarer une DRIMbox").click()
    field(page, "structure_name").fill("Centre d'imagerie de Dijon")
    field(page, "structure_siren").fill(order.clients.get().siren)
    field(page, "structure_finess_geographique").fill(order.finess_list[0])
    field(page, "pacs").fill("PACS-DIJON-01")
    field(page, "financing_order").select_option(label="SONS-IMG-DB-va2-0042 — PACS PACS-DIJON-01")
    field(page, "db_addresses").fill("192.0.2.21")
    field(page, "vi_addresses").fill("192.0.2.22")
    field(page, "support_contact").fill("support@imagerie.example.fr, 03 80 00 00 00")
    cgi = tmp_path / "cgi.pdf"
    cgi.write_bytes(cgi_upload().read())
    field(page, "cgi").set_input_files(str(cgi))
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(status).to_contain_text("Brouillon")
    page.get_by_role("button", name="Soumettre à l'ANS").click()
    expect(status).to_contain_text("Demande soumise à l'ANS.")
    request_url = page.url
    req = DrimboxRequest.objects.get(operator=operator, kind="declaration")
    assert req.status == RequestStatus.SUBMITTED
    logout(page, portal)

    # 2. ANS takes it from the review queue and asks for a change.
    login(page, portal, issuer, ANS_SUB)
    menu.get_by_role("button", name="DRIMbox").click()
    menu.get_by_role("link", name="Demandes à instruire").click()
    page.get_by_role("link", name=req.reference).click()
    page.get_by_role("button", name="Prendre en charge").click()
    expect(status).to_contain_text("Demande prise en charge.")
    field(page, "changes-comment").fill("Indiquez l'adresse IPv6 de la visionneuse.")
    page.get_by_role("button", name="Demander des modifications").click()
    expect(status).to_contain_text("Modifications demandées à l'opérateur.")
    logout(page, portal)

    # 3. The operator sees the comment in the timeline, edits and resubmits.
    login(page, portal, issuer, LEGAL_SUB)
    page.goto(request_url)
    expect(page.locator("[data-timeline]")).to_contain_text("Indiquez l'adresse IPv6 de la visionneuse.")
    page.get_by_role("link", name="Modifier").click()
    field(page, "vi_addresses").fill("192.0.2.22, 2001:db8::22")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(status).to_contain_text("Demande mise à jour.")
    page.get_by_role("button", name="Soumettre à l'ANS").click()
    expect(status).to_contain_text("Demande soumise à l'ANS.")
    logout(page, portal)

    # 4. ANS approves.
    login(page, portal, issuer, ANS_SUB)
    page.goto(request_url)
    page.get_by_role("button", name="Prendre en charge").click()
    expect(status).to_contain_text("Demande prise en charge.")
    page.get_by_role("button", name="Approuver").click()
    expect(status).to_contain_text("Demande approuvée.")
    logout(page, portal)

    # 5. The operator sees the FQDNs, which resolve on the authoritative server, and downloads the attestation.
    login(page, portal, issuer, LEGAL_SUB)
    page.goto(request_url)
    db_fqdn = page.locator("[data-fqdn=db]").inner_text()
    vi_fqdn = page.locator("[data-fqdn=vi]").inner_text()
    assert re.fullmatch(r"db[0-9]+\.test\.mesimagesmedicales\.fr", db_fqdn)
    assert vi_fqdn == "vi" + db_fqdn[2:]
    dns = bind.client()
    assert dns.lookup(db_fqdn, "A") == ["192.0.2.21"]
    assert dns.lookup(vi_fqdn, "AAAA") == ["2001:db8::22"]
    link = page.locator("[data-attestation-code]")
    code = link.get_attribute("data-attestation-code")
    with page.expect_download() as download_info:
        link.click()
    pdf = download_info.value.path().read_bytes()
    assert pdf.startswith(b"%PDF-")
    logout(page, portal)

    # 6. Anyone checks the attestation's code on the public page.
    page.goto(portal + "/attestations/verifier/")
    field(page, "code").fill(code.lower().replace("-", " "))
    page.get_by_role("button", name="Vérifier").click()
    result = page.locator("[data-attestation-result]")
    expect(result).to_have_attribute("data-attestation-result", "valide")
    expect(result).to_contain_text(db_fqdn)
    expect(result).to_contain_text("Imagerie Côte-d'Or SAS")
    expect(result).to_contain_text(hashlib.sha256(pdf).hexdigest())
    field(page, "code").fill("ATT-0000-0000-0000")
    page.get_by_role("button", name="Vérifier").click()
    expect(result).to_have_attribute("data-attestation-result", "inconnue")

"""An action form refused in Chromium (issue 16, item 2), without any script of ours but the focus: « Refuser »
without reason shows the page again with the error next to « Motif du refus », described by it, in the summary,
the focus on the field, and the page passes axe-core (CSP enforced, tests/browser/conftest.py)."""
import pytest
from axe_playwright_python.base import AXE_SCRIPT

from operators.models import DrimboxRequest, RequestStatus
from tests.browser.test_accessibility import WCAG_21_AA
from tests.browser.test_layout_widths import _log_in_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_refusal_without_reason_is_said_on_its_field(page, portal, issuer, demo_trust_space):
    page.context.add_init_script(AXE_SCRIPT)
    req = DrimboxRequest.objects.filter(status=RequestStatus.SUBMITTED, kind="declaration").first()
    assert req is not None
    _log_in_as(page, portal, issuer, "ans.admin")
    page.goto(f"{portal}/demandes/{req.pk}/")
    page.get_by_role("button", name="Prendre en charge").click()
    page.wait_for_selector("#id_reject-reason")

    page.get_by_role("button", name="Refuser", exact=True).click()
    reason = page.locator("#id_reject-reason")
    assert reason.get_attribute("aria-invalid") == "true"
    described = reason.get_attribute("aria-describedby").split()
    assert "id_reject-reason-desc-error" in described
    assert page.locator("#id_reject-reason-desc-error").inner_text().strip() == "Le motif du refus est obligatoire."
    summary = page.locator("[data-error-summary]")
    assert "Le formulaire contient 1 erreur" in summary.inner_text()
    assert summary.locator("a").get_attribute("href") == "#id_reject-reason"
    assert page.evaluate("document.activeElement.id") == "id_reject-reason"
    assert page.locator("label[for=id_reject-reason]").inner_text().strip().startswith("Motif du refus")
    assert "Optionnel" not in page.locator("label[for=id_reject-reason]").inner_text()
    violations = page.evaluate("options => axe.run(document, options)", WCAG_21_AA)["violations"]
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_REVIEW

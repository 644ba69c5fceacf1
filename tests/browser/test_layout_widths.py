"""Layout at ordinary widths (issue 16, item 1), in headless Chromium with the portal's CSP enforced.

The demo trust space (``manage.py demo_trustspace``), each of its roles logged in through iSC (the OIDC provider on
loopback): anonymous, rl.emedia (legal representative of E-MEDIA), at.radionum (technical administrator of
Radiologie Numérique SAS), ans.admin. For each role's main pages at 320, 768, 1024, 1280 and 1440 px: the document
is no wider than the viewport, the Marianne block is whole, and the header tools (« Se connecter » /
« Se déconnecter ») are on screen — in the header from the DSFR's lg breakpoint (992 px), one tap on « Menu »
away below it. The account sub-menu names the person and the operator without widening the page.
"""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.support.oidc_provider import set_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [320, 768, 1024, 1280, 1440]
DSFR_LG = 992  # the DSFR's lg breakpoint (62em): header tools in the header from here, in the « Menu » below

PUBLIC_PAGES = ["home", "login", "weather", "attestation_check", "whitelist_conformance_kit", "sitemap",
                "accessibility", "personal_data"]
OPERATOR_PAGES = ["home", "operator_detail", "contract", "people", "drimbox_list", "request_list",
                  "financing_orders", "certificate_dashboard", "operator_weather", "operator_incidents",
                  "operator_perf", "operator_history", "api_tokens", "sitemap"]
ANS_PAGES = ["ans_home", "ans_incidents", "ans_operators", "ans_contracts", "ans_review_queue", "ans_registry",
             "ans_va", "ans_certificates", "ans_whitelist", "ans_github_requests", "ans_weather", "ans_perf",
             "ans_alerts", "ans_outbox", "sitemap"]

ROLES = {
    # role: (demo username or None, its pages, its operator's name in the account menu)
    "anonymous": (None, PUBLIC_PAGES, None),
    "legal": ("rl.emedia", OPERATOR_PAGES, "E-MEDIA"),
    "technical": ("at.radionum", OPERATOR_PAGES, "Radiologie Numérique SAS"),
    "ans": ("ans.admin", ANS_PAGES, None),
}


def _log_in_as(page, portal, issuer, username):
    """The demo user ``username`` logs in through iSC, with the demo's names (and ANS's group for ans.admin)."""
    user = get_user_model().objects.get(username=username)
    sub = f"isc-demo-{username}"
    user.oidc_sub = sub
    user.save(update_fields=["oidc_sub"])
    claims = {"email": user.email, "given_name": user.first_name, "family_name": user.last_name}
    if user.is_ans_admin:
        claims["groups"] = ["ans-drimm-admin"]
    set_user(issuer, sub, claims)
    login(page, portal, issuer, sub)
    return user


def _document_width(page):
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def _on_screen(locator, width):
    """The element is visible and lies wholly within the viewport's width."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box


def _header_tool(page, authenticated):
    banner = page.get_by_role("banner")
    if authenticated:
        return banner.get_by_role("button", name="Se déconnecter", exact=True)
    return banner.get_by_role("link", name="Se connecter", exact=True)


def _check_header(page, width, authenticated, open_menu):
    """The Marianne block is whole; the login/logout tool is on screen (after « Menu » below the lg breakpoint)."""
    _on_screen(page.locator(".fr-header__brand .fr-logo"), width)
    _on_screen(page.locator(".fr-header__service-title"), width)
    if width >= DSFR_LG:
        _on_screen(_header_tool(page, authenticated), width)
        expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
        return
    menu_button = page.get_by_role("button", name="Menu", exact=True)
    _on_screen(menu_button, width)
    if open_menu:
        menu_button.click()
        _on_screen(_header_tool(page, authenticated), width)  # the DSFR's copy of the tools in the mobile menu
        expect(page.get_by_role("navigation", name="Menu principal")).to_be_visible()
        assert _document_width(page) <= width
        page.get_by_role("button", name="Fermer", exact=True).first.click()
        expect(_header_tool(page, authenticated)).to_be_hidden()


def _check_account_menu(page, width, user, operator_name):
    """« Mon compte » names the person (and the operator) inside the page, at every width."""
    if width < DSFR_LG:
        page.get_by_role("button", name="Menu", exact=True).click()
    menu = page.get_by_role("navigation", name="Menu principal")
    menu.get_by_role("button", name="Mon compte").click()
    identity = page.get_by_test_id("current-user")
    _on_screen(identity, width)
    expect(identity).to_contain_text(user.display_name)
    if operator_name:
        expect(identity).to_contain_text(operator_name)
    assert _document_width(page) <= width
    _on_screen(menu.get_by_role("link", name="Jetons d'API"), width)
    page.reload()


@pytest.mark.parametrize("role", list(ROLES))
def test_main_pages_fit_every_width_with_the_header_tools_visible(page, portal, issuer, demo_trust_space, role):
    username, pages, operator_name = ROLES[role]
    user = _log_in_as(page, portal, issuer, username) if username else None
    authenticated = user is not None
    overflowing = []
    for index, name in enumerate(pages):
        # Loaded at the narrowest width, then the window widened step by step (the layout follows the viewport;
        # one load per page keeps the walk short).
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        response = page.goto(portal + reverse(name))
        assert response is not None and response.status == 200, name
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            document_width = _document_width(page)
            if document_width > width:
                overflowing.append((name, width, document_width))
            _check_header(page, width, authenticated, open_menu=index == 0)
    if authenticated:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            _check_account_menu(page, width, user, operator_name)
    assert not overflowing, f"pages wider than the viewport (page, viewport, document): {overflowing}"


def test_ans_menu_is_grouped_and_each_sub_menu_stays_in_the_page(page, portal, issuer, demo_trust_space):
    _log_in_as(page, portal, issuer, "ans.admin")
    menu = page.get_by_role("navigation", name="Menu principal")
    for width in (1024, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(portal + reverse("ans_registry"))
        expect(menu).not_to_contain_text("ANS —")
        for group in ("Opérateurs", "DRIMbox", "Liste blanche", "Météo", "Exploitation", "Mon compte"):
            button = menu.get_by_role("button", name=group, exact=True)
            button.click()
            expect(button).to_have_attribute("aria-expanded", "true")
            links = page.locator(f"#{button.get_attribute('aria-controls')} .fr-nav__link")
            expect(links.first).to_be_visible()
            for index in range(links.count()):
                _on_screen(links.nth(index), width)
            assert _document_width(page) <= width, (group, width)
        # The group holding the current page is marked, and so is its link.
        expect(menu.get_by_role("button", name="DRIMbox", exact=True)).to_have_attribute("aria-current", "true")
        menu.get_by_role("button", name="DRIMbox", exact=True).click()
        expect(menu.get_by_role("link", name="Registre des DRIMbox")).to_have_attribute("aria-current", "page")


def test_display_settings_switch_to_dark_and_stay(page, portal):
    page.goto(portal + reverse("legal_notice"))
    expect(page.locator("html")).not_to_have_attribute("data-fr-theme", "dark")
    page.get_by_role("contentinfo").get_by_role("button", name="Paramètres d'affichage").click()
    dialog = page.get_by_role("dialog", name="Paramètres d’affichage")
    expect(dialog).to_be_visible()
    dialog.get_by_text("Thème sombre").click()
    expect(page.locator("html")).to_have_attribute("data-fr-theme", "dark")
    dialog.get_by_role("button", name="Fermer").click()
    expect(dialog).to_be_hidden()
    page.goto(portal + reverse("sitemap"))  # the choice is kept (DSFR: localStorage « scheme », no cookie)
    expect(page.locator("html")).to_have_attribute("data-fr-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}

"""The Content-Security-Policy in headless Chromium: the portal's pages, the API documentation and the Django
admin render with it enforced (no violation: the ``page`` fixture fails at teardown otherwise), DSFR fonts and
icons included; and the listener does catch a violation."""
import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_listener_records_a_blocked_inline_script(page, portal):
    page.goto(portal + "/connexion/")
    page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.__ran = 1";
                            document.body.appendChild(s); }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran") is None  # blocked, not run
    violations = page.evaluate("window.__cspViolations")
    assert violations[0]["directive"] == "script-src-elem" and violations[0]["blocked"] == "inline"
    page.wait_for_timeout(200)  # the binding's report reaches the test
    assert page.csp_violations, "the fixture's list did not receive the violation"
    page.csp_violations.clear()  # expected here: the fixture's final check stays about the portal's own pages


@pytest.mark.parametrize("path", ["/", "/connexion/", "/meteo/", "/attestations/verifier/"])
def test_public_pages_render_with_dsfr_fonts_and_icons(page, portal, path):
    page.goto(portal + path)
    expect(page.locator("header.fr-header")).to_be_visible()
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('1rem Marianne')")
    assert page.evaluate("[...document.fonts].some(f => f.family.includes('Marianne') && f.status === 'loaded')")
    icon = page.locator(".fr-icon-sun-line").first
    mask = icon.evaluate(
        "e => getComputedStyle(e, '::before').maskImage || getComputedStyle(e, '::before').webkitMaskImage")
    assert "url(" in mask


def test_api_documentation_renders(page, portal):
    """Both tools run inside the portal's DSFR frame under its CSP; Redoc with its labels in French."""
    page.goto(portal + "/api/v1/docs/")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("API de l'Espace de Confiance DRIM-M")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator("header.fr-header")).to_be_visible()
    expect(page.locator(".fr-breadcrumb [aria-current=page]")).to_have_text("Documentation de l'API")
    page.goto(portal + "/api/v1/redoc/")
    title = page.locator("#redoc-container h1").first
    expect(title).to_be_attached(timeout=20_000)  # Redoc renders once it has read the schema
    expect(title).to_contain_text("API de l'Espace de Confiance DRIM-M")
    expect(page.locator("#redoc-container").get_by_text("Réponses", exact=True).first).to_be_visible()
    expect(page.locator("footer.fr-footer")).to_be_attached()


def test_django_admin_renders(page, portal, make_user, world):
    root = make_user("root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_id, "url": portal}])
    for path in ("/admin/", "/admin/operators/operator/", f"/admin/operators/operator/{world.operator.pk}/change/"):
        page.goto(portal + path)
        expect(page.locator("#site-name")).to_contain_text("Espace de Confiance DRIM-M")

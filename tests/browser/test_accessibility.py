"""axe-core (the copy shipped in the axe-playwright-python test package, run inside Chromium) on every page of the
demo trust space each role reaches (issue 16, item 7): 0 violations of WCAG 2.1 A and AA.

The pages are found as the crawl test finds them (tests/test_crawl.py: every link from the home page), one page per
route — ``/demandes/12/`` stands for every request page — each opened in Chromium with the portal's CSP enforced
(a violation fails the test, tests/browser/conftest.py) and the person logged in through iSC.
"""
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import Resolver404, resolve

from tests.browser.test_layout_widths import _log_in_as
from tests.test_crawl import ROLES, crawl, demo  # noqa: F401 (the demo fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _one_page_per_route(pages):
    routes = {}
    for path, content_type in sorted(pages.items()):
        if not content_type.startswith("text/html"):
            continue
        try:
            route = resolve(path.split("?")[0]).route
        except Resolver404:
            continue
        routes.setdefault(route, path)
    return routes


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_each_role_passes_axe_core(page, portal, issuer, demo, role):  # noqa: F811
    client = Client()
    if ROLES[role]:
        client.force_login(get_user_model().objects.get(username=ROLES[role]))
    pages, _broken = crawl(client)
    routes = _one_page_per_route(pages)
    assert len(routes) >= (8 if role == "anonymous" else 25), routes
    if ROLES[role]:
        _log_in_as(page, portal, issuer, ROLES[role])
    axe = Axe()
    violations = {}
    for path in routes.values():
        response = page.goto(portal + path)
        assert response is not None and response.status == 200, path
        found = axe.run(page, options=WCAG_21_AA).response["violations"]
        if found:
            violations[path] = [(rule["id"], [node["target"] for node in rule["nodes"]][:3]) for rule in found]
    assert not violations, violations

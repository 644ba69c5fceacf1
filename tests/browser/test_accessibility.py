"""axe-core (the copy shipped in the axe-playwright-python test package, run inside Chromium) on every page of the
demo trust space each role reaches (issue 16, item 7): 0 violations of WCAG 2.1 A and AA.

The pages are found as the crawl test finds them (tests/test_crawl.py: links from the home page), one page per
route — ``/demandes/12/`` stands for every request page, and is the only one opened — each opened in Chromium
with the portal's CSP enforced (a violation fails the test, tests/browser/conftest.py) and the person logged in
through iSC.
"""
import json
import os

import pytest
from axe_playwright_python.base import AXE_SCRIPT

from tests.browser.test_layout_widths import _log_in_as
from tests.test_crawl import ROLES, client_of, crawl, route_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def _one_page_per_route(pages):
    routes = {}
    for path, content_type in sorted(pages.items()):
        route = route_of(path)
        if content_type.startswith("text/html") and route is not None:
            routes.setdefault(route, path)
    return routes


@pytest.fixture(scope="session")
def routes_directory(tmp_path_factory):
    """Where each role's routes are kept for this run, shared by its parallel test processes (pytest-xdist's
    workers each have a base directory below the run's; ``-p no:xdist`` has none)."""
    base = tmp_path_factory.getbasetemp()
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "axe-routes"
    directory.mkdir(exist_ok=True)
    return directory


def _routes_of(role, directory):
    """{route: one page of it} for the HTML pages ``role`` reaches by links from the home page. One page per
    route is enough to find the routes (the crawl test opens every page): on the demo, 156 pages instead of
    1,193, and the same routes for each role. The routes (URL patterns, not pages: the same whatever the
    demo's identifiers) are written down for the other roles' tests, in whichever process they run."""
    pages, _broken = crawl(client_of(role), one_per_route=True)
    routes = _one_page_per_route(pages)
    written = directory / f"{role}.json"
    partial = directory / f"{role}.{os.getpid()}.tmp"
    partial.write_text(json.dumps(sorted(routes)))
    partial.replace(written)
    return routes


def _route_set_of(role, directory):
    """The routes ``role`` reaches, as written down by its own test or a crawl of them."""
    written = directory / f"{role}.json"
    return set(json.loads(written.read_text())) if written.exists() else set(_routes_of(role, directory))


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_each_role_passes_axe_core(page, portal, issuer, demo_trust_space, routes_directory, role):
    """One test per role (each about a quarter of the pages); a route is checked once, by the first role of
    ROLES that reaches it (the anonymous visitor first: the public pages), except the home page, which is each
    person's own dashboard."""
    order = list(ROLES)
    earlier = set().union(*(_route_set_of(other, routes_directory) for other in order[:order.index(role)]))
    routes = _routes_of(role, routes_directory)
    assert len(routes) >= (8 if role == "anonymous" else 25), (role, routes)
    page.context.add_init_script(AXE_SCRIPT)  # loaded with each page, outside its CSP, parsed once per page
    if ROLES[role]:
        _log_in_as(page, portal, issuer, ROLES[role])
    violations = {}
    for route, path in routes.items():
        if route in earlier and route != "":
            continue
        response = page.goto(portal + path)
        assert response is not None and response.status == 200, (role, path)
        found = page.evaluate("options => axe.run(document, options)", WCAG_21_AA)["violations"]
        if found:
            violations[path] = [(rule["id"], [node["target"] for node in rule["nodes"]][:3]) for rule in found]
    assert not violations, violations


def test_axe_core_reports_what_it_should_here(page, portal):
    """The same injection, on a page made wrong on purpose: an image without text and an unlabelled field."""
    page.context.add_init_script(AXE_SCRIPT)
    page.goto(portal + "/mentions-legales/")
    page.evaluate("""() => {
        document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="/x.png"><input type="text">');
    }""")
    found = {rule["id"] for rule in page.evaluate("options => axe.run(document, options)", WCAG_21_AA)["violations"]}
    assert {"image-alt", "label"} <= found, found

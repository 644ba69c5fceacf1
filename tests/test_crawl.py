"""No dead link (issue 16, item 7): every link of every page, followed for each role of the demo trust space.

The demo (``manage.py demo_trustspace``, as ``./scripts/run`` loads it) has DRIMboxes in every state, requests,
certificates, whitelist versions and weather. For the anonymous visitor, a legal representative, a technical
administrator and an ANS administrator, a breadth-first walk from the home page follows every link the pages show
(same site, GET) and every page must answer below 400 — a link a person can see is a page that person can open.
Left out: logging out (it ends the walk), the identity provider's login, the Django admin (ANS's inspection tool,
whose sort and filter links are combinations of one page) and the API's own JSON links.
"""
from collections import deque
from html.parser import HTMLParser
from importlib import import_module
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

pytestmark = [pytest.mark.access, pytest.mark.django_db]

SKIPPED_PREFIXES = ("/deconnexion", "/oidc/", "/admin/", "/api/v1/schema", "/static/", "/media/")
PAGE_LIMIT = 1500  # far above what the demo shows; reaching it means links multiply without end
ROLES = {"anonymous": None, "legal": "rl.emedia", "technical": "at.radionum", "ans": "ans.admin"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _links(base, html):
    parser = _Links()
    parser.feed(html)
    for href in parser.hrefs:
        url = urldefrag(urljoin(base, href)).url
        parts = urlsplit(url)
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path and not path.startswith(SKIPPED_PREFIXES):
            yield path


@pytest.fixture
def demo(settings, tmp_path):
    settings.DEBUG = True
    settings.DEV_PKI_DIR = tmp_path / "pki"
    settings.IGC_SANTE_ANCHORS = [str(tmp_path / "pki" / "root.pem")]
    settings.IGC_SANTE_INTERMEDIATES = [str(tmp_path / "pki" / "intermediate.pem")]
    # The measurement policy v1 comes from a data migration, which an earlier live-server test's flush may
    # have emptied in this worker: put it back as the migration does.
    import_module("weather.migrations.0002_default_policy").create_default_policy(apps, None)
    call_command("demo_trustspace")
    settings.DEBUG = False


def crawl(client):
    """Every page reachable by links from the home page: {path: content type} and {broken path: (status, page
    linking it)}."""
    seen, broken = {}, {}
    queue = deque([("/", None)])
    while queue:
        path, referrer = queue.popleft()
        if path in seen:
            continue
        assert len(seen) < PAGE_LIMIT, "the walk does not end: links multiply"
        response = client.get(path, follow=True)
        seen[path] = response.get("Content-Type", "")
        if response.status_code >= 400:
            broken[path] = (response.status_code, referrer)
            continue
        if seen[path].startswith("text/html"):
            final = response.redirect_chain[-1][0] if response.redirect_chain else path
            for link in _links(final, response.content.decode()):
                if link not in seen:
                    queue.append((link, path))
    return seen, broken


def test_every_link_each_role_sees_leads_to_a_page(demo):
    """One demo trust space (its load is the costly part) walked by each role in turn."""
    for role, username in ROLES.items():
        client = Client()
        if username:
            client.force_login(get_user_model().objects.get(username=username))
        seen, broken = crawl(client)
        assert not broken, f"{role}: {len(broken)} dead links (page: (status, linked from)): {broken}"
        # The walk went somewhere: the role's pages were reached, not just the home page.
        assert len(seen) >= (10 if role == "anonymous" else 40), (role, sorted(seen))

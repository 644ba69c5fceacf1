"""No dead link (issue 16, item 7): every link of every page, followed for each role of the demo trust space.

The demo (``manage.py demo_trustspace``, as ``./scripts/run`` loads it) has DRIMboxes in every state, requests,
certificates, whitelist versions and weather. For the anonymous visitor, a legal representative, a technical
administrator and an ANS administrator, a breadth-first walk from the home page follows every link the pages show
(same site, GET) and every page must answer below 400 — a link a person can see is a page that person can open.
Left out: logging out (it ends the walk), the identity provider's login, the Django admin (ANS's inspection tool,
whose sort and filter links are combinations of one page) and the API's own JSON links.

The same walk checks the DSFR frame of every HTML page (issue 16, item 1): a breadcrumb below the home, ending on
the page itself, and a target for each skip link; and that what a person reads is French (item 7): no English words
in the visible text — an outside party's own words (a CA's, GitHub's, an SMTP server's) are allowed only in the
folded technical detail (``<details>``) or as code.
"""
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import Resolver404, resolve

pytestmark = [pytest.mark.access, pytest.mark.django_db]

SKIPPED_PREFIXES = ("/deconnexion", "/oidc/", "/admin/", "/api/v1/schema", "/static/", "/media/")
PAGE_LIMIT = 1500  # far above what the demo shows; reaching it means links multiply without end
HOMES = ("/", "/ans/")  # everyone's home, ANS's work waiting: no breadcrumb
ROLES = {"anonymous": None, "legal": "rl.emedia", "technical": "at.radionum", "ans": "ans.admin"}


class _Frame(HTMLParser):
    """What a page's DSFR frame holds: its ids, its skip links, its breadcrumb's items and its title."""

    def __init__(self):
        super().__init__()
        self.ids, self.skip_links, self.breadcrumb = set(), [], []
        self.breadcrumb_button = False
        self.title = ""
        self._open = []  # (tag, region) of the elements being read: region is "skiplinks", "breadcrumb" or ""
        self._text_of = None

    def _region(self):
        return self._open[-1][1] if self._open else ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        classes = (attributes.get("class") or "").split()
        region = ("skiplinks" if "fr-skiplinks" in classes else "breadcrumb" if "fr-breadcrumb" in classes
                  else self._region())
        if tag not in ("br", "img", "input", "link", "meta"):
            self._open.append((tag, region))
        if region == "skiplinks" and tag == "a":
            self.skip_links.append(attributes.get("href", ""))
        elif region == "breadcrumb" and "fr-breadcrumb__button" in classes:
            self.breadcrumb_button = True
        elif region == "breadcrumb" and tag == "a":
            self.breadcrumb.append({"href": attributes.get("href"), "current": attributes.get("aria-current"),
                                    "text": ""})
            self._text_of = self.breadcrumb[-1]
        elif tag == "title" and not self.title:  # the page's, not an SVG's further down
            self._text_of = {"text": ""}

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break
        if tag == "title" and self._text_of is not None and not self.title:
            self.title = " ".join(self._text_of["text"].split())
        if tag in ("a", "title"):
            self._text_of = None

    def handle_data(self, data):
        if self._text_of is not None:
            self._text_of["text"] += data


def frame_problems(path, html):
    """What is wrong with the DSFR frame of the page at ``path`` (its final address), [] when nothing."""
    frame = _Frame()
    frame.feed(html)
    problems = [f"skip link {href} has no target" for href in frame.skip_links
                if not href.startswith("#") or href[1:] not in frame.ids]
    if not frame.skip_links:
        problems.append("no skip link")
    crumbs = frame.breadcrumb
    if path in HOMES:
        return problems + (["a breadcrumb on the home page"] if crumbs else [])
    if not crumbs:
        return [*problems, "no breadcrumb"]
    if not frame.breadcrumb_button:
        problems.append("no « Voir le fil d'Ariane » button")
    if (crumbs[0]["href"], crumbs[0]["text"].strip()) != ("/", "Accueil"):
        problems.append(f"the breadcrumb starts at {crumbs[0]}")
    last = crumbs[-1]
    if last["current"] != "page" or last["href"] is not None or any(c["current"] for c in crumbs[:-1]):
        problems.append(f"the breadcrumb does not end on the page: {crumbs}")
    # The current step is the page, by the name its title gives it.
    elif not frame.title.startswith(" ".join(last["text"].split()) + " — "):
        problems.append(f"the breadcrumb ends on « {last['text'].strip()} », the page is « {frame.title} »")
    if any(not c["href"] for c in crumbs[:-1]):
        problems.append(f"a step before the page is no link: {crumbs}")
    return problems


# Words that French text never uses, and Python's own values shown raw (None, True, False). Names, DNs (« Côte-d'Or »)
# and the standard X.509 notation (« CA:FALSE ») are not words of a sentence and do not match.
ENGLISH = re.compile(r"\b(?i:the|this|that|is|are|was|were|please|error|errors|failed|unable|invalid|required|unknown"
                     r"|not found|must|should|cannot|could not|field|enter a|ensure|submit|permission|denied|forbidden"
                     r"|allowed|missing|expected|with|from|and|your|you)\b|\b(?:None|True|False)\b")


class _VisibleText(HTMLParser):
    """The text a person reads (with alt, title and aria-label), outside scripts, styles, code and the folded
    technical detail."""

    HIDDEN = {"script", "style", "code", "pre", "details", "template"}
    VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.texts, self._open, self._hidden = [], [], 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if not self._hidden:
            self.texts += [attributes[name] for name in ("alt", "title", "aria-label") if attributes.get(name)]
        if tag in self.VOID:
            return
        self._open.append(tag)
        self._hidden += tag in self.HIDDEN

    def handle_endtag(self, tag):
        if tag not in self._open:
            return
        while self._open:
            closed = self._open.pop()
            self._hidden -= closed in self.HIDDEN
            if closed == tag:
                break

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.texts.append(" ".join(data.split()))


SUCCESS_BOX = re.compile(r'<div class="fr-alert fr-alert--success[^"]*"[^>]*>(.*?)</div>', re.S)
UNVERIFIED = re.compile(r"non v[ée]rifi", re.I)


def unverified_in_success_boxes(html):
    """Green boxes that say something could not be checked (« Révocation non vérifiable »): a warning, not a
    success."""
    return [" ".join(box.split()) for box in SUCCESS_BOX.findall(html) if UNVERIFIED.search(box)]


def english_in(html):
    """The visible texts of a page that read as English ([] when everything is French)."""
    parser = _VisibleText()
    parser.feed(html)
    return [text for text in parser.texts if ENGLISH.search(text)]


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


def route_of(path):
    """The URL pattern serving ``path`` (``demandes/<int:pk>/`` for every request page), None if none does."""
    try:
        return resolve(path.split("?")[0]).route
    except Resolver404:
        return None


def crawl(client, inspect=None, one_per_route=False):
    """Every page reachable by links from the home page: {path: content type} and {broken path: (status, page
    linking it)}. ``inspect(path, final path, html)`` sees each HTML page. ``one_per_route``: a page whose route
    (URL pattern) was already opened is not opened again — one request page stands for all of them."""
    seen, broken, routes = {}, {}, set()
    queue = deque([("/", None)])
    while queue:
        path, referrer = queue.popleft()
        if path in seen:
            continue
        if one_per_route:
            route = route_of(path)
            if route is not None and route in routes:
                continue
            routes.add(route)
        assert len(seen) < PAGE_LIMIT, "the walk does not end: links multiply"
        response = client.get(path, follow=True)
        seen[path] = response.get("Content-Type", "")
        if response.status_code >= 400:
            broken[path] = (response.status_code, referrer)
            continue
        if seen[path].startswith("text/html"):
            final = response.redirect_chain[-1][0] if response.redirect_chain else path
            html = response.content.decode()
            if inspect is not None:
                inspect(path, urlsplit(final).path, html)
            for link in _links(final, html):
                if link not in seen:
                    queue.append((link, path))
    return seen, broken


def _recording_frame_problems(frames, english=None):
    def inspect(path, final, html):
        frames[path] = frame_problems(final, html)
        if english is not None and (found := english_in(html)):
            english[path] = found[:5]
        if green := unverified_in_success_boxes(html):
            frames[path] = [*frames[path], f"a success box says something is not verified: {green}"]
    return inspect


def client_of(role):
    """A test client logged in as the demo person of ``role`` (anonymous: nobody)."""
    client = Client()
    if ROLES[role]:
        client.force_login(get_user_model().objects.get(username=ROLES[role]))
    return client


@pytest.mark.parametrize("role", ROLES)
def test_every_link_each_role_sees_leads_to_a_page_in_the_dsfr_frame(demo_trust_space, role):
    """The demo trust space walked by each role (one test per role: the ANS walk alone opens 700 pages)."""
    frames, english = {}, {}
    seen, broken = crawl(client_of(role), _recording_frame_problems(frames, english))
    assert not broken, f"{role}: {len(broken)} dead links (page: (status, linked from)): {broken}"
    wrong = {path: problems for path, problems in frames.items() if problems}
    assert not wrong, f"{role}: {len(wrong)} pages out of the DSFR frame: {wrong}"
    assert not english, f"{role}: {len(english)} pages show English to people: {english}"
    # The walk went somewhere: the role's pages were reached, not just the home page.
    assert len(seen) >= (10 if role == "anonymous" else 40), (role, sorted(seen))


FRAME = """<html><head><title>{title} — Espace de Confiance DRIM-M</title></head><body>
<div class="fr-skiplinks"><nav><ul><li><a class="fr-link" href="#content">Contenu</a></li>
<li><a class="fr-link" href="#navigation">Menu</a></li></ul></nav></div>
<nav class="fr-nav" id="{nav_id}"></nav>{breadcrumb}<main id="content"><svg><title>Une barre</title></svg></main>
</body></html>"""
BREADCRUMB = """<nav class="fr-breadcrumb"><button class="fr-breadcrumb__button">Voir le fil d’Ariane</button>
<div class="fr-collapse"><ol class="fr-breadcrumb__list"><li><a class="fr-breadcrumb__link" href="/">Accueil</a></li>
<li><a class="fr-breadcrumb__link" href="/espace/demandes/">Mes demandes</a></li>
<li><a class="fr-breadcrumb__link" aria-current="page">{current}</a></li></ol></div></nav>"""


def test_the_frame_check_finds_what_it_should():
    """The checks of the walk above, on pages made right and wrong on purpose."""
    def problems(path="/demandes/1/", title="Demande DEM-1", nav_id="navigation", breadcrumb=BREADCRUMB,
                 current="Demande DEM-1"):
        html = FRAME.format(title=title, nav_id=nav_id, breadcrumb=breadcrumb.format(current=current))
        return frame_problems(path, html)

    assert problems() == []
    assert problems(path="/", breadcrumb="") == []
    assert problems(path="/") == ["a breadcrumb on the home page"]
    assert problems(nav_id="menu") == ["skip link #navigation has no target"]
    assert problems(breadcrumb="") == ["no breadcrumb"]
    assert problems(current="Mes demandes") == [
        "the breadcrumb ends on « Mes demandes », the page is « Demande DEM-1 — Espace de Confiance DRIM-M »"]
    assert problems(breadcrumb=BREADCRUMB.replace(' aria-current="page"', "")) == [
        "the breadcrumb does not end on the page: " + str([
            {"href": "/", "current": None, "text": "Accueil"},
            {"href": "/espace/demandes/", "current": None, "text": "Mes demandes"},
            {"href": None, "current": None, "text": "Demande DEM-1"}])]


def test_the_english_check_finds_what_it_should():
    """The walk's language check, on texts made right and wrong on purpose."""
    page = """<html lang="fr"><head><title>Révocation — Espace</title><style>.x{{color:red}}</style></head><body>
    <img alt="{alt}" src="/x.png"><div class="fr-alert"><p>{message}</p></div>
    <details><summary>Détail technique</summary><code>Unable to find specified certificate</code></details>
    <p>Extensions : CA:FALSE — ST=Côte-d'Or (21) — page 1 sur 6</p>
    <script>if (a == null) {{ throw "not found"; }}</script>
    </body></html>"""
    french = "L'autorité de certification ne connaît pas ce certificat."
    assert english_in(page.format(alt="Logo de l'ANS", message=french)) == []
    for message in ("Unable to find specified certificate", "This field is required.", "Not found.",
                    "Authentication credentials were not provided.", "Échéance : None", "Publié : True",
                    "Method \"POST\" not allowed."):
        assert english_in(page.format(alt="Logo", message=message)) == [message], message
    assert english_in(page.format(alt="Close the menu", message=french)) == ["Close the menu"]


def test_the_success_box_check_finds_an_unverified_revocation():
    box = '<div class="fr-alert fr-alert--{level} fr-alert--sm" role="status"><p>{text}</p></div>'
    assert unverified_in_success_boxes(box.format(level="success", text="Certificat valide. Révocation non "
                                                  "vérifiable : LCR indisponible.")) == [
        "<p>Certificat valide. Révocation non vérifiable : LCR indisponible.</p>"]
    assert unverified_in_success_boxes(box.format(level="warning", text="Révocation non vérifiable.")) == []
    assert unverified_in_success_boxes(box.format(level="success", text="Révocation enregistrée.")) == []

"""The DSFR chrome (issue 16, item 1): the footer's mandatory links and their pages, the site map of what each
visitor can reach, the grouped header navigation, and the cookies the personal-data page declares."""
import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

FOOTER_PAGES = {"legal_notice": "Mentions légales", "personal_data": "Données personnelles",
                "accessibility": "Accessibilité : partiellement conforme", "sitemap": "Plan du site"}


def _client(user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _callers(world):
    return {"anonymous": None, "technical": world.technical, "legal": world.legal, "ans": world.ans,
            "other": world.other}


def _links(html, css_class=None):
    """(href, text) of the page's links, optionally only those carrying ``css_class``."""
    pattern = r'<a\s[^>]*?href="([^"]+)"[^>]*>(.*?)</a>'
    links = []
    for match in re.finditer(pattern, html, re.S):
        tag = match.group(0)
        if css_class and css_class not in tag.split(">")[0]:
            continue
        links.append((unescape(match.group(1)), unescape(re.sub(r"<[^>]+>", "", match.group(2))).strip()))
    return links


def _section(html, start, end):
    return html[html.index(start):html.index(end, html.index(start))]


def test_every_page_has_the_footer_links_and_no_cookie_management(world):
    for role, user in _callers(world).items():
        html = _client(user).get(reverse("weather")).content.decode()
        footer = _links(_section(html, '<footer class="fr-footer"', "</footer>"), "fr-footer__bottom-link")
        for name, label in FOOTER_PAGES.items():
            assert (reverse(name), label) in footer, (role, name)
        assert (reverse("whitelist_conformance_kit"),
                "Kit de conformité de la liste blanche (éditeurs de DRIMbox)") in footer
        assert "cookies" not in _section(html, '<footer class="fr-footer"', "</footer>").lower()
        # The display settings (light/dark): the footer's button opens the DSFR modal, rendered on the page.
        assert 'aria-controls="fr-theme-modal"' in html and 'id="fr-theme-modal"' in html
        assert 'value="dark"' in html and "Thème sombre" in unescape(html)


@pytest.mark.parametrize("name", sorted(FOOTER_PAGES))
def test_footer_pages_are_public_french_and_carry_their_breadcrumb(world, name):
    for role, user in _callers(world).items():
        response = _client(user).get(reverse(name))
        assert response.status_code == 200, role
        html = unescape(response.content.decode())
        breadcrumb = _section(html, 'class="fr-breadcrumb"', "</nav>")
        assert 'aria-current="page"' in breadcrumb and ">Accueil</a>" in breadcrumb, role


def test_unknown_facts_are_placeholders_never_invented(world):
    for name in ("legal_notice", "personal_data", "accessibility"):
        html = unescape(_client().get(reverse(name)).content.decode())
        assert "[à compléter par l'ANS]" in html, name
    accessibility = unescape(_client().get(reverse("accessibility")).content.decode())
    assert "partiellement conforme" in accessibility and "Contenus non accessibles" in accessibility
    legal = unescape(_client().get(reverse("legal_notice")).content.decode())
    assert re.search(r"Hébergeur : \[à compléter par l'ANS\]", legal)



def test_the_declaration_lists_only_the_non_conformities_still_there(world):
    """Fixed by issue 16 (forms, history, tagged PDFs) and no longer declared; what remains is named."""
    html = unescape(_client().get(reverse("accessibility")).content.decode())
    listed = _section(html, "<ul data-non-conformities>", "</ul>")
    assert [item.split(" :")[0].strip() for item in re.findall(r"<li>(.*?)</li>", listed, re.S)] == [
        "Documentation de l'API"]
    for fixed in ("présentés comme facultatifs", "codes techniques en anglais", "non balisés",
                  "sans indication de changement de langue"):
        assert fixed not in html
    assert "PDF balisés (PDF/UA-1) et archivables (PDF/A-3a)" in " ".join(html.split())


def test_the_cookies_the_portal_sets_are_the_ones_the_page_declares(world):
    html = unescape(_client().get(reverse("personal_data")).content.decode())
    table = _section(html, "<caption>Cookies et stockage local</caption>", "</table>")
    declared = set(re.findall(r"<td><code>([^<]+)</code>", table))
    assert {"sessionid", "csrftoken", "messages"} <= declared
    # A visit that sets every cookie the portal has: a login, a form (CSRF) and a flash message (the logout).
    client = _client(world.legal)
    set_cookies = set(client.cookies)
    set_cookies |= set(client.get(reverse("person_invite")).cookies)
    response = client.post(reverse("logout"))
    set_cookies |= set(response.cookies)
    assert {"sessionid", "csrftoken", "messages"} <= set_cookies
    assert set_cookies <= declared


def test_the_site_map_lists_what_each_visitor_can_open(world):
    expected_sections = {
        "anonymous": {"Pages publiques", "Informations sur le site"},
        "technical": {"Pages publiques", "Mon compte", "Espace opérateur", "Informations sur le site"},
        "legal": {"Pages publiques", "Mon compte", "Espace opérateur", "Informations sur le site"},
        "other": {"Pages publiques", "Mon compte", "Espace opérateur", "Informations sur le site"},
        "ans": {"Pages publiques", "Mon compte", "Administration ANS", "Informations sur le site"},
    }
    for role, user in _callers(world).items():
        client = _client(user)
        html = client.get(reverse("sitemap")).content.decode()
        main = _section(html, '<main id="content"', "</main>")
        sections = {unescape(title) for title in re.findall(r'<h2 id="sitemap-\d+"[^>]*>([^<]+)</h2>', main)}
        assert sections == expected_sections[role], role
        links = _links(main)
        assert len(links) >= 10, role
        for href, label in links:
            response = client.get(href, follow=True)  # ANS's home is its operators' list
            assert response.status_code == 200, (role, href, label, response.status_code)
            assert not any(url.startswith(reverse("login")) for url, _ in response.redirect_chain), (role, href)
    ans_map = unescape(_client(world.ans).get(reverse("sitemap")).content.decode())
    for name in ("ans_operators", "ans_review_queue", "ans_whitelist", "ans_outbox", "ans_measurement_policy"):
        assert f'href="{reverse(name)}"' in ans_map, name


def test_the_header_menu_is_grouped_without_the_ans_prefix(world):
    html = unescape(_client(world.ans).get(reverse("ans_registry")).content.decode())
    nav = _section(html, '<nav class="fr-nav" id="navigation"', "</nav>")
    assert "ANS —" not in nav
    buttons = re.findall(r'<button type="button" class="fr-nav__btn"[^>]*>(.*?)</button>', nav, re.S)
    labels = [re.sub(r"<[^>]+>", "", b).strip() for b in buttons]
    assert labels == ["Opérateurs", "DRIMbox", "Liste blanche", "Météo", "Exploitation", "Mon compte"]
    # Top level: groups only (each a DSFR sub-menu), the current page and its group marked.
    assert nav.count('class="fr-collapse fr-menu"') == len(labels)
    assert f'<a class="fr-nav__link" href="{reverse("ans_registry")}" aria-current="page">' in nav
    current_group = re.search(r'<button[^>]*aria-current="true"[^>]*>([^<]+)</button>', nav).group(1)
    assert current_group == "DRIMbox"
    # The account sub-menu names the person; the header tools keep only the weather and the logout.
    assert world.ans.display_name in nav
    tools = _section(html, 'class="fr-header__tools-links"', "</ul>")
    assert world.ans.display_name not in tools and "Se déconnecter" in tools


def test_the_operator_menu_names_the_operator_in_the_account_menu(world):
    html = unescape(_client(world.legal).get(reverse("request_list")).content.decode())
    nav = _section(html, '<nav class="fr-nav" id="navigation"', "</nav>")
    identity = _section(nav, 'data-testid="current-user"', "</li>")
    assert world.legal.display_name in identity and world.operator.name in identity
    assert f'<a class="fr-nav__link" href="{reverse("request_list")}" aria-current="page">Mes demandes</a>' in nav
    assert 'id="navigation"' in _client().get(reverse("home")).content.decode()  # the skip link's target, anonymous


def test_the_demo_login_form_is_a_dsfr_form(world, settings):
    settings.DEBUG = True
    settings.DEV_PASSWORD_LOGIN = True
    html = _client().get(reverse("login")).content.decode()
    form = _section(html, '<form method="post" action="/connexion/"', "</form>")
    assert re.search(r'<input class="fr-input" type="text" name="username" id="id_username"', form)
    assert re.search(r'<input class="fr-password__input fr-input" type="password" name="password"', form)
    assert '<label class="fr-label" for="id_username">' in form and '<label class="fr-label" for="id_password">' in form
    response = _client().post(reverse("login"), {"username": "nobody", "password": "wrong"})
    html = unescape(response.content.decode())
    assert response.status_code == 200 and "fr-alert--error" in html and 'role="alert"' in html

"""The portal's menus: the header navigation (DSFR ``fr-nav`` with sub-menus) and the site map, from one table.

Pages are named by URL name (this bottom layer imports no app above it). Each menu is a list of links and groups;
a group is a DSFR sub-menu (``fr-nav__item`` with ``fr-menu``). The site map (« Plan du site ») lists the same
entries plus the pages that are not in the header, for what the visitor can reach: public pages for everyone, the
account pages once logged in, the operator's pages when acting for an operator, ANS's pages for ANS
administrators (the access rules of ``trustspace.access`` decide the same way).
"""
from dataclasses import dataclass, field

from django.urls import reverse


@dataclass(frozen=True)
class Link:
    label: str
    url_name: str
    # Other path prefixes that belong to this entry (a request's page under « Demandes »…): the current entry is
    # the one with the longest matching prefix.
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    label: str
    key: str
    links: tuple[Link, ...]


@dataclass
class Item:
    """A rendered entry: a link (``url``) or a group (``links``); ``current`` marks the page being shown."""
    label: str
    url: str = ""
    key: str = ""
    links: list["Item"] = field(default_factory=list)
    current: bool = False
    prefixes: tuple[str, ...] = ()

    @property
    def is_group(self):
        return bool(self.links)


PUBLIC_MENU = (
    Link("Accueil", "home"),
    Link("Météo des DRIMbox", "weather"),
    Link("Vérifier une attestation", "attestation_check"),
    Link("Kit de conformité (éditeurs)", "whitelist_conformance_kit"),
    Link("Documentation de l'API", "api_docs", also=("/api/v1/redoc/",)),
)

OPERATOR_MENU = (
    Link("Accueil", "home"),
    Group("Mon opérateur", "operator", (
        Link("Fiche de l'opérateur", "operator_detail", also=("/espace/operateurs/",)),
        Link("Contrat d'adhésion", "contract"),
        Link("Personnes", "people"),
        Link("Historique", "operator_history"),
    )),
    Group("DRIMbox", "drimbox", (
        Link("Mes DRIMbox", "drimbox_list", also=("/drimbox/",)),
        Link("Mes demandes", "request_list", also=("/demandes/", "/va/")),
        Link("Bons de commande", "financing_orders", also=("/bons-de-commande/",)),
        Link("Certificats", "certificate_dashboard", also=("/certificats/",)),
    )),
    Group("Météo", "weather", (
        Link("Météo de mes DRIMbox", "operator_weather"),
        Link("Incidents", "operator_incidents"),
        Link("Rapports PERF", "operator_perf"),
    )),
)

ANS_MENU = (
    Link("Travail en attente", "ans_home"),
    Group("Opérateurs", "ans-operators", (
        Link("Opérateurs", "ans_operators", also=("/ans/mandats/",)),
        Link("Contrats d'adhésion", "ans_contracts"),
        Link("Bons de commande", "ans_financing_orders", also=("/bons-de-commande/",)),
    )),
    Group("DRIMbox", "ans-drimbox", (
        # The request, DRIMbox, VA and certificate pages ANS opens are the operators' own pages.
        Link("Demandes à instruire", "ans_review_queue", also=("/demandes/",)),
        Link("Registre des DRIMbox", "ans_registry", also=("/ans/drimbox/", "/drimbox/")),
        Link("Documents VA", "ans_va", also=("/va/",)),
        Link("Certificats", "ans_certificates", also=("/certificats/",)),
    )),
    Group("Liste blanche", "ans-whitelist", (
        Link("Versions de la liste blanche", "ans_whitelist"),
        Link("Demandes GitHub", "ans_github_requests"),
    )),
    Group("Météo", "ans-weather", (
        Link("Météo des DRIMbox", "ans_weather"),
        Link("Incidents", "ans_incidents"),
        Link("Rapports PERF", "ans_perf"),
        Link("Politique de mesure", "ans_measurement_policy"),
    )),
    Group("Exploitation", "ans-operations", (
        Link("Alertes", "ans_alerts"),
        Link("Envois", "ans_outbox"),
        Link("Historique", "ans_history"),
    )),
)

ACCOUNT_MENU = Group("Mon compte", "account", (
    Link("Jetons d'API", "api_tokens"),
    Link("Documentation de l'API", "api_docs", also=("/api/v1/redoc/",)),
))

FOOTER_PAGES = (
    Link("Mentions légales", "legal_notice"),
    Link("Données personnelles", "personal_data"),
    Link("Déclaration d'accessibilité (partiellement conforme)", "accessibility"),
    Link("Plan du site", "sitemap"),
)

# Pages outside the header, listed on the site map only.
SITEMAP_EXTRA_PUBLIC = (Link("Documentation de l'API (Redoc)", "api_redoc"),)
SITEMAP_EXTRA_ACCOUNT = (Link("Enregistrer un opérateur", "operator_register"),)


def _render(entries):
    items = []
    for entry in entries:
        if isinstance(entry, Group):
            items.append(Item(entry.label, key=entry.key, links=_render(entry.links)))
        else:
            url = reverse(entry.url_name)
            items.append(Item(entry.label, url=url, prefixes=(url, *entry.also)))
    return items


def _leaves(items):
    for item in items:
        if item.is_group:
            yield from item.links
        else:
            yield item


def _best_leaf(items, path):
    """The link whose longest prefix matches ``path`` (« / » only for itself), or None."""
    best, best_length = None, -1
    for leaf in _leaves(items):
        for prefix in leaf.prefixes:
            matches = path == prefix if prefix == "/" else path.startswith(prefix)
            if matches and len(prefix) > best_length:
                best, best_length = leaf, len(prefix)
    return best


def _mark_current(items, path):
    """Marks the entry holding ``path`` and the group holding it."""
    best = _best_leaf(items, path)
    if best is None:
        return
    best.current = True
    for item in items:
        if item.is_group and best in item.links:
            item.current = True


def _main_entries(request):
    user = request.user
    entries = []
    if getattr(request, "active_operator", None):
        entries += OPERATOR_MENU
    if user.is_authenticated and user.is_ans_admin:
        entries += ANS_MENU
    if not entries:
        entries = [PUBLIC_MENU[0]] if user.is_authenticated else list(PUBLIC_MENU)
    return entries


def main_menu(request):
    """The header navigation of ``request``'s visitor; the account group comes apart (``account_menu``)."""
    items = _render(_main_entries(request))
    account = _render([ACCOUNT_MENU]) if request.user.is_authenticated else []
    _mark_current(items + account, request.path)
    return items, (account[0] if account else None)


# Every menu, for a page outside the visitor's own (a public page seen by a logged-in person).
ALL_ENTRIES = (PUBLIC_MENU + SITEMAP_EXTRA_PUBLIC + OPERATOR_MENU + ANS_MENU + ACCOUNT_MENU.links
               + SITEMAP_EXTRA_ACCOUNT + FOOTER_PAGES)


def section(request):
    """The menu link the page of ``request`` belongs to (the breadcrumb's step before the page), or None: the
    page's own link if it has one in any menu, else the link with the longest prefix of its path among the
    visitor's own menus, then among all."""
    every = _render(ALL_ENTRIES)
    own_link = next((leaf for leaf in _leaves(every) if leaf.url == request.path), None)
    if own_link is not None:
        return own_link
    own = _render(_main_entries(request) + ([ACCOUNT_MENU] if request.user.is_authenticated else []))
    return _best_leaf(own, request.path) or _best_leaf(every, request.path)


def sitemap_sections(request):
    """(title, entries) sections of the site map, for what ``request``'s visitor may open."""
    user = request.user
    sections = [("Pages publiques", _render(PUBLIC_MENU + SITEMAP_EXTRA_PUBLIC))]
    if user.is_authenticated:
        sections.append(("Mon compte", _render(ACCOUNT_MENU.links + SITEMAP_EXTRA_ACCOUNT)))
    if getattr(request, "active_operator", None):
        sections.append(("Espace opérateur", _render(OPERATOR_MENU[1:])))
    if user.is_authenticated and user.is_ans_admin:
        sections.append(("Administration ANS", _render(ANS_MENU)))
    sections.append(("Informations sur le site", _render(FOOTER_PAGES)))
    return sections

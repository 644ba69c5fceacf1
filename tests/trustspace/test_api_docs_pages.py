"""The API documentation pages (Swagger UI and Redoc) in the portal's DSFR frame, introduced in French (issue 16,
item 1): Swagger UI has no French and is marked as English; Redoc's labels are replaced by French ones; both tools'
assets are served by the portal itself."""
import json
import re
from html import unescape

from django.test import Client


def _page(path):
    response = Client().get(path)
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_swagger_ui_sits_in_the_dsfr_frame_introduced_in_french():
    html = _page("/api/v1/docs/")
    assert '<header role="banner" class="fr-header">' in html and 'class="fr-footer"' in html
    assert re.search(r'<a class="fr-breadcrumb__link" aria-current="page">\s*Documentation de l\'API\s*</a>', html)
    assert "<title>Documentation de l'API — Espace de Confiance DRIM-M</title>" in html
    assert "Authorization: Token <jeton>" in html and "n'existe qu'en anglais" in html
    assert '<div id="swagger-ui" class="portal-api-docs" lang="en"></div>' in html
    assert '<a class="fr-btn fr-btn--secondary" href="/api/v1/redoc/">' in html


def test_redoc_sits_in_the_dsfr_frame_with_french_labels():
    html = _page("/api/v1/redoc/")
    assert '<header role="banner" class="fr-header">' in html and 'class="fr-footer"' in html
    assert re.search(r'aria-current="page">\s*Documentation de l\'API \(Redoc\)\s*</a>', html)
    options = json.loads(re.search(r'Redoc\.init\("/api/v1/schema/", (\{.*?\n\}),', html, re.S).group(1))
    assert options["labels"]["responses"] == "Réponses"
    assert options["labels"]["requestSamples"] == "Exemples de requête"
    assert options["hideDownloadButton"] is True  # the page links the schema itself
    assert '<a class="fr-btn fr-btn--tertiary fr-icon-download-line fr-btn--icon-left" href="/api/v1/schema/">' in html


def test_the_tools_come_from_the_portal_not_a_cdn():
    for path in ("/api/v1/docs/", "/api/v1/redoc/"):
        html = _page(path)
        sources = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', html)
        assert sources and all(source.startswith("/static/") for source in sources), (path, sources)
        assert any("drf_spectacular_sidecar" in source for source in sources), path


def test_every_group_of_operations_has_a_french_label():
    """Redoc's menu shows x-displayName, Swagger UI the description beside the (English, stable) tag name."""
    schema = Client().get("/api/v1/schema/", {"format": "json"}).json()
    used = {tag for operations in schema["paths"].values() for operation in operations.values()
            if isinstance(operation, dict) for tag in operation.get("tags", [])}
    declared = {tag["name"]: tag for tag in schema["tags"]}
    assert used == set(declared)  # a new group needs its label; a label without operations is dropped
    for name, tag in declared.items():
        assert tag["x-displayName"] == tag["description"] and tag["x-displayName"] != name, name
    assert declared["certificates"]["x-displayName"] == "Certificats"
    assert declared["requests"]["x-displayName"] == "Demandes sur les DRIMbox"


def test_both_presentations_are_under_the_same_menu_entry():
    for path in ("/api/v1/docs/", "/api/v1/redoc/"):
        html = _page(path)
        link = '<a class="fr-nav__link" href="/api/v1/docs/" aria-current="page">Documentation de l\'API</a>'
        assert link in html, path

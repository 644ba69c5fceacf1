"""« Se connecter avec iSC » in the demo (issue 17, item 7): without an identity provider configured (no client
secret, DEBUG=1), the login page says plainly that iSC is not connected and the button does not lead to the real
iSC; with a provider configured, or in production, it leads to the provider as before."""
import html

import pytest
from django.contrib.messages import get_messages


def test_in_the_demo_isc_is_plainly_not_connected(db, client, settings):
    settings.DEBUG = True
    settings.DEV_PASSWORD_LOGIN = True
    settings.OIDC_RP_CLIENT_SECRET = ""
    page = html.unescape(client.get("/connexion/?next=/espace/").content.decode())
    assert "iSC n'est pas relié à ce portail de démonstration" in page
    assert "/oidc/authenticate/" not in page
    assert 'id="login-isc" disabled' in page
    # The provider's address typed by hand: back to the login page, which says why.
    response = client.get("/oidc/authenticate/?next=/espace/")
    assert response.status_code == 302 and response["Location"] == "/connexion/?next=%2Fespace%2F"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "iSC n'est pas relié à ce portail de démonstration (aucun fournisseur d'identité configuré) : "
        "connectez-vous avec un identifiant de démonstration."]
    # Not to another site.
    response = client.get("/oidc/authenticate/?next=https://example.org/")
    assert response["Location"] == "/connexion/"


@pytest.mark.parametrize("debug, secret", [(True, "a-secret"), (False, ""), (False, "a-secret")])
def test_with_a_provider_or_in_production_the_button_leads_to_it(db, client, settings, debug, secret):
    """With a client secret (a test provider configured) or with DEBUG=0, the button leads to the provider; here
    it does not answer (a closed port): the French 503 page, as before."""
    settings.DEBUG = debug
    settings.DEV_PASSWORD_LOGIN = debug
    settings.OIDC_RP_CLIENT_SECRET = secret
    page = client.get("/connexion/").content.decode()
    assert 'href="/oidc/authenticate/"' in page and "pas relié" not in page
    assert client.get("/oidc/authenticate/").status_code == 503

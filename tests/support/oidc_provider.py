"""A real OpenID Connect provider (oidc-provider-mock) served on 127.0.0.1 for the tests."""
import threading
from contextlib import contextmanager

import oidc_provider_mock
import requests
import werkzeug.serving


@contextmanager
def running_provider(**options):
    """Start the provider on a free loopback port; yields its base URL (also its issuer)."""
    options.setdefault("require_nonce", True)
    app = oidc_provider_mock.app(**options)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def configure_portal(settings, issuer, *, token_endpoint=None):
    """Point the portal's OIDC settings at the provider."""
    settings.OIDC_ISSUER = issuer
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{issuer}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = token_endpoint or f"{issuer}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{issuer}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{issuer}/jwks"
    settings.OIDC_RP_CLIENT_ID = "drimm-portal-test"
    settings.OIDC_RP_CLIENT_SECRET = "test-secret"
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    # oidc-provider-mock signs ID tokens without a "kid" header (its JWKS holds a single key);
    # iSC always sends one, so production keeps the kid check on.
    settings.OIDC_VERIFY_KID = False


def set_user(issuer, sub, claims):
    """Declare the claims the provider will give ``sub`` (email, names, groups…)."""
    response = requests.put(f"{issuer}/users/{sub}", json=claims, timeout=5)
    response.raise_for_status()

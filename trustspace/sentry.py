"""Optional error reporting to Sentry (imported by settings.py only when ``SENTRY_DSN`` is set).

No personal data leaves the portal: ``send_default_pii=False`` (no user, no IP, no cookies), no request body
(``max_request_body_size="never"``), no local variables of the failing frames, and ``scrub_event`` drops, whatever
the integration collected: the request body (``data``), cookies, query string (a search by name, a NIR…), the
environment (client address) and the headers that carry credentials or sessions.
"""
from __future__ import annotations

SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key",
                               "x-api-user", "x-csrftoken"})


# Parts of the request that can carry personal data: form and JSON bodies, cookies, the query string (also in the
# URL), the WSGI environment (REMOTE_ADDR…).
DROPPED_REQUEST_PARTS = ("data", "cookies", "query_string", "env")


def scrub_event(event, hint=None):
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {name: value for name, value in headers.items()
                                  if name.lower() not in SENSITIVE_HEADERS}
        for part in DROPPED_REQUEST_PARTS:
            request.pop(part, None)
        url = request.get("url")
        if isinstance(url, str):
            request["url"] = url.split("?", 1)[0].split("#", 1)[0]
    user = event.get("user")
    if isinstance(user, dict):
        user.pop("ip_address", None)
    return event


def init_sentry(*, dsn, environment, release="", traces_sample_rate=0.0):
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=traces_sample_rate,
        before_send=scrub_event,
    )

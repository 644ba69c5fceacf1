"""Run as a script by tests/trustspace/test_sentry.py: a portal process with SENTRY_DSN set (from the environment)
answers one request whose view fails; also the URLconf of that request."""
from django.urls import path


def failing_view(request):
    raise RuntimeError("sentry-test-failure")


urlpatterns = [path("panne/", failing_view)]


if __name__ == "__main__":
    import os
    import sys

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
    django.setup()
    from django.test import Client
    from django.test.utils import override_settings

    with override_settings(ROOT_URLCONF="tests.trustspace.sentry_app", ALLOWED_HOSTS=["testserver"]):
        response = Client(raise_request_exception=False).post(
            "/panne/?nom=secret-query-value", {"patient": "secret-body-value"},
            HTTP_AUTHORIZATION="Bearer secret-bearer-token", HTTP_COOKIE="csrftoken=secret-cookie-value")
    loaded = "sentry_sdk" in sys.modules  # before this script looks at it
    if loaded:
        sys.modules["sentry_sdk"].flush(timeout=10)
    print(f"status={response.status_code} sentry_loaded={loaded}")

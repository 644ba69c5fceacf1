"""API test helpers: a client acting as a user (or with a token), and the structured error of a response."""
from rest_framework.test import APIClient

API = "/api/v1"


def api(user=None, token=None):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    elif user is not None:
        client.force_authenticate(user)
    return client


def error_of(response, status):
    """The ``{"error": {code, message, fields}}`` body of a response expected to have ``status``."""
    assert response.status_code == status, response.content[:800]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and error["message"]
    return error

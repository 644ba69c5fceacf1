from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class DevelopmentPasswordBackend(ModelBackend):
    """Password login for the embedded demo only: it never authenticates when DEBUG=0."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not (settings.DEBUG and settings.DEV_PASSWORD_LOGIN):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

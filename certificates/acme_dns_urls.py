"""acme-dns-compatible challenge API, mounted at /acme-dns/ (see certificates.acme_dns_views)."""
from django.urls import path

from . import acme_dns_views as views

urlpatterns = [
    path("update", views.AcmeDnsUpdateView.as_view(), name="api_acme_dns_update"),
    path("register", views.AcmeDnsRegisterView.as_view(), name="api_acme_dns_register"),
]

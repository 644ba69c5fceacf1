"""acme-dns-compatible challenge API, mounted at /acme-dns/ (see certificates.views.acme_dns)."""
from django.urls import path

from .views import acme_dns

urlpatterns = [
    path("update", acme_dns.AcmeDnsUpdateView.as_view(), name="api_acme_dns_update"),
    path("register", acme_dns.AcmeDnsRegisterView.as_view(), name="api_acme_dns_register"),
    path("health", acme_dns.AcmeDnsHealthView.as_view(), name="api_acme_dns_health"),
]

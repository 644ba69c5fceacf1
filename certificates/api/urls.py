from django.urls import path

from . import inventory, views

urlpatterns = [
    # A DRIMbox by its public identifiant (the N of db<N>/vi<N>, of the whitelist and of the requests).
    path("drimboxes/<int:identifiant>/certificates/", views.DrimboxCertificatesView.as_view(),
         name="api_drimbox_certificates"),
    path("drimboxes/<int:identifiant>/vi-orders/", views.ViOrdersView.as_view(), name="api_vi_orders"),
    path("drimboxes/<int:identifiant>/vi-certificate/", views.ViCertificateView.as_view(), name="api_vi_certificate"),
    path("drimboxes/<int:identifiant>/vi-certificates/", views.ViMarketCertificatesView.as_view(),
         name="api_vi_market_certificates"),
    path("drimboxes/<int:identifiant>/acme-dns/", views.DrimboxAcmeDnsView.as_view(), name="api_drimbox_acme_dns"),
    path("certificates/<int:pk>/", views.CertificateDetailView.as_view(), name="api_certificate"),
    path("certificates/<int:pk>/revoke/", views.CertificateRevokeView.as_view(), name="api_certificate_revoke"),
    path("operators/<int:pk>/certificates/export/", views.CertificateExportView.as_view(),
         name="api_certificate_export"),
]

# The inventory: every certificate with its expiry (certificates.api.inventory).
urlpatterns += [
    path("operators/<int:pk>/certificates/", inventory.OperatorInventoryView.as_view(),
         name="api_operator_certificates"),
    path("certificates/", inventory.AllCertificatesView.as_view(), name="api_certificates"),
]

from django.urls import path

from .views import pages

urlpatterns = [
    path("drimbox/<int:pk>/certificats/", pages.drimbox_certificates, name="drimbox_certificates"),
    path("drimbox/<int:pk>/certificats/db/", pages.db_upload, name="certificate_db_upload"),
    path("drimbox/<int:pk>/certificats/vi/", pages.vi_request, name="certificate_vi_request"),
    path("drimbox/<int:pk>/certificats/vi/depot/", pages.vi_market_upload, name="certificate_vi_market_upload"),
    path("drimbox/<int:pk>/certificats/acme-dns/", pages.acme_dns_register, name="certificate_acme_dns_register"),
    path("certificats/<int:pk>/", pages.certificate_detail, name="certificate_detail"),
    path("certificats/<int:pk>/revoquer/", pages.certificate_revoke, name="certificate_revoke"),
    path("espace/certificats/", pages.certificate_dashboard, name="certificate_dashboard"),
    path("espace/certificats/export.<str:fmt>", pages.certificate_export, name="certificate_export"),
    path("ans/certificats/", pages.ans_certificate_dashboard, name="ans_certificates"),
    path("ans/certificats/revocations/<int:pk>/clore/", pages.ans_revocation_close, name="ans_revocation_close"),
]

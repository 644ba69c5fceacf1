from django.urls import path

from . import views

urlpatterns = [
    path("drimbox/<int:pk>/certificats/", views.drimbox_certificates, name="drimbox_certificates"),
    path("drimbox/<int:pk>/certificats/db/", views.db_upload, name="certificate_db_upload"),
    path("drimbox/<int:pk>/certificats/vi/", views.vi_request, name="certificate_vi_request"),
    path("drimbox/<int:pk>/certificats/acme-dns/", views.acme_dns_register, name="certificate_acme_dns_register"),
    path("certificats/<int:pk>/", views.certificate_detail, name="certificate_detail"),
    path("certificats/<int:pk>/revoquer/", views.certificate_revoke, name="certificate_revoke"),
    path("espace/certificats/", views.certificate_dashboard, name="certificate_dashboard"),
    path("espace/certificats/export.<str:fmt>", views.certificate_export, name="certificate_export"),
    path("ans/certificats/", views.ans_certificate_dashboard, name="ans_certificates"),
]

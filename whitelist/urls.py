from django.urls import path

from . import views

urlpatterns = [
    path("liste-blanche/listeblanche.xml", views.current_list, name="whitelist_xml"),
    path("liste-blanche/checksum", views.checksum, name="whitelist_checksum"),
    path("liste-blanche/versions/<int:number>.xml", views.version_xml, name="whitelist_version_xml"),
    path("liste-blanche/kit-de-conformite/", views.conformance_kit, name="whitelist_conformance_kit"),
    path("liste-blanche/kit-de-conformite/kit-conformite-drim-m.zip", views.conformance_kit_zip,
         name="whitelist_conformance_kit_zip"),
    path("ans/liste-blanche/", views.history, name="ans_whitelist"),
    path("ans/liste-blanche/preparer/", views.prepare, name="ans_whitelist_prepare"),
    path("ans/liste-blanche/<int:number>/", views.version_detail, name="ans_whitelist_version"),
    path("ans/liste-blanche/<int:number>/publier/", views.publish, name="ans_whitelist_publish"),
    path("ans/liste-blanche/<int:number>/github/", views.github_republish, name="ans_whitelist_github_republish"),
    path("ans/liste-blanche/<int:number>/abandonner/", views.abandon, name="ans_whitelist_abandon"),
    path("ans/liste-blanche/demandes-github/", views.github_requests, name="ans_github_requests"),
    path("ans/liste-blanche/demandes-github/<int:pk>/", views.github_request_detail, name="ans_github_request"),
    path("ans/liste-blanche/demandes-github/<int:pk>/decision/", views.github_request_decide,
         name="ans_github_request_decide"),
]

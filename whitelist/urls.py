from django.urls import path

from . import views

urlpatterns = [
    path("liste-blanche/listeblanche.xml", views.current_list, name="whitelist_xml"),
    path("liste-blanche/checksum", views.checksum, name="whitelist_checksum"),
    path("liste-blanche/versions/<int:number>.xml", views.version_xml, name="whitelist_version_xml"),
    path("ans/liste-blanche/", views.history, name="ans_whitelist"),
    path("ans/liste-blanche/preparer/", views.prepare, name="ans_whitelist_prepare"),
    path("ans/liste-blanche/<int:number>/", views.version_detail, name="ans_whitelist_version"),
    path("ans/liste-blanche/<int:number>/publier/", views.publish, name="ans_whitelist_publish"),
]

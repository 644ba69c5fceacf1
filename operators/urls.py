from django.urls import path

from . import views, views_ans

urlpatterns = [
    path("", views.home, name="home"),
    path("espace/changer-operateur/", views.switch_operator, name="switch_operator"),
    path("espace/operateur/enregistrer/", views.operator_register, name="operator_register"),
    path("espace/operateur/", views.operator_detail, name="operator_detail"),
    path("espace/operateur/modifier/", views.operator_update, name="operator_update"),
    path("espace/operateur/contact-support/", views.support_contact_update, name="support_contact_update"),
    path("espace/contrat/", views.contract, name="contract"),
    path("espace/personnes/", views.people, name="people"),
    path("espace/personnes/designer/", views.person_invite, name="person_invite"),
    path("espace/personnes/<int:pk>/retirer/", views.person_remove, name="person_remove"),
    path("espace/personnes/<int:pk>/mandat/", views.mandate_download, name="mandate_download"),
    path("espace/invitations/<int:pk>/annuler/", views.invitation_revoke, name="invitation_revoke"),
    path("espace/historique/", views.operator_history, name="operator_history"),
    path("invitation/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("ans/operateurs/", views_ans.operators_list, name="ans_operators"),
    path("ans/operateurs/<int:pk>/", views_ans.operator_detail, name="ans_operator"),
    path("ans/mandats/<int:pk>/", views_ans.mandate_download, name="ans_mandate_download"),
    path("ans/contrats/", views_ans.contract_versions, name="ans_contracts"),
]

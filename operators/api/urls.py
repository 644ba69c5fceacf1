from django.urls import path

from . import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api_me"),
    path("operators/", views.OperatorListView.as_view(), name="api_operators"),
    path("operators/<int:pk>/", views.OperatorDetailView.as_view(), name="api_operator"),
    path("operators/<int:pk>/support-contact/", views.SupportContactView.as_view(), name="api_support_contact"),
    path("operators/<int:pk>/people/", views.PeopleView.as_view(), name="api_people"),
    path("operators/<int:pk>/people/<int:membership_pk>/", views.PersonDetailView.as_view(), name="api_person"),
    path("operators/<int:pk>/invitations/", views.InvitationsView.as_view(), name="api_invitations"),
    path("operators/<int:pk>/invitations/<int:invitation_pk>/", views.InvitationRevokeView.as_view(),
         name="api_invitation"),
    path("operators/<int:pk>/contract/", views.ContractView.as_view(), name="api_contract"),
    path("operators/<int:pk>/contract/accept/", views.ContractAcceptView.as_view(), name="api_contract_accept"),
    path("operators/<int:pk>/history/", views.HistoryView.as_view(), name="api_history"),
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="api_invitation_accept"),
]

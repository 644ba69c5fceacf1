from django.urls import path

from . import views

urlpatterns = [
    path("whitelist/versions/", views.VersionListView.as_view(), name="api_whitelist_versions"),
    path("whitelist/versions/<int:number>/", views.VersionDetailView.as_view(), name="api_whitelist_version"),
    path("whitelist/versions/<int:number>/approve/", views.VersionApproveView.as_view(),
         name="api_whitelist_version_approve"),
    path("whitelist/versions/<int:number>/abandon/", views.VersionAbandonView.as_view(),
         name="api_whitelist_version_abandon"),
    path("whitelist/versions/<int:number>/github-republish/", views.VersionGitHubRepublishView.as_view(),
         name="api_whitelist_version_github_republish"),
    path("whitelist/versions/<int:number>/document/", views.VersionDocumentView.as_view(),
         name="api_whitelist_version_document"),
    path("whitelist/versions/<int:number>/diff/", views.VersionDiffView.as_view(), name="api_whitelist_version_diff"),
    path("whitelist/github-requests/", views.GitHubRequestListView.as_view(), name="api_whitelist_github_requests"),
    path("whitelist/github-requests/<int:pk>/", views.GitHubRequestDetailView.as_view(),
         name="api_whitelist_github_request"),
    path("whitelist/github-requests/<int:pk>/accept/", views.GitHubRequestAcceptView.as_view(),
         name="api_whitelist_github_request_accept"),
    path("whitelist/github-requests/<int:pk>/refuse/", views.GitHubRequestRefuseView.as_view(),
         name="api_whitelist_github_request_refuse"),
]

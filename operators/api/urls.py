from django.urls import path

from .views import downloads, financing, lifecycle, operators

urlpatterns = [
    path("me/", operators.MeView.as_view(), name="api_me"),
    path("operators/", operators.OperatorListView.as_view(), name="api_operators"),
    path("operators/<int:pk>/", operators.OperatorDetailView.as_view(), name="api_operator"),
    path("operators/<int:pk>/support-contact/", operators.SupportContactView.as_view(), name="api_support_contact"),
    path("operators/<int:pk>/people/", operators.PeopleView.as_view(), name="api_people"),
    path("operators/<int:pk>/people/<int:membership_pk>/", operators.PersonDetailView.as_view(), name="api_person"),
    path("operators/<int:pk>/invitations/", operators.InvitationsView.as_view(), name="api_invitations"),
    path("operators/<int:pk>/invitations/<int:invitation_pk>/", operators.InvitationRevokeView.as_view(),
         name="api_invitation"),
    path("operators/<int:pk>/contract/", operators.ContractView.as_view(), name="api_contract"),
    path("operators/<int:pk>/contract/accept/", operators.ContractAcceptView.as_view(), name="api_contract_accept"),
    path("operators/<int:pk>/history/", operators.HistoryView.as_view(), name="api_history"),
    path("invitations/accept/", operators.InvitationAcceptView.as_view(), name="api_invitation_accept"),
    path("applications/", operators.ApplicationListView.as_view(), name="api_applications"),
]

# DRIMbox lifecycle: requests and their review, DRIMboxes, registry, financing orders, attestations, VA documents.
urlpatterns += [
    path("operators/<int:pk>/requests/", lifecycle.OperatorRequestsView.as_view(), name="api_operator_requests"),
    path("operators/<int:pk>/drimboxes/", lifecycle.OperatorDrimboxesView.as_view(), name="api_operator_drimboxes"),
    path("operators/<int:pk>/financing-orders/", financing.FinancingOrdersView.as_view(), name="api_financing_orders"),
    path("financing-orders/<int:pk>/", financing.FinancingOrderDetailView.as_view(), name="api_financing_order"),
    path("financing-orders/<int:pk>/clients/", financing.FinancingOrderClientsView.as_view(),
         name="api_financing_order_clients"),
    path("financing-orders/<int:pk>/clients/<int:client_pk>/", financing.FinancingOrderClientView.as_view(),
         name="api_financing_order_client"),
    path("financing-orders/<int:pk>/pacs/", financing.FinancingOrderPacsView.as_view(),
         name="api_financing_order_pacs"),
    path("financing-orders/<int:pk>/documents/", financing.FinancingOrderDocumentsView.as_view(),
         name="api_financing_order_documents"),
    path("financing-orders/<int:pk>/close/", financing.FinancingOrderCloseView.as_view(),
         name="api_financing_order_close"),
    path("requests/<int:pk>/", lifecycle.RequestDetailView.as_view(), name="api_request"),
    path("requests/<int:pk>/attachments/", lifecycle.RequestAttachmentsView.as_view(), name="api_request_attachments"),
    path("requests/<int:pk>/submit/", lifecycle.RequestSubmitView.as_view(), name="api_request_submit"),
    path("requests/<int:pk>/cancel/", lifecycle.RequestCancelView.as_view(), name="api_request_cancel"),
    path("requests/<int:pk>/comments/", lifecycle.RequestCommentsView.as_view(), name="api_request_comments"),
    path("requests/<int:pk>/assign/", lifecycle.RequestAssignView.as_view(), name="api_request_assign"),
    path("requests/<int:pk>/request-changes/", lifecycle.RequestChangesView.as_view(), name="api_request_changes"),
    path("requests/<int:pk>/approve/", lifecycle.RequestApproveView.as_view(), name="api_request_approve"),
    path("requests/<int:pk>/reject/", lifecycle.RequestRejectView.as_view(), name="api_request_reject"),
    path("review-queue/", lifecycle.ReviewQueueView.as_view(), name="api_review_queue"),
    path("drimboxes/<int:identifiant>/", lifecycle.DrimboxDetailView.as_view(), name="api_drimbox"),
    path("registry/", lifecycle.RegistryView.as_view(), name="api_registry"),
    path("attestations/<str:code>/", lifecycle.AttestationCheckView.as_view(), name="api_attestation"),
    path("va/<int:pk>/document/", lifecycle.VaUploadView.as_view(), name="api_va_document"),
    path("va/<int:pk>/validate/", lifecycle.VaValidateView.as_view(), name="api_va_validate"),
    path("va/<int:pk>/refuse/", lifecycle.VaRefuseView.as_view(), name="api_va_refuse"),
    path("va/<int:pk>/ris-update/", lifecycle.VaRisUpdateView.as_view(), name="api_va_ris_update"),
    path("va/<int:pk>/lifting/document/", lifecycle.VaLiftingUploadView.as_view(), name="api_va_lifting_document"),
    path("va/<int:pk>/lifting/validate/", lifecycle.VaLiftingValidateView.as_view(), name="api_va_lifting_validate"),
    path("va/<int:pk>/lifting/refuse/", lifecycle.VaLiftingRefuseView.as_view(), name="api_va_lifting_refuse"),
]

# Files, for scripts with a token (same permissions as the pages' downloads).
urlpatterns += [
    path("attestations/<str:code>/document/", downloads.AttestationDocumentView.as_view(),
         name="api_attestation_document"),
    path("requests/<int:pk>/attachments/<int:attachment_pk>/document/",
         downloads.RequestAttachmentDocumentView.as_view(), name="api_request_attachment_document"),
    path("va/<int:pk>/document/file/", downloads.VaDocumentFileView.as_view(), name="api_va_document_file"),
    path("va/<int:pk>/lifting/document/file/", downloads.VaLiftingFileView.as_view(), name="api_va_lifting_file"),
    path("memberships/<int:pk>/mandate/", downloads.MandateDocumentView.as_view(), name="api_mandate_document"),
    path("financing-orders/<int:pk>/documents/<str:kind>/", downloads.FinancingOrderDocumentFileView.as_view(),
         name="api_financing_order_document_file"),
    path("financing-orders/<int:pk>/documents/<str:kind>/<int:client_pk>/",
         downloads.FinancingOrderClientDocumentFileView.as_view(), name="api_financing_order_client_document_file"),
]

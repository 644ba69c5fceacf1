"""Files of the journey through the API, for a script with a token: the same permissions as the pages' downloads
(attestation, request attachments, VA and its lifting document, mandates, financing-order documents).

Each answers the file itself (``application/pdf``) or a 404 in the API's structured shape, for a file the caller may
not see as for a missing one, so that existence does not leak. Safe methods: any token with the read scope.
"""
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound

from operators import permissions
from operators.api.views.base import PortalAPIView
from operators.models import (
    Attestation,
    Membership,
    RequestAttachment,
    VaDocument,
)
from operators.queries import order_document, visible_order, visible_requests
from operators.services.documents import normalise_code
from trustspace.models import ApiScope

PDF = {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="Le document PDF.")}


def _pdf(field_file, filename):
    if not field_file:
        raise NotFound("Ressource introuvable.")
    return FileResponse(field_file.open("rb"), as_attachment=True, content_type="application/pdf", filename=filename)


def _allowed(request, action, operator):
    if not permissions.can(request.user, action, operator):
        raise NotFound("Ressource introuvable.")


class DownloadAPIView(PortalAPIView):
    token_scope = ApiScope.READ


class AttestationDocumentView(DownloadAPIView):
    @extend_schema(responses=PDF, summary="PDF de l'attestation de délégation (membres de l'opérateur, ANS)")
    def get(self, request, code):
        attestation = get_object_or_404(Attestation.objects.select_related("operator"),
                                        code=normalise_code(code) or "")
        _allowed(request, "attestation.download", attestation.operator)
        return _pdf(attestation.pdf, f"attestation-delegation-{attestation.code}.pdf")


class RequestAttachmentDocumentView(DownloadAPIView):
    @extend_schema(responses=PDF, summary="Une pièce jointe d'une demande (PDF)")
    def get(self, request, pk, attachment_pk):
        req = get_object_or_404(visible_requests(request.user), pk=pk)
        attachment = get_object_or_404(RequestAttachment, pk=attachment_pk, request=req)
        return _pdf(attachment.file, f"{req.reference}-{attachment.kind}-{attachment.pk}.pdf")


class VaDocumentFileView(DownloadAPIView):
    field, name = "file", "va"

    @extend_schema(responses=PDF, summary="Le document VA déposé (PDF)")
    def get(self, request, pk):
        va = get_object_or_404(VaDocument.objects.select_related("operator"), pk=pk)
        _allowed(request, "va.download", va.operator)
        return _pdf(getattr(va, self.field), f"{self.name}-drimbox-{va.drimbox_id}-{va.pk}.pdf")


class VaLiftingFileView(VaDocumentFileView):
    field, name = "lifting_file", "levee-reserves"

    @extend_schema(responses=PDF, summary="Le document de levée des réserves du VA (PDF)")
    def get(self, request, pk):
        return super().get(request, pk)


class MandateDocumentView(DownloadAPIView):
    @extend_schema(responses=PDF, summary="Le mandat d'un mandataire de l'opérateur (PDF)")
    def get(self, request, pk):
        membership = get_object_or_404(Membership.objects.select_related("operator"), pk=pk)
        _allowed(request, "mandate.download", membership.operator)
        return _pdf(membership.mandate_document, f"mandat-{membership.pk}.pdf")


class FinancingOrderDocumentFileView(DownloadAPIView):
    @extend_schema(responses=PDF, operation_id="financing_order_document_file",
                   summary="Le bon de commande signé (`kind` : `bon-signe`)")
    def get(self, request, pk, kind, client_pk=None):
        return self.document(request, pk, kind, client_pk)

    def document(self, request, pk, kind, client_pk):
        order = visible_order(request.user, pk, details=False)
        found = order_document(order, kind, client_pk) if order is not None else None
        if found is None:
            raise NotFound("Ressource introuvable.")
        return _pdf(*found)


class FinancingOrderClientDocumentFileView(FinancingOrderDocumentFileView):
    @extend_schema(responses=PDF, operation_id="financing_order_client_document_file",
                   summary="Un document d'un client du bon : `signature` (page de signature) ou `reprise` (preuve)")
    def get(self, request, pk, kind, client_pk=None):
        return self.document(request, pk, kind, client_pk)

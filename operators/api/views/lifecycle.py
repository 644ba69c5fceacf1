"""DRIMbox lifecycle API: requests and their review, DRIMboxes, financing orders, attestations, VA documents.

Every write goes through ``operators.services`` (roles, states, validation, transaction, audit, e-mails).
Views only scope objects to the caller (404 for what the caller may not see, so existence does not leak),
check input shapes, and render the outcome.
"""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from operators import permissions, queries, services
from operators.api.serializers import lifecycle as s
from operators.api.views.base import (
    AnsAPIMixin,
    AnsAPIView,
    DrimboxPathMixin,
    PortalAPIView,
    get_drimbox,
    get_operator,
    validated,
)
from operators.models import (
    Drimbox,
    DrimboxRequest,
    RequestAttachment,
    RequestEvent,
    RequestKind,
    VaDocument,
)
from operators.queries import dns_pending, visible_drimboxes, visible_requests
from trustspace.access import AUTHENTICATED, PUBLIC
from trustspace.errors import InvalidData
from trustspace.models import ApiScope
from trustspace.throttling import ScopedIpRateThrottle

# --- Querysets ----------------------------------------------------------------------------------


def _request_summaries(qs):
    return qs.select_related("operator", "drimbox", "assigned_to")


def _request_details(qs):
    return qs.select_related("operator", "drimbox", "assigned_to", "attestation").prefetch_related(
        Prefetch("events", queryset=RequestEvent.objects.select_related("actor")),
        Prefetch("attachments", queryset=RequestAttachment.objects.select_related("uploaded_by")),
    )


def _drimbox_summaries(qs):
    return qs.select_related("operator", "health_structure").annotate(dns_pending=dns_pending())


def _visible_request(request, pk):
    """A request the caller may see (members of its operator; ANS once submitted); 404 otherwise."""
    return get_object_or_404(visible_requests(request.user).select_related("operator", "drimbox"), pk=pk)


def _request_response(request, req, status_code=status.HTTP_200_OK):
    fresh = _request_details(DrimboxRequest.objects.all()).get(pk=req.pk)
    return Response(s.RequestDetailSerializer(fresh, context={"request": request}).data, status=status_code)


def _va_response(request, va):
    fresh = VaDocument.objects.select_related("drimbox").get(pk=va.pk)
    return Response(s.VaDocumentSerializer(fresh, context={"request": request}).data)


def _drimbox_for(kind, identifiant, operator):
    """Resolve the ``drimbox`` Identifiant: any DRIMbox for a switch, the operator's own otherwise."""
    if identifiant is None:
        return None
    candidates = Drimbox.objects.all() if kind == RequestKind.SWITCH else operator.drimboxes.all()
    drimbox = candidates.filter(identifiant=identifiant).first()
    if drimbox is None:
        message = (f"Aucune DRIMbox de l'Espace de Confiance ne porte l'identifiant {identifiant}."
                   if kind == RequestKind.SWITCH else
                   f"Votre opérateur n'exploite aucune DRIMbox d'identifiant {identifiant}.")
        raise InvalidData(message, field_errors={"drimbox": [message]})
    return drimbox


# --- Requests (operator side, shared with ANS) --------------------------------------------------


@extend_schema_view(get=extend_schema(summary="Les demandes de l'opérateur (les plus récentes d'abord)"))
class OperatorRequestsView(generics.ListAPIView):
    token_scope = ApiScope.REQUESTS
    access_rule = AUTHENTICATED
    serializer_class = s.RequestSummarySerializer
    parser_classes = (JSONParser,)  # ``data`` is an object: a form cannot carry it

    def get_queryset(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        return _request_summaries(visible_requests(self.request.user).filter(operator=operator)).order_by(
            "-created_at", "-pk")

    @extend_schema(request=s.RequestCreateSerializer, responses={201: s.RequestDetailSerializer},
                   summary="Créer une demande (brouillon) : déclaration, intégration, mise à jour, retrait, "
                           "réintégration ou bascule")
    def post(self, request, pk):
        operator = get_operator(request, pk)
        data = validated(s.RequestCreateSerializer, request.data)
        drimbox = _drimbox_for(data["kind"], data.get("drimbox"), operator)
        req = services.create_request(acting_user=request.user, operator=operator, kind=data["kind"], drimbox=drimbox,
                                      data=data.get("data") or {})
        return _request_response(request, req, status.HTTP_201_CREATED)


class RequestDetailView(PortalAPIView):
    token_scope = ApiScope.REQUESTS
    parser_classes = (JSONParser,)  # ``data`` is an object: a form cannot carry it

    @extend_schema(responses=s.RequestDetailSerializer,
                   summary="Une demande : données, statut, chronologie, pièces, attestation")
    def get(self, request, pk):
        req = get_object_or_404(_request_details(visible_requests(request.user)), pk=pk)
        return Response(s.RequestDetailSerializer(req, context={"request": request}).data)

    @extend_schema(request=s.RequestUpdateSerializer, responses=s.RequestDetailSerializer,
                   summary="Modifier les données d'un brouillon ou d'une demande à compléter")
    def patch(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.RequestUpdateSerializer, request.data)
        req = services.update_request(req, acting_user=request.user, data=data["data"])
        return _request_response(request, req)


class RequestAttachmentsView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request={"multipart/form-data": s.AttachmentUploadSerializer},
                   responses={201: s.RequestAttachmentSerializer},
                   summary="Joindre une pièce PDF (les CGI signées pour une déclaration)")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.AttachmentUploadSerializer, request.data,
                      authorize=lambda: services.require_request_action(request.user, req))
        attachment = services.add_attachment(req, acting_user=request.user, kind=data["kind"],
                                             uploaded_file=data["file"])
        return Response(s.RequestAttachmentSerializer(attachment, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class RequestSubmitView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=None, responses=s.RequestDetailSerializer, summary="Soumettre la demande à l'ANS")
    def post(self, request, pk):
        req = services.submit_request(_visible_request(request, pk), acting_user=request.user)
        return _request_response(request, req)


class RequestCancelView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=s.CancelSerializer, responses=s.RequestDetailSerializer, summary="Annuler la demande")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.CancelSerializer, request.data)
        req = services.cancel_request(req, acting_user=request.user, reason=data["reason"])
        return _request_response(request, req)


class RequestCommentsView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=s.CommentSerializer, responses={201: s.RequestDetailSerializer},
                   summary="Commenter la demande (opérateur ou ANS)")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.CommentSerializer, request.data)
        req = services.comment_request(req, acting_user=request.user, text=data["text"])
        return _request_response(request, req, status.HTTP_201_CREATED)


# --- Review (ANS) -------------------------------------------------------------------------------


class RequestAssignView(AnsAPIView):
    @extend_schema(request=s.AssignSerializer, responses=s.RequestDetailSerializer,
                   summary="Prendre en charge ou affecter la demande (ANS)")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.AssignSerializer, request.data)
        reviewer = None
        if data.get("reviewer") is not None:
            reviewer = get_user_model().objects.filter(pk=data["reviewer"]).first()
            if reviewer is None:
                message = "Aucun utilisateur ne porte cet identifiant."
                raise InvalidData(message, field_errors={"reviewer": [message]})
        req = services.assign_request(req, acting_user=request.user, reviewer=reviewer)
        return _request_response(request, req)


class RequestChangesView(AnsAPIView):
    @extend_schema(request=s.RequestChangesSerializer, responses=s.RequestDetailSerializer,
                   summary="Demander des modifications à l'opérateur (ANS)")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.RequestChangesSerializer, request.data)
        req = services.request_changes(req, acting_user=request.user, comment=data["comment"])
        return _request_response(request, req)


class RequestApproveView(AnsAPIView):
    @extend_schema(request=s.ApproveSerializer, responses=s.RequestDetailSerializer,
                   summary="Approuver et appliquer la demande (ANS) ; 409 `not_funded` sans motif de dérogation "
                           "pour une DRIMbox non financée")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.ApproveSerializer, request.data)
        req = services.approve_request(req, acting_user=request.user, override_reason=data["override_reason"],
                                       comment=data["comment"], expected_kind=data["expected_kind"] or None)
        return _request_response(request, req)


class RequestRejectView(AnsAPIView):
    @extend_schema(request=s.ReasonSerializer, responses=s.RequestDetailSerializer,
                   summary="Refuser la demande (ANS)")
    def post(self, request, pk):
        req = _visible_request(request, pk)
        data = validated(s.ReasonSerializer, request.data)
        req = services.reject_request(req, acting_user=request.user, reason=data["reason"])
        return _request_response(request, req)


@extend_schema_view(get=extend_schema(
    summary="File d'instruction (ANS) : les plus anciennes soumissions d'abord",
    parameters=[s.ReviewQueueFilterSerializer]))
class ReviewQueueView(AnsAPIMixin, generics.ListAPIView):
    serializer_class = s.RequestSummarySerializer

    def get_queryset(self):
        return queries.review_queue(self.request.user,
                                    **validated(s.ReviewQueueFilterSerializer, self.request.query_params))


# --- DRIMboxes and the registry -----------------------------------------------------------------


@extend_schema_view(get=extend_schema(summary="Les DRIMbox de l'opérateur"))
class OperatorDrimboxesView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    serializer_class = s.DrimboxSerializer

    def get_queryset(self):
        operator = get_operator(self.request, self.kwargs["pk"])
        return _drimbox_summaries(visible_drimboxes(self.request.user).filter(operator=operator)).order_by(
            "identifiant")


class DrimboxDetailView(DrimboxPathMixin, PortalAPIView):
    @extend_schema(responses=s.DrimboxDetailSerializer,
                   summary="Une DRIMbox : noms, adresses, contacts, structure, attestations, documents VA")
    def get(self, request, identifiant):
        drimbox = get_drimbox(request, identifiant,
                              _drimbox_summaries(visible_drimboxes(request.user)).select_related("financing_order"))
        attestations = drimbox.attestations.all()
        if not request.user.is_ans_admin:
            attestations = attestations.filter(operator=drimbox.operator_id)
        drimbox.visible_attestations = list(attestations)
        drimbox.visible_va_documents = list(drimbox.va_documents.filter(operator=drimbox.operator_id)
                                            .select_related("drimbox"))
        return Response(s.DrimboxDetailSerializer(drimbox, context={"request": request}).data)


@extend_schema_view(get=extend_schema(
    summary="Historique DNS d'une DRIMbox (les plus récents d'abord) : chaque changement de la zone, son état, ses "
            "tentatives et sa dernière erreur ; l'opérateur voit ceux faits depuis qu'il l'exploite, l'ANS tous"))
class DrimboxDnsChangesView(DrimboxPathMixin, generics.ListAPIView):
    access_rule = AUTHENTICATED
    serializer_class = s.DnsChangeSerializer

    def get_queryset(self):
        drimbox = get_drimbox(self.request, self.kwargs["identifiant"],
                              visible_drimboxes(self.request.user).select_related("operator"))
        return queries.dns_history(self.request.user, drimbox)


@extend_schema_view(get=extend_schema(
    summary="Les demandes que vous pouvez déposer maintenant pour cette DRIMbox (intégration, mise à jour, retrait, "
            "réintégration), et pour les autres le motif en français : la règle des boutons de la page DRIMbox"))
class DrimboxRequestKindsView(DrimboxPathMixin, generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.REQUESTS
    serializer_class = s.RequestKindOptionSerializer

    def get_queryset(self):
        drimbox = get_drimbox(self.request, self.kwargs["identifiant"],
                              visible_drimboxes(self.request.user).select_related("operator"))
        return services.request_kinds_for(self.request.user, drimbox)


@extend_schema_view(get=extend_schema(summary="Registre des FQDN (ANS)", parameters=[s.RegistryFilterSerializer]))
class RegistryView(AnsAPIMixin, generics.ListAPIView):
    serializer_class = s.DrimboxSerializer

    def get_queryset(self):
        return queries.registry_search(**validated(s.RegistryFilterSerializer, self.request.query_params))


# --- Attestations (public check) ----------------------------------------------------------------


class AttestationCheckView(PortalAPIView):
    access_rule = PUBLIC
    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_classes = (ScopedIpRateThrottle,)  # per IP, shared with the page /attestations/verifier/
    throttle_scope = "attestation"

    @extend_schema(
        responses=s.AttestationPublicSerializer, auth=[],
        parameters=[OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description="Code de vérification imprimé sur l'attestation (ATT-XXXX-XXXX-XXXX ; "
                                                 "casse et tirets indifférents).")],
        summary="Vérifier une attestation de délégation par son code (public)")
    def get(self, request, code):
        attestation = services.find_attestation(code)
        if attestation is None:
            raise NotFound("Aucune attestation ne porte ce code.")
        return Response(s.AttestationPublicSerializer(attestation).data)


# --- VA documents -------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(
    summary="Les documents VA : tous pour l'ANS, ceux de ses opérateurs pour un membre ; filtrés par état (attendus, "
            "en retard, à valider, réserves…) comme la page VA de l'ANS",
    parameters=[s.VaFilterSerializer]))
class VaListView(generics.ListAPIView):
    access_rule = AUTHENTICATED
    token_scope = ApiScope.REQUESTS
    serializer_class = s.VaListItemSerializer

    def get_queryset(self):
        state = validated(s.VaFilterSerializer, self.request.query_params).get("state", "")
        documents = VaDocument.objects.select_related("drimbox", "operator")
        if not self.request.user.is_ans_admin:
            documents = documents.filter(operator__in=permissions.operators_of(self.request.user))
        return queries.va_documents(state, documents=documents)


def _member_va(request, pk, *, ans_too=False):
    """The VA, for a member of its operator (and ANS when ``ans_too``); 404 for anyone else."""
    va = get_object_or_404(VaDocument.objects.select_related("drimbox", "operator"), pk=pk)
    if not (ans_too and request.user.is_ans_admin) and not permissions.roles_of(request.user, va.operator):
        raise NotFound("Ressource introuvable.")
    return va


class VaUploadView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request={"multipart/form-data": s.VaUploadSerializer}, responses=s.VaDocumentSerializer,
                   summary="Déposer le document VA d'une DRIMbox (PDF)")
    def post(self, request, pk):
        va = _member_va(request, pk)
        data = validated(s.VaUploadSerializer, request.data,
                      authorize=lambda: permissions.require(request.user, "va.upload", va.operator))
        va = services.upload_va(va, acting_user=request.user, uploaded_file=data["file"],
                                with_reservations=data["with_reservations"])
        return _va_response(request, va)


class VaValidateView(AnsAPIView):
    @extend_schema(request=None, responses=s.VaDocumentSerializer, summary="Valider un document VA déposé (ANS)")
    def post(self, request, pk):
        va = services.validate_va(get_object_or_404(VaDocument, pk=pk), acting_user=request.user)
        return _va_response(request, va)


class VaRefuseView(AnsAPIView):
    @extend_schema(request=s.ReasonSerializer, responses=s.VaDocumentSerializer,
                   summary="Refuser un document VA déposé, avec un motif (ANS)")
    def post(self, request, pk):
        va = get_object_or_404(VaDocument, pk=pk)
        data = validated(s.ReasonSerializer, request.data)
        va = services.refuse_va(va, acting_user=request.user, reason=data["reason"])
        return _va_response(request, va)


# --- VA « avec réserves » -----------------------------------------------------------------------


class VaRisUpdateView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request=s.VaRisUpdateSerializer, responses=s.VaDocumentSerializer,
                   summary="Enregistrer la date de mise à jour du RIS du client en Vague 2 (VA validé avec réserves)")
    def post(self, request, pk):
        va = _member_va(request, pk, ans_too=True)
        data = validated(s.VaRisUpdateSerializer, request.data)
        va = services.record_ris_update(va, acting_user=request.user, signalled_on=data["signalled_on"])
        return _va_response(request, va)


class VaLiftingUploadView(PortalAPIView):
    token_scope = ApiScope.REQUESTS

    @extend_schema(request={"multipart/form-data": s.VaLiftingUploadSerializer}, responses=s.VaDocumentSerializer,
                   summary="Déposer le document de levée des réserves du VA (PDF)")
    def post(self, request, pk):
        va = _member_va(request, pk)
        data = validated(s.VaLiftingUploadSerializer, request.data,
                         authorize=lambda: permissions.require(request.user, "va.upload", va.operator))
        va = services.upload_va_lifting(va, acting_user=request.user, uploaded_file=data["file"])
        return _va_response(request, va)


class VaLiftingValidateView(AnsAPIView):
    @extend_schema(request=None, responses=s.VaDocumentSerializer,
                   summary="Valider la levée des réserves du VA : VA validé sans réserve (ANS)")
    def post(self, request, pk):
        va = services.validate_va_lifting(get_object_or_404(VaDocument, pk=pk), acting_user=request.user)
        return _va_response(request, va)


class VaLiftingRefuseView(AnsAPIView):
    @extend_schema(request=s.ReasonSerializer, responses=s.VaDocumentSerializer,
                   summary="Refuser le document de levée des réserves, avec un motif (ANS)")
    def post(self, request, pk):
        va = get_object_or_404(VaDocument, pk=pk)
        data = validated(s.ReasonSerializer, request.data)
        va = services.refuse_va_lifting(va, acting_user=request.user, reason=data["reason"])
        return _va_response(request, va)


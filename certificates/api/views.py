"""Certificates API: a DRIMbox's `db` certificates, `vi` orders and market `vi` uploads, the current `vi` chain,
a certificate, its revocation, acme-dns credentials, the quarterly export.

Every write goes through ``certificates.services`` (roles, rules, transaction, audit, e-mails). Views only
scope objects to the caller (404 for what the caller may not see, so existence does not leak), check
input shapes, and render the outcome. A certificate or CSR that fails its rules is a 400 whose body is the
structured error plus ``checks``: every rule with its verdict, so a client sees all of them at once.
"""
from cryptography import x509
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from operators import permissions
from operators.api.views import DrimboxPathMixin, PortalAPIView, get_drimbox, get_operator, validated
from operators.queries import visible_drimboxes
from trustspace.access import AUTHENTICATED
from trustspace.api.permissions import token_drimbox_ids
from trustspace.errors import Conflict, DomainError
from trustspace.models import ApiScope

from .. import export, services
from ..models import Certificate, ViOrder
from ..validation import describe_certificate
from . import serializers as s

PEM_CHAIN = "application/pem-certificate-chain"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REJECTED = OpenApiResponse(s.CertificateRejectedSerializer, description=(
    "Refusé : fichier illisible, clé privée jointe, trop volumineux, ou règles non respectées (`checks` "
    "détaille alors chaque règle)."))


class Missing(DomainError):
    status_code = 404
    code = "not_found"


def _rejected(exc):
    """The structured 400 of a certificate or CSR that failed its rules, with every rule's verdict."""
    return Response({"error": {"code": exc.code, "message": exc.message, "fields": exc.field_errors},
                     "checks": exc.checks}, status=status.HTTP_400_BAD_REQUEST)


def _drimbox(request, identifiant):
    """A DRIMbox the caller may see (members of its current operator, ANS), by its identifiant; 404 otherwise."""
    return get_drimbox(request, identifiant, visible_drimboxes(request.user).select_related("operator"))


def _certificate(request, pk):
    """A certificate of an operator the caller belongs to (ANS: any); 404 otherwise."""
    certificate = get_object_or_404(Certificate.objects.select_related("drimbox", "operator"), pk=pk)
    if not permissions.can(request.user, "certificate.view", certificate.operator):
        raise NotFound("Ressource introuvable.")
    return certificate


def _manage(request, operator):
    return lambda: permissions.require(request.user, "certificate.manage", operator)


def _certificate_response(certificate, status_code=status.HTTP_200_OK):
    fresh = Certificate.objects.select_related("drimbox").get(pk=certificate.pk)
    return Response(s.CertificateSerializer(fresh).data, status=status_code)


class DrimboxTokenMixin(DrimboxPathMixin):
    """Certificate views of one DRIMbox (its ``identifiant`` in the URL): a token limited to some DRIMboxes (which it
    stores by internal id) reaches only those."""

    def token_drimbox_id(self):
        return (visible_drimboxes(self.request.user).filter(identifiant=self.kwargs["identifiant"])
                .values_list("pk", flat=True).first())


class CertificateTokenMixin:
    """Views of one certificate (``pk``): a token limited to some DRIMboxes reaches only their certificates."""

    def token_drimbox_id(self):
        certificate = Certificate.objects.select_related("operator").filter(pk=self.kwargs["pk"]).first()
        if certificate is None or not permissions.can(self.request.user, "certificate.view", certificate.operator):
            return None
        return certificate.drimbox_id


class FileAPIMixin:
    # Views that answer a file: their errors are JSON whatever ``Accept`` or ``?format=`` say.

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


# --- A DRIMbox's certificates ---------------------------------------------------------------------


@extend_schema_view(get=extend_schema(summary="Les certificats d'une DRIMbox (les plus récents d'abord)"))
class DrimboxCertificatesView(DrimboxTokenMixin, generics.ListAPIView):
    token_scope = ApiScope.CERTIFICATES
    access_rule = AUTHENTICATED
    serializer_class = s.CertificateSerializer

    def get_queryset(self):
        drimbox = _drimbox(self.request, self.kwargs["identifiant"])
        certificates = Certificate.objects.filter(drimbox=drimbox).select_related("drimbox")
        if not self.request.user.is_ans_admin:
            # A member sees what its operator administers, not the certificates of a previous operator.
            certificates = certificates.filter(operator=drimbox.operator_id)
        return certificates.order_by("-created_at", "-pk")

    @extend_schema(request={"multipart/form-data": s.CertificateUploadSerializer},
                   responses={201: s.CertificateSerializer, 400: REJECTED},
                   summary="Déposer le certificat IGC-Santé du nom db (administrateur technique) : enregistré "
                           "seulement si toutes les règles sont respectées")
    def post(self, request, identifiant):
        drimbox = _drimbox(request, identifiant)
        data = validated(s.CertificateUploadSerializer, request.data, authorize=_manage(request, drimbox.operator))
        try:
            certificate = services.upload_db_certificate(drimbox, acting_user=request.user,
                                                         uploaded_file=data["file"])
        except services.CertificateRejected as exc:
            return _rejected(exc)
        return _certificate_response(certificate, status.HTTP_201_CREATED)


# --- vi certificates (ACME) -----------------------------------------------------------------------


@extend_schema_view(get=extend_schema(summary="Les demandes de certificat vi d'une DRIMbox"))
class ViOrdersView(DrimboxTokenMixin, generics.ListAPIView):
    token_scope = ApiScope.CERTIFICATES
    access_rule = AUTHENTICATED
    serializer_class = s.ViOrderSerializer

    def get_queryset(self):
        drimbox = _drimbox(self.request, self.kwargs["identifiant"])
        orders = ViOrder.objects.filter(drimbox=drimbox).select_related("drimbox")
        if not self.request.user.is_ans_admin:
            orders = orders.filter(operator=drimbox.operator_id)
        return orders.order_by("-created_at", "-pk")

    @extend_schema(request={"multipart/form-data": s.CsrUploadSerializer, "application/json": s.CsrUploadSerializer},
                   responses={201: s.ViOrderSerializer, 400: REJECTED,
                              409: OpenApiResponse(description="Une demande est déjà en cours pour cette DRIMbox.")},
                   summary="Demander le certificat vi à partir d'une CSR (administrateur technique) ; le portail "
                           "l'obtient de l'autorité ACME et le renouvelle")
    def post(self, request, identifiant):
        drimbox = _drimbox(request, identifiant)
        data = validated(s.CsrUploadSerializer, request.data, authorize=_manage(request, drimbox.operator))
        uploaded = data.get("file") or SimpleUploadedFile("csr.pem", data["csr"].encode("utf-8", "replace"))
        try:
            order = services.request_vi_certificate(drimbox, acting_user=request.user, uploaded_csr=uploaded)
        except services.CertificateRejected as exc:
            return _rejected(exc)
        fresh = ViOrder.objects.select_related("drimbox").get(pk=order.pk)
        return Response(s.ViOrderSerializer(fresh).data, status=status.HTTP_201_CREATED)


class ViMarketCertificatesView(DrimboxTokenMixin, PortalAPIView):
    token_scope = ApiScope.CERTIFICATES

    @extend_schema(request={"multipart/form-data": s.MarketCertificateUploadSerializer},
                   responses={201: s.CertificateSerializer, 400: REJECTED,
                              409: OpenApiResponse(description="La DRIMbox n'a pas de visionneuse (pas de nom vi).")},
                   summary="Déposer un certificat vi délivré par une autorité du marché (administrateur technique) : "
                           "enregistré seulement si toutes les règles sont respectées ; il remplace le certificat vi "
                           "en cours")
    def post(self, request, identifiant):
        drimbox = _drimbox(request, identifiant)
        data = validated(s.MarketCertificateUploadSerializer, request.data,
                         authorize=_manage(request, drimbox.operator))
        try:
            certificate = services.upload_vi_certificate(drimbox, acting_user=request.user,
                                                         uploaded_file=data["file"])
        except services.CertificateRejected as exc:
            return _rejected(exc)
        return _certificate_response(certificate, status.HTTP_201_CREATED)


class ViCertificateView(DrimboxTokenMixin, FileAPIMixin, PortalAPIView):
    token_scope = ApiScope.CERTIFICATES

    @extend_schema(
        responses={(200, PEM_CHAIN): OpenApiResponse(OpenApiTypes.BINARY, description=(
            "Le certificat vi en cours puis ses autorités intermédiaires (PEM). L'en-tête `ETag` est l'empreinte "
            "SHA-256 : `If-None-Match` donne 304 tant que le certificat n'a pas changé.")),
            304: OpenApiResponse(description="Le certificat n'a pas changé."),
            404: OpenApiResponse(description="Aucun certificat vi en cours.")},
        summary="Télécharger la chaîne du certificat vi en cours (pour la DRIMbox)")
    def get(self, request, identifiant):
        drimbox = _drimbox(request, identifiant)
        try:
            certificate = services.current_vi_chain(drimbox, acting_user=request.user)
        except Conflict as exc:
            if exc.code == "not_found":
                raise Missing(exc.message) from exc
            raise
        etag = '"' + certificate.fingerprint_sha256.replace(":", "").lower() + '"'
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(certificate.pem + certificate.chain_pem, content_type=PEM_CHAIN)
            response["Content-Disposition"] = f'attachment; filename="{drimbox.vi_fqdn}.pem"'
        response["ETag"] = etag
        return response


# --- A certificate --------------------------------------------------------------------------------


class CertificateDetailView(CertificateTokenMixin, PortalAPIView):
    token_scope = ApiScope.CERTIFICATES

    @extend_schema(responses=s.CertificateDetailSerializer,
                   summary="Un certificat : sujet, émetteur, validité, empreintes, extensions, chaîne, règles")
    def get(self, request, pk):
        certificate = _certificate(request, pk)
        certificate.description = describe_certificate(x509.load_pem_x509_certificate(certificate.pem.encode()))
        certificate.chain = [describe_certificate(c) for c in
                             x509.load_pem_x509_certificates(certificate.chain_pem.encode())
                             ] if certificate.chain_pem.strip() else []
        return Response(s.CertificateDetailSerializer(certificate).data)


class CertificateRevokeView(CertificateTokenMixin, PortalAPIView):
    token_scope = ApiScope.CERTIFICATES

    @extend_schema(request=s.RevokeSerializer, responses={201: s.RevocationSerializer},
                   summary="Révoquer un certificat (administrateur technique) : par ACME pour vi ; pour db, une "
                           "tâche à échéance, constatée dans la CRL de l'IGC-Santé")
    def post(self, request, pk):
        certificate = _certificate(request, pk)
        data = validated(s.RevokeSerializer, request.data, authorize=_manage(request, certificate.operator))
        revocation = services.revoke_certificate(certificate, acting_user=request.user, reason=data["reason"])
        return Response(s.RevocationSerializer(revocation).data, status=status.HTTP_201_CREATED)


# --- acme-dns credentials -------------------------------------------------------------------------


class DrimboxAcmeDnsView(DrimboxTokenMixin, PortalAPIView):
    token_scope = ApiScope.CERTIFICATES
    idempotency_secret_response = True  # the password is shown once: an Idempotency-Key repeat does not replay it

    @extend_schema(request=None, responses={201: s.AcmeDnsRegistrationSerializer},
                   summary="Créer (ou renouveler) les identifiants acme-dns du nom vi (administrateur technique) ; "
                           "les précédents cessent de fonctionner. Réponse au format de /register d'acme-dns.")
    def post(self, request, identifiant):
        drimbox = _drimbox(request, identifiant)
        credential, password = services.register_acme_dns(drimbox, acting_user=request.user)
        return Response(s.AcmeDnsRegistrationSerializer({
            "username": credential.username, "password": password, "fulldomain": credential.challenge_name,
            "subdomain": credential.subdomain, "allowfrom": [],
        }).data, status=status.HTTP_201_CREATED)


# --- The quarterly export -------------------------------------------------------------------------


class CertificateExportView(FileAPIMixin, PortalAPIView):
    token_scope = ApiScope.CERTIFICATES

    @extend_schema(
        parameters=[s.ExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, XLSX): OpenApiTypes.BINARY},
        summary="La liste des certificats administrés par l'opérateur (structure, expiration), CSV ou XLSX ; "
                "avec un jeton limité à des DRIMbox, les certificats de ces DRIMbox seulement")
    def get(self, request, pk):
        operator = get_operator(request, pk)
        permissions.require(request.user, "certificate.export", operator)
        # A plain dict: as a form, DRF would read « ?format= » as no format at all (CSV) where the schema refuses it.
        fmt = validated(s.ExportQuerySerializer, request.query_params.dict())["format"]
        # A token limited to some DRIMboxes (an ACME automation) sees their certificates only, here too.
        drimbox_ids = token_drimbox_ids(request)
        if fmt == "xlsx":
            response = HttpResponse(export.to_xlsx(operator, drimbox_ids=drimbox_ids), content_type=XLSX)
        else:
            response = HttpResponse(export.to_csv(operator, drimbox_ids=drimbox_ids),
                                    content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="certificats-{operator.siren}-{stamp}.{fmt}"'
        return response


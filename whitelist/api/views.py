"""Whitelist API for ANS administrators: versions (prepare, approve — which signs, verifies and publishes —,
abandon, GitHub republication, the signed document, differences) and the requests received as GitHub issues.

Every write goes through ``whitelist.services`` (ANS only, four eyes, state, `db` certificates, signer, one
transaction, audit), exactly as the ANS pages do; a refusal is its structured 4xx (French message, stable code:
``whitelist_busy``, ``whitelist_publication_refused``, ``whitelist_signer``, ``whitelist_superseded``,
``whitelist_four_eyes``…). Views only read, check input shapes and render the outcome. Operators get 403.
"""
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from certificates.api.views import FileAPIMixin
from operators.api.views.base import AnsAPIMixin, AnsAPIView, validated
from trustspace.api.pagination import whole_number_schema
from trustspace.errors import DomainError
from whitelist import github_publish, services
from whitelist.models import GitHubIssueRequest, GitHubIssueStatus, WhitelistVersion, WhitelistVersionStatus
from whitelist.services.versions import diff_json

from . import serializers as s

NUMBER = OpenApiParameter("number", whole_number_schema(minimum=1), OpenApiParameter.PATH,
                          description="Numéro de la version de la liste blanche (1, 2…).")
XML = {(200, "application/xml"): OpenApiResponse(
    OpenApiTypes.BINARY, description="La liste signée, octet pour octet celle qui est publiée (XAdES enveloppée).")}


def _body(serializer_class, request):
    """The validated body. A JSON ``null`` is refused as any body that is not an object (400 naming
    ``non_field_errors``): these bodies are all optional fields, so « nothing » would otherwise be accepted."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _versions():
    """Versions with what their summary shows, without the (large) XML documents and differences."""
    return (WhitelistVersion.objects.select_related("prepared_by", "approved_by", "github_publication")
            .defer("unsigned_xml", "signed_xml", "diff"))


def _missing(number):
    return NotFound(f"La version {number} de la liste blanche n'existe pas.")


def _version(number, queryset=None):
    version = (queryset if queryset is not None else WhitelistVersion.objects.all()).filter(number=number).first()
    if version is None:
        raise _missing(number)
    return version


def _context(request):
    return {"request": request, "github_configured": github_publish.configured(), "four_eyes": services.four_eyes()}


def _detail_response(request, number, status_code=status.HTTP_200_OK):
    version = _version(number, WhitelistVersion.objects.select_related(
        "prepared_by", "approved_by", "github_publication").defer("unsigned_xml", "signed_xml"))
    return Response(s.VersionDetailSerializer(version, context=_context(request)).data, status=status_code)


# --- Versions --------------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(summary="Versions de la liste blanche, la plus récente d'abord (ANS)"))
class VersionListView(AnsAPIMixin, generics.ListAPIView):
    serializer_class = s.VersionSummarySerializer
    parser_classes = (JSONParser,)  # a JSON object: a form would carry any garbage as « no field »

    def get_queryset(self):
        return _versions().order_by("-number")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), **_context(self.request)}

    @extend_schema(
        request=s.PrepareSerializer,
        responses={201: s.VersionDetailSerializer,
                   200: OpenApiResponse(s.VersionDetailSerializer, description=(
                       "La dernière version est encore préparée et liste exactement les mêmes entrées : elle est "
                       "renvoyée telle quelle (rien n'est créé)."))},
        summary="Préparer une version à partir de l'état du registre (ANS) ; 409 `whitelist_busy` pendant une "
                "autre préparation ou publication")
    def post(self, request):
        data = _body(s.PrepareSerializer, request)
        version = services.prepare_version(acting_user=request.user, comment=data["comment"])
        return _detail_response(request, version.number,
                                status.HTTP_201_CREATED if version.prepared_now else status.HTTP_200_OK)


class VersionDetailView(AnsAPIView):
    @extend_schema(parameters=[NUMBER], responses=s.VersionDetailSerializer,
                   summary="Une version : statut, préparation, approbation, publication, changements, GitHub (ANS)")
    def get(self, request, number):
        return _detail_response(request, number)


class VersionApproveView(AnsAPIView):
    @extend_schema(
        parameters=[NUMBER], request=None, responses=s.VersionDetailSerializer,
        summary="Approuver une version préparée : elle est signée, vérifiée et publiée dans la même opération "
                "(ANS, un autre administrateur que celui qui l'a préparée : 403 `whitelist_four_eyes`) ; refus "
                "motivés en 409 (`whitelist_publication_refused` : certificat db manquant ou état changé, "
                "`whitelist_signer` : signataire refusé, `whitelist_superseded`, `whitelist_busy`)")
    def post(self, request, number):
        services.approve_and_publish(_version(number), acting_user=request.user)
        return _detail_response(request, number)


class VersionAbandonView(AnsAPIView):
    parser_classes = (JSONParser,)
    @extend_schema(parameters=[NUMBER], request=s.AbandonSerializer, responses=s.VersionDetailSerializer,
                   summary="Abandonner une version préparée (ANS) ; une version signée ne s'abandonne jamais (409)")
    def post(self, request, number):
        version = _version(number)
        data = _body(s.AbandonSerializer, request)
        services.abandon_version(version, acting_user=request.user, reason=data["reason"])
        return _detail_response(request, number)


class VersionGitHubRepublishView(AnsAPIView):
    @extend_schema(
        parameters=[NUMBER], request=None,
        responses={202: OpenApiResponse(s.VersionDetailSerializer, description=(
            "Poussée demandée : elle a lieu après la réponse (`github.state` : `a_publier`, puis `publiee` ou "
            "`echec`) ; rien n'est créé si le dépôt contient déjà la liste."))},
        summary="Pousser de nouveau la dernière version publiée sur GitHub (ANS) ; 409 si GitHub n'est pas "
                "configuré ou si la version n'est pas la dernière publiée")
    def post(self, request, number):
        services.republish_on_github(_version(number), acting_user=request.user)
        return _detail_response(request, number, status.HTTP_202_ACCEPTED)


class VersionDocumentView(FileAPIMixin, AnsAPIView):
    @extend_schema(parameters=[NUMBER], responses=XML,
                   summary="La liste signée d'une version publiée (application/xml) ; 404 pour une version non "
                           "signée (préparée ou abandonnée)")
    def get(self, request, number):
        row = (WhitelistVersion.objects.filter(number=number)
               .values("status", "signed_xml", "sha256").first())
        if row is None:
            raise _missing(number)
        if row["status"] != WhitelistVersionStatus.PUBLISHED or row["signed_xml"] is None:
            raise NotFound(f"La version {number} n'est pas publiée : elle n'a pas de liste signée.")
        data = bytes(row["signed_xml"])
        response = HttpResponse(data, content_type="application/xml")
        response["Content-Length"] = str(len(data))
        response["Content-Disposition"] = f'attachment; filename="listeblanche-v{number}.xml"'
        response["ETag"] = f'"{row["sha256"]}"'
        return response


class VersionDiffView(AnsAPIView):
    @extend_schema(
        parameters=[NUMBER, s.DiffQuerySerializer], responses=s.VersionDiffSerializer,
        summary="Les changements d'une version (entrées ajoutées, retirées, modifiées champ par champ) par rapport "
                "à la version publiée qui la précède, ou à `against` (ANS)")
    def get(self, request, number):
        against = validated(s.DiffQuerySerializer, request.query_params).get("against")
        documents = WhitelistVersion.objects.only("number", "unsigned_xml")
        version = _version(number, documents)
        if against is not None:
            base = documents.filter(number=against).first()
            if base is None:
                raise NotFound(f"La version de comparaison {against} n'existe pas.")
        else:
            base = (documents.filter(status=WhitelistVersionStatus.PUBLISHED, number__lt=number)
                    .order_by("-number").first())
        previous = services.entries_of(bytes(base.unsigned_xml))[1] if base is not None else []
        current = services.entries_of(bytes(version.unsigned_xml))[1]
        body = {"version": version.number, "against": base.number if base is not None else None,
                **diff_json(previous, current)}
        return Response(s.VersionDiffSerializer(body).data)


# --- Requests received as GitHub issues --------------------------------------------------------------


def _github_requests():
    return GitHubIssueRequest.objects.select_related("drimbox", "decided_by", "portal_request", "applied_version")


def _github_request(pk):
    item = _github_requests().filter(pk=pk).first()
    if item is None:
        raise NotFound("Aucune demande reçue par GitHub ne porte cet identifiant.")
    return item


def _github_request_response(request, pk):
    item = _github_request(pk)
    candidates = list(services.linkable_requests(item)) if item.status == GitHubIssueStatus.TO_REVIEW else []
    return Response(s.GitHubRequestDetailSerializer(item, context={"request": request, "candidates": candidates}).data)


@extend_schema_view(get=extend_schema(
    summary="Demandes reçues par des issues GitHub, les plus récentes d'abord (ANS), filtrables par statut "
            "(dont `quarantaine`)", parameters=[s.GitHubRequestFilterSerializer]))
class GitHubRequestListView(AnsAPIMixin, generics.ListAPIView):
    serializer_class = s.GitHubRequestSerializer

    def get_queryset(self):
        wanted = validated(s.GitHubRequestFilterSerializer, self.request.query_params).get("status")
        rows = _github_requests().defer("body", "description")
        if wanted:
            rows = rows.filter(status=wanted)
        return rows.order_by("-github_created_at", "-pk")


class GitHubRequestDetailView(AnsAPIView):
    @extend_schema(responses=s.GitHubRequestDetailSerializer,
                   summary="Une demande reçue par GitHub : formulaire, DRIMbox correspondante, décision, demandes du "
                           "portail qu'elle peut nommer (ANS)")
    def get(self, request, pk):
        return _github_request_response(request, pk)


class GitHubRequestAcceptView(AnsAPIView):
    parser_classes = (JSONParser,)
    @extend_schema(
        request=s.GitHubAcceptSerializer, responses=s.GitHubRequestDetailSerializer,
        summary="Accepter une demande « à examiner » (ANS) en nommant la demande du portail qui porte la "
                "modification, ou le motif de son absence ; la décision est publiée sur l'issue")
    def post(self, request, pk):
        item = _github_request(pk)
        data = _body(s.GitHubAcceptSerializer, request)
        services.decide(item, acting_user=request.user, accept=True, comment=data["comment"],
                        portal_request=data["portal_request"], no_link_reason=data["no_link_reason"])
        return _github_request_response(request, pk)


class GitHubRequestRefuseView(AnsAPIView):
    parser_classes = (JSONParser,)
    @extend_schema(request=s.GitHubRefuseSerializer, responses=s.GitHubRequestDetailSerializer,
                   summary="Refuser une demande « à examiner », motif obligatoire (ANS) ; il est publié sur l'issue")
    def post(self, request, pk):
        item = _github_request(pk)
        data = _body(s.GitHubRefuseSerializer, request)
        try:
            services.decide(item, acting_user=request.user, accept=False, comment=data["reason"])
        except DomainError as exc:  # the service names its field « comment »: here it is « reason »
            if "comment" in exc.field_errors:
                exc.field_errors = {("reason" if name == "comment" else name): messages
                                    for name, messages in exc.field_errors.items()}
            raise
        return _github_request_response(request, pk)

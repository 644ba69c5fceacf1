"""Serializers of the DRIMbox lifecycle API.

Input serializers check shapes only (types, presence, known enumerations); every business rule
(roles, states, SIREN/FINESS, eligibility, uniqueness) stays in the services, whose DomainError
becomes the structured 4xx answer.

Output statuses and kinds are plain strings with a ``*_label`` companion (French label), not enums:
the same choice sets appear under several names and would make OpenAPI enum naming collide.
"""

from typing import ClassVar

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operators.api import schema  # noqa: F401 - the typed ``data`` of each request kind in the OpenAPI schema
from operators.api.serializers.fields import BoundedCharField, StringMapField, choice_values
from operators.models import (
    DECLARATION_KINDS,
    AttachmentKind,
    Attestation,
    DnsChangeStatus,
    DrimboxStatus,
    RequestKind,
    RequestStatus,
    VaStatus,
)
from operators.queries import VA_STATES
from operators.request_data import eligibility_problems


def _absolute(context, url):
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


# --- Shapes of inputs ---------------------------------------------------------------------------


class RequestDataField(StringMapField):
    """The ``data`` of a request: its schema is that of its kind (``operators.api.schema``)."""

    _spectacular_annotation: ClassVar[dict] = {}  # not StringMapField's free-form schema: the extension's


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices, help_text="Type de demande.")
    drimbox = serializers.IntegerField(
        required=False, allow_null=True, min_value=1,
        help_text="Identifiant de la DRIMbox concernée (obligatoire sauf pour une déclaration). Pour une bascule, "
                  "la DRIMbox d'un autre opérateur à reprendre.")
    data = RequestDataField(required=False, allow_null=True,
                            help_text="Données de la demande ; les champs dépendent du type.")


class RequestUpdateSerializer(serializers.Serializer):
    data = RequestDataField(help_text="Champs à modifier ; les autres gardent leur valeur.")


class AttachmentUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AttachmentKind.choices, help_text="Nature de la pièce.")
    file = serializers.FileField(help_text="Document PDF.")


class CancelSerializer(serializers.Serializer):
    reason = BoundedCharField(required=False, allow_blank=True, default="", max_length=2000)


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class AssignSerializer(serializers.Serializer):
    reviewer = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                        help_text="Identifiant de l'administrateur ANS relecteur (vous par défaut).")


class RequestChangesSerializer(serializers.Serializer):
    comment = serializers.CharField(allow_blank=True, help_text="Ce que l'opérateur doit modifier.")


class ApproveSerializer(serializers.Serializer):
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="",
        help_text="Motif de dérogation, obligatoire pour une DRIMbox non financée.")
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    # A plain string checked below: a second choice field over the request kinds would give the schema two
    # names for one enum.
    expected_kind = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20,
        help_text="Le type de demande instruit (valeur de `kind`) ; 409 `kind_changed` si la demande a changé de "
                  "type entre-temps (une adhésion devenue rattachement).")

    def validate_expected_kind(self, value):
        if value and value not in RequestKind.values:
            raise serializers.ValidationError("Type de demande inconnu.")
        return value


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, help_text="Motif (obligatoire).")


class VaUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Le document VA (PDF).")
    with_reservations = serializers.BooleanField(
        required=False, default=False,
        help_text="VA signé avec réserves (RIS du client pas encore en Vague 2) ; ANS le valide « avec réserves ».")


class VaRisUpdateSerializer(serializers.Serializer):
    signalled_on = serializers.DateField(
        help_text="Date (AAAA-MM-JJ) à laquelle le client a signalé la mise à jour de son RIS en Vague 2 ; ni dans "
                  "le futur, ni avant le dépôt du VA. Les réserves sont à lever dans les deux mois.",
        error_messages={"invalid": "Indiquez une date valide (AAAA-MM-JJ).", "required": "Ce champ est obligatoire."})


class VaLiftingUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Le document de levée des réserves signé par le client (PDF).")


class ReviewQueueFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices, required=False, allow_blank=True,
                                   help_text="Type de demande.")
    status = serializers.ChoiceField(
        choices=[c for c in RequestStatus.choices if c[0] != RequestStatus.DRAFT] + [("toutes", "Toutes")],
        required=False, allow_blank=True,
        help_text="Statut ; par défaut les demandes soumises et en instruction, `toutes` pour toutes "
                  "(hors brouillons).")
    operator = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                     help_text="Nom de l'opérateur (contient).")
    age = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=36500,
                                   help_text="Soumises depuis au moins ce nombre de jours.")
    assigned = serializers.ChoiceField(choices=[("moi", "Les miennes"), ("aucune", "Non affectées")], required=False,
                                       allow_blank=True, help_text="`moi` ou `aucune`.")


class RegistryFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=253,
                              help_text="Début d'un FQDN, ou identifiant.")
    operator = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                     help_text="Nom de l'opérateur (contient).")
    structure = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                      help_text="Structure de santé : nom (contient), SIREN ou FINESS géographique.")
    status = serializers.ChoiceField(choices=DrimboxStatus.choices, required=False, allow_blank=True,
                                     help_text="Statut de la DRIMbox.")
    dns = serializers.ChoiceField(choices=[("en_attente", "DNS en attente")], required=False, allow_blank=True,
                                  help_text="`en_attente` : seulement les DRIMbox dont une mise à jour DNS attend.")


# --- Outputs ------------------------------------------------------------------------------------


class OperatorBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


VI_FQDN_HELP = "Nom vi ; null pour une DRIMbox sans visionneuse."
HAS_VIEWER_HELP = "Faux pour une DRIMbox sans visionneuse : ni nom, ni enregistrement, ni certificat vi."


class DrimboxBriefSerializer(serializers.Serializer):
    identifiant = serializers.IntegerField()
    db_fqdn = serializers.CharField()
    has_viewer = serializers.BooleanField(help_text=HAS_VIEWER_HELP)
    vi_fqdn = serializers.CharField(allow_null=True, help_text=VI_FQDN_HELP)


class RequestSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    kind = serializers.CharField(help_text=f"Type : {choice_values(RequestKind)}.")
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.CharField(help_text=f"Statut : {choice_values(RequestStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    operator = OperatorBriefSerializer(allow_null=True,
                                       help_text="Null pour une demande d'adhésion pas encore approuvée.")
    party_name = serializers.CharField(help_text="L'opérateur, ou l'entreprise déclarée par une demande d'adhésion.")
    drimbox = DrimboxBriefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    assigned_to = serializers.SerializerMethodField(help_text="Relecteur ANS.")

    def get_assigned_to(self, obj) -> str | None:
        return obj.assigned_to.display_name if obj.assigned_to_id else None


class RequestEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    at = serializers.DateTimeField()
    actor = serializers.SerializerMethodField()
    by_ans = serializers.BooleanField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    text = serializers.CharField()

    def get_actor(self, obj) -> str:
        return obj.actor.display_name if obj.actor_id else "système"


class RequestAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text=f"Nature : {choice_values(AttachmentKind)}.")
    kind_label = serializers.CharField(source="get_kind_display")
    original_name = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_by = serializers.SerializerMethodField()
    uploaded_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField(help_text="Téléchargement dans le portail (session).")

    def get_uploaded_by(self, obj) -> str:
        return obj.uploaded_by.display_name

    def get_download_url(self, obj) -> str:
        return _absolute(self.context, reverse("attachment_download", args=[obj.request_id, obj.pk]))


class AttestationBriefSerializer(serializers.Serializer):
    code = serializers.CharField()
    operator_name = serializers.CharField()
    issued_at = serializers.DateTimeField()
    superseded_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.SerializerMethodField(help_text="Téléchargement du PDF dans le portail (session).")

    def get_download_url(self, obj) -> str:
        return _absolute(self.context, reverse("attestation_download", args=[obj.pk]))


class RequestDetailSerializer(RequestSummarySerializer):
    data = serializers.DictField(child=serializers.CharField(allow_blank=True))
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()
    eligibility_override_reason = serializers.CharField()
    eligibility_problems = serializers.SerializerMethodField(
        help_text="Pour une déclaration ou une bascule, aux administrateurs ANS : pourquoi la DRIMbox n'est pas "
                  "financée (vide si elle l'est). Les motifs citent le bon de commande, qui peut être celui d'un "
                  "autre opérateur (bascule) : ils ne sont pas montrés à l'opérateur.")
    events = RequestEventSerializer(many=True, help_text="Chronologie de la demande.")
    attachments = RequestAttachmentSerializer(many=True)
    attestation = serializers.SerializerMethodField(help_text="Attestation de délégation délivrée à l'approbation.")

    def get_eligibility_problems(self, obj) -> list[str]:
        request = self.context.get("request")
        if obj.kind not in DECLARATION_KINDS or not (request and request.user.is_ans_admin):
            return []
        return eligibility_problems(obj.data)

    @extend_schema_field(AttestationBriefSerializer(allow_null=True))
    def get_attestation(self, obj):
        try:
            attestation = obj.attestation
        except Attestation.DoesNotExist:
            return None
        return AttestationBriefSerializer(attestation, context=self.context).data


class HealthStructureSerializer(serializers.Serializer):
    name = serializers.CharField()
    siren = serializers.CharField()
    finess_juridique = serializers.CharField()
    finess_geographique = serializers.CharField()


class DrimboxReferenceSerializer(serializers.Serializer):
    """A DRIMbox named by its id, its Identifiant and its two names."""

    id = serializers.IntegerField()
    identifiant = serializers.IntegerField()
    db_fqdn = serializers.CharField()
    has_viewer = serializers.BooleanField(help_text=HAS_VIEWER_HELP)
    vi_fqdn = serializers.CharField(allow_null=True, help_text=VI_FQDN_HELP)


class DrimboxSerializer(DrimboxReferenceSerializer):
    status = serializers.CharField(help_text=f"Statut : {choice_values(DrimboxStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    operator = OperatorBriefSerializer()
    health_structure = HealthStructureSerializer()
    dns_pending = serializers.BooleanField(help_text="Une mise à jour de la zone DNS attend d'être appliquée.")


class VaDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    drimbox = serializers.IntegerField(source="drimbox.identifiant")
    status = serializers.CharField(help_text=f"Statut : {choice_values(VaStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    due_at = serializers.DateTimeField()
    is_overdue = serializers.BooleanField()
    original_name = serializers.CharField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    refusal_reason = serializers.CharField()
    download_url = serializers.SerializerMethodField(help_text="Téléchargement dans le portail (session).")
    with_reservations = serializers.BooleanField(help_text="VA signé avec réserves (RIS pas encore en Vague 2).")
    ris_signalled_on = serializers.DateField(allow_null=True,
                                             help_text="Date du signalement de la mise à jour du RIS en Vague 2.")
    reservations_due_at = serializers.DateTimeField(allow_null=True, help_text="Échéance de levée des réserves.")
    reservations_overdue = serializers.BooleanField()
    lifting_original_name = serializers.CharField()
    lifting_sha256 = serializers.CharField()
    lifting_uploaded_at = serializers.DateTimeField(allow_null=True)
    lifting_refusal_reason = serializers.CharField()
    lifting_download_url = serializers.SerializerMethodField(
        help_text="Téléchargement du document de levée des réserves dans le portail (session).")

    def get_download_url(self, obj) -> str | None:
        return _absolute(self.context, reverse("va_download", args=[obj.pk])) if obj.file else None

    def get_lifting_download_url(self, obj) -> str | None:
        return _absolute(self.context, reverse("va_lifting_download", args=[obj.pk])) if obj.lifting_file else None


class VaListItemSerializer(VaDocumentSerializer):
    operator = OperatorBriefSerializer(help_text="L'opérateur qui doit ce VA.")
    drimbox_db_fqdn = serializers.CharField(source="drimbox.db_fqdn")


class VaFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=list(VA_STATES.items()), required=False, allow_blank=True,
        help_text="Où en est le VA : " + " ; ".join(f"`{key}` : {label.lower()}" for key, label in VA_STATES.items())
        + ". Sans valeur : tous, par échéance.")


class DrimboxDetailSerializer(DrimboxSerializer):
    pacs = serializers.CharField()
    financing_order = serializers.SerializerMethodField(help_text="Référence du bon de commande.")
    eligibility_override_reason = serializers.CharField()
    db_records = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                       help_text="Enregistrements du nom db : [type, valeur].")
    vi_records = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                       help_text="Enregistrements du nom vi : [type, valeur].")
    responsable_contact = serializers.CharField()
    support_contact = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    integrated_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    attestations = AttestationBriefSerializer(many=True, source="visible_attestations")
    va_documents = VaDocumentSerializer(many=True, source="visible_va_documents")

    def get_financing_order(self, obj) -> str | None:
        return obj.financing_order.reference if obj.financing_order_id else None


class DnsChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="Nom de la zone modifié (FQDN db, vi, ou défi ACME).")
    records = serializers.ListField(child=serializers.ListField(child=serializers.CharField()),
                                    help_text="Enregistrements voulus pour ce nom : [type, valeur] ; vide : le nom est "
                                              "supprimé de la zone.")
    status = serializers.CharField(help_text=f"État : {choice_values(DnsChangeStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    reason = serializers.CharField(help_text="Ce qui a demandé le changement (approbation, retrait, réconciliation…).")
    attempts = serializers.IntegerField(help_text="Tentatives d'application auprès du serveur DNS faisant autorité.")
    next_attempt_at = serializers.SerializerMethodField(
        help_text="Prochaine tentative, pour un changement en attente ; null sinon.")
    last_error = serializers.CharField(help_text="Dernière erreur du serveur DNS (vide si aucune).")
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True, help_text="Appliqué dans la zone le (null : pas encore, "
                                                                      "ou remplacé avant de l'être).")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, obj):
        if obj.status != DnsChangeStatus.PENDING:
            return None
        return serializers.DateTimeField().to_representation(obj.next_attempt_at)


class RequestKindOptionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="Type de demande (valeur de `kind` pour la créer).")
    kind_label = serializers.CharField(source="label")
    allowed = serializers.BooleanField(help_text="Vrai si vous pouvez déposer cette demande maintenant.")
    reason = serializers.CharField(allow_null=True,
                                   help_text="Pourquoi ce n'est pas possible maintenant (français) ; null si ça l'est.")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["reason"] = data["reason"] or None
        return data


class AttestationPublicSerializer(serializers.Serializer):
    code = serializers.CharField()
    operator_name = serializers.CharField()
    operator_siren = serializers.CharField()
    structure_name = serializers.CharField()
    identifiant = serializers.IntegerField()
    db_fqdn = serializers.CharField()
    vi_fqdn = serializers.CharField(allow_blank=True, help_text="Nom vi ; vide pour une DRIMbox sans visionneuse.")
    issued_at = serializers.DateTimeField()
    sha256 = serializers.CharField(help_text="Empreinte SHA-256 du PDF délivré.")
    superseded_at = serializers.DateTimeField(allow_null=True)
    valid = serializers.SerializerMethodField(
        help_text="Vrai si l'attestation est en vigueur : non remplacée, et la DRIMbox n'est pas retirée.")
    drimbox_withdrawn = serializers.SerializerMethodField(help_text="La DRIMbox est retirée de l'Espace de Confiance.")

    def get_valid(self, obj) -> bool:
        return obj.is_current

    def get_drimbox_withdrawn(self, obj) -> bool:
        return obj.drimbox_withdrawn

"""Financing orders in the API: shapes only; the rules (uniqueness, eligibility, number forms) are in the services."""
from rest_framework import serializers

from operators.api.serializers.fields import StringListField
from operators.eligibility import order_problems
from operators.models import RisWave
from operators.services import DocumentKind


class OrderClientInputSerializer(serializers.Serializer):
    client_siren = serializers.CharField(allow_blank=True, help_text="SIREN du client (structure de santé).")
    client_name = serializers.CharField(allow_blank=True, max_length=200, help_text="Raison sociale du client.")
    activity_2023 = serializers.BooleanField(
        help_text="Le client a eu une activité de radiologie ou de médecine nucléaire non nulle en 2023 ; faux pour "
                  "une structure ouverte depuis, qui a repris une structure active en 2023 (champs takeover_*).")
    finess_geographiques = StringListField(allow_empty=True, required=False, default=list,
                                           help_text="FINESS géographiques du client.")
    am_numbers = StringListField(allow_empty=True, required=False, default=list,
                                 help_text="Numéros d'assurance maladie (9 chiffres) des médecins du client.")
    ris_wave = serializers.ChoiceField(choices=RisWave.choices, required=False, default="", allow_blank=True,
                                       help_text="Commande de RIS du client : vague_2, vague_1_2 ou vide (aucune).")
    ris_order_reference = serializers.CharField(required=False, default="", allow_blank=True, max_length=64,
                                                help_text="Référence de la commande de RIS.")
    takeover_siren = serializers.CharField(required=False, default="", allow_blank=True,
                                           help_text="SIREN de la structure reprise (reprise d'une structure active "
                                                     "en 2023).")
    takeover_name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    takeover_finess_geographiques = StringListField(allow_empty=True, required=False, default=list,
                                                    help_text="FINESS géographiques de la structure reprise.")
    takeover_am_numbers = StringListField(allow_empty=True, required=False, default=list,
                                          help_text="Numéros AM de la structure reprise.")


class FinancingOrderCreateSerializer(OrderClientInputSerializer):
    reference = serializers.CharField(allow_blank=True, help_text="Référence du bon de commande.")
    pacs_identifiers = StringListField(allow_empty=True, help_text="PACS couverts par le bon.")


class OrderPacsInputSerializer(serializers.Serializer):
    pacs_identifiers = StringListField(allow_empty=True, help_text="PACS à ajouter au bon.")


class OrderDocumentInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.CHOICES, help_text="bon_signe, page_signature ou "
                                                                          "preuve_reprise.")
    client = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="Le client (id) d'une page de signature ou d'une preuve de reprise.")
    file = serializers.FileField(help_text="Le document (PDF, 5 Mo au plus).")


class OrderCloseSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, help_text="Motif de clôture (obligatoire).")


class OrderClientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    siren = serializers.CharField()
    name = serializers.CharField()
    activity_2023 = serializers.BooleanField(allow_null=True)
    ris_wave = serializers.CharField()
    ris_order_reference = serializers.CharField()
    finess_geographiques = serializers.SerializerMethodField()
    am_numbers = serializers.SerializerMethodField()
    takeover_siren = serializers.CharField()
    takeover_name = serializers.CharField()
    takeover_finess_geographiques = serializers.SerializerMethodField()
    takeover_am_numbers = serializers.SerializerMethodField()
    takeover_proof_attached = serializers.SerializerMethodField()
    signature_attached = serializers.SerializerMethodField()

    def get_finess_geographiques(self, obj) -> list[str]:
        return [site.finess_geographique for site in obj.sites.all() if not site.from_takeover]

    def get_am_numbers(self, obj) -> list[str]:
        return [physician.am_number for physician in obj.physicians.all() if not physician.from_takeover]

    def get_takeover_finess_geographiques(self, obj) -> list[str]:
        return [site.finess_geographique for site in obj.sites.all() if site.from_takeover]

    def get_takeover_am_numbers(self, obj) -> list[str]:
        return [physician.am_number for physician in obj.physicians.all() if physician.from_takeover]

    def get_takeover_proof_attached(self, obj) -> bool:
        return bool(obj.takeover_proof_sha256)

    def get_signature_attached(self, obj) -> bool:
        return bool(obj.signature_sha256)


class FinancingOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    operator = serializers.IntegerField(source="operator_id")
    status = serializers.CharField()
    clients = OrderClientSerializer(many=True)
    pacs_identifiers = serializers.ListField(child=serializers.CharField(), source="pacs_list")
    finess_geographiques = serializers.ListField(child=serializers.CharField(), source="finess_list",
                                                 help_text="Tous les FINESS géographiques du bon (tous clients).")
    am_numbers = serializers.ListField(child=serializers.CharField(), source="am_list")
    signed_order_sha256 = serializers.CharField(source="signed_sha256",
                                                help_text="SHA-256 du bon signé joint (vide : non joint).")
    drimboxes = serializers.SerializerMethodField(help_text="Identifiants des DRIMbox financées par ce bon.")
    problems = serializers.SerializerMethodField(help_text="Ce qui manque au bon pour financer une DRIMbox.")
    closed_reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_drimboxes(self, obj) -> list[int]:
        return [drimbox.identifiant for drimbox in obj.drimboxes.all()]

    def get_problems(self, obj) -> list[str]:
        return order_problems(obj)

from rest_framework import serializers

from operators import onboarding
from operators.api.serializers.lifecycle import RequestDetailSerializer
from operators.models import ContractVersion, Invitation, Membership, Operator, Role
from operators.queries import CONTRACT_FILTERS, TECHNICAL_ADMIN_FILTERS


class OperatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operator
        fields = ["id", "name", "siren", "siret", "id_nat_struct", "address_line", "postal_code", "city",
                  "contact_email", "contact_phone", "support_contact", "created_at", "updated_at"]
        read_only_fields = ["id", "siren", "id_nat_struct", "support_contact", "created_at", "updated_at"]


class OperatorListItemSerializer(OperatorSerializer):
    contract_accepted = serializers.BooleanField(source="accepted_current",
                                                 help_text="La version en vigueur du contrat est acceptée.")
    legal_representative_count = serializers.IntegerField(source="legal_count")
    technical_admin_count = serializers.IntegerField(source="technical_count")
    drimbox_count = serializers.IntegerField()

    class Meta(OperatorSerializer.Meta):
        fields = [*OperatorSerializer.Meta.fields, "contract_accepted", "legal_representative_count",
                  "technical_admin_count", "drimbox_count"]


class OperatorFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100,
                              help_text="Partie du nom, ou début du SIREN, du SIRET ou de l'idNat_Struct.")
    contract = serializers.ChoiceField(choices=list(CONTRACT_FILTERS.items()), required=False, allow_blank=True,
                                       help_text="`accepte` : contrat en vigueur accepté ; `a_accepter` : pas encore.")
    technical_admin = serializers.ChoiceField(choices=list(TECHNICAL_ADMIN_FILTERS.items()), required=False,
                                              allow_blank=True,
                                              help_text="`oui` : avec au moins un administrateur technique ; `non` : "
                                                        "sans.")


class OperatorUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    siret = serializers.CharField(max_length=20, required=False, allow_blank=True)
    address_line = serializers.CharField(max_length=255, required=False)
    # Checked and put in their normal form by the service (operators.validators), as on the page.
    postal_code = serializers.CharField(max_length=10, required=False, help_text="5 chiffres (espaces ignorés).")
    city = serializers.CharField(max_length=100, required=False)
    contact_email = serializers.EmailField(required=False)
    contact_phone = serializers.CharField(
        max_length=30, required=False, allow_blank=True,
        help_text="Numéro français (10 chiffres), stocké sous la forme « 01 23 45 67 89 » ; numéro étranger au "
                  "format international E.164 (+ indicatif).")


class SupportContactSerializer(serializers.Serializer):
    support_contact = serializers.CharField(max_length=255)


class PersonSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="user.display_name", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    has_mandate = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "name", "email", "role", "card_reference", "created_at", "ended_at", "has_mandate"]

    def get_has_mandate(self, obj) -> bool:
        return bool(obj.mandate_document)


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "created_at", "expires_at", "accepted_at"]


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    mandate_document = serializers.FileField(required=False, help_text="PDF, obligatoire pour un mandataire.")


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    card_reference = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default="",
        help_text="Administrateur technique : numéro de carte CPA (10 chiffres) ou référence d'habilitation "
                  "IGC-Santé ; représentant légal : numéro de la carte de représentant légal (sauf justificatif joint "
                  "à l'invitation).")


class ApplicationCreateSerializer(serializers.Serializer):
    """An adhesion application (multipart: the signed contract, and the proof of power when there is no card)."""

    name = serializers.CharField(max_length=200)
    siren = serializers.CharField(max_length=20)
    siret = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    id_nat_struct = serializers.CharField(max_length=32)
    address_line = serializers.CharField(max_length=255)
    postal_code = serializers.CharField(max_length=10)
    city = serializers.CharField(max_length=100)
    contact_email = serializers.CharField(max_length=254)
    contact_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    representative_name = serializers.CharField(max_length=150)
    representative_function = serializers.CharField(max_length=100)
    legal_rep_card = serializers.CharField(max_length=40, required=False, allow_blank=True, default="",
                                           help_text="Numéro de la carte de représentant légal (10 chiffres).")
    power_document = serializers.FileField(required=False, help_text="K-bis ou délégation (PDF), à défaut de carte.")
    contract_document = serializers.FileField(help_text="Le contrat d'adhésion signé (PDF).")
    contract_accepted = serializers.BooleanField(help_text="Acceptation de la version en vigueur du contrat.")


class ApplicationCreatedSerializer(RequestDetailSerializer):
    """The application filed: an « adhésion », or a « rattachement » when the SIREN already has an operator (or an
    adhesion under review), in which case ``notice`` says so."""

    notice = serializers.SerializerMethodField(
        help_text="Vide pour une demande d'adhésion ; pour un SIREN déjà enregistré (ou en cours d'adhésion), "
                  "l'explication : la demande devient un rattachement à l'opérateur, jamais un second opérateur.")

    def get_notice(self, obj) -> str:
        return onboarding.attachment_notice(obj)


class ContractVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractVersion
        fields = ["version", "title", "body", "published_at"]


class ContractVersionDetailSerializer(serializers.Serializer):
    """A published version, for ANS: who published it, how many operators accepted it, whether it is in force."""

    id = serializers.IntegerField()
    version = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField(help_text="Le texte du contrat.")
    published_at = serializers.DateTimeField()
    published_by = serializers.SerializerMethodField(help_text="L'administrateur ANS qui l'a publiée.")
    acceptance_count = serializers.IntegerField(help_text="Nombre d'opérateurs qui ont accepté cette version.")
    in_force = serializers.SerializerMethodField(help_text="Vrai pour la version en vigueur (la plus récente).")

    def get_published_by(self, obj) -> str | None:
        return obj.published_by.display_name if obj.published_by_id else None

    def get_in_force(self, obj) -> bool:
        return obj.pk == self.context.get("current_pk")


class ContractVersionCreateSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=20, help_text="Par exemple « 2026-11 » ; unique.")
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(help_text="Le texte du contrat.")


class ContractStatusSerializer(serializers.Serializer):
    current = ContractVersionSerializer(allow_null=True)
    accepted = serializers.BooleanField()
    accepted_at = serializers.DateTimeField(allow_null=True)


class ContractAcceptSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=20,
                                    help_text="La version en vigueur, pour confirmer ce qui est accepté.")


class MembershipBriefSerializer(serializers.ModelSerializer):
    operator_name = serializers.CharField(source="operator.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["operator", "operator_name", "role"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    email = serializers.EmailField()
    is_ans_admin = serializers.BooleanField()
    memberships = MembershipBriefSerializer(many=True)


class AuditEntrySerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_label")
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    reason = serializers.CharField()
    request_id = serializers.CharField()

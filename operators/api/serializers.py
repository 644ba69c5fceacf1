from rest_framework import serializers

from ..models import ContractVersion, Invitation, Membership, Operator, Role


class OperatorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Operator
        fields = ["id", "name", "siren", "siret", "id_nat_struct", "address_line", "postal_code", "city",
                  "contact_email", "contact_phone", "support_contact", "created_at", "updated_at"]
        read_only_fields = ["id", "siren", "id_nat_struct", "support_contact", "created_at", "updated_at"]


class OperatorUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    siret = serializers.CharField(max_length=20, required=False, allow_blank=True)
    address_line = serializers.CharField(max_length=255, required=False)
    postal_code = serializers.CharField(max_length=5, required=False)
    city = serializers.CharField(max_length=100, required=False)
    contact_email = serializers.EmailField(required=False)
    contact_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)


class SupportContactSerializer(serializers.Serializer):
    support_contact = serializers.CharField(max_length=255)


class PersonSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="user.display_name", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    has_mandate = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "name", "email", "role", "created_at", "ended_at", "has_mandate"]

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


class ContractVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractVersion
        fields = ["version", "title", "body", "published_at"]


class ContractStatusSerializer(serializers.Serializer):
    current = ContractVersionSerializer(allow_null=True)
    accepted = serializers.BooleanField()
    accepted_at = serializers.DateTimeField(allow_null=True)


class ContractAcceptSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=20, help_text="La version en vigueur, pour confirmer ce qui est accepté.")


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

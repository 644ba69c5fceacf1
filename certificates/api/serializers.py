"""Serializers of the certificates API.

Input serializers check shapes only (a file is present, a reason is known); every rule (roles, the
certificate and CSR rules, states) stays in ``certificates.services``, whose DomainError becomes the
structured 4xx answer. Outputs use plain strings with a ``*_label`` companion, as the lifecycle API does.
"""
import re

from rest_framework import serializers

from operators.api.serializers import DrimboxReferenceSerializer, choice_values
from operators.api.serializers.lifecycle import OperatorBriefSerializer
from trustspace.api.pagination import MAX_OFFSET
from trustspace.api.schema import ApiErrorBodySerializer
from trustspace.api.schema import ApiErrorSerializer as ApiErrorSerializer  # the acme-dns views' errors

from .. import queries
from ..forms import REVOCATION_REASONS
from ..models import CertificateKind, CertificateSource, RevocationStatus, ViOrderStatus

STATES = {"valide": "Valide", "expire": "Expiré", "remplace": "Remplacé", "revoque": "Révoqué"}
EXPORT_FORMATS = [("csv", "CSV (séparateur point-virgule, UTF-8)"), ("xlsx", "Classeur Excel (XLSX)")]


# --- Inputs -------------------------------------------------------------------------------------


class CertificateUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text=(
        "Le certificat serveur IGC-Santé du nom db (PEM ou DER), suivi si besoin de ses autorités "
        "intermédiaires. Partie publique seulement : un fichier contenant une clé privée est refusé."))


class MarketCertificateUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text=(
        "Le certificat du nom vi délivré par une autorité du marché (PEM ou DER), suivi de ses autorités "
        "intermédiaires. Partie publique seulement : un fichier contenant une clé privée est refusé."))


class CsrUploadSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, allow_empty_file=True,
                                 help_text="La demande de certificat (CSR, PEM ou DER) du nom vi.")
    csr = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                help_text="La demande de certificat (CSR) au format PEM, en JSON.")

    def validate(self, attrs):
        given = [name for name in ("file", "csr") if attrs.get(name) not in (None, "")]
        if len(given) != 1:
            message = ("Joignez la demande de certificat : un fichier « file » ou un champ « csr » (PEM), "
                       "pas les deux.")
            raise serializers.ValidationError({"file": [message]})
        return attrs


class RevokeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=REVOCATION_REASONS, help_text=(
        "Motif : `compromission` (clé compromise, keyCompromise), `remplacement` (superseded), "
        "`retrait` (arrêt de la DRIMbox, cessationOfOperation)."))


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMATS, required=False, default="csv",
                                     help_text="`csv` (par défaut) ou `xlsx`.")


class AcmeDnsUpdateSerializer(serializers.Serializer):
    subdomain = serializers.CharField(help_text="Le `subdomain` reçu à l'enregistrement.")
    txt = serializers.CharField(help_text="La valeur du défi DNS-01 (43 caractères base64url).")


# --- Outputs ------------------------------------------------------------------------------------


class CertificateCheckSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Code stable de la règle (chain, cn, ou, validity, signature_hash…).")
    ok = serializers.BooleanField(allow_null=True, help_text="Vrai : respectée ; faux : non respectée ; "
                                                             "null : n'a pas pu être évaluée (jamais un succès).")
    message = serializers.CharField(help_text="Explication en français.")


class CertificateDrimboxSerializer(DrimboxReferenceSerializer):
    """The DRIMbox of a certificate (its own name keeps the OpenAPI component that clients already use)."""


class CertificateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text=f"Type : {choice_values(CertificateKind)}.")
    kind_label = serializers.CharField(source="get_kind_display")
    source = serializers.CharField(help_text=f"Origine : {choice_values(CertificateSource)}.")
    state = serializers.CharField(help_text="État : `valide`, `expire`, `remplace`, `revoque`.")
    state_label = serializers.SerializerMethodField()
    drimbox = CertificateDrimboxSerializer()
    operator = serializers.IntegerField(source="operator_id", help_text="L'opérateur qui administrait la DRIMbox.")
    subject = serializers.CharField(help_text="Sujet (chaîne RFC 4514).")
    issuer = serializers.CharField(help_text="Émetteur (chaîne RFC 4514).")
    serial = serializers.CharField(help_text="Numéro de série (hexadécimal).")
    fingerprint_sha256 = serializers.CharField()
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    validation_level = serializers.CharField(help_text="Certificat vi : `DV` ou `OV` d'après ses politiques "
                                                       "(vide : non déterminé, ou certificat db).")
    checks = CertificateCheckSerializer(many=True, help_text="Les règles vérifiées au dépôt ou à l'émission.")
    created_at = serializers.DateTimeField()
    superseded_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    revocation_reason = serializers.CharField()

    def get_state_label(self, obj) -> str:
        return STATES[obj.state]


class CertificateExtensionSerializer(serializers.Serializer):
    oid = serializers.CharField()
    name = serializers.CharField()
    critical = serializers.BooleanField()
    value = serializers.CharField()


class CertificateDescriptionSerializer(serializers.Serializer):
    subject = serializers.CharField(help_text="Sujet (chaîne RFC 4514).")
    issuer = serializers.CharField()
    common_name = serializers.CharField(allow_null=True)
    organizational_units = serializers.ListField(child=serializers.CharField())
    serial = serializers.CharField()
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    fingerprint_sha256 = serializers.CharField()
    fingerprint_sha1 = serializers.CharField()
    key_type = serializers.CharField()
    key_size = serializers.IntegerField(allow_null=True)
    key = serializers.CharField()
    signature_algorithm = serializers.CharField()
    is_ca = serializers.BooleanField()
    self_signed = serializers.BooleanField()
    extensions = CertificateExtensionSerializer(many=True)
    san = serializers.ListField(child=serializers.CharField())
    crl_urls = serializers.ListField(child=serializers.CharField())


class CertificateDetailSerializer(CertificateSerializer):
    description = CertificateDescriptionSerializer(help_text="Le certificat décrit : extensions, clé, empreintes.")
    chain = CertificateDescriptionSerializer(many=True, help_text="Les autorités jointes au certificat, la plus "
                                                                  "proche d'abord.")
    pem = serializers.CharField(help_text="Le certificat (PEM).")
    chain_pem = serializers.CharField(help_text="Les autorités intermédiaires (PEM).")


class ViOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text=f"Statut : {choice_values(ViOrderStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    drimbox = serializers.IntegerField(source="drimbox.identifiant", help_text="Identifiant de la DRIMbox.")
    renewal = serializers.SerializerMethodField(help_text="Vrai pour un renouvellement automatique.")
    certificate = serializers.IntegerField(source="certificate_id", allow_null=True,
                                           help_text="Le certificat émis (id), une fois l'ordre traité.")
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField()
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    csr_pem = serializers.CharField()

    def get_renewal(self, obj) -> bool:
        return obj.renewal_of_id is not None


class RevocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    certificate = serializers.IntegerField(source="certificate_id")
    reason = serializers.CharField(help_text="Motif : `compromission`, `remplacement`, `retrait`, `bascule`.")
    reason_code = serializers.IntegerField(help_text="Code RFC 5280 (CRLReason).")
    status = serializers.CharField(help_text=f"Statut : {choice_values(RevocationStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    deadline = serializers.DateTimeField(help_text="Échéance : pour un certificat db, la révocation est à demander "
                                                   "à l'IGC-Santé avant cette date ; le portail la constate dans la "
                                                   "CRL.")
    created_at = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)


class AcmeDnsErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Le code d'erreur d'acme-dns (`forbidden`, `bad_txt`).")


class AcmeDnsRegistrationSerializer(serializers.Serializer):
    """acme-dns's /register answer."""

    username = serializers.CharField()
    password = serializers.CharField(help_text="Affiché une seule fois.")
    fulldomain = serializers.CharField(help_text="Le nom dont le portail écrit le TXT : `_acme-challenge.<FQDN vi>`.")
    subdomain = serializers.CharField()
    allowfrom = serializers.ListField(child=serializers.CharField(), help_text="Toujours vide.")


class AcmeDnsTxtSerializer(serializers.Serializer):
    txt = serializers.CharField()


class CertificateRejectedSerializer(serializers.Serializer):
    """A 400: the structured error, plus every rule and its verdict when rules were evaluated."""

    error = ApiErrorBodySerializer()
    checks = CertificateCheckSerializer(many=True, required=False,
                                        help_text="Présent quand les règles ont été évaluées : chacune, respectée "
                                                  "ou non, avec son explication.")


# --- The inventory (every certificate with its expiry) -----------------------------------------------


STATE_HELP = "État : `valide`, `expire` (expiré), `remplace` (remplacé), `revoque` (révoqué)."


class WholeNumberField(serializers.IntegerField):
    """An integer query parameter written as the schema says: ASCII digits only (no « 10.0 », « +3 », « ² »)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            self.fail("invalid")
        return super().to_internal_value(data)


DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class IsoDateField(serializers.DateField):
    """A day written AAAA-MM-JJ, as the schema's ``format: date`` says (not « 2026-1-5 »)."""

    def to_internal_value(self, value):
        if not (isinstance(value, str) and DAY.fullmatch(value)):
            self.fail("invalid", format="AAAA-MM-JJ")
        return super().to_internal_value(value)


class InventoryFilterSerializer(serializers.Serializer):
    """The inventory's query parameters (every one optional; given together, all apply). Read from a plain
    dictionary (``validated(…, query_params.dict())``): a parameter given empty is refused, except where its
    schema allows the empty value (``kind``, ``state``, ``drimbox``: no filter)."""

    kind = serializers.ChoiceField(choices=CertificateKind.choices, required=False, allow_blank=True,
                                   help_text="Type de certificat : `db` ou `vi`.")
    state = serializers.ChoiceField(choices=[(state, STATES[state]) for state in queries.STATES], required=False,
                                    allow_blank=True, help_text=STATE_HELP + " Un certificat remplacé puis expiré "
                                                                             "est `expire` ; révoqué, `revoque`.")
    expiring_within_days = WholeNumberField(
        required=False, min_value=0, max_value=36500,
        help_text="Seulement les certificats pas encore expirés qui expirent dans ce nombre de jours au plus "
                  "(`days_left` ≤ N). Avec `state=valide` : les certificats en cours à renouveler.")
    expires_before = IsoDateField(
        required=False, help_text="Seulement les certificats dont l'expiration précède ce jour (AAAA-MM-JJ, à "
                                  "0 h, heure de Paris), expirés compris.")
    drimbox = serializers.RegexField(
        r"^[0-9A-Za-z.-]*$", required=False, allow_blank=True, max_length=253, trim_whitespace=False,
        error_messages={"invalid": "Identifiant ou nom de DRIMbox attendu (chiffres, lettres, points, tirets)."},
        help_text="Une DRIMbox : son Identifiant, ou son nom db ou vi (FQDN exact, casse indifférente).")
    ordering = serializers.ChoiceField(
        choices=[("not_after", "Expiration la plus proche d'abord"), ("-not_after", "Expiration la plus lointaine "
                                                                                    "d'abord")],
        required=False, default="not_after",
        help_text="`not_after` (par défaut : la plus proche expiration d'abord) ou `-not_after`.")


class AllCertificatesFilterSerializer(InventoryFilterSerializer):
    operator = WholeNumberField(
        required=False, min_value=1, max_value=MAX_OFFSET,
        help_text="Identifiant (interne) d'un opérateur : ses certificats seulement (un opérateur dont vous "
                  "n'êtes pas membre ne donne rien, sauf à l'ANS).")


class InventoryItemSerializer(serializers.Serializer):
    """A certificate of the inventory: its DRIMbox, what it is, its validity (``days_left`` as of the request)."""

    id = serializers.IntegerField()
    drimbox = CertificateDrimboxSerializer()
    fqdn = serializers.SerializerMethodField(help_text="Le nom que ce certificat sert : le nom db pour un "
                                                       "certificat db, le nom vi pour un certificat vi.")
    operator = OperatorBriefSerializer(help_text="L'opérateur qui administrait la DRIMbox.")
    kind = serializers.CharField(help_text=f"Type : {choice_values(CertificateKind)}.")
    kind_label = serializers.CharField(source="get_kind_display")
    source = serializers.CharField(help_text=f"Origine : {choice_values(CertificateSource)}.")
    source_label = serializers.CharField(source="get_source_display")
    subject = serializers.CharField(help_text="Sujet (chaîne RFC 4514).")
    issuer = serializers.CharField(help_text="Émetteur (chaîne RFC 4514).")
    serial = serializers.CharField(help_text="Numéro de série (hexadécimal).")
    fingerprint_sha256 = serializers.CharField()
    not_before = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    days_left = serializers.SerializerMethodField(help_text=(
        "Jours restants avant l'expiration, arrondis au jour supérieur (0 ou moins : expiré ; négatif : depuis "
        "combien de jours). `expiring_within_days=N` retient exactement les certificats non expirés dont "
        "`days_left` ≤ N."))
    state = serializers.SerializerMethodField(help_text=STATE_HELP)
    state_label = serializers.SerializerMethodField()
    expiring = serializers.SerializerMethodField(help_text=(
        f"Vrai pour un certificat valide qui expire dans les {queries.EXPIRING_DAYS} jours (la rubrique « Expirent "
        f"dans les {queries.EXPIRING_DAYS} jours » du tableau de bord des certificats)."))

    def get_fqdn(self, obj) -> str | None:
        return obj.drimbox.db_fqdn if obj.kind == CertificateKind.DB else obj.drimbox.vi_fqdn

    def get_days_left(self, obj) -> int:
        return queries.days_left(obj.not_after, self.context["now"])

    def get_state(self, obj) -> str:
        return obj.state_at(self.context["now"])

    def get_state_label(self, obj) -> str:
        return STATES[obj.state_at(self.context["now"])]

    def get_expiring(self, obj) -> bool:
        return queries.is_expiring(obj, self.context["now"])

"""Serializers of the whitelist API (ANS): versions, their differences, their GitHub publication, GitHub requests.

Input serializers check shapes only; the rules (four eyes, state, `db` certificates, signer, display text, the
portal request an accepted issue names) stay in ``whitelist.services``, whose ``DomainError`` becomes the
structured 4xx answer. Statuses are plain strings with a ``*_label`` companion (French), as in the other APIs.
"""
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from operators.api.serializers.fields import BoundedCharField, choice_values
from operators.api.serializers.lifecycle import DrimboxBriefSerializer
from trustspace.api.pagination import MAX_OFFSET
from whitelist.models import (
    GitHubIssueKind,
    GitHubIssueStatus,
    GitHubPublicationMode,
    GitHubPublicationStatus,
    WhitelistVersionStatus,
)

# The GitHub side of a published version, as the ANS pages show it: the publication row's status, or why none.
GITHUB_NOT_REQUESTED = "non_publiee"
GITHUB_NOT_CONFIGURED = "non_configuree"
GITHUB_STATES = [*GitHubPublicationStatus.choices, (GITHUB_NOT_REQUESTED, "non publiée"),
                 (GITHUB_NOT_CONFIGURED, "non configurée")]
# Fields of a ``Domaine`` a change may name (the XML element names, as the version page shows them).
CHANGED_ELEMENTS = "`db`, `vi`, `Denomination`, `DNCertificatOperateur`, `ResponsableContact`, `SupportContact`"


class TextField(BoundedCharField):
    """A string, as the schema says: a number or a boolean is refused (DRF's ``CharField`` would turn it into
    text), and the length holds for the text as sent."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _name(user):
    return user.display_name if user is not None else None


# --- Inputs ------------------------------------------------------------------------------------------


class PrepareSerializer(serializers.Serializer):
    comment = TextField(required=False, allow_blank=True, default="", max_length=2000,
                               help_text="Commentaire de la version (facultatif).")


class AbandonSerializer(serializers.Serializer):
    reason = TextField(required=False, allow_blank=True, default="", max_length=2000,
                              help_text="Motif de l'abandon (facultatif, journalisé).")


class DiffQuerySerializer(serializers.Serializer):
    against = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_OFFSET,
        help_text="Numéro de la version de comparaison (toute version, quel que soit son statut). Par défaut : la "
                  "dernière version publiée avant celle-ci (aucune : toutes les entrées sont « ajoutées »).")


class GitHubRequestFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=GitHubIssueStatus.choices, required=False, allow_blank=True,
        help_text=f"Statut : {choice_values(GitHubIssueStatus)} (`quarantaine` : issues qui n'ont pas pu devenir "
                  "des demandes) ; vide ou absent : toutes.")


class GitHubAcceptSerializer(serializers.Serializer):
    portal_request = TextField(
        required=False, allow_blank=True, default="", max_length=40,
        help_text="Référence de la demande du portail qui porte la modification (soumise, en instruction ou "
                  "approuvée, de la même DRIMbox et d'un type compatible). Elle, ou `no_link_reason`.")
    no_link_reason = TextField(
        required=False, allow_blank=True, default="", max_length=4000,
        help_text="Ou : pourquoi aucune demande du portail ne la porte (publié sur l'issue GitHub).")
    comment = TextField(required=False, allow_blank=True, default="", max_length=4000,
                               help_text="Commentaire (facultatif, publié sur l'issue GitHub).")


class GitHubRefuseSerializer(serializers.Serializer):
    reason = TextField(allow_blank=True, max_length=4000,
                              help_text="Motif du refus (obligatoire, publié sur l'issue GitHub).")


# --- Versions --------------------------------------------------------------------------------------


class GitHubPublicationSerializer(serializers.Serializer):
    state = serializers.CharField(
        help_text="`a_publier`, `en_cours`, `publiee`, `echec` : la poussée de la version sur GitHub ; "
                  "`non_publiee` : aucune poussée demandée ; `non_configuree` : publication GitHub non configurée.")
    state_label = serializers.CharField()
    mode = serializers.CharField(allow_null=True, help_text=f"Mode : {choice_values(GitHubPublicationMode)}.")
    repository = serializers.CharField(allow_null=True)
    branch = serializers.CharField(allow_null=True, help_text="Branche cible.")
    pr_number = serializers.IntegerField(allow_null=True, help_text="Numéro de la demande de fusion (mode `pr`).")
    pr_url = serializers.CharField(allow_null=True)
    commit_sha = serializers.CharField(allow_null=True)
    unchanged = serializers.BooleanField(help_text="Le dépôt contenait déjà ces fichiers : rien n'a été créé.")
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(help_text="Dernière erreur (en français), vide sinon.")
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="Prochaine tentative automatique.")
    published_at = serializers.DateTimeField(allow_null=True, help_text="Publiée sur GitHub le.")


def github_state(version, configured):
    """The GitHub side of a published version (``None`` for a version not published)."""
    if version.status != WhitelistVersionStatus.PUBLISHED:
        return None
    try:
        publication = version.github_publication
    except type(version).github_publication.RelatedObjectDoesNotExist:
        publication = None
    if publication is None:
        state = GITHUB_NOT_REQUESTED if configured else GITHUB_NOT_CONFIGURED
        return {"state": state, "state_label": dict(GITHUB_STATES)[state], "mode": None, "repository": None,
                "branch": None, "pr_number": None, "pr_url": None, "commit_sha": None, "unchanged": False,
                "attempts": 0, "last_error": "", "next_attempt_at": None, "published_at": None}
    return {"state": publication.status, "state_label": publication.get_status_display(), "mode": publication.mode,
            "repository": publication.repository, "branch": publication.branch, "pr_number": publication.pr_number,
            "pr_url": publication.pr_url or None, "commit_sha": publication.commit_sha or None,
            "unchanged": publication.unchanged, "attempts": publication.attempts,
            "last_error": publication.last_error, "next_attempt_at": publication.next_attempt_at,
            "published_at": publication.published_at}


class VersionSummarySerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="Numéro de la version.")
    status = serializers.CharField(help_text=f"Statut : {choice_values(WhitelistVersionStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    generated_at = serializers.DateTimeField(help_text="`DateDeGeneration` de la liste (UTC, à la seconde).")
    entry_count = serializers.IntegerField(help_text="Nombre d'entrées `Domaine`.")
    comment = serializers.CharField()
    prepared_by = serializers.SerializerMethodField(help_text="Administrateur ANS qui l'a préparée.")
    prepared_at = serializers.DateTimeField(
        allow_null=True, help_text="Instant où l'état du registre a été lu (null pour les versions anciennes).")
    approved_by = serializers.SerializerMethodField(
        help_text="Administrateur ANS qui l'a approuvée (un autre que celui qui l'a préparée).")
    approved_at = serializers.DateTimeField(
        source="published_at", allow_null=True,
        help_text="Approuvée le : approbation, signature et publication sont une seule opération.")
    published_at = serializers.DateTimeField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True, help_text="SHA-256 de la liste signée (null avant signature).")
    github = serializers.SerializerMethodField(help_text="Publication sur GitHub (null : version non publiée).")

    def get_prepared_by(self, obj) -> str:
        return obj.prepared_by.display_name

    def get_approved_by(self, obj) -> str | None:
        return _name(obj.approved_by) if obj.approved_by_id else None

    @extend_schema_field(GitHubPublicationSerializer(allow_null=True))
    def get_github(self, obj):
        state = github_state(obj, self.context.get("github_configured", False))
        return GitHubPublicationSerializer(state).data if state is not None else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["sha256"] = data["sha256"] or None
        return data


class DiffEntrySerializer(serializers.Serializer):
    identifiant = serializers.IntegerField()
    db = serializers.CharField()
    denomination = serializers.CharField()


class DiffChangeSerializer(serializers.Serializer):
    identifiant = serializers.IntegerField()
    db = serializers.CharField(help_text="Nom db après le changement.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(allow_blank=True), min_length=2, max_length=2),
        help_text=f"Champ modifié → [avant, après] (vide : champ vide). Champs : {CHANGED_ELEMENTS}.")


class DiffSerializer(serializers.Serializer):
    added = DiffEntrySerializer(many=True, help_text="Entrées ajoutées.")
    removed = DiffEntrySerializer(many=True, help_text="Entrées retirées.")
    changed = DiffChangeSerializer(many=True, help_text="Entrées modifiées, champ par champ (`DateMAJ` exclue).")

    def to_representation(self, instance):
        instance = instance or {}  # a version stored before differences were recorded: none
        return super().to_representation({**instance, **{key: instance.get(key, [])
                                                          for key in ("added", "removed", "changed")}})


class VersionDiffSerializer(DiffSerializer):
    version = serializers.IntegerField(help_text="La version examinée.")
    against = serializers.IntegerField(
        allow_null=True, help_text="La version de comparaison (null : aucune, toutes les entrées sont ajoutées).")


class VersionDetailSerializer(VersionSummarySerializer):
    signer_subject = serializers.CharField(help_text="Sujet du certificat de signature (vide avant signature).")
    diff = DiffSerializer(help_text="Changements par rapport à la dernière version publiée lors de sa préparation "
                                    "(comme la page de la version) ; `…/diff/` compare à toute autre version.")
    four_eyes = serializers.SerializerMethodField(
        help_text="Vrai : un autre administrateur ANS que celui qui l'a préparée doit l'approuver.")
    can_approve = serializers.SerializerMethodField(
        help_text="Vous pouvez l'approuver (version préparée, et quatre yeux respectés) ; la signature peut encore "
                  "être refusée (certificats db, signataire, version plus récente publiée).")
    can_abandon = serializers.SerializerMethodField(help_text="Version préparée : elle peut être abandonnée.")
    document_url = serializers.SerializerMethodField(
        help_text="La liste signée par l'API (null : version non publiée).")
    public_url = serializers.SerializerMethodField(help_text="La liste signée à l'adresse publique (null : non "
                                                             "publiée).")

    def get_four_eyes(self, obj) -> bool:
        return bool(self.context.get("four_eyes", True))

    def get_can_approve(self, obj) -> bool:
        request = self.context.get("request")
        if obj.status != WhitelistVersionStatus.PREPARED or request is None:
            return False
        return not (self.get_four_eyes(obj) and obj.prepared_by_id == request.user.pk)

    def get_can_abandon(self, obj) -> bool:
        return obj.status == WhitelistVersionStatus.PREPARED and not obj.sha256

    def _url(self, name, obj):
        if obj.status != WhitelistVersionStatus.PUBLISHED:
            return None
        url = reverse(name, kwargs={"number": obj.number})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def get_document_url(self, obj) -> str | None:
        return self._url("api_whitelist_version_document", obj)

    def get_public_url(self, obj) -> str | None:
        return self._url("whitelist_version_xml", obj)


# --- GitHub requests -----------------------------------------------------------------------------


class PortalRequestBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")


class GitHubRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(help_text="GH-<dépôt>#<numéro>.")
    repository = serializers.CharField()
    issue_number = serializers.IntegerField()
    html_url = serializers.CharField(help_text="Adresse de l'issue sur GitHub.")
    kind = serializers.CharField(help_text=f"Type : {choice_values(GitHubIssueKind)}.")
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.CharField(help_text=f"Statut : {choice_values(GitHubIssueStatus)}.")
    status_label = serializers.CharField(source="get_status_display")
    title = serializers.CharField()
    nom = serializers.CharField(help_text="Champ « Nom » du formulaire.")
    dn_certificat_operateur = serializers.CharField(help_text="Champ « DNCertificatOperateur » du formulaire.")
    author_login = serializers.CharField(help_text="Auteur GitHub (non vérifié : tout compte peut ouvrir une issue).")
    author_association = serializers.CharField(help_text="Lien de l'auteur avec le dépôt selon GitHub (OWNER, "
                                                         "MEMBER, CONTRIBUTOR, NONE…).")
    github_created_at = serializers.DateTimeField()
    imported_at = serializers.DateTimeField()
    drimbox = DrimboxBriefSerializer(allow_null=True, help_text="DRIMbox dont le certificat db correspond au DN "
                                                                "indiqué (null : aucune).")
    invalid_reason = serializers.CharField(help_text="Statut `invalide` : ce qui manque au formulaire.")
    quarantine_reason = serializers.CharField(help_text="Statut `quarantaine` : pourquoi l'issue n'est pas devenue "
                                                        "une demande.")
    intake_note = serializers.CharField(help_text="Ce que l'import a retiré du texte (caractères invisibles…).")
    decided_by = serializers.SerializerMethodField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_comment = serializers.CharField()
    portal_request = PortalRequestBriefSerializer(allow_null=True,
                                                  help_text="Demande du portail liée à l'acceptation.")
    no_link_reason = serializers.CharField(help_text="Acceptée sans demande du portail : pourquoi.")
    applied_version = serializers.IntegerField(source="applied_version.number", allow_null=True,
                                               help_text="Numéro de la version publiée qui l'applique.")
    closed_at = serializers.DateTimeField(allow_null=True, help_text="Issue fermée par le portail le.")
    comment_error = serializers.CharField(help_text="Dernier échec d'envoi de commentaire sur GitHub.")
    comments_blocked = serializers.BooleanField(help_text="Commentaires abandonnés après une erreur définitive.")

    def get_decided_by(self, obj) -> str | None:
        return _name(obj.decided_by) if obj.decided_by_id else None


class GitHubRequestDetailSerializer(GitHubRequestSerializer):
    description = serializers.CharField(help_text="Champ « Description » du formulaire.")
    body = serializers.CharField(help_text="Texte de l'issue tel qu'importé (nettoyé).")
    candidates = serializers.SerializerMethodField(
        help_text="Statut `a_examiner` : les demandes du portail que l'acceptation peut nommer (`portal_request`).")

    @extend_schema_field(PortalRequestBriefSerializer(many=True))
    def get_candidates(self, obj):
        return PortalRequestBriefSerializer(self.context.get("candidates", []), many=True).data

"""GitHub side of the whitelist (DESIGN §7): the publication of each version, and requests arriving as issues.

Only ``whitelist.services.publication`` / ``whitelist.services.intake`` write these rows.
"""
from django.conf import settings
from django.db import models
from django.utils import timezone

from trustspace.paris_time import paris_datetime
from trustspace.statemachine import StateMachineMixin


class GitHubPublicationStatus(models.TextChoices):
    PENDING = "a_publier", "à publier"
    RUNNING = "en_cours", "en cours"
    PUBLISHED = "publiee", "publiée"
    FAILED = "echec", "échec"
    # A newer version was published (in the portal or already on GitHub): this one is never pushed, so the list in
    # the repository never goes back to an older ``DateDeGeneration``. Not retried.
    SUPERSEDED = "remplacee", "remplacée par une version plus récente"


class GitHubPublicationMode(models.TextChoices):
    PULL_REQUEST = "pr", "demande de fusion (pull request)"
    COMMIT = "commit", "commit direct"


_PUBLICATION = GitHubPublicationStatus


class GitHubPublication(StateMachineMixin, models.Model):
    """The push of one published version to the GitHub repository (one row per version)."""

    # « à publier » on request (ANS « Republier » resets any row not being pushed right now), « en cours » when a
    # worker claims it (again when a run was abandoned), then « publiée », « échec » or « remplacée » (a newer
    # version is published: this one is not pushed). A run that outlived ``WHITELIST_GITHUB_STALE_RUNNING_SECONDS``
    # records its outcome over whatever the row became meanwhile.
    TRANSITIONS = {
        _PUBLICATION.PENDING: {_PUBLICATION.PENDING, _PUBLICATION.RUNNING, _PUBLICATION.PUBLISHED,
                               _PUBLICATION.FAILED, _PUBLICATION.SUPERSEDED},
        _PUBLICATION.RUNNING: {_PUBLICATION.PENDING, _PUBLICATION.RUNNING, _PUBLICATION.PUBLISHED,
                               _PUBLICATION.FAILED, _PUBLICATION.SUPERSEDED},
        _PUBLICATION.FAILED: {_PUBLICATION.PENDING, _PUBLICATION.RUNNING, _PUBLICATION.PUBLISHED,
                              _PUBLICATION.FAILED, _PUBLICATION.SUPERSEDED},
        _PUBLICATION.PUBLISHED: {_PUBLICATION.PENDING, _PUBLICATION.PUBLISHED, _PUBLICATION.FAILED,
                                 _PUBLICATION.SUPERSEDED},
        _PUBLICATION.SUPERSEDED: {_PUBLICATION.PENDING, _PUBLICATION.PUBLISHED, _PUBLICATION.FAILED,
                                  _PUBLICATION.SUPERSEDED},
    }

    version = models.OneToOneField("whitelist.WhitelistVersion", on_delete=models.PROTECT,
                                   related_name="github_publication", verbose_name="version")
    status = models.CharField("statut", max_length=10, choices=GitHubPublicationStatus.choices,
                              default=GitHubPublicationStatus.PENDING, db_index=True)
    mode = models.CharField("mode", max_length=6, choices=GitHubPublicationMode.choices,
                            default=GitHubPublicationMode.PULL_REQUEST)
    repository = models.CharField("dépôt", max_length=200)
    branch = models.CharField("branche cible", max_length=200)
    head_branch = models.CharField("branche de la demande de fusion", max_length=200, blank=True)
    pr_number = models.PositiveIntegerField("n° de demande de fusion", null=True, blank=True)
    pr_url = models.URLField("demande de fusion", max_length=500, blank=True)
    commit_sha = models.CharField("commit", max_length=40, blank=True)
    unchanged = models.BooleanField("déjà à jour (rien créé)", default=False)
    attempts = models.PositiveIntegerField("tentatives", default=0)
    last_error = models.TextField("dernière erreur", blank=True)
    next_attempt_at = models.DateTimeField("prochaine tentative", null=True, blank=True, db_index=True)
    created_at = models.DateTimeField("créée le", default=timezone.now)
    updated_at = models.DateTimeField("mise à jour le", default=timezone.now)
    published_at = models.DateTimeField("publiée sur GitHub le", null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "publication GitHub"
        verbose_name_plural = "publications GitHub"

    def __str__(self):
        return f"Publication GitHub de la version {self.version_id} ({self.get_status_display()})"

    @property
    def is_published(self):
        return self.status == GitHubPublicationStatus.PUBLISHED

    @property
    def is_failed(self):
        return self.status == GitHubPublicationStatus.FAILED

    @property
    def is_superseded(self):
        return self.status == GitHubPublicationStatus.SUPERSEDED


class GitHubIssueKind(models.TextChoices):
    ADD = "add", "ajout"
    UPDATE = "update", "mise à jour"
    DELETE = "delete", "suppression"
    UNKNOWN = "inconnu", "inconnu"


class GitHubIssueStatus(models.TextChoices):
    TO_REVIEW = "a_examiner", "à examiner"
    ACCEPTED = "acceptee", "acceptée"
    REFUSED = "refusee", "refusée"
    INVALID = "invalide", "invalide"
    # Could not be imported as a request (text too long, or an error while recording it): kept with its reason,
    # answered once on the issue, never blocking the issues after it.
    QUARANTINED = "quarantaine", "en quarantaine"


class GitHubIssueRequest(StateMachineMixin, models.Model):
    """An operator's request filed as a GitHub issue (issue form), imported once for ANS review."""

    # Imported « à examiner », « invalide » or « en quarantaine »; only a request « à examiner » is decided.
    TRANSITIONS = {
        GitHubIssueStatus.TO_REVIEW: {GitHubIssueStatus.ACCEPTED, GitHubIssueStatus.REFUSED},
    }
    TRANSITION_ERROR_CODE = "conflict"

    repository = models.CharField("dépôt", max_length=200)
    issue_number = models.PositiveIntegerField("n° de l'issue")
    kind = models.CharField("type", max_length=8, choices=GitHubIssueKind.choices)
    title = models.CharField("titre", max_length=500)
    nom = models.CharField("Nom", max_length=500, blank=True)
    description = models.TextField("Description", blank=True)
    dn_certificat_operateur = models.CharField("DNCertificatOperateur", max_length=1000, blank=True)
    body = models.TextField("texte de l'issue", blank=True)
    author_login = models.CharField("auteur GitHub", max_length=100)
    # GitHub's relation of the author to the repository (OWNER, MEMBER, CONTRIBUTOR, NONE…): anyone may open an
    # issue, so the author is never taken as proof that the request comes from the DRIMbox's operator.
    author_association = models.CharField("lien de l'auteur avec le dépôt (GitHub)", max_length=40, blank=True)
    html_url = models.URLField("adresse de l'issue", max_length=500)
    github_created_at = models.DateTimeField("créée sur GitHub le")
    imported_at = models.DateTimeField("importée le", default=timezone.now, db_index=True)
    status = models.CharField("statut", max_length=12, choices=GitHubIssueStatus.choices,
                              default=GitHubIssueStatus.TO_REVIEW, db_index=True)
    invalid_reason = models.TextField("motif d'invalidité", blank=True)
    quarantine_reason = models.TextField("motif de la quarantaine", blank=True)
    # What the import changed in the text (characters removed), shown to ANS beside the request.
    intake_note = models.TextField("remarque de l'import", blank=True)
    drimbox = models.ForeignKey("operators.Drimbox", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name="DRIMbox concernée")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name="décision par")
    decided_at = models.DateTimeField("décision le", null=True, blank=True)
    decision_comment = models.TextField("commentaire de la décision", blank=True)
    receipt_comment_id = models.BigIntegerField("commentaire d'accusé de réception", null=True, blank=True)
    decision_comment_id = models.BigIntegerField("commentaire de décision", null=True, blank=True)
    comment_error = models.TextField("dernière erreur de commentaire", blank=True)
    # Set while a worker posts the owed comments outside any transaction (a short claim, not a row lock).
    comment_claimed_at = models.DateTimeField("envoi de commentaire en cours depuis", null=True, blank=True)
    # GitHub answered 403/404/410 (issue deleted, locked, token without rights): no automatic retry.
    comments_blocked = models.BooleanField("commentaires abandonnés (erreur définitive)", default=False)
    # Accepting links the issue to the portal request that carries the change (« demandée sur GitHub »), or says
    # why there is none; the first published version generated after that request's approval applies it: the
    # portal then comments on the issue with the version number and closes it.
    portal_request = models.ForeignKey("operators.DrimboxRequest", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="github_issues", verbose_name="demande du portail liée")
    no_link_reason = models.TextField("motif de l'absence de demande du portail", blank=True)
    applied_version = models.ForeignKey("whitelist.WhitelistVersion", on_delete=models.PROTECT, null=True,
                                        blank=True, related_name="github_issues",
                                        verbose_name="version publiée qui l'applique")
    closing_comment_id = models.BigIntegerField("commentaire de publication", null=True, blank=True)
    closed_at = models.DateTimeField("fermée sur GitHub le", null=True, blank=True)

    class Meta:
        ordering = ("-github_created_at", "-pk")
        constraints = (models.UniqueConstraint(fields=("repository", "issue_number"),
                                               name="whitelist_github_issue_once"),)
        verbose_name = "demande reçue par GitHub"
        verbose_name_plural = "demandes reçues par GitHub"

    def __str__(self):
        return f"GH-{self.issue_number} ({self.get_kind_display()}, {self.get_status_display()})"

    @property
    def reference(self):
        return f"GH-{self.repository}#{self.issue_number}"

    def transition_refused_message(self, new_status):
        if self.status == GitHubIssueStatus.QUARANTINED:
            return (f"La demande {self.reference} est en quarantaine ({self.quarantine_reason}) : elle ne se décide "
                    "pas dans le portail ; répondez sur l'issue GitHub.")
        return f"La demande {self.reference} est {self.get_status_display()} : elle a déjà été traitée."


class GitHubIntakeCursor(models.Model):
    """Where the last complete poll of a repository's issues started (GitHub's ``since``)."""

    repository = models.CharField("dépôt", max_length=200, unique=True)
    polled_at = models.DateTimeField("dernière relève complète")

    class Meta:
        verbose_name = "relève des issues GitHub"
        verbose_name_plural = "relèves des issues GitHub"

    def __str__(self):
        return f"{self.repository} ({paris_datetime(self.polled_at)})"

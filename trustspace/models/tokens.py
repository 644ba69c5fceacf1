"""Personal API tokens and their scopes."""
from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiScope(models.TextChoices):
    """What a personal API token may do (each API view declares the scope its writes need)."""

    READ = "read", "Lecture (tout ce que vous pouvez consulter)"
    REQUESTS = "requests", "Demandes (créer, modifier, soumettre, annuler, commenter, pièces, bons de commande, VA)"
    CERTIFICATES = "certificates", "Certificats (dépôt db, CSR vi, téléchargement vi, identifiants acme-dns)"
    PEOPLE = "people", "Personnes (invitations, rôles)"
    OPERATOR = "operator", "Opérateur (données, contact support, acceptation du contrat)"
    WEATHER = "weather", "Météo (prise en compte d'incidents, maintenances)"
    TOKENS = "tokens", "Jetons (créer ou révoquer des jetons au plus aussi limités que celui-ci)"
    ANS = "ans", ("Instruction ANS (toute écriture de l'ANS : demandes, VA, liste blanche, demandes GitHub… ; "
                  "réservé aux administrateurs ANS)")


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the secret is shown once.

    A token may be limited to scopes (``ApiScope``), to one of its owner's operators, to some DRIMboxes of
    that operator (certificate endpoints), and may expire. ``scopes == ["*"]`` marks the tokens made before
    scopes existed: they keep every right of their owner. The operator and the DRIMboxes are stored as plain
    ids, not foreign keys: ``trustspace`` sits below ``operators`` and never depends on it; ``operators``
    checks the ids (``operators.api_tokens``) and applies the restriction (``operators.permissions``).
    """

    ALL_RIGHTS = "*"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("nom", max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField("portées", default=list, blank=True)
    operator_id = models.PositiveBigIntegerField("opérateur (identifiant)", null=True, blank=True)
    drimbox_ids = models.JSONField("DRIMbox (identifiants internes)", default=list, blank=True)
    expires_at = models.DateTimeField("expire le", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "jeton d'API"
        verbose_name_plural = "jetons d'API"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def has_all_rights(self):
        return self.ALL_RIGHTS in (self.scopes or [])

    def has_scope(self, scope):
        return self.has_all_rights or scope in (self.scopes or [])

    def is_expired(self, now=None):
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_active(self):
        return self.revoked_at is None and not self.is_expired()

    @property
    def state(self):
        """« revoked », « expired » or « active » (revocation wins: it was a decision)."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired() else "active"

    @property
    def scope_labels(self):
        if self.has_all_rights:
            return ["Tous les droits de son titulaire"]
        labels = dict(ApiScope.choices)
        return [labels.get(scope, scope).split(" (")[0] for scope in self.scopes or []]

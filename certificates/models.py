"""Certificate inventory of the trust space (DESIGN §6).

`db` certificates (IGC-Santé SERV SSL) are uploaded by technical administrators; `vi` certificates
(market DV or OV) are issued by the portal's ACME client from a CSR, uploaded by technical administrators
from any public CA (« Autorité du marché »), or discovered by the prober on the `vi` endpoint (« Découvert »,
checked by the same rules as an upload). Only ``certificates.services`` writes these models.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from operators.models import Drimbox, Operator, PendingRevocation
from trustspace.statemachine import StateMachineMixin


class CertificateKind(models.TextChoices):
    DB = "db", "db (IGC-Santé)"
    VI = "vi", "vi (marché, ACME)"


class CertificateSource(models.TextChoices):
    UPLOAD = "depot", "Déposé"
    ACME = "acme", "Émis par ACME"
    MARKET = "marche", "Autorité du marché"
    DISCOVERED = "decouvert", "Découvert sur le nom vi (autorité du marché)"


# `vi` certificates from a CA of the operator's choice: the operator renews and revokes them at its CA (the portal
# renews and revokes through ACME only the ones it issued).
MARKET_SOURCES = (CertificateSource.MARKET, CertificateSource.DISCOVERED)


class ValidationLevel(models.TextChoices):
    DV = "DV", "Validation de domaine (DV)"
    OV = "OV", "Validation d'organisation (OV)"


class Certificate(models.Model):
    """A certificate that passed every rule when it entered the inventory (invalid ones are never stored)."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="certificates")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="certificates")
    kind = models.CharField(max_length=2, choices=CertificateKind.choices)
    source = models.CharField(max_length=12, choices=CertificateSource.choices)
    pem = models.TextField("certificat (PEM)")
    chain_pem = models.TextField("chaîne (PEM)", blank=True)
    serial = models.CharField(max_length=64)
    fingerprint_sha256 = models.CharField(max_length=95)
    subject = models.CharField(max_length=1000)
    issuer = models.CharField(max_length=1000)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    checks = models.JSONField("règles vérifiées au dépôt", default=list)
    validation_level = models.CharField("niveau de validation", max_length=2, choices=ValidationLevel.choices,
                                        blank=True, help_text="DV ou OV, d'après les politiques du certificat vi "
                                                              "(vide : non déterminé, ou certificat db).")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    superseded_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=100, blank=True)

    AUDITED_FIELDS = ["drimbox", "operator", "kind", "source", "serial", "fingerprint_sha256", "subject", "issuer",
                      "not_before", "not_after", "validation_level"]

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["drimbox", "kind", "fingerprint_sha256"], name="certificate_once",
                                    violation_error_message="Ce certificat est déjà enregistré pour cette DRIMbox."),
            # At most one current certificate per DRIMbox name.
            models.UniqueConstraint(fields=["drimbox", "kind"], name="one_current_certificate",
                                    condition=Q(superseded_at__isnull=True, revoked_at__isnull=True)),
        ]
        indexes = [models.Index(fields=["operator", "kind"])]
        verbose_name = "certificat"
        verbose_name_plural = "certificats"

    def __str__(self):
        return f"{self.get_kind_display()} {self.subject} ({self.serial})"

    @property
    def state(self):
        return self.state_at(timezone.now())

    def state_at(self, now):
        """« revoque », « expire », « remplace » or « valide » at ``now`` (``certificates.queries.state_filter`` is
        the same rule as a database filter)."""
        if self.revoked_at:
            return "revoque"
        if self.not_after <= now:
            return "expire"
        if self.superseded_at:
            return "remplace"
        return "valide"


class RefusedViCertificate(models.Model):
    """What a DRIMbox's `vi` endpoint presented (its certificate and chain) when it failed the market rules: it is not
    in the inventory. Kept once per DRIMbox and presentation (leaf and chain as sent), so that the prober does not
    evaluate it again at every round; shown with its rules on the DRIMbox's certificate page. A new certificate, or
    the same one with another chain, is a new presentation and is evaluated again."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="refused_vi_certificates")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    presented_sha256 = models.CharField("empreinte de la présentation (certificat et chaîne)", max_length=64)
    fingerprint_sha256 = models.CharField("empreinte SHA-256 du certificat", max_length=95)
    pem = models.TextField("certificat et chaîne présentés (PEM)")
    subject = models.CharField(max_length=1000, blank=True)
    issuer = models.CharField(max_length=1000, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    checks = models.JSONField("règles vérifiées", default=list)
    seen_at = models.DateTimeField("présenté le", default=timezone.now)

    class Meta:
        ordering = ["-seen_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["drimbox", "presented_sha256"], name="refused_vi_once")]
        verbose_name = "certificat vi présenté et refusé"
        verbose_name_plural = "certificats vi présentés et refusés"

    def __str__(self):
        return f"Certificat vi refusé {self.subject or self.fingerprint_sha256} (DRIMbox {self.drimbox_id})"

    @property
    def failed_checks(self):
        return [check for check in self.checks if check.get("ok") is False]


class CrlCache(models.Model):
    """The last good copy of a CRL, and how its latest fetch went (a stale CRL is shown as such)."""

    url = models.URLField(max_length=500, unique=True)
    der = models.BinaryField(null=True, blank=True)
    this_update = models.DateTimeField(null=True, blank=True)
    next_update = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "CRL en cache"
        verbose_name_plural = "CRL en cache"

    def __str__(self):
        return self.url


class AcmeAccount(models.Model):
    """The portal's account at an ACME CA; its key is stored encrypted with a key from the environment."""

    directory_url = models.URLField(max_length=500, unique=True)
    key_encrypted = models.BinaryField()
    account_uri = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "compte ACME"
        verbose_name_plural = "comptes ACME"

    def __str__(self):
        return f"Compte ACME {self.account_uri or 'non enregistré'} ({self.directory_url})"


class ViOrderStatus(models.TextChoices):
    PENDING = "en_attente", "En attente"
    ISSUED = "emis", "Émis"
    FAILED = "echec", "Échec"
    CANCELLED = "annule", "Annulé"


class ViOrder(StateMachineMixin, models.Model):
    """A request for a `vi` certificate from a CSR (first issuance or renewal), processed by a task."""

    # A failed order stays failed: the operator sends a new CSR (a new order).
    TRANSITIONS = {
        ViOrderStatus.PENDING: {ViOrderStatus.ISSUED, ViOrderStatus.FAILED, ViOrderStatus.CANCELLED},
    }

    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="vi_orders")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    csr_pem = models.TextField()
    status = models.CharField(max_length=12, choices=ViOrderStatus.choices, default=ViOrderStatus.PENDING)
    renewal_of = models.ForeignKey(Certificate, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    certificate = models.OneToOneField(Certificate, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="vi_order")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["drimbox"], condition=Q(status="en_attente"), name="one_pending_vi_order",
                                    violation_error_message="Une demande de certificat vi est déjà en cours."),
        ]
        verbose_name = "demande de certificat vi"
        verbose_name_plural = "demandes de certificat vi"

    def __str__(self):
        return f"Demande de certificat vi {self.pk} de la DRIMbox {self.drimbox_id} ({self.get_status_display()})"

    def transition_refused_message(self, new_status):
        return f"Cette demande de certificat est « {self.status_label().lower()} »."


def new_acme_dns_username():
    return str(uuid.uuid4())


class AcmeDnsCredential(models.Model):
    """acme-dns-compatible credentials: they can only set TXT records at ``_acme-challenge.<vi fqdn>``."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.PROTECT, related_name="acme_dns_credentials")
    username = models.CharField(max_length=36, unique=True, default=new_acme_dns_username)
    password_hash = models.CharField(max_length=128)
    subdomain = models.CharField(max_length=36, unique=True, default=new_acme_dns_username)
    txt_values = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["drimbox"], condition=Q(revoked_at__isnull=True),
                                    name="one_live_acme_dns_credential"),
        ]
        verbose_name = "identifiant acme-dns"
        verbose_name_plural = "identifiants acme-dns"

    def __str__(self):
        return f"Identifiants acme-dns {self.username} de la DRIMbox {self.drimbox_id}"

    @property
    def challenge_name(self):
        return f"_acme-challenge.{self.drimbox.vi_fqdn}"


class ExpiryNotice(models.Model):
    """One notice per certificate and threshold (J-60, J-15…), whatever the number of runs."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="expiry_notices")
    threshold_days = models.PositiveIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["certificate", "threshold_days"],
                                               name="one_notice_per_threshold")]
        verbose_name = "avis d'expiration"
        verbose_name_plural = "avis d'expiration"

    def __str__(self):
        return f"Avis J-{self.threshold_days} pour le certificat {self.certificate_id}"


class RevocationStatus(models.TextChoices):
    PENDING = "a_faire", "À faire"
    DONE = "faite", "Faite"
    FAILED = "echec", "Échec, réessai prévu"
    IMPOSSIBLE = "impossible", "Impossible, sans nouvel essai"
    CLOSED = "close", "Close sans révocation par l'ANS"


# Revocations the portal no longer works on: another one of the same certificate may be opened.
CLOSED_REVOCATION_STATUSES = (RevocationStatus.DONE, RevocationStatus.IMPOSSIBLE, RevocationStatus.CLOSED)
# Revocations nothing is left to do for: a switch or a withdrawal is complete once all of its own are.
SETTLED_REVOCATION_STATUSES = (RevocationStatus.DONE, RevocationStatus.CLOSED)


class Revocation(StateMachineMixin, models.Model):
    """A certificate to revoke: through ACME for `vi`, by the technical administrator for IGC-Santé `db`
    (no public API), confirmed when the serial appears in the CRL."""

    # A failed ACME attempt is retried with backoff (it stays failed until one succeeds); an answer that
    # cannot change (the CA does not know the certificate) ends it as impossible: no more attempts. An
    # ANS administrator then closes it without revocation, with a reason (``close_impossible_revocation``),
    # which lets the switch or withdrawal that called for it complete.
    TRANSITIONS = {
        RevocationStatus.PENDING: {RevocationStatus.DONE, RevocationStatus.FAILED, RevocationStatus.IMPOSSIBLE},
        RevocationStatus.FAILED: {RevocationStatus.DONE, RevocationStatus.IMPOSSIBLE},
        RevocationStatus.IMPOSSIBLE: {RevocationStatus.CLOSED},
    }

    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="revocations")
    pending_revocation = models.ForeignKey(PendingRevocation, null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    reason = models.CharField(max_length=32)
    reason_code = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=RevocationStatus.choices, default=RevocationStatus.PENDING)
    deadline = models.DateTimeField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # « Close sans révocation par l'ANS »: who, when, why (shown with the revocation, and in the audit).
    closed_at = models.DateTimeField("close le", null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name="close par")
    closed_reason = models.TextField("motif de clôture sans révocation", blank=True)

    class Meta:
        ordering = ["deadline", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["certificate"],
                                    condition=~Q(status__in=["faite", "impossible", "close"]),
                                    name="one_open_revocation"),
        ]
        verbose_name = "révocation"
        verbose_name_plural = "révocations"

    def __str__(self):
        return f"Révocation du certificat {self.certificate_id} ({self.get_status_display()})"

    def transition_subject(self):
        return f"La révocation du certificat n° {self.certificate.serial}"

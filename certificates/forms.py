"""Forms of the certificate pages (input only; the rules live in ``validation`` and ``services``)."""
from django import forms
from dsfr.forms import DsfrBaseForm

from certificates.services.revocations import CLOSE_REASON_MAX_LENGTH, CLOSE_REASON_MIN_LENGTH
from trustspace.idempotency import SubmissionTokenMixin

REVOCATION_REASONS = [
    ("compromission", "Compromission de la clé privée"),
    ("remplacement", "Certificat remplacé"),
    ("retrait", "Arrêt de la DRIMbox"),
]


class CertificateUploadForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "db"
    file = forms.FileField(label="Certificat IGC-Santé du nom db (PEM ou DER, partie publique seulement)",
                           help_text="Le certificat serveur, suivi si besoin de ses autorités intermédiaires. "
                                     "Ne joignez jamais la clé privée.")


class MarketCertificateUploadForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "market"
    file = forms.FileField(label="Certificat du nom vi délivré par une autorité du marché (PEM ou DER, partie "
                                 "publique seulement)",
                           help_text="Le certificat, suivi de ses autorités intermédiaires. Un seul nom : celui de la "
                                     "visionneuse, sans wildcard ; signature SHA-256 ou plus forte ; clé RSA d'au "
                                     "moins 2048 bits ou ECDSA P-256/P-384. Ne joignez jamais la clé privée.")


class CsrUploadForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "vi"
    file = forms.FileField(label="Demande de certificat (CSR, PEM) pour le nom vi",
                           help_text="Un seul nom : celui de la visionneuse ; clé RSA d'au moins 2048 bits, "
                                     "signature SHA-256. La clé privée reste sur la DRIMbox.")


class RevokeForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "revoke"
    reason = forms.ChoiceField(label="Motif de la révocation", choices=REVOCATION_REASONS,
                               error_messages={"required": "Choisissez le motif de la révocation."})


class CloseRevocationForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Clore sans révocation » (ANS): a revocation the CA cannot do, closed with a reason the operator reads."""

    prefix = "close"
    reason = forms.CharField(
        label="Motif de la clôture sans révocation", widget=forms.Textarea(attrs={"rows": 4}),
        min_length=CLOSE_REASON_MIN_LENGTH, max_length=CLOSE_REASON_MAX_LENGTH,
        help_text=f"Au moins {CLOSE_REASON_MIN_LENGTH} caractères. Par exemple : certificat émis par une autre "
                  "autorité, déjà hors service, révoqué par son émetteur. Le motif est envoyé aux administrateurs "
                  "techniques de l'opérateur et conservé dans l'historique.",
        error_messages={
            "required": "Indiquez pourquoi la révocation est close sans révocation.",
            "min_length": f"Le motif doit compter au moins {CLOSE_REASON_MIN_LENGTH} caractères : dites pourquoi le "
                          "certificat peut rester non révoqué.",
            "max_length": f"Le motif ne doit pas dépasser {CLOSE_REASON_MAX_LENGTH} caractères.",
        })


class AcmeDnsForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Créer des identifiants » acme-dns: no field but the submission token (sent twice, it creates once)."""

    prefix = "acmedns"

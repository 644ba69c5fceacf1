"""Forms of the certificate pages (input only; the rules live in ``validation`` and ``services``)."""
from django import forms
from dsfr.forms import DsfrBaseForm

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


class AcmeDnsForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Créer des identifiants » acme-dns: no field but the submission token (sent twice, it creates once)."""

    prefix = "acmedns"

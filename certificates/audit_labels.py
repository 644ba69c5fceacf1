"""French labels of the audit actions and recorded fields of certificates (see trustspace.audit_labels)."""
from .models import RevocationStatus

ACTIONS = {
    "certificate.db.stored": "Certificat db enregistré",
    "certificate.vi.stored": "Certificat vi enregistré",
    "certificate.expiry_notice": "Avis d'expiration du certificat envoyé",
    "certificate.revocation_opened": "Révocation du certificat engagée",
    "certificate.revoked": "Certificat révoqué",
    "certificate.revocation_impossible": "Révocation du certificat impossible (refusée par l'autorité)",
    "certificate.revocation_closed": "Révocation impossible close sans révocation par l'ANS",
    "certificate.vi.requested": "Certificat vi demandé",
    "certificate.vi.attempt_failed": "Échec d'une tentative d'obtention du certificat vi",
    "certificate.vi.order_cancelled": "Demande de certificat vi annulée",
    "certificate.vi.renewal_queued": "Renouvellement du certificat vi programmé",
    "certificate.vi.discovery_refused": "Certificat vi présenté refusé",
    "acme.account_created": "Compte ACME créé",
    "acme_dns.registered": "Identifiant acme-dns créé",
    "acme_dns.updated": "Valeur acme-dns mise à jour",
    "acme_dns.revoked": "Identifiant acme-dns révoqué",
}

FIELDS = {
    "drimbox": "DRIMbox",
    "operator": "Opérateur",
    "kind": "Type",
    "source": "Origine",
    "serial": "Numéro de série",
    "fingerprint_sha256": "Empreinte SHA-256",
    "fingerprint": "Empreinte",
    "subject": "Sujet",
    "issuer": "Émetteur",
    "not_before": "Valide à partir du",
    "not_after": "Valide jusqu'au",
    "validation_level": "Niveau de validation",
    "revocation_reason": "Motif de révocation",
    "deadline": "Échéance",
    "renewal_of": "Renouvellement de",
    "error": "Erreur",
    "failed": "Règles non satisfaites",
    "uri": "Adresse du compte",
    "username": "Identifiant",
    "subdomain": "Sous-domaine",
    "threshold_days": "Seuil (jours)",
}

# The certificate's revocation, recorded on the certificate (which has no status of its own).
ACTION_FIELDS = {
    "certificate.revocation_closed": {
        "status": ("Statut de la révocation", RevocationStatus.choices),
        "pending_revocation": "Bascule ou retrait concerné",
    },
}

"""French labels of the audit actions and recorded fields of operators (see trustspace.audit_labels)."""
from .models import AttachmentKind
from .request_data import LABELS as REQUEST_DATA_LABELS
from .services.financing_orders import DocumentKind

ACTIONS = {
    # operators and their people
    "operator.registered": "Opérateur enregistré",
    "operator.updated": "Coordonnées de l'opérateur modifiées",
    "operator.support_contact_updated": "Contact support modifié",
    "operator.channels_updated": "Canaux de notification modifiés",
    "contract.published": "Version du contrat publiée",
    "contract.accepted": "Contrat d'adhésion accepté",
    "membership.created": "Rôle attribué",
    "membership.ended": "Rôle retiré",
    "invitation.created": "Invitation envoyée",
    "invitation.accepted": "Invitation acceptée",
    "invitation.revoked": "Invitation annulée",
    "invitation.expired": "Invitation expirée",
    # requests
    "request.created": "Demande créée",
    "request.updated": "Demande modifiée",
    "request.attachment_added": "Pièce jointe ajoutée",
    "request.submitted": "Demande soumise",
    "request.cancelled": "Demande annulée",
    "request.commented": "Commentaire ajouté",
    "request.assigned": "Demande prise en charge",
    "request.changes_requested": "Modifications demandées",
    "request.rejected": "Demande refusée",
    "request.approved": "Demande approuvée",
    "request.requalified": "Demande requalifiée",
    "request.addressed": "Demande rattachée à l'opérateur",
    # DRIMboxes
    "drimbox.declared": "DRIMbox déclarée",
    "drimbox.updated": "Données d'installation modifiées",
    "drimbox.status_changed": "Statut de la DRIMbox modifié",
    "drimbox.switched": "DRIMbox reprise d'un autre opérateur",
    "drimbox.switched_away": "DRIMbox transférée à un autre opérateur",
    "drimbox.eligibility_overridden": "Éligibilité accordée par dérogation",
    "pending_revocation.completed": "Révocation due effectuée",
    "dns.applied": "Enregistrements DNS appliqués",
    # documents
    "attestation.issued": "Attestation délivrée",
    "attestation.superseded": "Attestation remplacée",
    "va.due": "Document VA attendu",
    "va.uploaded": "Document VA déposé",
    "va.validated": "Document VA validé",
    "va.refused": "Document VA refusé",
    "va.closed": "Document VA clos",
    "va.reminded": "Rappel du document VA envoyé",
    "va.ris_signalled": "Mise à jour du RIS signalée",
    "va.lifting_uploaded": "Levée des réserves déposée",
    "va.reservations_lifted": "Réserves levées",
    "va.lifting_refused": "Levée des réserves refusée",
    "va.reservations_reminded": "Rappel de levée des réserves envoyé",
    # financing orders
    "financing_order.created": "Bon de commande créé",
    "financing_order.client_added": "Client ajouté au bon de commande",
    "financing_order.client_updated": "Client du bon de commande modifié",
    "financing_order.pacs_added": "PACS ajouté au bon de commande",
    "financing_order.document_attached": "Document joint au bon de commande",
    "financing_order.closed": "Bon de commande clos",
    "financing_order.transferred": "Bon de commande transféré",
}


def _capitalised(labels):
    return {key: label[:1].upper() + label[1:] for key, label in labels.items()}


# Keys of a request's data; the generic words stay generic elsewhere (« Nom » of a file, of a DNS record…).
_DATA_LABELS = {key: label for key, label in REQUEST_DATA_LABELS.items() if key not in {"name", "reason", "message"}}

FIELDS = {
    **_capitalised(_DATA_LABELS),
    "message": "Message",
    "id_nat_struct": "Identifiant national de structure",
    # operators, people, contract
    "operator": "Opérateur",
    "user": "Personne",
    "role": "Rôle",
    "email": "Adresse électronique",
    "expires_at": "Expire le",
    "accepted_by": "Acceptée par",
    "accepted_at": "Acceptée le",
    "ended_at": "Fin du rôle",
    "end_reason": "Motif de fin",
    "mandate_document": "Mandat",
    "card_reference": "Carte",
    "contract_version": "Version du contrat",
    "version": "Version",
    "title": "Titre",
    "body_sha256": "Empreinte du texte",
    "support_contact": "Contact support",
    "webhook_secret": "Secret du webhook",
    "webhook_url": "Adresse du webhook",
    # requests
    "reference": "Référence",
    "status": "Statut",
    "drimbox": "DRIMbox",
    "data": "Données",
    "assigned_to": "Instruite par",
    "eligibility_override_reason": "Motif de la dérogation d'éligibilité",
    "decision_reason": "Motif de la décision",
    "request": "Demande",
    "new_operator": "Nouvel opérateur",
    # DRIMboxes and DNS
    "identifiant": "Identifiant",
    "db_fqdn": "Nom db",
    "vi_fqdn": "Nom vi",
    "health_structure": "Structure de santé",
    "db_records": "Enregistrements db",
    "vi_records": "Enregistrements vi",
    "records": "Enregistrements",
    "integrated_at": "Intégrée le",
    "withdrawn_at": "Retirée le",
    "previous_operator": "Opérateur précédent",
    # documents
    "due_at": "Échéance",
    "original_name": "Fichier",
    "refusal_reason": "Motif du refus",
    "with_reservations": "Avec réserves",
    "ris_signalled_on": "RIS signalé le",
    "reservations_due_at": "Échéance des réserves",
    "lifting_original_name": "Document de levée des réserves",
    "lifting_sha256": "Empreinte du document de levée",
    "lifting_refusal_reason": "Motif du refus de la levée",
    "thresholds": "Seuils de rappel",
    "issued_at": "Délivrée le",
    "superseded_at": "Remplacée le",
    "code": "Code de vérification",
    # financing orders
    "client": "Client",
    "closed_reason": "Motif de clôture",
    "signed_sha256": "Empreinte du bon signé",
    "activity_2023": "Activité 2023",
    "ris_wave": "Vague RIS",
    "ris_order_reference": "Référence de commande RIS",
    "takeover_siren": "SIREN repris",
    "takeover_name": "Raison sociale reprise",
    "takeover_proof_sha256": "Empreinte du justificatif de reprise",
    "signature_sha256": "Empreinte de la page de signature",
    "sites": "FINESS géographiques",
    "physicians": "Numéros AM",
    "finess": "FINESS géographiques",
    "am": "Numéros AM",
}

# ids recorded under a key that is not a foreign key of the audited object
REFERENCES = {
    "new_operator": "operators.operator",
    "previous_operator": "operators.operator",
}

# keys that an action records in its own sense
ACTION_FIELDS = {
    "request.attachment_added": {"kind": ("Pièce", AttachmentKind.choices), "name": "Fichier"},
    "financing_order.document_attached": {"kind": ("Document", DocumentKind.CHOICES), "client": "Client (SIREN)",
                                          "name": "Fichier"},
}

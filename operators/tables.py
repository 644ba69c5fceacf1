"""The columns of ANS's and the operators' lists (sort keys shown in the header, the exports' columns and rows):
the FQDN registry, the operators, the review queue and an operator's requests (``trustspace.tables``)."""
from trustspace.tables import Column

# --- The FQDN registry (ANS) ----------------------------------------------------------------------------------

REGISTRY_COLUMNS = (
    Column("identifiant", "Identifiant", ("identifiant",)),
    Column("db", "Nom db", ("db_fqdn",)),
    Column("vi", "Nom vi"),
    Column("operateur", "Opérateur", ("operator__name",)),
    Column("structure", "Structure", ("health_structure__name",)),
    Column("statut", "Statut", ("status",)),
)
REGISTRY_EXPORT = ["Identifiant", "Nom db", "Nom vi", "Opérateur", "SIREN de l'opérateur", "Structure de santé",
                   "SIREN de la structure", "FINESS géographique", "PACS", "Statut", "DNS en attente", "Déclarée le",
                   "Intégrée le", "Retirée le"]


def registry_row(d):
    structure = d.health_structure
    return [d.identifiant, d.db_fqdn, d.vi_fqdn or "Sans visionneuse", d.operator.name, d.operator.siren,
            structure.name, structure.siren, structure.finess_geographique, d.pacs, d.get_status_display(),
            d.dns_pending, d.created_at, d.integrated_at, d.withdrawn_at]


# --- The operators (ANS) --------------------------------------------------------------------------------------

OPERATOR_COLUMNS = (
    Column("nom", "Nom", ("name",)),
    Column("siren", "SIREN", ("siren",)),
    Column("idnat", "idNat_Struct", ("id_nat_struct",)),
    Column("contrat", "Contrat en vigueur", ("accepted_current",)),
    Column("rl", "Représentants légaux", ("legal_count",)),
    Column("at", "Adm. techniques", ("technical_count",)),
    Column("drimbox", "DRIMbox", ("drimbox_count",)),
)
OPERATOR_EXPORT = ["Nom", "SIREN", "SIRET", "idNat_Struct", "Adresse", "Code postal", "Ville", "Courriel de contact",
                   "Contrat en vigueur accepté", "Représentants légaux", "Administrateurs techniques", "DRIMbox",
                   "Enregistré le"]


def operator_row(op):
    return [op.name, op.siren, op.siret, op.id_nat_struct, op.address_line, op.postal_code, op.city,
            op.contact_email, op.accepted_current, op.legal_count, op.technical_count, op.drimbox_count,
            op.created_at]


# --- Requests: ANS's review queue and an operator's « Mes demandes » -------------------------------------------

REVIEW_COLUMNS = (
    Column("reference", "Référence", ("reference",)),
    Column("type", "Type", ("kind",)),
    Column("operateur", "Opérateur", ("operator__name",)),
    Column("drimbox", "DRIMbox", ("drimbox__identifiant",)),
    Column("statut", "Statut", ("status",)),
    Column("soumise", "Soumise le", ("submitted_at",)),
    Column("relecteur", "Relecteur", ("assigned_to__last_name", "assigned_to__first_name")),
)
OPERATOR_REQUEST_COLUMNS = (
    Column("reference", "Référence", ("reference",)),
    Column("type", "Type", ("kind",)),
    Column("drimbox", "DRIMbox", ("drimbox__identifiant",)),
    Column("statut", "Statut", ("status",)),
    Column("creee", "Créée le", ("created_at",)),
    Column("relecteur", "Relecteur ANS", ("assigned_to__last_name", "assigned_to__first_name")),
)
REQUEST_EXPORT = ["Référence", "Type", "Opérateur", "Identifiant DRIMbox", "Nom db", "Statut", "Créée le",
                  "Soumise le", "Relecteur ANS", "Décidée le", "Motif de la décision"]


def request_row(r):
    return [r.reference, r.get_kind_display(), r.party_name, r.drimbox.identifiant if r.drimbox else None,
            r.drimbox.db_fqdn if r.drimbox else "", r.get_status_display(), r.created_at, r.submitted_at,
            r.assigned_to.display_name if r.assigned_to else "", r.decided_at, r.decision_reason]

"""French labels of the audit actions and recorded fields of the weather (see trustspace.audit_labels)."""

ACTIONS = {
    "weather.incident_opened": "Incident ouvert",
    "weather.incident_restored": "Service rétabli",
    "weather.incident_acknowledged": "Incident pris en compte",
    "weather.maintenance_declared": "Maintenance déclarée",
    "weather.maintenance_cancelled": "Maintenance annulée",
    "weather.maintenance_ended_early": "Maintenance terminée plus tôt",
    "weather.location_activated": "Point de sonde activé",
    "weather.location_deactivated": "Point de sonde désactivé",
    "weather.measurement_policy_created": "Politique de mesure créée",
    "weather.history_loaded": "Historique météo chargé",
}

FIELDS = {
    "drimbox": "DRIMbox",
    "active": "Actif",
    "opened_at": "Ouvert le",
    "restored_at": "Rétabli le",
    "gti_due_at": "Échéance GTI",
    "gtr_due_at": "Échéance GTR",
    "acknowledged_at": "Pris en compte le",
    "acknowledged_by": "Pris en compte par",
    "acknowledgement_comment": "Commentaire de prise en compte",
    "starts_at": "Début",
    "ends_at": "Fin",
    "cancelled_at": "Annulée le",
    "version": "Version",
    "reference_period": "Période de référence",
    "support_hours_only": "Heures de support seulement",
    "maintenance_counts": "Maintenance décomptée",
    "effective_from": "En vigueur à partir du",
    "comment": "Commentaire",
    "transitions": "Changements de statut",
    "incidents": "Incidents",
    "history_from": "Historique depuis le",
    "history_until": "Historique jusqu'au",
}

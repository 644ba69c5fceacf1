"""Serializers of the weather API.

The public list is built from ``values()`` rows (10,000 DRIMboxes in one query); its serializers here
document the shape for the OpenAPI schema. Input serializers check shapes only; the rules stay in
``weather.services``.
"""
from rest_framework import serializers

from operators.api.serializers.fields import BoundedCharField

from ..history import iso_utc
from ..models import GeneratedReportStatus, ReferencePeriod, WeatherStatus

STATUS_HELP = "État : " + ", ".join(f"`{value}` ({label})" for value, label in WeatherStatus.choices) + "."


def utc(value):
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (None stays None)."""
    return iso_utc(value)


# --- Public outputs ---------------------------------------------------------------------------------


class WeatherRowSerializer(serializers.Serializer):
    identifiant = serializers.IntegerField()
    db = serializers.CharField(help_text="Nom du point d'accès DRIMbox-à-DRIMbox.")
    vi = serializers.CharField(allow_blank=True, help_text="Nom de la visionneuse (peut être vide).")
    operator = serializers.CharField(help_text="Raison sociale de l'opérateur.")
    status = serializers.CharField(help_text=STATUS_HELP + " `maintenance` quand une maintenance déclarée couvre "
                                   "l'instant présent.")
    since = serializers.DateTimeField(allow_null=True, help_text="Depuis quand cet état dure (UTC).")


class WeatherListSerializer(serializers.Serializer):
    """One page of the DRIMboxes' weather (``?limit=``/``?offset=`` as every API list)."""

    generated_at = serializers.DateTimeField()
    count = serializers.IntegerField(help_text="Nombre de DRIMbox retenues par les filtres (toutes pages).")
    next = serializers.URLField(allow_null=True, help_text="La page suivante (null : dernière page).")
    previous = serializers.URLField(allow_null=True, help_text="La page précédente (null : première page).")
    results = WeatherRowSerializer(many=True)


class DayCellSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="Jour civil (Europe/Paris).")
    status = serializers.CharField(help_text="Le pire état du jour. " + STATUS_HELP)
    down_minutes = serializers.IntegerField(help_text="Minutes indisponible hors maintenance déclarée.")
    degraded_minutes = serializers.IntegerField()
    maintenance_minutes = serializers.IntegerField()
    no_data_minutes = serializers.IntegerField()


class ClockSerializer(serializers.Serializer):
    elapsed_seconds = serializers.IntegerField(help_text="Temps écoulé en heures ouvrées.")
    target_seconds = serializers.IntegerField()
    due_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField(help_text="Échéance dépassée : l'arrêt (prise en compte, rétablissement) est "
                                                 "postérieur à due_at, ou n'a pas eu lieu à due_at.")
    note = serializers.CharField(allow_blank=True, help_text="« non pris en compte » (rétabli sans prise en compte), "
                                                             "« pendant une maintenance déclarée » (jamais dépassé).")


class IncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifiant = serializers.IntegerField(source="drimbox.identifiant")
    db = serializers.CharField(source="drimbox.db_fqdn")
    operator = serializers.CharField(source="drimbox.operator.name")
    opened_at = serializers.DateTimeField()
    reason = serializers.CharField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    restored_at = serializers.DateTimeField(allow_null=True)
    gti = serializers.SerializerMethodField()
    gtr = serializers.SerializerMethodField()

    def _clock(self, clock):
        return {"elapsed_seconds": int(clock.elapsed.total_seconds()),
                "target_seconds": int(clock.target.total_seconds()),
                "due_at": utc(clock.due_at), "stopped_at": utc(clock.stopped_at), "overdue": clock.overdue,
                "note": clock.note}

    def get_gti(self, incident) -> ClockSerializer:
        return self._clock(incident.gti)

    def get_gtr(self, incident) -> ClockSerializer:
        return self._clock(incident.gtr)


class MaintenanceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifiant = serializers.IntegerField(source="drimbox.identifiant")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField()
    cancelled_at = serializers.DateTimeField(allow_null=True)


class WeatherDetailSerializer(WeatherRowSerializer):
    probed_status = serializers.CharField(help_text="Ce que les sondes voient, maintenance ou non.")
    reason = serializers.CharField(allow_blank=True)
    availability_percent = serializers.FloatField(allow_null=True, help_text=(
        "Part de la période affichée sans indisponibilité (hors maintenance), sur le temps mesuré."))
    history = DayCellSerializer(many=True)
    incidents = IncidentSerializer(many=True)
    maintenance = MaintenanceSerializer(many=True)


# --- Operator inputs and outputs ------------------------------------------------------------------


class AcknowledgeSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class OperatorIncidentSerializer(IncidentSerializer):
    acknowledgement_comment = serializers.CharField()


class MaintenanceInputSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text="Début (ISO 8601 avec fuseau, ex. 2026-03-02T20:00:00+01:00).")
    ends_at = serializers.DateTimeField(help_text="Fin, postérieure au début.")
    reason = serializers.CharField(max_length=300)


# --- The measurement policy (ANS) -------------------------------------------------------------------


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` as JSON writes them: the schema says boolean, so « oui », 1 or "true" are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class StrictTextField(BoundedCharField):
    """A JSON string, within ``max_length`` as sent: a number is not a text (the schema says string)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PolicyVersionInputSerializer(serializers.Serializer):
    """A new version, as the policy page asks for it (the rules are ``weather.services.create_policy_version``'s)."""

    reference_period = serializers.ChoiceField(choices=ReferencePeriod.choices, help_text=(
        "Période de référence : `month` (mois civil) ou `quarter` (trimestre civil), heure de Paris."))
    support_hours_only = StrictBooleanField(help_text=(
        "Ne compter que les heures ouvrées (lundi–vendredi 9 h–19 h et samedi 9 h–13 h, heure de Paris, hors "
        "dimanches et jours fériés)."))
    maintenance_counts = StrictBooleanField(help_text=(
        "Compter l'indisponibilité pendant une maintenance déclarée."))
    effective_from = serializers.RegexField(
        r"^[0-9]{4}-(0[1-9]|1[0-2])$", max_length=7, trim_whitespace=False,
        error_messages={"invalid": "Saisissez un mois au format AAAA-MM."},
        help_text="Applicable à partir de ce mois (AAAA-MM) : son premier jour à 0 h, heure de Paris. Le mois en "
                  "cours ou un mois à venir, après la dernière version ; le premier mois d'un trimestre pour une "
                  "politique trimestrielle, ou quand la version en vigueur est trimestrielle.")
    comment = StrictTextField(max_length=2000, help_text="Motif du changement (affiché avec les rapports PERF).")


class PolicyVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    reference_period = serializers.CharField(help_text="`month` (mois civil) ou `quarter` (trimestre civil).")
    reference_period_label = serializers.CharField(source="get_reference_period_display")
    support_hours_only = serializers.BooleanField()
    maintenance_counts = serializers.BooleanField()
    effective_from = serializers.DateTimeField(help_text="Applicable aux périodes commençant à partir de cet instant.")
    created_at = serializers.DateTimeField()
    created_by = serializers.SerializerMethodField(help_text="Qui l'a créée (null : la version initiale).")
    comment = serializers.CharField(allow_blank=True)
    description = serializers.CharField(source="describe", help_text="La version décrite comme les rapports la "
                                                                     "citent.")

    def get_created_by(self, policy) -> str | None:
        return policy.created_by.display_name if policy.created_by_id else None


class PolicyListSerializer(serializers.Serializer):
    """The version in force and one page of every version, newest first."""

    current = PolicyVersionSerializer(help_text="La version qui mesure le mois en cours.")
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PolicyVersionSerializer(many=True)


# --- PERF across DRIMboxes ----------------------------------------------------------------------------


class PerfPeriodSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="La période, telle que `period` l'accepte (AAAA-MM ou AAAA-Tn).")
    kind = serializers.CharField(help_text="`month` ou `quarter`.")
    label = serializers.CharField(help_text="« mars 2026 », « 1er trimestre 2026 ».")
    start = serializers.DateTimeField(help_text="Début (inclus).")
    end = serializers.DateTimeField(help_text="Fin (exclue).")


class PerfOperatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PerfRowSerializer(serializers.Serializer):
    """One DRIMbox of the report: the columns of the CSV, XLSX and PDF reports."""

    identifiant = serializers.IntegerField()
    db_fqdn = serializers.CharField()
    operator = PerfOperatorSerializer()
    df_seconds = serializers.IntegerField(help_text="Df : durée d'indisponibilité sur la période, en secondes "
                                                    "(selon la politique de mesure).")
    df_hhmm = serializers.CharField(help_text="Df en heures et minutes (h:mm).")
    perf = serializers.FloatField(help_text="PERF : 1 si Df ≤ 10 h ; 0,5 si 10 h < Df ≤ 20 h ; 0 si Df > 20 h.")
    down_count = serializers.IntegerField(help_text="Passages en indisponibilité pendant la période.")
    policy_version = serializers.IntegerField(help_text="Version de la politique de mesure.")


class PerfSummarySerializer(serializers.Serializer):
    full = serializers.IntegerField(help_text="DRIMbox à PERF 1 (toutes pages).")
    half = serializers.IntegerField(help_text="DRIMbox à PERF 0,5.")
    zero = serializers.IntegerField(help_text="DRIMbox à PERF 0.")


class PerfReportSerializer(serializers.Serializer):
    """The PERF report of a period (what the CSV, XLSX and PDF reports say), its DRIMboxes page by page."""

    period = PerfPeriodSerializer()
    policy = PolicyVersionSerializer(help_text="La version de la politique de mesure qui a calculé le rapport.")
    generated_at = serializers.DateTimeField()
    measured_until = serializers.DateTimeField(help_text="La fin de la période, ou maintenant pour la période en "
                                                         "cours.")
    partial = serializers.BooleanField(help_text="Vrai pour la période en cours (mesurée jusqu'à maintenant).")
    summary = PerfSummarySerializer()
    count = serializers.IntegerField(help_text="Nombre de DRIMbox du rapport (toutes pages).")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PerfRowSerializer(many=True)


class GeneratedReportSerializer(serializers.Serializer):
    """A PERF report too large to lay out within the request: where its preparation stands, then where its file is."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=GeneratedReportStatus.choices, help_text="État : " + ", ".join(
        f"`{value}` ({label})" for value, label in GeneratedReportStatus.choices) + ". Un rapport resté en attente "
        "ou en cours au-delà du délai permis est rendu `echec`.")
    status_label = serializers.CharField()
    period = serializers.CharField(help_text="La période (AAAA-MM ou AAAA-Tn).")
    period_label = serializers.CharField()
    operator = serializers.IntegerField(allow_null=True, help_text="L'opérateur du périmètre ; null : toutes les "
                                                                   "DRIMbox.")
    scope = serializers.CharField()
    format = serializers.CharField()
    rows = serializers.IntegerField(help_text="Nombre de DRIMbox du rapport.")
    requested_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(help_text="Pourquoi le rapport n'a pas été produit (état `echec`), en français.")
    file = serializers.URLField(allow_null=True, help_text="Le fichier, une fois le rapport prêt.")
    size = serializers.IntegerField(help_text="Taille du fichier en octets (0 tant qu'il n'est pas prêt).")

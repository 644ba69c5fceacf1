"""Serializers of the weather API.

The public list is built from ``values()`` rows (10,000 DRIMboxes in one query); its serializers here
document the shape for the OpenAPI schema. Input serializers check shapes only; the rules stay in
``weather.services``.
"""
from rest_framework import serializers

from ..history import iso_utc
from ..models import WeatherStatus

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
    overdue = serializers.BooleanField()
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

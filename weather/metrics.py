"""Domain metrics of the weather (METRICS_COLLECTORS): open incidents, each probe location's reports — how many it
sent (a counter) and how long ago the last one came (a gauge)."""
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily

from trustspace.metrics import PREFIX, age_seconds, gauge

from .models import Incident, ProbeLocation


class WeatherCollector:
    def collect(self):
        now = timezone.now()
        yield gauge("weather_incidents_open", "Incidents de la météo ouverts (non rétablis).",
                    Incident.objects.filter(restored_at__isnull=True).count())
        labels = ("location", "active")
        observed = gauge("weather_location_drimboxes_observed",
                         "DRIMbox dont le point de sonde a un compte rendu (une ligne par DRIMbox).", labels=labels)
        age = gauge("weather_location_last_report_age_seconds",
                    "Secondes depuis le dernier compte rendu de sonde du point (NaN : jamais).", labels=labels)
        rounds = CounterMetricFamily(
            PREFIX + "weather_location_rounds",
            "Comptes rendus de sonde reçus du point (un par lot de DRIMbox sondées) depuis sa création.",
            labels=list(labels))
        for location in ProbeLocation.objects.annotate(observed=Count("observations")).order_by("name"):
            values = [location.name, "1" if location.active else "0"]
            observed.add_metric(values, location.observed)
            age.add_metric(values, age_seconds(location.last_report_at, now))
            rounds.add_metric(values, location.rounds_reported)
        yield from (observed, age, rounds)

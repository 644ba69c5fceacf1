"""Weather conditions for the ANS alerts (registered in settings.ALERT_CHECKS, run by trustspace.alerts)."""
from datetime import timedelta

from django.conf import settings

from trustspace.alerts import CRITICAL, WARNING, Condition
from trustspace.paris_time import paris_datetime, paris_datetime_seconds

from . import targets
from .models import Incident, ProbeLocation


def silent_locations(now):
    """An active probe location sent no round for ALERT_PROBE_SILENT_INTERVALS probe intervals while there are
    DRIMboxes to probe (its workers, its queue or its network are down: the weather goes « pas de données »)."""
    if not targets.current_targets():
        return []  # nothing is probed, so no location reports: not a silence
    interval = int(getattr(settings, "WEATHER_PROBE_INTERVAL", 60))
    limit = timedelta(seconds=interval * settings.ALERT_PROBE_SILENT_INTERVALS)
    conditions = []
    for location in ProbeLocation.objects.filter(active=True).order_by("name"):
        last = location.last_report_at
        if last is not None and now - last <= limit:
            continue
        since = (f"dernier compte rendu le {paris_datetime_seconds(last)}" if last
                 else "aucun compte rendu reçu")
        conditions.append(Condition(
            location.name, f"Sondes muettes : point de sonde « {location.label or location.name} »",
            f"Le point de sonde « {location.name} » n'a envoyé aucun résultat depuis plus de "
            f"{int(limit.total_seconds())} s ({since}). Vérifiez ses workers (file probe.{location.name}).",
            WARNING))
    return conditions


def gti_breaches(now):
    """Open incidents whose GTI (time to the operator's acknowledgement) has passed without acknowledgement."""
    late = (Incident.objects.filter(acknowledged_at__isnull=True, restored_at__isnull=True, gti_due_at__lt=now)
            .select_related("drimbox__operator").order_by("opened_at"))
    conditions = []
    for incident in late:
        box = incident.drimbox
        conditions.append(Condition(
            str(incident.pk), f"GTI dépassée : DRIMbox {box.identifiant} ({box.operator.name})",
            f"L'incident ouvert le {paris_datetime(incident.opened_at)} sur la DRIMbox "
            f"{box.identifiant} ({box.db_fqdn}) de {box.operator.name} n'a pas été pris en compte par l'opérateur "
            f"avant l'échéance GTI du {paris_datetime(incident.gti_due_at)}.\n"
            f"Motif : {incident.reason or '—'}", CRITICAL))
    return conditions

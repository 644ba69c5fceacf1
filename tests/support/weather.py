"""Builders for weather read-side tests: DRIMboxes, transitions, incidents and maintenance windows written
through the ORM (the prober's path is tested on its own), so that pages can be checked at any size."""
import itertools
from datetime import datetime, time, timedelta

from django.db.models import Max
from django.utils import timezone

from operators.models import Drimbox, DrimboxStatus, HealthStructure
from weather.clock import GTI, GTR, PARIS, day_interval, support_add
from weather.models import DrimboxWeather, Incident, MaintenanceWindow, Transition, WeatherStatus
from whitelist.models import PublishedEntry

_structures = itertools.count(1)


def make_drimboxes(operator, count, *, status=DrimboxStatus.ACTIVE, zone="test.mesimagesmedicales.fr",
                   published=None):
    """``count`` DRIMboxes of ``operator`` (bulk insert), Identifiants after the largest in use. Active ones are
    in the published whitelist (as the publication that follows their integration puts them), unless
    ``published`` says otherwise."""
    seed = next(_structures)
    structure = HealthStructure.objects.create(name=f"Centre d'imagerie météo {seed}", siren="732829320",
                                               finess_geographique=f"M{seed:08d}")
    first = (Drimbox.objects.aggregate(m=Max("identifiant"))["m"] or 0) + 1
    boxes = [Drimbox(identifiant=n, site_label="test", db_fqdn=f"db{n}.{zone}", vi_fqdn=f"vi{n}.{zone}",
                     operator=operator, health_structure=structure, pacs=f"PACS-M{n}",
                     support_contact="support@example.fr", status=status)
             for n in range(first, first + count)]
    Drimbox.objects.bulk_create(boxes)
    if published if published is not None else status == DrimboxStatus.ACTIVE:
        PublishedEntry.objects.bulk_create(PublishedEntry(identifiant=box.identifiant, fields_sha256="0" * 64,
                                                          date_maj=timezone.now()) for box in boxes)
    return list(Drimbox.objects.filter(identifiant__gte=first, identifiant__lt=first + count).order_by("identifiant"))


def set_head(drimbox, status, since, reason=""):
    DrimboxWeather.objects.update_or_create(drimbox=drimbox, defaults={"status": status, "since": since,
                                                                       "reason": reason})


def timeline(drimbox, changes, *, initial=WeatherStatus.NO_DATA):
    """Transitions from ``changes`` = [(at, new_status), …] in order; the head follows the last one."""
    previous = initial
    rows = []
    for at, status in changes:
        rows.append(Transition(drimbox=drimbox, old_status=previous, new_status=status, effective_at=at))
        previous = status
    Transition.objects.bulk_create(rows)
    if changes:
        set_head(drimbox, changes[-1][1], changes[-1][0])
    return rows


def support_morning(now, *, days_back=2):
    """10:00 (Paris) on the latest working weekday (Monday to Friday, not a public holiday) at least ``days_back``
    days before ``now``. An incident opened then has both its GTI (10:30) and its GTR (14:00) behind it, whatever
    the hour and the day the test runs; one opened « N hours ago » may have had no support time at all (a night,
    a weekend, a public holiday)."""
    day = now.astimezone(PARIS).date() - timedelta(days=days_back)
    while day.isoweekday() > 5 or day_interval(day) is None:
        day -= timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=PARIS)


def incident(drimbox, opened_at, *, acknowledged_at=None, acknowledged_by=None, restored_at=None,
             reason="db injoignable"):
    return Incident.objects.create(drimbox=drimbox, opened_at=opened_at, reason=reason,
                                   gti_due_at=support_add(opened_at, GTI), gtr_due_at=support_add(opened_at, GTR),
                                   acknowledged_at=acknowledged_at, acknowledged_by=acknowledged_by,
                                   restored_at=restored_at)


def maintenance(drimbox, user, starts_at, ends_at, *, reason="Mise à jour", cancelled_at=None, created_at=None):
    """A window declared (by default) a day before it starts: a window only counts from its declaration."""
    return MaintenanceWindow.objects.create(drimbox=drimbox, starts_at=starts_at, ends_at=ends_at, reason=reason,
                                            declared_by=user, cancelled_at=cancelled_at,
                                            created_at=created_at or starts_at - timedelta(days=1))


def populate(drimboxes, now, *, user=None):
    """Give each DRIMbox a head, a few transitions, and every third one an incident and a maintenance window."""
    for index, box in enumerate(drimboxes):
        timeline(box, [(now - timedelta(days=60), WeatherStatus.OPERATIONAL),
                       (now - timedelta(days=10, hours=index % 5), WeatherStatus.DOWN),
                       (now - timedelta(days=9), WeatherStatus.OPERATIONAL)])
        if index % 3 == 0:
            incident(box, now - timedelta(days=10, hours=index % 5), restored_at=now - timedelta(days=9))
            if user is not None:
                maintenance(box, user, now - timedelta(days=2), now - timedelta(days=2) + timedelta(hours=3))

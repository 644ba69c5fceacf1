"""The demo's probe latencies: 30 days of hourly response times for the active DRIMboxes, through the weather
service the prober feeds, so that the latency charts have a history before the live probes add to it."""
import math
from datetime import timedelta

from django.utils import timezone

from operators.models import Drimbox, DrimboxStatus
from weather import services as weather_services
from weather.models import Incident

DAYS = 30


def _latency(box_index, hour_index):
    """A plausible, repeatable response time in ms: a base per DRIMbox, busier afternoons, a slow spell."""
    base = 38 + 17 * box_index
    daily = 12 * math.sin((hour_index % 24 - 8) / 24 * 2 * math.pi)
    slow = 90 if hour_index % (24 * 9) in range(60, 64) else 0
    return max(5, round(base + daily + slow + (hour_index * 7919 % 13)))


def seed_latency(now=None, days=DAYS):
    """Hourly samples (four probes an hour) for each active DRIMbox, none while it had an incident open."""
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    boxes = list(Drimbox.objects.filter(status=DrimboxStatus.ACTIVE).order_by("identifiant"))
    outages = [(i.drimbox_id, i.opened_at, i.restored_at or now)
               for i in Incident.objects.filter(drimbox__in=boxes)]
    samples = []
    for box_index, box in enumerate(boxes):
        for hour_index in range(days * 24):
            hour = now - timedelta(hours=days * 24 - hour_index)
            if any(d == box.pk and lo <= hour < hi for d, lo, hi in outages):
                continue
            for minute in (5, 20, 35, 50):
                samples.append((box.pk, hour + timedelta(minutes=minute), _latency(box_index, hour_index) + minute % 7))
    return weather_services.add_latency_samples(samples)

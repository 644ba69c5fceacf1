"""``manage.py weather_locations [--activate NAME | --deactivate NAME] [--reason TEXT]``.

Lists the probe locations; a location that reports for the first time is created inactive (it does not
vote in the quorum) until ANS activates it here. Activation and deactivation are audited.
"""
from django.core.management.base import BaseCommand, CommandError

from trustspace.errors import DomainError
from trustspace.paris_time import paris_datetime_seconds
from weather import services
from weather.models import ProbeLocation

ACTOR = "commande weather_locations"


class Command(BaseCommand):
    help = ("Points de sonde de la météo : liste, activation (--activate NOM) ou désactivation (--deactivate NOM). "
            "Un point de sonde inconnu est créé inactif à son premier compte rendu et ne vote pas tant qu'il "
            "n'est pas activé. Chaque changement est journalisé.")

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--activate", metavar="NOM", help="Activer ce point de sonde (il vote).")
        group.add_argument("--deactivate", metavar="NOM", help="Désactiver ce point de sonde (il ne vote plus).")
        parser.add_argument("--reason", default="", help="Motif (journal d'audit).")

    def handle(self, *args, activate=None, deactivate=None, reason="", **options):
        name = activate or deactivate
        if name:
            try:
                location = services.activate_location(name, actor=ACTOR, active=bool(activate), reason=reason)
            except DomainError as exc:
                raise CommandError(exc.message, returncode=2) from exc
            state = "actif" if location.active else "inactif"
            self.stdout.write(f"Point de sonde « {location.name} » : {state}.")
            return
        for location in ProbeLocation.objects.order_by("name"):
            state = "actif" if location.active else "inactif"
            seen = paris_datetime_seconds(location.last_report_at) or "jamais"
            self.stdout.write(f"{location.name}\t{state}\t{location.label}\tdernier compte rendu : {seen}")

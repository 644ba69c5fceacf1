"""``manage.py weather_day_summaries [--rebuild]``.

Stores the closed days of the public weather that the DRIMboxes of the trust space lack (what beat does every
``WEATHER_DAY_SUMMARY_MINUTES``); ``--rebuild`` recomputes every stored day of the history window from the
transitions (after restoring a backup, or to check: the table then holds what the pages would compute).
Running it again changes nothing.
"""
from django.core.management.base import BaseCommand

from weather import services


class Command(BaseCommand):
    help = ("Journées de la météo publique : enregistre les journées closes qui manquent ; --rebuild les recalcule "
            "toutes à partir des transitions. Relancer la commande ne change rien.")

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Recalculer toutes les journées enregistrées.")

    def handle(self, *args, rebuild=False, **options):
        counts = services.record_day_summaries(rebuild=rebuild)
        self.stdout.write(f"{counts['drimboxes']} DRIMbox, {counts['stored']} journées enregistrées, "
                          f"{counts['pruned']} journées hors de l'historique supprimées.")

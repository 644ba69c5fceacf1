"""Load a demo trust space (``demo.trust_space``). Idempotent: run again, it only prints the logins."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.trust_space import LOGINS, is_loaded, load_trust_space


class Command(BaseCommand):
    help = "Charge un Espace de Confiance de démonstration (développement uniquement)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Le jeu de démonstration est réservé au développement (DEBUG=1).")
        if is_loaded():
            self.stdout.write("Jeu de démonstration déjà chargé.")
        else:
            self.stdout.write(self.style.SUCCESS(load_trust_space()))
        self.stdout.write(LOGINS)

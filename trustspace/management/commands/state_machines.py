from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trustspace.statemachine import render_markdown

DOC = Path(settings.BASE_DIR) / "docs" / "state-machines.md"


class Command(BaseCommand):
    help = "Affiche (ou écrit dans docs/state-machines.md) les machines à états des modèles, depuis leurs TRANSITIONS."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="écrit docs/state-machines.md")
        parser.add_argument("--check", action="store_true", help="code 1 si docs/state-machines.md est périmé")

    def handle(self, *args, write=False, check=False, **options):
        text = render_markdown()
        if check:
            if not DOC.exists() or DOC.read_text() != text:
                raise CommandError("docs/state-machines.md est périmé : lancez « manage.py state_machines --write ».")
            self.stdout.write("OK : docs/state-machines.md est à jour.")
        elif write:
            DOC.parent.mkdir(exist_ok=True)
            DOC.write_text(text)
            self.stdout.write(f"Écrit : {DOC}")
        else:
            self.stdout.write(text)

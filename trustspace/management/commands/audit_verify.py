from django.core.management.base import BaseCommand

from trustspace.audit import verify_chain


class Command(BaseCommand):
    help = "Vérifie la chaîne de hachage du journal d'audit : code 0 si intacte, 1 en nommant la première ligne rompue."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.ok:
            self.stdout.write(f"OK : chaîne d'audit intacte ({report.count} lignes)")
            return
        self.stderr.write(f"CHAÎNE ROMPUE à la {report.reason}")
        raise SystemExit(1)

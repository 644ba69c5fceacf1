"""``manage.py perf_report --period YYYY-MM [--format csv|xlsx|pdf] [--output FILE] [--operator SIREN]``."""
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from operators.models import Operator
from trustspace.errors import DomainError
from weather import perf, reports


class Command(BaseCommand):
    help = ("Rapport PERF (Df et PERF de chaque DRIMbox) pour une période, sous la politique de mesure "
            "applicable, en CSV (par défaut, sur la sortie standard), XLSX ou PDF.")

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True,
                            help="Période : AAAA-MM (mois civil, heure de Paris) ou AAAA-Tn (trimestre). Le type "
                                 "doit suivre la politique de mesure applicable : un trimestre demandé sous une "
                                 "politique mensuelle est refusé ; sous une politique trimestrielle, un mois désigne "
                                 "son trimestre.")
        parser.add_argument("--format", dest="fmt", choices=reports.FORMATS, default="csv", help="csv, xlsx ou pdf.")
        parser.add_argument("--output", help="Fichier de sortie (par défaut : sortie standard).")
        parser.add_argument("--operator", help="Restreindre aux DRIMbox d'un opérateur (SIREN).")

    def handle(self, *args, period, fmt, output=None, operator=None, **options):
        scope = ""
        selected = None
        if operator:
            selected = Operator.objects.filter(siren=operator).first()
            if selected is None:
                raise CommandError(f"Aucun opérateur de SIREN « {operator} ».", returncode=2)
            scope = f"{selected.name} (SIREN {selected.siren})"
        try:
            report = perf.compute(period, operator=selected)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        content = reports.render(report, fmt, scope)
        if output:
            try:
                Path(output).write_bytes(content)
            except OSError as exc:
                raise CommandError(f"Écriture impossible dans {output} : {exc}", returncode=2) from exc
            self.stderr.write(f"{reports.filename(report, fmt)} : {len(report.rows)} DRIMbox, "
                              f"{report.policy.describe()} → {output}")
            return
        stream = getattr(self.stdout, "_out", sys.stdout)
        if hasattr(stream, "buffer"):
            stream.flush()
            stream.buffer.write(content)
            stream.buffer.flush()
        elif fmt == "csv":
            stream.write(content.decode("utf-8-sig"))
        else:
            raise CommandError("Ce format binaire exige --output FICHIER ici.", returncode=2)

"""Compare the DNS zone (read by AXFR) with the FQDN registry, both ways; repair with --fix."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from operators import registry, services
from trustspace.dnszone import DnsError, ZoneClient


class Command(BaseCommand):
    help = ("Lit la zone par AXFR et signale les écarts avec le registre : noms inconnus du registre, noms "
            "absents ou différents. --fix répare la zone ; --check sort en erreur (1) s'il y a un écart.")

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Réécrire la zone selon le registre.")
        parser.add_argument("--check", action="store_true", help="Code de sortie 1 en cas d'écart.")

    def handle(self, *args, fix=False, check=False, **options):
        if not registry.dns_configured():
            raise CommandError("Aucun serveur DNS configuré (DNS_SERVER).", returncode=2)
        try:
            drifts = services.reconcile(fix=fix)
        except DnsError as exc:
            raise CommandError(f"Zone non relue : {exc.french} (détail technique : {exc}).", returncode=2) from exc
        zone = settings.FQDN_ZONE
        if not drifts:
            self.stdout.write(f"Zone {zone} conforme au registre.")
            return
        for drift in drifts:
            self.stdout.write("ÉCART " + drift.describe())
        summary = f"{len(drifts)} écart(s) entre la zone {zone} et le registre"
        if fix:
            # Trust the zone, not the updates sent: read it again.
            try:
                remaining = registry.find_drift(ZoneClient.from_settings().read_zone())
            except DnsError as exc:
                raise CommandError(f"Zone illisible après réparation : {exc.french} (détail technique : {exc}).",
                                   returncode=2) from exc
            if remaining:
                for drift in remaining:
                    self.stdout.write("NON RÉPARÉ " + drift.describe())
                raise CommandError(f"{summary} ; {len(remaining)} non réparé(s) (mises à jour refusées ou serveur "
                                   "injoignable : elles restent en attente et seront rejouées).", returncode=1)
            self.stdout.write(f"{summary} : réparé(s), la zone est conforme.")
            return
        if check:
            raise CommandError(summary + ".", returncode=1)
        self.stdout.write(summary + " (relancer avec --fix pour réparer).")

"""``python manage.py whitelist_conformance_kit`` — the conformance kit for DRIMbox vendors (whitelist.conformance)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from whitelist import conformance


class Command(BaseCommand):
    help = ("Construit (ou reprend en cache) le kit de conformité des DRIMbox : ancres de TEST, liste valide, listes "
            "défectueuses, manifeste et procédure ; l'écrit dans --output si demandé.")

    def add_arguments(self, parser):
        parser.add_argument("--output", help="fichier ZIP à écrire (sinon seul le cache du portail est mis à jour)")
        parser.add_argument("--renew", action="store_true",
                            help="réémettre les certificats de signature, la LCR et les listes même si le kit en "
                                 "cache est récent")

    def handle(self, *args, **options):
        try:
            kit = conformance.current_kit(renew=options["renew"])
        except conformance.KitError as exc:
            raise CommandError(f"Kit de conformité impossible à construire : {exc}") from exc
        if options["output"]:
            Path(options["output"]).write_bytes(kit.data)
        refused = sum(1 for case in kit.manifest["cas"] if case["verdict"] == "refuse")
        self.stdout.write(
            f"Kit de conformité généré le {kit.manifest['genere_le']}, valable jusqu'au "
            f"{kit.manifest['valide_jusqu_au']} : {len(kit.manifest['cas'])} listes dont {refused} à refuser ; "
            f"SHA-256 {kit.sha256}" + (f" ; écrit dans {options['output']}" if options["output"] else ""))

"""``python manage.py whitelist_verify FILE`` — verify a signed DRIM-M whitelist (DESIGN §7)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from whitelist import verify as wl


class Command(BaseCommand):
    help = "Vérifie une liste blanche DRIM-M signée (XAdES) : affiche « OK <nombre d'entrées> » ou le motif du refus."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--anchor", action="append", default=[],
                            help="certificat(s) PEM d'ancre de confiance (défaut : hiérarchie IGC-Santé TEST fournie)")
        parser.add_argument("--intermediate", action="append", default=[], help="certificat(s) PEM intermédiaire(s)")
        parser.add_argument("--signer-cn", default=wl.DEFAULT_SIGNER_CN)
        parser.add_argument("--signer-ou", default=wl.DEFAULT_SIGNER_OU)
        crl = parser.add_mutually_exclusive_group()
        crl.add_argument("--crl", action="append", default=[], help="fichier LCR (PEM ou DER)")
        crl.add_argument("--no-crl", action="store_true", help="ne pas vérifier la révocation")
        parser.add_argument("--at", help="instant de vérification ISO 8601 (défaut : maintenant)")
        parser.add_argument("--not-before", help="DateDeGeneration minimale acceptée (anti-rejeu), ISO 8601")
        parser.add_argument("--unique-identifiant", action="store_true",
                            help="refuser aussi les Identifiant en double")

    def handle(self, *args, **options):
        try:
            if options["anchor"]:
                anchors = wl.load_certificates(options["anchor"])
                intermediates = wl.load_certificates(options["intermediate"])
            else:
                bundled = wl.load_certificates(sorted(wl.default_anchor_dir().glob("*.pem")))
                anchors, intermediates = wl.split_anchors(bundled)
                intermediates += wl.load_certificates(options["intermediate"])
            data = Path(options["file"]).read_bytes()
            result = wl.verify(
                data, anchors=anchors, intermediates=intermediates, signer_cn=options["signer_cn"],
                signer_ou=options["signer_ou"], crls=options["crl"] or None, check_crl=not options["no_crl"],
                at=options["at"], not_before_generation=options["not_before"],
                unique_identifiant=options["unique_identifiant"])
        except wl.VerificationError as exc:
            raise CommandError(f"REFUS {exc.reason_code} : {exc.message}", returncode=1) from exc
        except (OSError, ValueError) as exc:
            raise CommandError(f"REFUS erreur : {exc}", returncode=1) from exc
        self.stdout.write(f"OK {len(result.entries)}")

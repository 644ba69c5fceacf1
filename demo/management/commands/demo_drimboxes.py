"""Serve the demo's DRIMboxes on loopback so that the real weather prober has something to probe (development).

    python manage.py demo_drimboxes               # serve until Ctrl+C (``./scripts/run`` starts it)
    python manage.py demo_drimboxes --stop db1    # db1 refuses connections: DOWN after the confirmation probes
    python manage.py demo_drimboxes --start db1   # db1 answers again: the incident is restored
    python manage.py demo_drimboxes --stop vi3    # the viewer only: DEGRADED
    python manage.py demo_drimboxes --status

The serving itself is ``demo.drimbox_farm``.
"""
import asyncio
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from demo.drimbox_farm import (
    DEFAULT_BASE_PORT,
    HOST,
    DemoFarm,
    client_ca_pem,
    known_names,
    load_endpoints,
    read_control,
    read_state,
    state_dir_default,
    write_control,
)

# ./scripts/run keeps its state under its VAR_DIR: a command run with another one talks to nobody.
NOT_SERVING_HINT = ("lancez « python manage.py demo_drimboxes » ou ./scripts/run, ou, si ./scripts/run tourne avec un "
                    "autre VAR_DIR, relancez cette commande avec ce VAR_DIR (le bandeau de ./scripts/run affiche la "
                    "commande exacte).")


class Command(BaseCommand):
    help = ("Sert en local (127.0.0.1) les DRIMbox de la démo pour la sonde météo ; --stop/--start arrêtent ou "
            "relancent un point d'accès (développement uniquement).")

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--stop", metavar="NOM", help="arrêter un point d'accès : db1, vi3, un FQDN, ou « all »")
        action.add_argument("--start", metavar="NOM", help="relancer un point d'accès arrêté (ou « all »)")
        action.add_argument("--status", action="store_true", help="afficher les points d'accès et leur état")
        parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT,
                            help=f"premier port (défaut {DEFAULT_BASE_PORT} ; 0 : ports choisis par le système)")
        parser.add_argument("--state-dir", default=None,
                            help="dossier de contrôle (défaut : VAR_DIR/demo-drimboxes)")

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Les DRIMbox de démonstration sont réservées au développement (DEBUG=1).")
        state_dir = Path(options["state_dir"] or state_dir_default())
        if options["stop"] or options["start"]:
            return self.control(state_dir, options["stop"] or options["start"], stop=bool(options["stop"]))
        if options["status"]:
            return self.status(state_dir)
        specs, warnings = load_endpoints()
        for warning in warnings:
            self.stderr.write(f"Attention : {warning} (la DRIMbox sera vue « dégradée »).")
        farm = DemoFarm(specs, state_dir, client_ca_pem(), options["base_port"])

        def ready():
            self.stdout.write(f"{len(specs)} points d'accès servis sur {HOST} :")
            for name, endpoint in farm.endpoints.items():
                state = "en service" if endpoint.server is not None else "arrêté"
                self.stdout.write(f"  {endpoint.spec.label:<6} {endpoint.address:<16} {name} ({state})")
            self.stdout.write(f"WEATHER_PROBE_RESOLVE={farm.resolve_value()}")
            self.stdout.write(f"WEATHER_VI_CA_BUNDLE={Path(settings.DEV_PKI_DIR) / 'root.pem'}")
            self.stdout.flush()

        try:
            asyncio.run(farm.run(ready=ready))
        except KeyboardInterrupt:
            pass

    def control(self, state_dir, wanted, *, stop):
        state = read_state(state_dir)
        names = list(state["endpoints"]) if state is not None else self.names_from_database()
        if wanted == "all":
            chosen = names
        else:
            chosen = [n for n in names if wanted in (n, n.split(".", 1)[0])]
            if not chosen:
                labels = ", ".join(n.split(".", 1)[0] for n in names) or "aucun"
                raise CommandError(f"Point d'accès inconnu : « {wanted} » (connus : {labels}).")
        stopped = read_control(state_dir)
        stopped = (stopped | set(chosen)) if stop else (stopped - set(chosen))
        write_control(state_dir, stopped)
        verb = "arrêté" if stop else "relancé"
        for name in chosen:
            self.stdout.write(f"{name} : {verb} (pris en compte en moins d'une seconde par demo_drimboxes).")
        if stop and any(n.startswith("db") for n in chosen):
            self.stdout.write("La sonde le verra « indisponible » après WEATHER_CONFIRMATION_FAILURES échecs "
                              "consécutifs (un incident s'ouvre, daté du premier échec).")
        if state is None:
            self.stdout.write(f"Note : aucune DRIMbox de démonstration n'est servie depuis {state_dir} ; "
                              f"{NOT_SERVING_HINT}")

    def names_from_database(self):
        try:
            return known_names()
        except DatabaseError:
            raise CommandError(f"La base de VAR_DIR={settings.VAR_DIR} ne contient pas la démonstration : "
                               f"{NOT_SERVING_HINT}") from None

    def status(self, state_dir):
        state = read_state(state_dir)
        stopped = read_control(state_dir)
        if state is None:
            self.stdout.write(f"demo_drimboxes ne sert pas (aucun état dans {state_dir}) ; {NOT_SERVING_HINT}")
            return
        for name, endpoint in state["endpoints"].items():
            running = endpoint["running"] and name not in stopped
            self.stdout.write(f"{name.split('.', 1)[0]:<6} {endpoint['address']:<16} {name} "
                              f"{'en service' if running else 'arrêté'}")

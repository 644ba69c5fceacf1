from django.core.management.base import BaseCommand

from trustspace.alerts import check_alerts, deliver_notices


class Command(BaseCommand):
    help = ("Évalue les alertes ANS (settings.ALERT_CHECKS) puis envoie aussitôt leurs notifications (courriel, "
            "webhook), sans beat ni worker : lancée chaque minute par drimm-alerts.timer, pour que l'arrêt du beat "
            "soit signalé. Une alerte déjà ouverte n'est pas notifiée de nouveau. Code 1 si une vérification a échoué.")

    def add_arguments(self, parser):
        parser.add_argument("--no-deliver", action="store_true",
                            help="laisser les notifications aux workers (boîte d'envoi) au lieu de les envoyer ici")

    def handle(self, *args, **options):
        summary = check_alerts()
        sent = failed = 0
        if not options["no_deliver"]:
            sent, failed = deliver_notices()
        broken = sorted(name for name, count in summary.items() if count is None)
        firing = {name: count for name, count in summary.items() if count}
        self.stdout.write(
            f"Alertes : {sum(firing.values())} condition(s) en cours"
            + (f" ({', '.join(f'{name} : {count}' for name, count in sorted(firing.items()))})" if firing else "")
            + f" ; notifications envoyées : {sent}" + (f", en échec : {failed}" if failed else ""))
        if broken:
            self.stderr.write(f"Vérification(s) en erreur (voir le journal) : {', '.join(broken)}")
            raise SystemExit(1)

"""The certificate conditions of an integration (issue 4 §7), registered with ``operators.integration``."""
from django.utils import timezone

from operators.integration import CheckItem
from trustspace.paris_time import paris_date

from .models import Certificate, CertificateKind


def certificate_checks(drimbox):
    now = timezone.now()
    items = []
    wanted = [(CertificateKind.DB, "Certificat db (IGC-Santé)", drimbox.db_fqdn)]
    if drimbox.has_viewer:  # without a viewer there is no vi name, so no vi certificate to require
        wanted.append((CertificateKind.VI, "Certificat vi", drimbox.vi_fqdn))
    for kind, label, name in wanted:
        # A certificate counts for the DRIMbox's current operator only (after a switch, the former
        # operator's certificates are on their way to revocation).
        current = Certificate.objects.filter(drimbox=drimbox, operator=drimbox.operator, kind=kind,
                                             superseded_at__isnull=True, revoked_at__isnull=True).first()
        if current is None:
            items.append(CheckItem(label, False, f"aucun certificat en cours pour {name}"))
        elif current.not_after <= now:
            items.append(CheckItem(label, False, f"le certificat a expiré le {paris_date(current.not_after)}"))
        else:
            items.append(CheckItem(label, True, f"numéro de série {current.serial}, valide jusqu'au "
                                                f"{paris_date(current.not_after)}"))
    return items

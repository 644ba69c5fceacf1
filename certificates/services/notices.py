"""What the certificates app tells operators: expiry thresholds crossed, the quarterly list, and the notices
of the other services (through ``operators.notify``: e-mail and the operator's channels)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from certificates.models import Certificate, CertificateSource, ExpiryNotice, ViOrder, ViOrderStatus
from certificates.services.inventory import TASK
from operators.models import Role
from operators.notify import notify_operator
from trustspace import audit
from trustspace.paris_time import paris_date


def notify_technical(operator_id: int, subject: str, template: str, context: dict[str, Any]) -> None:
    """E-mail the operator's technical administrators (and its channels) about a certificate or an order."""
    about = context.get("certificate") or context.get("order")  # also to the operator's channels (operators.notify)
    notify_operator(operator_id, roles=[Role.TECHNICAL_ADMIN], subject=subject, template=template,
                    context={**context, "url": settings.SITE_URL + reverse("certificate_dashboard")},
                    event_type="certificate.notice", drimbox=getattr(about, "drimbox", None))


def send_expiry_notices(*, now: datetime | None = None) -> int:
    """Tell technical administrators when a threshold (J-60, J-15) is crossed: once per threshold,
    also after a missed run; never on an exact-day match."""
    now = now or timezone.now()
    thresholds = sorted(set(settings.CERTIFICATE_EXPIRY_THRESHOLDS), reverse=True)
    if not thresholds:
        return 0
    sent = 0
    # ACME certificates renew themselves: their owners hear of it only when a renewal failed. Uploaded ones
    # (IGC-Santé `db`, market `vi`) are renewed by their owners: they are told at every threshold.
    failed_renewals = ViOrder.objects.filter(renewal_of=OuterRef("pk"), status=ViOrderStatus.FAILED)
    candidates = Certificate.objects.filter(
        revoked_at__isnull=True, superseded_at__isnull=True, not_after__gt=now,
        not_after__lte=now + timedelta(days=thresholds[0]), operator=F("drimbox__operator"),
    ).filter(~Q(source=CertificateSource.ACME) | Exists(failed_renewals)).select_related("drimbox")
    for certificate in candidates:
        days_left = (certificate.not_after - now).total_seconds() / 86400
        with transaction.atomic():
            already = set(ExpiryNotice.objects.select_for_update().filter(certificate=certificate)
                          .values_list("threshold_days", flat=True))
            crossed = [days for days in thresholds if days_left <= days and days not in already]
            if not crossed:
                continue
            ExpiryNotice.objects.bulk_create([ExpiryNotice(certificate=certificate, threshold_days=days)
                                              for days in crossed])
            audit.record(actor=TASK, action="certificate.expiry_notice", obj=certificate,
                         operator_id=certificate.operator_id, after={"thresholds": crossed})
            name = certificate.drimbox.db_fqdn if certificate.kind == "db" else certificate.drimbox.vi_fqdn
            notify_technical(certificate.operator_id,
                             f"Certificat {certificate.kind} de {name} "
                             f"expire le {paris_date(certificate.not_after)}",
                             "certificates/email/expiry_notice.txt",
                             {"certificate": certificate, "days": int(days_left)})
            sent += 1
    return sent


def send_quarterly_export_notices(*, now: datetime | None = None) -> int:
    """At each quarter's start, every operator administering certificates is told its list is ready (the quarter
    of the Paris calendar: at 00:30 on 1 January in Paris, UTC is still in the previous year)."""
    local = timezone.localtime(now or timezone.now())
    quarter = f"{local.year}-T{(local.month - 1) // 3 + 1}"
    sent = 0
    for operator_id in Certificate.objects.order_by().values_list("operator_id", flat=True).distinct():
        notify_operator(operator_id, subject=f"Liste trimestrielle de vos certificats ({quarter})",
                        template="certificates/email/quarterly_export.txt", event_type="certificate.quarterly_list",
                        context={"quarter": quarter, "url": settings.SITE_URL + reverse("certificate_dashboard")})
        sent += 1
    return sent

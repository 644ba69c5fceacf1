"""Read-side queries of the certificate inventory, shared by the dashboards (pages) and the API (one definition,
so that they never disagree): which certificates a caller sees, a certificate's state as a database filter
(the rule of ``Certificate.state``), what « expiring » means, the days left, and the dashboards' lists."""
from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from operators import permissions
from operators.models import DrimboxStatus
from operators.validators import as_small_int

from .models import SETTLED_REVOCATION_STATUSES, Certificate, CertificateKind, Revocation

# « Expirent dans les 60 jours »: the dashboards' section, and the API's ``expiring`` flag.
EXPIRING_DAYS = 60
STATES = ("valide", "expire", "remplace", "revoque")  # the values of ``Certificate.state``
ORDERINGS = {"not_after": ("not_after", "pk"), "-not_after": ("-not_after", "-pk")}


def visible_certificates(user) -> QuerySet:
    """Every certificate for ANS; for anyone else, those its operators administer (or administered: a DRIMbox
    that moved to another operator keeps its past certificates in its former operator's inventory)."""
    if getattr(user, "is_ans_admin", False):
        return Certificate.objects.all()
    return Certificate.objects.filter(operator__in=permissions.operators_of(user))


def state_filter(state: str, now: datetime) -> Q:
    """The certificates whose ``Certificate.state`` is ``state`` at ``now``: revoked first, then expired, then
    superseded, else valid."""
    alive = Q(revoked_at__isnull=True)
    if state == "revoque":
        return Q(revoked_at__isnull=False)
    if state == "expire":
        return alive & Q(not_after__lte=now)
    if state == "remplace":
        return alive & Q(not_after__gt=now, superseded_at__isnull=False)
    if state == "valide":
        return alive & Q(not_after__gt=now, superseded_at__isnull=True)
    raise ValueError(f"unknown certificate state {state!r}")


def expiring_filter(now: datetime, days: int) -> Q:
    """Not expired yet, and expired within ``days`` days (``days_left`` at most ``days``)."""
    return Q(not_after__gt=now, not_after__lte=now + timedelta(days=days))


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days until expiry, rounded up: 0 or less once expired, and ``days_left(…) <= n`` exactly when the
    certificate expires within ``n`` days (``expiring_filter``)."""
    return math.ceil((not_after - now).total_seconds() / 86400)


def is_expiring(certificate: Certificate, now: datetime) -> bool:
    """The dashboards' « expire bientôt »: valid, and expiring within ``EXPIRING_DAYS``."""
    return certificate.state_at(now) == "valide" and days_left(certificate.not_after, now) <= EXPIRING_DAYS


def drimbox_filter(value: str, prefix: str = "drimbox__") -> Q:
    """A DRIMbox named by its Identifiant, or by its db or vi name (a trailing dot and the case do not matter);
    ``prefix`` leads from the filtered model to the DRIMbox (empty: filtering DRIMboxes)."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit():
        identifiant = as_small_int(text)
        return Q(**{f"{prefix}identifiant": identifiant}) if identifiant is not None else Q(pk__in=[])
    name = text.lower().rstrip(".")
    return Q(**{f"{prefix}db_fqdn": name}) | Q(**{f"{prefix}vi_fqdn": name})


def start_of_day(day: date) -> datetime | None:
    """Midnight (local time) starting ``day``, in UTC; None before the first instant a database can hold."""
    try:
        return timezone.make_aware(datetime(day.year, day.month, day.day)).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def inventory(certificates: QuerySet, *, now: datetime, kind: str = "", state: str = "", drimbox: str = "",
              operator: int | None = None, expires_before: date | None = None,
              expiring_within_days: int | None = None, ordering: str = "not_after") -> QuerySet:
    """``certificates`` filtered as the API's inventory asks, with their DRIMbox and operator, by expiry."""
    if kind:
        certificates = certificates.filter(kind=kind)
    if state:
        certificates = certificates.filter(state_filter(state, now))
    if drimbox:
        certificates = certificates.filter(drimbox_filter(drimbox))
    if operator is not None:
        certificates = certificates.filter(operator_id=operator)
    if expires_before is not None:
        bound = start_of_day(expires_before)
        certificates = certificates.filter(not_after__lt=bound) if bound is not None else certificates.none()
    if expiring_within_days is not None:
        certificates = certificates.filter(expiring_filter(now, expiring_within_days))
    return certificates.select_related("drimbox", "operator").order_by(*ORDERINGS[ordering])


# --- The dashboards -------------------------------------------------------------------------------


def _current(kind):
    return Certificate.objects.filter(drimbox=OuterRef("pk"), operator=OuterRef("operator"), kind=kind,
                                      superseded_at__isnull=True, revoked_at__isnull=True,
                                      not_after__gt=timezone.now())


def dashboard(drimboxes: QuerySet, certificates: QuerySet, *, now: datetime | None = None) -> dict:
    """The dashboards' sections: valid certificates expiring within ``EXPIRING_DAYS``, the expired and revoked
    ones that were not superseded, the DRIMboxes missing a current certificate, the revocations to do."""
    now = now or timezone.now()
    live = certificates.filter(superseded_at__isnull=True)
    return {
        "expiring_days": EXPIRING_DAYS,
        "expiring": certificates.filter(state_filter("valide", now), expiring_filter(now, EXPIRING_DAYS))
        .order_by("not_after"),
        "expired": live.filter(state_filter("expire", now)).order_by("-not_after"),
        "revoked": certificates.filter(state_filter("revoque", now)).order_by("-revoked_at"),
        "missing": drimboxes.exclude(status=DrimboxStatus.WITHDRAWN).annotate(
            has_db=Exists(_current(CertificateKind.DB)), has_vi=Exists(_current(CertificateKind.VI)),
        # A DRIMbox without viewer has no vi name, hence no vi certificate to miss.
        ).filter(Q(has_db=False) | Q(has_vi=False, has_viewer=True)).order_by("identifiant"),
        # Those left to do, the impossible ones included until ANS closes them without revocation.
        "revocations": Revocation.objects.filter(certificate__in=certificates).exclude(
            status__in=SETTLED_REVOCATION_STATUSES).select_related("certificate", "certificate__drimbox",
                                                                   "certificate__operator"),
    }

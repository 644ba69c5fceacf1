"""The one write path of the measurement policy (DESIGN §8): a new version, never an edit.

A version is never edited: ANS creates a new one, effective from the start of a future (or the current)
reference period. Rules enforced by :func:`create_policy_version`:

* ANS administrators only;
* ``effective_from`` is the first instant of a calendar month (Europe/Paris) — of a calendar quarter for a
  quarterly policy — so that one period is always measured by one version;
* it is later than every existing version's ``effective_from`` (versions apply in order) and not before the
  start of the current month: a period already closed keeps the figures it was reported with;
* it also falls on a period boundary of the version in force just before it (a quarter start when that one
  is quarterly): otherwise a quarter would be split between two versions and measured by neither.
"""
from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from trustspace import audit
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import User
from trustspace.paris_time import paris_date
from trustspace.text import display_text_error
from weather.clock import PARIS
from weather.models import MeasurementPolicy, ReferencePeriod
from weather.policy import month_start

AUDITED_FIELDS = ("version", "reference_period", "support_hours_only", "maintenance_counts", "effective_from",
                  "comment")


def _validate(reference_period: str, support_hours_only: bool, maintenance_counts: bool, effective_from: datetime,
              comment: str) -> None:
    errors = {}
    if reference_period not in ReferencePeriod.values:
        errors["reference_period"] = "Période de référence inconnue."
    for name, value in (("support_hours_only", support_hours_only), ("maintenance_counts", maintenance_counts)):
        if not isinstance(value, bool):
            errors[name] = "Valeur oui/non attendue."
    if len(comment or "") > 2000:
        errors["comment"] = "Commentaire trop long (2 000 caractères au plus)."
    elif display_text_error(comment or "", multiline=True):  # shown on the operators' PERF pages
        errors["comment"] = display_text_error(comment, multiline=True)
    if not isinstance(effective_from, datetime) or effective_from.tzinfo is None:
        errors["effective_from"] = "Date d'application invalide."
    else:
        local = effective_from.astimezone(PARIS)
        if (local.day, local.hour, local.minute, local.second, local.microsecond) != (1, 0, 0, 0, 0):
            errors["effective_from"] = "La politique s'applique à partir du premier jour d'un mois, à 0 h (Paris)."
        elif reference_period == ReferencePeriod.QUARTER and local.month % 3 != 1:
            errors["effective_from"] = ("Une politique trimestrielle s'applique à partir du premier jour d'un "
                                        "trimestre (janvier, avril, juillet ou octobre).")
        elif effective_from < month_start(timezone.now()):
            errors["effective_from"] = ("Une période close garde la politique qui l'a mesurée : choisissez le mois "
                                        "en cours ou un mois à venir.")
    if errors:
        raise InvalidData("La politique de mesure n'est pas valide : " + " ".join(errors.values()),
                          code="invalid_policy", field_errors={name: [text] for name, text in errors.items()})


def create_policy_version(*, acting_user: User, reference_period: str, support_hours_only: bool,
                          maintenance_counts: bool, effective_from: datetime, comment: str = "") -> MeasurementPolicy:
    """Create the next version of the measurement policy (ANS only; audited; existing versions untouched)."""
    if not getattr(acting_user, "is_ans_admin", False):
        raise NotAllowed("Réservé aux administrateurs ANS.")
    comment = (comment or "").strip()
    _validate(reference_period, support_hours_only, maintenance_counts, effective_from, comment)
    try:
        with transaction.atomic():
            # Lock the existing versions so that two administrators cannot take the same number.
            latest = list(MeasurementPolicy.objects.select_for_update().order_by("-version")[:1])
            last_effective = MeasurementPolicy.objects.aggregate(m=Max("effective_from"))["m"]
            if last_effective is not None and effective_from <= last_effective:
                raise Conflict(
                    "Une version s'applique déjà à partir du "
                    f"{paris_date(last_effective)} : la nouvelle version doit "
                    "s'appliquer après.",
                    code="policy_not_after_latest",
                    field_errors={"effective_from": ["Une version plus récente s'applique déjà à cette date."]})
            previous = (MeasurementPolicy.objects.filter(effective_from__lt=effective_from)
                        .order_by("-effective_from", "-version").first())
            if (previous is not None and previous.reference_period == ReferencePeriod.QUARTER
                    and effective_from.astimezone(PARIS).month % 3 != 1):
                message = (f"La version v{previous.version} en vigueur mesure par trimestre : la nouvelle version doit "
                           "s'appliquer au premier jour d'un trimestre (janvier, avril, juillet ou octobre), sans "
                           "couper un trimestre entre deux versions.")
                raise InvalidData(message, code="policy_splits_period",
                                  field_errors={"effective_from": [message]})
            policy = MeasurementPolicy.objects.create(
                version=(latest[0].version + 1) if latest else 1,
                reference_period=reference_period,
                support_hours_only=support_hours_only,
                maintenance_counts=maintenance_counts,
                effective_from=effective_from,
                created_by=acting_user,
                comment=comment,
            )
            audit.record(actor=acting_user, action="weather.measurement_policy_created", obj=policy,
                         after=audit.snapshot(policy, AUDITED_FIELDS), reason=comment)
    except IntegrityError as exc:  # a concurrent creation took the number first
        raise Conflict("Une autre version vient d'être créée ; rechargez la page.",
                       code="policy_version_taken") from exc
    return policy

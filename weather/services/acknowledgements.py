"""The operator acknowledges an incident of its DRIMbox (DESIGN §8): the GTI clock stops at that instant.

Atomic, audited (on the operator's history too) and explained in French on refusal.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from operators.models import Drimbox
from trustspace import audit
from trustspace.errors import Conflict, InvalidData
from trustspace.models import User
from trustspace.text import validate_display_text
from weather.models import Incident
from weather.permissions import require_weather_member

COMMENT_MAX = 2000


def _incident_state(incident: Incident) -> dict[str, Any]:
    return {"acknowledged_at": incident.acknowledged_at, "acknowledged_by": incident.acknowledged_by_id,
            "acknowledgement_comment": incident.acknowledgement_comment, "restored_at": incident.restored_at}


def acknowledge_incident(incident: Incident, *, acting_user: User, comment: str = "",
                         at: datetime | None = None) -> Incident:
    """Record the operator's acknowledgement (the GTI clock stops at this instant).

    ``at`` records an acknowledgement made earlier (e.g. by telephone with ANS's support desk, or when
    loading history): never in the future nor before the incident opened."""
    drimbox = Drimbox.objects.select_related("operator").get(pk=incident.drimbox_id)
    require_weather_member(acting_user, drimbox.operator, "prendre en compte un incident")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidData(f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères.",
                          field_errors={"comment": [f"{COMMENT_MAX} caractères au plus."]})
    validate_display_text({"comment": comment}, multiline={"comment"}, labels={"comment": "commentaire"})
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.restored_at is not None:
            raise Conflict("Cet incident est clos : la DRIMbox a été rétablie.", code="incident_restored")
        if locked.acknowledged_at is not None:
            raise Conflict("Cet incident a déjà été pris en compte.", code="incident_acknowledged")
        now = timezone.now()
        if at is not None and (at > now or at < locked.opened_at):
            raise InvalidData("L'heure de prise en compte doit être comprise entre le début de l'incident et "
                              "maintenant.", field_errors={"at": ["Heure hors de l'incident."]})
        before = _incident_state(locked)
        locked.acknowledged_at = at or now
        locked.acknowledged_by = acting_user
        locked.acknowledgement_comment = comment
        locked.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_comment"])
        audit.record(actor=acting_user, action="weather.incident_acknowledged", obj=locked, before=before,
                     after=_incident_state(locked), reason=comment, operator_id=drimbox.operator_id)
    return locked

"""Who acts on a DRIMbox's weather (DESIGN §3, §8): the people of its operator (legal representative,
mandataires, technical administrators). ANS administrators follow the weather but never act in the operator's
name: an acknowledgement stops the operator's GTI clock, so it must come from the operator itself.
"""
from __future__ import annotations

from operators.models import Operator, Role
from operators.permissions import roles_of
from trustspace.errors import NotAllowed
from trustspace.models import User

WEATHER_ROLES = frozenset({Role.LEGAL_REPRESENTATIVE, Role.MANDATAIRE, Role.TECHNICAL_ADMIN})


def require_weather_member(user: User, operator: Operator, message: str) -> None:
    """Only the people of the DRIMbox's operator act on its weather; ``message`` completes « … peuvent … »."""
    if getattr(user, "is_ans_admin", False) and not roles_of(user, operator):
        raise NotAllowed("Les administrateurs ANS suivent la météo mais n'agissent pas au nom de l'opérateur : "
                         "seules les personnes de l'opérateur peuvent " + message + ".")
    if not roles_of(user, operator) & WEATHER_ROLES:
        raise NotAllowed("Seules les personnes de l'opérateur de cette DRIMbox peuvent " + message + ".")

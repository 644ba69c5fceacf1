"""Who receives the e-mails of the journey: one definition of « the operator's people » and « ANS »."""
from django.contrib.auth import get_user_model
from django.db.models import Q

from .models import Membership


def member_emails(operator_id, roles=None, *, include_user=None):
    """E-mails of the operator's active members (those holding ``roles`` when given), plus ``include_user``
    while that user is still an active member; sorted, without blanks."""
    members = Membership.objects.filter(operator_id=operator_id, ended_at__isnull=True)
    if roles is not None:
        wanted = Q(role__in=list(roles))
        if include_user is not None:
            wanted |= Q(user=include_user)
        members = members.filter(wanted)
    return sorted(set(members.values_list("user__email", flat=True)) - {""})


def ans_emails():
    """E-mails of the active ANS administrators."""
    users = get_user_model().objects.filter(is_ans_admin=True, is_active=True)
    return sorted(set(users.values_list("email", flat=True)) - {""})

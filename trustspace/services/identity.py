"""Write path for people as the identity provider (iSC) describes them: accounts created and updated from the
claims, ANS rights aligned with them. Every change is audited, with the identity provider as the actor."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .. import audit
from ..models import User
from ..text import remove_forbidden_characters

IDENTITY_PROVIDER = "fournisseur d'identité iSC"  # the audit trail's actor for what iSC says
IDENTITY_RIGHTS = ("is_ans_admin", "is_superuser", "is_staff")
# Names and e-mail are shown to others (people pages, history): invisible and bidi controls never kept.
PROFILE_FIELDS = {"email": 254, "first_name": 150, "last_name": 150}  # field: maximum length


def _profile_values(user: User, profile: Mapping[str, str | None]) -> dict[str, str]:
    """The profile to keep: each claimed value, cleaned and bounded; an absent claim keeps the current value."""
    return {field: remove_forbidden_characters(profile.get(field) or getattr(user, field) or "")[:length]
            for field, length in PROFILE_FIELDS.items()}


def create_user_from_identity(*, sub: str, profile: Mapping[str, str | None], is_ans_admin: bool,
                              is_superuser: bool, source: str) -> User:
    """The account of a person iSC knows and the portal does not yet: bound to ``sub``, no usable password.

    ``profile`` holds the claimed ``email``, ``first_name``, ``last_name`` (None when absent).
    """
    with transaction.atomic():
        # The username is derived from the sub (stable, unique, bounded length); the sub itself is the key.
        digest = hashlib.sha256(sub.encode("utf-8")).hexdigest()[:32]
        user = get_user_model()(username=f"isc:{digest}", oidc_sub=sub)
        user.set_unusable_password()
        for field, value in _profile_values(user, profile).items():
            setattr(user, field, value)
        user.save()
        audit.record(actor=IDENTITY_PROVIDER, action="user.created_from_identity", obj=user,
                     after={"username": user.username, **{field: getattr(user, field) for field in PROFILE_FIELDS}},
                     reason=source)
        apply_identity_rights(user, is_ans_admin=is_ans_admin, is_superuser=is_superuser, source=source)
    return user


def update_user_from_identity(user: User, *, profile: Mapping[str, str | None], is_ans_admin: bool,
                              is_superuser: bool, source: str) -> User:
    """Align a known person's name and e-mail, then ANS rights, with what iSC says now (each change audited)."""
    wanted = _profile_values(user, profile)
    before = {field: getattr(user, field) for field in PROFILE_FIELDS}
    changed = {field: value for field, value in wanted.items() if value != before[field]}
    if changed:
        with transaction.atomic():
            for field, value in changed.items():
                setattr(user, field, value)
            user.save(update_fields=list(changed))
            audit.record(actor=IDENTITY_PROVIDER, action="user.updated_from_identity", obj=user,
                         before={field: before[field] for field in changed}, after=changed, reason=source)
    apply_identity_rights(user, is_ans_admin=is_ans_admin, is_superuser=is_superuser, source=source)
    return user


def _confirm_ans_rights(user: User) -> None:
    """Record that iSC has just confirmed ANS rights (written at most once a minute: bearer calls are frequent)."""
    now = timezone.now()
    confirmed = getattr(user, "ans_rights_confirmed_at", None)
    if confirmed is None or (now - confirmed).total_seconds() > 60:
        get_user_model().objects.filter(pk=user.pk).update(ans_rights_confirmed_at=now)
        user.ans_rights_confirmed_at = now


def ans_rights_recently_confirmed(user: User, now: datetime | None = None) -> bool:
    """Whether an iSC user's ANS rights were confirmed by iSC within OIDC_ANS_RIGHTS_TOKEN_HOURS (users who never
    log in with iSC — the development demo — are not concerned)."""
    if not user.oidc_sub:
        return True
    confirmed = user.ans_rights_confirmed_at
    limit = timedelta(hours=settings.OIDC_ANS_RIGHTS_TOKEN_HOURS)
    return confirmed is not None and (now or timezone.now()) - confirmed <= limit


def apply_identity_rights(user: User, *, is_ans_admin: bool, is_superuser: bool, source: str) -> bool:
    """Align a user's ANS rights with what the identity provider (iSC) says now; audit every change.

    The only place these flags are written for iSC users (login, API bearer token, session re-check).
    ``is_staff`` follows ``is_superuser`` (the read-only /admin/). Returns True when something changed.
    """
    wanted = {"is_ans_admin": bool(is_ans_admin), "is_superuser": bool(is_superuser), "is_staff": bool(is_superuser)}
    if wanted["is_ans_admin"]:
        _confirm_ans_rights(user)
    if all(getattr(user, name) == value for name, value in wanted.items()):
        return False
    users = get_user_model().objects  # ``user`` may be request.user, a lazy object
    with transaction.atomic():
        locked = users.select_for_update().get(pk=user.pk)
        before = {name: getattr(locked, name) for name in IDENTITY_RIGHTS}
        changed = before != wanted
        if changed:
            users.filter(pk=user.pk).update(**wanted)
            for name, value in wanted.items():
                setattr(locked, name, value)
            audit.record(actor=IDENTITY_PROVIDER, action="user.rights_changed", obj=locked,
                         before=before, after=wanted, reason=source)
    for name, value in wanted.items():
        setattr(user, name, value)
    return changed

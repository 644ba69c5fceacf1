"""The operators' side of personal API tokens limited to one operator and some of its DRIMboxes.

``trustspace.ApiToken`` stores the operator and the DRIMboxes as plain ids (``trustspace`` never imports
``operators``). The token service checks them through :func:`check_restriction` (setting
``API_TOKEN_RESTRICTION_CHECKER``); the pages and the API name them through :func:`describe`. The
restriction itself is applied by ``operators.permissions`` (``operators_of`` and ``roles_of``).
"""
from . import permissions
from .models import Drimbox, Operator


def check_restriction(user, operator_id, drimbox_ids):
    """Field errors (French) for a token of ``user`` limited to ``operator_id`` and ``drimbox_ids``; {} if fine."""
    errors = {}
    if operator_id is not None and not permissions.operators_of(user).filter(pk=operator_id).exists():
        errors["operator"] = ["Choisissez un opérateur dont vous êtes membre."]
    elif drimbox_ids:
        if operator_id is None:
            errors["drimboxes"] = ["Choisissez d'abord l'opérateur de ces DRIMbox."]
        else:
            boxes = Drimbox.objects.filter(operator_id=operator_id, pk__in=drimbox_ids)
            found = set(boxes.values_list("pk", flat=True))
            if found != set(drimbox_ids):
                errors["drimboxes"] = ["Choisissez des DRIMbox de l'opérateur choisi."]
    return errors


def operator_choices(user):
    """(id, name) of the operators a token of ``user`` may be limited to."""
    return list(permissions.operators_of(user).order_by("name", "pk").values_list("pk", "name"))


def drimbox_choices(user):
    """DRIMboxes of the user's operators, grouped by operator name, for a multiple select."""
    boxes = (Drimbox.objects.filter(operator__in=permissions.operators_of(user)).select_related("operator")
             .order_by("operator__name", "identifiant"))
    groups = {}
    for box in boxes:
        groups.setdefault(box.operator.name, []).append((box.pk, f"{box.identifiant} — {box.db_fqdn}"))
    return list(groups.items())


def describe(tokens):
    """Set ``operator_name`` and ``drimbox_labels`` on each token (two queries whatever their number)."""
    tokens = list(tokens)
    operator_ids = {t.operator_id for t in tokens if t.operator_id is not None}
    drimbox_ids = {pk for t in tokens for pk in (t.drimbox_ids or [])}
    names = dict(Operator.objects.filter(pk__in=operator_ids).values_list("pk", "name")) if operator_ids else {}
    boxes = ({pk: (identifiant, fqdn) for pk, identifiant, fqdn
              in Drimbox.objects.filter(pk__in=drimbox_ids).values_list("pk", "identifiant", "db_fqdn")}
             if drimbox_ids else {})
    for token in tokens:
        token.operator_name = names.get(token.operator_id, "") if token.operator_id is not None else ""
        token.drimbox_labels = [f"{boxes[pk][0]} — {boxes[pk][1]}" if pk in boxes else f"#{pk}"
                                for pk in token.drimbox_ids or []]
        token.drimbox_identifiants = [boxes[pk][0] for pk in token.drimbox_ids or [] if pk in boxes]
    return tokens

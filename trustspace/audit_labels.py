"""French words for the audit trail: what each recorded action means, what each recorded field is called.

The audit rows keep stable codes (``request.approved``) and the field names of the models; people read labels.
trustspace names its own actions here; every app above it names its own in ``<app>/audit_labels.py``
(``ACTIONS``: code → label, ``FIELDS``: recorded key → label for keys that are not a model field, ``REFERENCES``:
recorded key → ``app.model`` for an id recorded under a key that is not a foreign key of the object,
``ACTION_FIELDS``: action → {key → label or (label, choices)} where one action records a key in its own sense, such as
the kind of an attachment under ``kind`` on a request). Those modules
are found through the app registry at first use, so this bottom layer never imports an app above it.
``tests/trustspace/test_history_labels.py`` reads the source for every action written and fails on one without
a label here or in its app.

A field that is a model field is named by the model's ``verbose_name``; ``FIELDS`` covers the rest (keys of
hand-built dictionaries, nested data).
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist

UNKNOWN_ACTION = "Action non répertoriée"

ACTIONS = {
    "audit.chain_keyed": "Journal d'audit scellé par clé",
    "audit.key_rotated": "Clé du journal d'audit renouvelée",
    "api_token.created": "Jeton d'API créé",
    "api_token.revoked": "Jeton d'API révoqué",
    "user.created_from_identity": "Compte créé à la première connexion",
    "user.updated_from_identity": "Compte mis à jour depuis l'identité",
    "user.rights_changed": "Droits du compte modifiés",
    "outbox.retried": "Envoi relancé",
}

FIELDS = {
    # audit chain rows
    "legacy_rows": "Lignes antérieures scellées",
    "legacy_head": "Dernière empreinte antérieure",
    "key_id": "Identifiant de clé",
    "from": "Ancienne clé",
    "to": "Nouvelle clé",
    "old_key_seal": "Sceau de l'ancienne clé",
    # people and tokens
    "username": "Identifiant",
    "first_name": "Prénom",
    "last_name": "Nom",
    "email": "Adresse électronique",
    "is_ans_admin": "Administrateur ANS",
    "is_staff": "Accès à l'administration",
    "is_superuser": "Tous les droits",
    "scopes": "Portées",
    "revoked_at": "Révoqué le",
    # outbox
    "status": "Statut",
    "attempts": "Tentatives",
    "last_error": "Dernière erreur",
    "next_attempt_at": "Prochaine tentative",
    # common words
    "reason": "Motif",
    "text": "Texte",
    "name": "Nom",
    "kind": "Type",
    "at": "Date",
    "sha256": "Empreinte SHA-256",
}

# object types that are not models of an installed app (or whose verbose name would mislead)
OBJECTS = {
    "trustspace.audithead": "Journal d'audit",
}


@dataclass
class Labels:
    actions: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    object_types: dict[str, str] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    action_fields: dict[str, dict[str, Any]] = field(default_factory=dict)


@functools.cache
def registry() -> Labels:
    """The labels of trustspace and of every installed app that has an ``audit_labels`` module."""
    labels = Labels(dict(ACTIONS), dict(FIELDS), dict(OBJECTS))
    for config in apps.get_app_configs():
        name = f"{config.name}.audit_labels"
        if config.name == __package__ or importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        labels.actions.update(getattr(module, "ACTIONS", {}))
        labels.fields.update(getattr(module, "FIELDS", {}))
        labels.object_types.update(getattr(module, "OBJECTS", {}))
        labels.references.update(getattr(module, "REFERENCES", {}))
        for action, keys in getattr(module, "ACTION_FIELDS", {}).items():
            labels.action_fields.setdefault(action, {}).update(keys)
    return labels


def action_label(code: str) -> str:
    return registry().actions.get(code, UNKNOWN_ACTION)


def action_choices() -> list[tuple[str, str]]:
    """Every labelled action, by label (a select's options)."""
    return sorted(registry().actions.items(), key=lambda item: (item[1].casefold(), item[0]))


def model_of(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def object_type_label(object_type: str) -> str:
    if object_type in registry().object_types:
        return registry().object_types[object_type]
    model = model_of(object_type)
    if model is None:
        return "Autre objet"
    name = str(model._meta.verbose_name)
    return name[:1].upper() + name[1:]


def model_field(model, key: str):
    """The model field recorded under ``key`` (its name or its column, ``operator`` or ``operator_id``)."""
    if model is None:
        return None
    try:
        found = model._meta.get_field(key)
    except FieldDoesNotExist:
        return None
    return found if getattr(found, "concrete", False) else None  # not a reverse relation


def field_label(model, key: str) -> tuple[str, bool]:
    """(label, known): the model's verbose name, else the apps' dictionary, else the key itself (not known)."""
    model_field_ = model_field(model, key)
    if model_field_ is not None and not model_field_.auto_created and hasattr(model_field_, "verbose_name"):
        name = str(model_field_.verbose_name)
        if name != key.replace("_", " "):  # a verbose name Django made up from the English name is no label
            return name[:1].upper() + name[1:], True
    label = registry().fields.get(key)
    if label is not None:
        return label, True
    return key, False


def action_field(action: str, key: str) -> tuple[str, dict[Any, str] | None] | None:
    """(label, choices) of a key that ``action`` records in its own sense, or None."""
    found = registry().action_fields.get(action, {}).get(key)
    if found is None:
        return None
    if isinstance(found, tuple):
        label, choices = found
        return label, {value: str(text) for value, text in choices}
    return found, None

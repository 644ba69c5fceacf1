"""One state machine for every model with a status.

A model lists its allowed moves in ``TRANSITIONS`` ({from: {to, …}}) and changes status only through
``transition_to``, which refuses any other move with a 409 ``Conflict`` (French message). The services
save the row; the tables are rendered into docs/state-machines.md from the code
(``manage.py state_machines --write``), so the documentation cannot drift from the rules.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.apps import apps
from django.db import models

from trustspace.errors import Conflict


class StateMachineMixin:
    """Guarded ``transition_to`` over ``TRANSITIONS``; mixed into a ``models.Model`` with a choices field."""

    TRANSITIONS: ClassVar[Mapping[str, set[str] | frozenset[str]]] = {}
    STATUS_FIELD: ClassVar[str] = "status"
    TRANSITION_ERROR_CODE: ClassVar[str] = "invalid_transition"

    def can_transition_to(self, new_status: str) -> bool:
        return new_status in self.TRANSITIONS.get(getattr(self, self.STATUS_FIELD), ())

    def transition_to(self, new_status: str) -> None:
        """Set the new status in memory if the move is allowed (the caller saves), else raise Conflict."""
        if not self.can_transition_to(new_status):
            raise Conflict(self.transition_refused_message(new_status), code=self.TRANSITION_ERROR_CODE)
        setattr(self, self.STATUS_FIELD, new_status)

    def status_label(self, value: str | None = None) -> str:
        field = self._meta.get_field(self.STATUS_FIELD)  # type: ignore[attr-defined]
        value = getattr(self, self.STATUS_FIELD) if value is None else value
        return str(dict(field.flatchoices).get(value, value))

    def transition_refused_message(self, new_status: str) -> str:
        """The French sentence shown when a move is refused; models override it to name themselves."""
        return (f"{self.transition_subject()} est « {self.status_label().lower()} » : elle ne peut pas passer à "
                f"« {self.status_label(new_status).lower()} ».")

    def transition_subject(self) -> str:
        return f"L'objet « {self} »"


def state_machines() -> Iterator[type[models.Model]]:
    """Every installed model using the mixin, in a stable order."""
    found = [model for model in apps.get_models() if issubclass(model, StateMachineMixin)]
    yield from sorted(found, key=lambda model: model._meta.label)


def _choices(model: type[models.Model]) -> dict[Any, str]:
    field = model._meta.get_field(model.STATUS_FIELD)  # type: ignore[attr-defined]
    return {value: str(label) for value, label in field.flatchoices}


def render_markdown() -> str:
    """docs/state-machines.md: one table and one Mermaid diagram per model, from TRANSITIONS."""
    lines = [
        "# State machines",
        "",
        "Generated from the models' `TRANSITIONS` by `python manage.py state_machines --write`; "
        "a test fails when this file differs from the code. Every status change goes through "
        "`transition_to` (trustspace/statemachine.py), which refuses any move not listed here with a 409.",
        "",
    ]
    for model in state_machines():
        labels = _choices(model)
        field = model.STATUS_FIELD  # type: ignore[attr-defined]
        lines += [f"## {model._meta.label} (`{field}`)", "", model.__doc__.strip().splitlines()[0] if model.__doc__
                  else "", "", "| From | To |", "|---|---|"]
        for source, targets in model.TRANSITIONS.items():  # type: ignore[attr-defined]
            names = ", ".join(f"`{t}` ({labels.get(t, t)})" for t in sorted(targets))
            lines.append(f"| `{source}` ({labels.get(source, source)}) | {names} |")
        lines += ["", "```mermaid", "stateDiagram-v2"]
        for source, targets in model.TRANSITIONS.items():  # type: ignore[attr-defined]
            lines += [f"    {source} --> {target}" for target in sorted(targets)]
        lines += ["```", ""]
    return "\n".join(lines)

"""One state machine: every model with a status uses StateMachineMixin, and docs/state-machines.md is the code's."""
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from trustspace.errors import Conflict
from trustspace.models import OutboxMessage, OutboxStatus
from trustspace.statemachine import StateMachineMixin, render_markdown, state_machines

DOC = Path(__file__).resolve().parents[2] / "docs" / "state-machines.md"
PROJECT_APPS = {"trustspace", "operators", "certificates", "whitelist", "weather"}


def test_every_model_with_a_status_choice_uses_the_state_machine():
    with_status = [model._meta.label for model in apps.get_models()
                   if model._meta.app_label in PROJECT_APPS
                   and any(field.name == "status" and field.choices for field in model._meta.get_fields()
                           if hasattr(field, "choices"))]
    assert with_status, "the scan found no model: it would pass vacuously"
    assert [label for label in with_status if not issubclass(apps.get_model(label), StateMachineMixin)] == []


def test_every_transition_table_names_real_statuses():
    for model in state_machines():
        values = {value for value, _label in model._meta.get_field(model.STATUS_FIELD).flatchoices}
        for source, targets in model.TRANSITIONS.items():
            assert source in values and set(targets) <= values, model._meta.label


def test_a_move_outside_the_table_is_a_409_and_changes_nothing():
    message = OutboxMessage(status=OutboxStatus.SENT)
    assert not message.can_transition_to(OutboxStatus.PENDING)
    with pytest.raises(Conflict) as refused:
        message.transition_to(OutboxStatus.PENDING)
    assert refused.value.code == "invalid_transition" and refused.value.status_code == 409
    assert message.status == OutboxStatus.SENT
    pending = OutboxMessage(status=OutboxStatus.PENDING)
    pending.transition_to(OutboxStatus.SENT)
    assert pending.status == OutboxStatus.SENT


def test_the_documentation_is_rendered_from_the_code(capsys):
    assert DOC.read_text() == render_markdown(), "run: python manage.py state_machines --write"
    call_command("state_machines", "--check")
    assert "à jour" in capsys.readouterr().out


def test_a_stale_documentation_is_reported(monkeypatch, tmp_path):
    from trustspace.management.commands import state_machines as command

    stale = tmp_path / "state-machines.md"
    stale.write_text(render_markdown().replace("stateDiagram-v2", "stateDiagram", 1))
    monkeypatch.setattr(command, "DOC", stale)
    with pytest.raises(CommandError, match="périmé"):
        call_command("state_machines", "--check")

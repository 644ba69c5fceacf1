"""One name for the write path: models are written only by each app's ``services`` (issue 13, item 3).

The scan reads every module of the apps (not migrations, not tests) and lists the calls that write rows:
``.save(``, ``.delete(``, ``.create(``, ``.update(``, ``bulk_create``/``bulk_update``, ``get_or_create``/
``update_or_create``. A call is a write when it is made on a manager or a queryset (``Model.objects…``, a
related manager, ``.filter(…)``) or on a model instance (``.save()``/``.delete()``/``refresh``-free receivers
that are not a known non-model object). Writes outside ``<app>/services/`` (or ``<app>/services.py``) fail,
except in the infrastructure modules listed below, each with the reason it writes its own rows.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("trustspace", "operators", "certificates", "whitelist", "weather", "dashboards", "demo")

WRITE_METHODS = {"save", "delete", "create", "update", "bulk_create", "bulk_update", "get_or_create",
                 "update_or_create"}
# Methods of these names on these receivers are not model writes (files, caches, dicts, hashes, sessions).
NOT_MODELS = {"storage", "default_storage", "cache", "caches", "session", "hasher", "digest", "hmac", "mac",
              "sha", "h", "headers", "context", "errors", "data", "fields", "params", "kwargs", "values",
              "seen", "result", "counts", "pdf", "workbook", "zf", "archive", "settings", "environ",
              "self.fields", "self.errors", "self.cleaned_data", "form.errors", "attrs", "validated_data", "extra",
              "update", "_cache()", "client", "super()"}
# Receivers that are not rows: a FileField's file (its .save stores bytes), a git reference on GitHub.
NOT_MODEL_CALLS = ("get_git_ref(",)

# Modules that write their own rows by design; the services call them inside their transaction.
INFRASTRUCTURE = {
    "trustspace/audit.py": "the audit chain: append-only entries and the head, written by audit.record only",
    "trustspace/outbox.py": "the outbox: rows written in the caller's transaction, delivered after commit",
    "trustspace/idempotency.py": "single-use form tokens recorded in the caller's transaction",
    "trustspace/api/idempotency.py": "API Idempotency-Key records around the view's transaction",
    "trustspace/beat.py": "the beat heartbeat row, written by the one beat",
    "trustspace/workers.py": "each Celery worker's heartbeat row, written by that worker",
    "trustspace/alerts.py": "ANS alerts opened and resolved by the check_alerts task",
}


def _app_modules():
    for app in APPS:
        base = ROOT / app
        if not base.exists():
            continue
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative:
                continue
            yield relative, path


def _in_services(relative):
    parts = relative.split("/")
    return len(parts) >= 2 and (parts[1] == "services" or parts[1] == "services.py")


def _receiver(node):
    """The source text of what the method is called on (``Model.objects.filter(x=1)`` for ``….update()``)."""
    return ast.unparse(node.func.value)


def _is_model_write(call):
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in WRITE_METHODS:
        return False
    receiver = _receiver(call)
    if receiver in NOT_MODELS or receiver.split(".")[-1] in NOT_MODELS:
        return False
    if receiver.endswith(".file") or any(call_ in receiver for call_ in NOT_MODEL_CALLS):
        return False
    method = call.func.attr
    if method in {"bulk_create", "bulk_update", "get_or_create", "update_or_create"}:
        return True
    if method in {"create", "update"}:
        # Managers and querysets only: dict.update / set.update / hash.update take no such receiver.
        return any(marker in receiver for marker in (".objects", "_set", ".filter(", ".exclude(", ".all(",
                                                     "select_for_update(", ".memberships", ".events"))
    # save()/delete() on an object: a model instance unless the receiver is a known non-model.
    return True


def writes_outside_services():
    found = []
    for relative, path in _app_modules():
        if _in_services(relative) or relative in INFRASTRUCTURE:
            continue
        tree = ast.parse(path.read_text(), filename=relative)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_model_write(node):
                found.append(f"{relative}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_models_are_written_only_by_services():
    found = writes_outside_services()
    assert not found, "Model writes outside <app>/services (move them into a service):\n" + "\n".join(found)


def test_the_scan_finds_a_write(tmp_path, monkeypatch):
    """The scan is not vacuous: a queryset update and an instance save outside services are found."""
    app = tmp_path / "operators"
    app.mkdir()
    (app / "views.py").write_text("def v(request, obj):\n    Drimbox.objects.filter(pk=1).update(status='x')\n"
                                  "    obj.save()\n    errors = {}\n    errors.update(a=1)\n")
    (app / "services").mkdir()
    (app / "services" / "drimboxes.py").write_text("def s(obj):\n    obj.save()\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    found = writes_outside_services()
    assert found == ["operators/views.py:2: Drimbox.objects.filter(pk=1).update(status='x')",
                     "operators/views.py:3: obj.save()"]


@pytest.mark.parametrize("relative", sorted(INFRASTRUCTURE))
def test_every_infrastructure_exception_still_exists(relative):
    assert (ROOT / relative).exists(), f"{relative} is gone: remove it from INFRASTRUCTURE"

"""Log lines: JSON in production, plain text in development, each one carrying its context.

Every line logged while serving a request carries ``request_id`` (set by ``trustspace.middleware.RequestIdMiddleware``
in ``trustspace.request_context.current_request_id``); every line logged while a Celery task runs carries ``task_id``
and ``task_name`` (set by the ``task_prerun``/``task_postrun`` signals below). ``ContextFilter`` copies them onto each
record, on the handler, so that third-party loggers get them too.

settings.py names ``ContextFilter`` and ``JsonFormatter`` in ``LOGGING`` (block « Operations: logs, Sentry, alerts »);
the Celery app (trustspace.celery) calls ``install_celery_logging`` so that the worker logs with the same handlers.
The module imports no Django model.
"""
from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .request_context import current_request_id

current_task_id: ContextVar[str] = ContextVar("current_task_id", default="")
current_task_name: ContextVar[str] = ContextVar("current_task_name", default="")

CONTEXT_FIELDS = ("request_id", "task_id", "task_name")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s%(task_id)s] %(message)s"


class ContextFilter(logging.Filter):
    """Adds the current request id and Celery task to the record (empty strings outside them)."""

    def filter(self, record):
        for name, var in (("request_id", current_request_id), ("task_id", current_task_id),
                          ("task_name", current_task_name)):
            if not getattr(record, name, ""):
                setattr(record, name, var.get())
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: time, level, logger, message, process and the context fields that are set (a web
    line has no task, a task line no request)."""

    def __init__(self, *args, **kwargs):
        super().__init__(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
                         json_ensure_ascii=False)

    def formatTime(self, record, datefmt=None):  # noqa: N802  (logging's name)
        """ISO 8601 in UTC, whatever the process's time zone (log collectors sort and join on it)."""
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, "")
            if value:
                log_data[name] = value
            else:
                log_data.pop(name, None)


# --- gunicorn ---------------------------------------------------------------------------------------------------------


class GunicornAccessFormatter(JsonFormatter):
    """gunicorn's access lines (trustspace.gunicorn_conf) as JSON: gunicorn logs each request with its « atoms » as
    the record's arguments; this formatter turns them into fields, ``request_id`` being the response's
    X-Request-ID (the id RequestIdMiddleware gave the request, in every line Django logged for it). The query string
    is left out (searches carry names)."""

    FIELDS = (("method", "m"), ("path", "U"), ("status", "s"), ("duration_ms", "M"), ("bytes", "B"),
              ("remote_addr", "h"), ("forwarded_for", "{x-forwarded-for}i"), ("user_agent", "a"),
              ("request_id", "{x-request-id}o"))

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        atoms = record.args if isinstance(record.args, dict) else {}
        for field, atom in self.FIELDS:
            value = atoms.get(atom.lower() if atom.startswith("{") else atom)
            if isinstance(value, str):
                value = value.replace('\\"', '"')  # gunicorn escapes quotes for its own text format
            if value in (None, "", "-"):
                continue
            if field == "status" and str(value).isdigit():
                value = int(value)
            log_data[field] = value


# --- Celery ---------------------------------------------------------------------------------------------------------

_tokens: dict[str, tuple] = {}


def _task_started(task_id=None, task=None, **kwargs):
    _tokens[task_id or ""] = (current_task_id.set(task_id or ""), current_task_name.set(getattr(task, "name", "")))


def _task_finished(task_id=None, **kwargs):
    tokens = _tokens.pop(task_id or "", None)
    if tokens is None:
        return
    id_token, name_token = tokens
    try:
        current_task_name.reset(name_token)
        current_task_id.reset(id_token)
    except ValueError:  # set in another context (should not happen): clear instead
        current_task_id.set("")
        current_task_name.set("")


def _configure_worker_logging(**kwargs):
    """Celery's ``setup_logging`` signal: having a receiver stops Celery from installing its own handlers; the
    worker then logs through Django's LOGGING (same format as the web processes)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def install_celery_logging():
    """Connect the signals (idempotent: ``dispatch_uid``)."""
    from celery import signals

    signals.setup_logging.connect(_configure_worker_logging, weak=False, dispatch_uid="trustspace.log_format.setup")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="trustspace.log_format.prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="trustspace.log_format.postrun")

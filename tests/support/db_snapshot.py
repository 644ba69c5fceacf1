"""The rows a fixture wrote, taken once per test process and written back in later tests.

Building the shared ``world`` through the real services (applications, ANS approvals, invitations, audit chain,
outbox) costs about 0.3 s; written back as rows it costs a few milliseconds. This is what Django's
``TestCase.setUpTestData`` does, for pytest functions: the first test that asks for the world builds it through
the services and the rows it added are recorded; later tests get exactly those rows, then run in their own
transaction as before. Rows are copied raw (PostgreSQL ``COPY``, SQLite values as stored), with triggers off
only while copying (the append-only audit tables refuse a rewritten chain otherwise), so the audit chain, the
timestamps and the primary keys are the ones the services produced.
"""
from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, transaction


def _tables() -> list[str]:
    return sorted(connection.introspection.table_names(include_views=False))


def _read_table(cursor, table: str):
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
            return b"".join(bytes(chunk) for chunk in copy)
    cursor.execute(f'SELECT * FROM "{table}"')
    columns = tuple(column[0] for column in cursor.description)
    return columns, tuple(cursor.fetchall())


def start_ids_at(first_id: int) -> None:
    """Make the next rows of every table take ids from ``first_id``, so that a build's rows never share a key
    with rows a test's other fixtures write before restoring it (from 1 on SQLite, whose counters roll back;
    past the build's on PostgreSQL, whose sequences never go back)."""
    tables = _tables()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in apps.get_models(include_auto_created=True):
                pk = model._meta.pk
                if model._meta.db_table in tables and pk.get_internal_type() in {"AutoField", "BigAutoField"}:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, pk.column])
                    (sequence,) = cursor.fetchone()
                    if sequence:
                        cursor.execute("SELECT setval(%s, %s, false)", [sequence, first_id])
        else:
            cursor.execute("DELETE FROM sqlite_sequence")
            cursor.executemany("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                               [(table, first_id - 1) for table in tables])


def _has_rows(content) -> bool:
    if content is None:
        return False
    return bool(content) if isinstance(content, bytes) else bool(content[1])


def table_contents() -> dict[str, object]:
    """Every table's content, in a form `restore` writes back exactly."""
    with connection.cursor() as cursor:
        return {table: _read_table(cursor, table) for table in _tables()}


@dataclass
class Snapshot:
    """The tables a build changed, with their whole content after it, and the media files it stored.

    A table that was empty before the build gets its rows added, so rows a test's other fixtures wrote first
    stay (a clash of keys fails loudly); a table that held rows already (the audit head) is replaced."""

    tables: dict[str, object] = field(default_factory=dict)
    replace: frozenset[str] = frozenset()
    media: Path | None = None

    @classmethod
    def changes(cls, before: dict[str, object], after: dict[str, object], media: Path | None = None) -> Snapshot:
        changed = {table: content for table, content in after.items() if before.get(table) != content}
        held_rows = {table for table in changed if _has_rows(before.get(table))}
        return cls(changed, frozenset(held_rows), media)

    @classmethod
    def whole(cls, after: dict[str, object], media: Path | None = None) -> Snapshot:
        """Every table holding rows, each replacing the table's content when restored: the database as it was,
        whatever an earlier test's flush left (flushes empty the data migrations' rows too)."""
        tables = {table: content for table, content in after.items() if _has_rows(content)}
        return cls(tables, frozenset(tables), media)

    def restore(self, media_root: Path | None = None) -> None:
        """Write the recorded tables back in the current transaction."""
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                self._restore_postgresql(cursor)
            else:
                self._restore_sqlite(cursor)
        if self.media is not None and media_root is not None and any(self.media.iterdir()):
            shutil.copytree(self.media, media_root, dirs_exist_ok=True)

    def _restore_postgresql(self, cursor) -> None:
        # Triggers (audit append-only and forward-only head, foreign keys) are off for the copy only; SET LOCAL
        # would otherwise last until the test's own transaction ends.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table, data in self.tables.items():
            if table in self.replace:
                cursor.execute(f'DELETE FROM "{table}"')
            with cursor.cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                copy.write(data)
        cursor.execute("SET LOCAL session_replication_role = origin")
        models = [model for model in apps.get_models(include_auto_created=True)
                  if model._meta.db_table in self.tables]
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)

    def _restore_sqlite(self, cursor) -> None:
        # SQLite cannot switch triggers off: they are dropped and created again inside the transaction.
        names = ", ".join("%s" for _ in self.tables)
        cursor.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({names})",
                       list(self.tables))
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        for table, (columns, rows) in self.tables.items():
            if table in self.replace:
                cursor.execute(f'DELETE FROM "{table}"')
            if rows:
                placeholders = ", ".join("%s" for _ in columns)
                quoted = ", ".join(f'"{column}"' for column in columns)
                cursor.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({placeholders})', rows)
        for _name, sql in triggers:
            cursor.execute(sql)


class InstanceCopies:
    """Model instances as a fresh read of their rows would give them, made again without a query.

    Taken from rows read back from the database (never from instances a build still holds, which may carry
    unsaved changes or cached relations); ``make()`` returns new instances each time (``Model.from_db``, what a
    query does with the row), each mutable value copied, so that nothing a test sets on one reaches the next."""

    def __init__(self, instances: dict[str, object]) -> None:
        self._rows = {}
        for name, instance in instances.items():
            model = type(instance)
            fresh = model._default_manager.get(pk=instance.pk)
            # As the query set them, before any descriptor (files) wraps them.
            values = tuple(vars(fresh)[field.attname] for field in model._meta.concrete_fields)
            self._rows[name] = (model, fresh._state.db, values)

    def make(self) -> dict[str, object]:
        return {name: model.from_db(db, None, [copy.deepcopy(value) for value in values])
                for name, (model, db, values) in self._rows.items()}


class RecordedBuilds:
    """Objects a test builds on top of a known starting state (the restored ``world``), built through the
    services the first time and written back as rows afterwards — the same idea as the world's, one level up.

    ``run(key, builder, holder, media_root)`` calls ``builder(holder)`` the first time ``key`` is seen in this
    process, records the tables it changed, the media it stored and the attributes it set on ``holder`` (model
    instances by primary key, other values as they were), and returns what the builder returned; later calls
    with the same key write those back instead of building again. The caller guarantees the starting state is
    the same each time (nothing written between the world's restore and ``run``)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory  # where each build's media are kept
        self._records: dict[object, tuple[Snapshot, InstanceCopies, dict[str, object], object]] = {}

    def run(self, key, builder, holder, media_root: Path):
        from django.db.models import Model

        record = self._records.get(key)
        if record is not None:
            snapshot, objects, values, result = record
            snapshot.restore(media_root)
            for name, instance in objects.make().items():
                setattr(holder, name, instance)
            for name, value in values.items():
                setattr(holder, name, copy.deepcopy(value))
            return copy.deepcopy(result)
        before, attributes_before = table_contents(), dict(vars(holder))
        result = builder(holder)
        media = self._directory / f"build-{len(self._records)}"
        media.mkdir(parents=True)
        if media_root.exists():
            shutil.copytree(media_root, media, dirs_exist_ok=True)
        changed = {name: value for name, value in vars(holder).items()
                   if name not in attributes_before or attributes_before[name] is not value}
        objects = InstanceCopies({name: value for name, value in changed.items() if isinstance(value, Model)})
        values = {name: copy.deepcopy(value) for name, value in changed.items() if not isinstance(value, Model)}
        self._records[key] = (Snapshot.changes(before, table_contents(), media), objects, values,
                              copy.deepcopy(result))
        return result

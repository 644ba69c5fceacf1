"""Whether ``./scripts/run`` may skip its database step on a warm restart, decided without Django.

``manage.py demo_prepare`` migrates and loads the demo, then writes a stamp in ``VAR_DIR``: a fingerprint of what
decides the schema (every migration file of the project, the pinned requirements that bring the other apps'
migrations), and the number of migrations the database records. The check (``python -m demo.readiness VAR_DIR``,
exit 0 when ready) compares the fingerprint, then reads the SQLite database itself: the same number of applied
migrations and the demo's first account present. Anything else — a new migration, other requirements, another
database file, a demo removed — and ``demo_prepare`` runs (through Django, which has the last word). Importing
Django alone takes longer than this whole check.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP_NAME = "demo-ready.json"
DEMO_FIRST_ACCOUNT = "ans.admin"


def database_path(var_dir: Path) -> Path:
    """The SQLite database the settings use when ``DATABASE_URL`` is not set."""
    return Path(var_dir) / "db.sqlite3"


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in [root / "requirements.txt", *sorted(root.glob("*/migrations/*.py"))]:
        if path.name == "__init__.py" or not path.is_file():
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _database_facts(path: Path) -> tuple[int, bool]:
    """(applied migrations, demo loaded) read from the SQLite file; raises sqlite3.Error when unreadable."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        applied = connection.execute("SELECT COUNT(*) FROM django_migrations").fetchone()[0]
        loaded = connection.execute("SELECT 1 FROM trustspace_user WHERE username = ?",
                                    (DEMO_FIRST_ACCOUNT,)).fetchone() is not None
        return applied, loaded
    finally:
        connection.close()


def write_stamp(var_dir: Path, root: Path = ROOT) -> None:
    path = database_path(var_dir)
    applied, loaded = _database_facts(path)
    if not loaded:
        raise ValueError("the demo is not loaded: no stamp")
    stamp = {"fingerprint": fingerprint(root), "database": str(path.resolve()), "migrations": applied}
    temporary = Path(var_dir) / f".{STAMP_NAME}.tmp"
    temporary.write_text(json.dumps(stamp))
    temporary.replace(Path(var_dir) / STAMP_NAME)


def is_ready(var_dir: Path, root: Path = ROOT) -> bool:
    """True when the database of ``var_dir`` is migrated as this checkout expects and holds the demo."""
    path = database_path(var_dir)
    try:
        stamp = json.loads((Path(var_dir) / STAMP_NAME).read_text())
        if stamp.get("fingerprint") != fingerprint(root) or stamp.get("database") != str(path.resolve()):
            return False
        applied, loaded = _database_facts(path)
    except (OSError, ValueError, sqlite3.Error):
        return False
    return loaded and applied == stamp.get("migrations")


if __name__ == "__main__":
    sys.exit(0 if len(sys.argv) == 2 and is_ready(Path(sys.argv[1])) else 1)

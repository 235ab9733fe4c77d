"""The gate database's schema: numbered SQL migration files and the code that applies them.

Migrations are the files `edge/storage/migrations/NNNN_name.sql` (shipped as package data), version N being
file number N; they run in order, all pending ones in one transaction, and each leaves a row in
`schema_migrations`, so opening an old database upgrades it and opening a newer one is refused instead of
silently corrupting it. Never edit a file that has shipped: add the next number. (`edge/hub/db.py` does the
same for the hub's PostgreSQL.)
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaError(Exception):
    """The migration files are misnamed or numbered with a gap (a packaging mistake)."""


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[str]:
    """The migration scripts in order (version N is item N - 1); numbers must run 1, 2, 3 … without gaps."""
    scripts: list[str] = []
    for i, path in enumerate(sorted(folder.glob("*.sql")), start=1):
        m = _NAME.fullmatch(path.name)
        if m is None:
            raise SchemaError(f"{path.name}: migration files are named NNNN_name.sql")
        if int(m.group(1)) != i:
            raise SchemaError(f"migration {path.name}: expected number {i:04d} (no gaps)")
        scripts.append(path.read_text(encoding="utf-8"))
    return scripts


def split_sql(script: str) -> list[str]:
    """Split a script into complete statements (trigger bodies with inner ';' stay whole)."""
    out: list[str] = []
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:80]!r}")
    return out


def current_version(conn: sqlite3.Connection) -> int:
    """The highest migration recorded in `schema_migrations` (0 for a new database)."""
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def apply_migrations(
    conn: sqlite3.Connection,
    scripts: Sequence[str],
    where: Path,
    now_text: Callable[[], str],
    newer_error: type[Exception] = SchemaError,
) -> None:
    """Apply the scripts not yet recorded; `conn` must be inside the caller's BEGIN IMMEDIATE transaction
    (so two processes opening the same file cannot both apply migration N). A database with a version above
    len(scripts) raises `newer_error`; `now_text()` gives the applied_at text."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    current = current_version(conn)
    known = len(scripts)
    if current > known:
        raise newer_error(
            f"{where}: database schema version {current} is newer than this smartgate "
            f"understands (up to {known}); upgrade smartgate or point storage.database elsewhere"
        )
    for version in range(current + 1, known + 1):
        for stmt in split_sql(scripts[version - 1]):
            conn.execute(stmt)
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            (version, now_text()),
        )


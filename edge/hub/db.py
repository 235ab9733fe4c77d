"""PostgreSQL access for the hub: a psycopg 3 connection pool and numbered SQL migrations.

Migrations are the files `edge/hub/migrations/NNNN_name.sql`, applied in order at start-up, each in its own
transaction together with its row in `schema_migrations`; an advisory lock makes two hubs starting at once apply
each file exactly once. A database written by a newer smartgate (a version above the newest file) is refused
instead of modified. Never edit a migration that has shipped: add the next number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5347_4855_4221  # "SGHUB!": serialises migrations across processes


class HubDbError(Exception):
    """The database cannot be used (e.g. written by a newer smartgate)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; numbers must run 1, 2, 3 … without gaps."""
    out = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.fullmatch(path.name)
        if m is None:
            raise HubDbError(f"{path.name}: migration files are named NNNN_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    for i, mig in enumerate(out, start=1):
        if mig.version != i:
            raise HubDbError(f"migration {mig.version:04d}_{mig.name}.sql: expected number {i:04d} (no gaps)")
    return out


def migrate(conn: psycopg.Connection, folder: Path = MIGRATIONS_DIR) -> int:
    """Apply the migrations not yet applied; returns the schema version. `conn` must not be in a transaction."""
    known = migrations(folder)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
        if current > len(known):
            raise HubDbError(f"database schema version {current} is newer than this smartgate understands "
                             f"(up to {len(known)}); upgrade smartgate or point the hub at another database")
        for mig in known[current:]:
            with conn.transaction():  # a savepoint per file inside the locked transaction
                conn.execute(mig.sql)  # type: ignore[arg-type]  # several statements: simple query protocol
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (mig.version, mig.name))
            log.info("hub database: migration %04d_%s applied", mig.version, mig.name)
        return len(known)


def _configure(conn: psycopg.Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()


class HubDb:
    """The pool; `tx()` lends a connection inside one transaction (committed on success, rolled back on error)."""

    def __init__(self, conninfo: str, min_size: int = 2, max_size: int = 8, connect_timeout_s: float = 5.0,
                 wait: bool = True, name: str = "hub") -> None:
        self.conninfo = conninfo
        self.pool = ConnectionPool(
            conninfo, min_size=min_size, max_size=max_size, open=False, name=name,
            kwargs={"connect_timeout": max(1, int(connect_timeout_s)), "application_name": f"smartgate-{name}"},
            configure=_configure, check=ConnectionPool.check_connection, reconnect_timeout=24 * 3600.0,
            # A free connection normally comes at once; 5 s without one means the database is away: fail fast so
            # the consumer counts the error, holds its batch and says so (30 s hid a dead database that long).
            timeout=5.0,
        )
        self.pool.open(wait=wait, timeout=max(10.0, connect_timeout_s * 2))
        self.schema_version = 0

    def migrate(self) -> int:
        with self.pool.connection() as conn:
            self.schema_version = migrate(conn)
        return self.schema_version

    @contextmanager
    def tx(self, dict_rows: bool = False) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            if dict_rows:
                conn.row_factory = dict_row  # type: ignore[assignment]
            try:
                with conn.transaction():
                    yield conn
            finally:
                conn.row_factory = psycopg.rows.tuple_row  # type: ignore[assignment]

    def ping(self) -> bool:
        try:
            with self.pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1").fetchone()
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.pool.close()

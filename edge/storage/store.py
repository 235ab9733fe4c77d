"""Passages and declarations in SQLite: the gate's system of record.

The full Passage is kept as JSON (so new fields need no migration) next to a
few indexed columns that the API filters on. The schema is the numbered SQL
files in `edge/storage/migrations/` (applied by `edge.storage.schema`);
`schema_migrations` records which ones ran, so opening an old database
upgrades it and opening a newer one is refused instead of silently corrupting it.

Thread model: the daemon writes from a worker thread while the API reads from
its thread pool. Each thread gets its own connection (WAL lets readers run
beside the writer) and writes are serialised by a lock so that two writers
never wait on SQLite's busy handler. Other modules on the same database (the
review tables) use `connection()` and `transaction()` to share both.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from edge.domain.declarations import Declaration, identity_key
from edge.domain.types import Passage, VerdictStatus
from edge.storage import sqlite_conn
from edge.storage.schema import apply_migrations, current_version, load_migrations, split_sql

__all__ = ["MIGRATIONS", "Store", "StoreError", "normalise_plate", "split_sql", "utc_text"]

# Version N is MIGRATIONS[N - 1]: the files edge/storage/migrations/NNNN_*.sql, read once at import.
MIGRATIONS: list[str] = load_migrations()


class StoreError(Exception):
    """The database cannot be used (e.g. it was written by a newer smartgate)."""


def utc_text(t: datetime) -> str:
    """Fixed-width UTC text for ordering/comparison in SQL; naive times are taken as UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_plate(text: str) -> str:
    """Plate text as PlateRead.text stores it: uppercase, letters/digits only (CJK kept)."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class Store:
    """The gate's SQLite database: passages, declarations, and (through `connection()`/`transaction()`) the
    tables other modules own (review, outbox). Opening it creates the file or upgrades its schema."""

    def __init__(self, path: str | Path, migrations: list[str] | None = None) -> None:
        if str(path) == ":memory:":
            raise ValueError("Store needs a file path (each thread opens its own connection)")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrations = MIGRATIONS if migrations is None else migrations
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        self.integrity_error: str | None = None  # last PRAGMA quick_check finding (None: fine or not run)
        sqlite_conn.private_file(self.path)
        self._migrate()

    # -- connections -------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use), for reads. Write through `transaction()`, or the
        statement may wait on SQLite's busy handler behind another thread's write."""
        if self._closed:
            raise StoreError("store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False (in sqlite_conn.connect) only so close() can close every thread's
            # connection; each connection is still used by one thread.
            conn = sqlite_conn.connect(self.path)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    _conn = connection  # the former private name (tests still call it)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error) on this thread's connection,
        under the Store's write lock so that it never races another thread's write."""
        conn = self.connection()
        with self._write_lock, sqlite_conn.transaction(conn):
            yield conn

    def close(self) -> None:
        with self._conns_lock:
            self._closed = True
            for conn in self._conns:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- migrations --------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return current_version(self.connection())

    def _migrate(self) -> None:
        conn = self.connection()
        with self._write_lock:
            # IMMEDIATE takes the write lock first, so two processes opening the same
            # file cannot both apply migration N.
            conn.execute("BEGIN IMMEDIATE")
            try:
                apply_migrations(conn, self._migrations, self.path,
                                 now_text=lambda: utc_text(datetime.now(UTC)), newer_error=StoreError)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                self.close()
                raise

    # -- passages ----------------------------------------------------------

    def save_passage(self, p: Passage) -> None:
        """Insert or replace by id: saving the same passage twice leaves one row (the latest content)."""
        plate = p.plate.text if p.plate is not None and p.plate.text else None
        row = (
            p.id, p.gate, p.lane, p.verdict.status, utc_text(p.started_at),
            normalise_plate(plate) if plate else None, utc_text(p.created_at), p.model_dump_json(),
        )
        conn = self.connection()
        with self._write_lock:
            conn.execute(
                "INSERT INTO passages (id, gate, lane, status, started_at, plate_text, created_at, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET gate=excluded.gate, lane=excluded.lane,"
                " status=excluded.status, started_at=excluded.started_at, plate_text=excluded.plate_text,"
                " created_at=excluded.created_at, body=excluded.body",
                row,
            )

    def get_passage(self, id: str) -> Passage | None:
        row = self.connection().execute("SELECT body FROM passages WHERE id = ?", (id,)).fetchone()
        return Passage.model_validate_json(row[0]) if row else None

    @staticmethod
    def _where(
        lane: str | None, status: VerdictStatus | None, since: datetime | None, plate: str | None
    ) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if lane is not None:
            clauses.append("lane = ?")
            args.append(lane)
        if status is not None:
            clauses.append("status = ?")
            args.append(status)
        if since is not None:
            clauses.append("started_at >= ?")
            args.append(utc_text(since))
        if plate is not None:
            q = normalise_plate(plate)
            if q:  # letters/digits only after normalising, so no LIKE wildcards can sneak in
                clauses.append("plate_text LIKE ?")
                args.append(f"%{q}%")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def list_passages(
        self,
        lane: str | None = None,
        status: VerdictStatus | None = None,
        since: datetime | None = None,
        plate: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Passage]:
        """Newest first (by started_at, then id so that paging is stable)."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be >= 0")
        where, args = self._where(lane, status, since, plate)
        rows = self.connection().execute(
            f"SELECT body FROM passages{where} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [Passage.model_validate_json(r[0]) for r in rows]

    def count_passages(
        self,
        lane: str | None = None,
        status: VerdictStatus | None = None,
        since: datetime | None = None,
        plate: str | None = None,
    ) -> int:
        where, args = self._where(lane, status, since, plate)
        return int(self.connection().execute(f"SELECT COUNT(*) FROM passages{where}", args).fetchone()[0])

    def ping(self) -> bool:
        """True when the database answers a query and its last integrity check passed (for /api/health)."""
        if self.integrity_error is not None:
            return False
        try:
            self.connection().execute("SELECT 1 FROM passages LIMIT 1").fetchall()
            return True
        except sqlite3.DatabaseError as e:
            if "malformed" in str(e) or "not a database" in str(e):
                self.integrity_error = str(e)
            return False
        except (sqlite3.Error, StoreError):
            return False

    def check_integrity(self) -> str | None:
        """`PRAGMA quick_check` (reads every page, so run at start-up and hourly, not per health probe);
        returns and remembers the first problem, or None. A query on the file that already failed counts."""
        try:
            rows = self.connection().execute("PRAGMA quick_check(5)").fetchall()
            found = None if [r[0] for r in rows] == ["ok"] else "; ".join(str(r[0]) for r in rows)
        except sqlite3.DatabaseError as e:
            found = str(e)
        self.integrity_error = found
        return found

    # -- declarations ------------------------------------------------------

    def save_declaration(self, d: Declaration) -> Declaration:
        """Insert, or replace by id (a resend replaces content and received_at).

        A resend keeps `matched_passage_id`: correcting a manifest after its truck passed must not make
        it matchable again by a second truck. Returns the stored declaration.
        """
        if d.received_at is None:
            d = d.model_copy(update={"received_at": datetime.now(UTC)})
        assert d.received_at is not None
        with self.transaction() as conn:
            row = conn.execute("SELECT matched_passage_id FROM declarations WHERE id = ?", (d.id,)).fetchone()
            matched = row[0] if row else d.matched_passage_id
            d = d.model_copy(update={"matched_passage_id": matched})
            conn.execute(
                "INSERT INTO declarations (id, gate, direction, plate, vehicle_id, received_at,"
                " matched_passage_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET gate=excluded.gate, direction=excluded.direction,"
                " plate=excluded.plate, vehicle_id=excluded.vehicle_id, received_at=excluded.received_at,"
                " body=excluded.body",
                (d.id, d.gate, d.direction, d.plate, d.vehicle_key, utc_text(d.received_at), matched,
                 d.model_dump_json(exclude={"matched_passage_id"})),
            )
            conn.execute("DELETE FROM declaration_containers WHERE declaration_id = ?", (d.id,))
            conn.executemany("INSERT INTO declaration_containers (code, declaration_id) VALUES (?, ?)",
                             [(c, d.id) for c in d.containers])
        return d

    @staticmethod
    def _declaration(row: tuple[str, str | None]) -> Declaration:
        d = Declaration.model_validate_json(row[0])
        return d.model_copy(update={"matched_passage_id": row[1]})

    def get_declaration(self, id: str) -> Declaration | None:
        row = self.connection().execute("SELECT body, matched_passage_id FROM declarations WHERE id = ?",
                                   (id,)).fetchone()
        return self._declaration(row) if row else None

    @staticmethod
    def _declaration_where(unmatched_only: bool, since: datetime | None,
                           plate: str | None) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if unmatched_only:
            clauses.append("matched_passage_id IS NULL")
        if since is not None:
            clauses.append("received_at >= ?")
            args.append(utc_text(since))
        if plate is not None:
            q = normalise_plate(plate)
            if q:
                clauses.append("plate LIKE ?")
                args.append(f"%{q}%")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def list_declarations(self, unmatched_only: bool = False, since: datetime | None = None,
                          limit: int = 100, offset: int = 0, plate: str | None = None) -> list[Declaration]:
        """Newest received first. `since` filters on received_at."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be >= 0")
        where, args = self._declaration_where(unmatched_only, since, plate)
        rows = self.connection().execute(
            f"SELECT body, matched_passage_id FROM declarations{where}"
            " ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [self._declaration(r) for r in rows]

    def count_declarations(self, unmatched_only: bool = False, since: datetime | None = None,
                           plate: str | None = None) -> int:
        where, args = self._declaration_where(unmatched_only, since, plate)
        return int(self.connection().execute(f"SELECT COUNT(*) FROM declarations{where}", args).fetchone()[0])

    def mark_declaration_matched(self, decl_id: str, passage_id: str | None, only_if_unmatched: bool = False) -> bool:
        """Record (or with None, clear) the passage a declaration was matched to; False if the id is unknown,
        or with `only_if_unmatched` when another passage claimed it first (two lanes, one manifest)."""
        sql = "UPDATE declarations SET matched_passage_id = ? WHERE id = ?"
        if only_if_unmatched:
            sql += " AND matched_passage_id IS NULL"
        conn = self.connection()
        with self._write_lock:
            cur = conn.execute(sql, (passage_id, decl_id))
        return cur.rowcount > 0

    def declaration_candidates(
        self,
        since: datetime,
        plate: str | None = None,
        vehicle_id: str | None = None,
        containers: list[str] | tuple[str, ...] = (),
        limit: int = 2000,
    ) -> list[Declaration]:
        """Unmatched declarations worth matching against one passage: all received since `since` (the
        matching window; one-character tolerance is tried on these), plus older unmatched ones whose plate,
        vehicle id or a container code equals a read exactly. `edge.decision.matching` prefers the recent ones."""
        conn = self.connection()
        rows = conn.execute(
            "SELECT body, matched_passage_id FROM declarations WHERE matched_passage_id IS NULL"
            " AND received_at >= ? ORDER BY received_at DESC LIMIT ?",
            (utc_text(since), limit),
        ).fetchall()
        ors, args = [], []
        if plate:
            ors.append("d.plate = ?")
            args.append(normalise_plate(plate))
        if vehicle_id:
            ors.append("d.vehicle_id = ?")
            args.append(identity_key(vehicle_id))
        codes = sorted({c.upper() for c in containers})
        if codes:
            ors.append(f"d.id IN (SELECT declaration_id FROM declaration_containers"
                       f" WHERE code IN ({','.join('?' * len(codes))}))")
            args.extend(codes)
        if ors:
            rows += conn.execute(
                "SELECT d.body, d.matched_passage_id FROM declarations d WHERE d.matched_passage_id IS NULL"
                f" AND d.received_at < ? AND ({' OR '.join(ors)}) ORDER BY d.received_at DESC LIMIT ?",
                [utc_text(since), *args, limit],
            ).fetchall()
        return [self._declaration(r) for r in rows]

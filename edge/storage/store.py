"""Passages in SQLite: the gate's system of record.

The full Passage is kept as JSON (so new fields need no migration) next to a
few indexed columns that the API filters on. Schema changes are an ordered
list of SQL scripts; `schema_migrations` records which ones ran, so opening
an old database upgrades it and opening a newer one is refused instead of
silently corrupting it.

Thread model: the daemon writes from a worker thread while the API reads from
its thread pool. Each thread gets its own connection (WAL lets readers run
beside the writer) and writes are serialised by a lock so that two writers
never wait on SQLite's busy handler.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

from edge.domain.declarations import Declaration, identity_key
from edge.domain.types import Passage, VerdictStatus

# Append only: never edit a script that has shipped, add a new one.
# Version N is MIGRATIONS[N - 1].
MIGRATIONS: list[str] = [
    # 1: passages with the columns the API filters on.
    """
    CREATE TABLE passages (
        id          TEXT PRIMARY KEY,
        gate        TEXT NOT NULL,
        lane        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('clear', 'flag')),
        started_at  TEXT NOT NULL,   -- UTC, fixed-width ISO-8601 so text order is time order
        plate_text  TEXT,            -- normalised plate text, NULL for a no-read
        created_at  TEXT NOT NULL,
        body        TEXT NOT NULL    -- Passage JSON
    );
    CREATE INDEX passages_started ON passages (started_at);
    CREATE INDEX passages_lane_started ON passages (lane, started_at);
    CREATE INDEX passages_status_started ON passages (status, started_at);
    CREATE INDEX passages_plate ON passages (plate_text);
    """,
    # 2: declarations (manifests of expected trucks) and their container codes, for matching.
    """
    CREATE TABLE declarations (
        id                  TEXT PRIMARY KEY,   -- the sender's reference (e.g. National Single Window number)
        gate                TEXT,
        direction           TEXT NOT NULL CHECK (direction IN ('import', 'export')),
        plate               TEXT,               -- normalised plate text
        vehicle_id          TEXT,               -- identity_key() of the AI-IGV id
        received_at         TEXT NOT NULL,      -- UTC, fixed-width ISO-8601
        matched_passage_id  TEXT,
        body                TEXT NOT NULL       -- Declaration JSON
    );
    CREATE INDEX declarations_plate ON declarations (plate);
    CREATE INDEX declarations_vehicle ON declarations (vehicle_id);
    CREATE INDEX declarations_received ON declarations (received_at);
    CREATE INDEX declarations_unmatched ON declarations (received_at) WHERE matched_passage_id IS NULL;
    CREATE TABLE declaration_containers (
        code            TEXT NOT NULL,
        declaration_id  TEXT NOT NULL REFERENCES declarations (id) ON DELETE CASCADE,
        PRIMARY KEY (declaration_id, code)
    );
    CREATE INDEX declaration_containers_code ON declaration_containers (code);
    """,
    # 3: inspectors' review (edge/api/review): accounts, sessions, machine tokens, and the append-only
    # decision/audit trail. Secrets are stored as hashes only (argon2 for passwords, sha256 for the
    # random session ids and tokens). The triggers make the audit immutable for every caller.
    """
    CREATE TABLE users (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role           TEXT NOT NULL CHECK (role IN ('viewer', 'inspector', 'admin')),
        password_hash  TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        disabled       INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        id_hash     TEXT PRIMARY KEY,   -- sha256 of the cookie value
        user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        last_seen   TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        ip          TEXT
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE TABLE api_tokens (
        token_hash    TEXT PRIMARY KEY, -- sha256 of the bearer token
        user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        label         TEXT,
        created_at    TEXT NOT NULL,
        last_used_at  TEXT,
        revoked       INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE review_decisions (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        passage_id  TEXT NOT NULL,      -- the passage's event id; no FK: the audit outlives passage retention
        gate        TEXT NOT NULL,
        lane        TEXT NOT NULL,
        at          TEXT NOT NULL,      -- UTC, fixed-width ISO-8601
        user_name   TEXT NOT NULL,
        role        TEXT NOT NULL,
        via         TEXT NOT NULL CHECK (via IN ('session', 'token')),
        action      TEXT NOT NULL CHECK (action IN ('approve', 'reject', 'correct')),
        field       TEXT CHECK (field IS NULL OR field IN ('plate', 'container', 'cargo')),
        item        INTEGER,            -- container index for field = 'container'
        previous    TEXT,
        new         TEXT,
        comment     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX review_decisions_passage ON review_decisions (passage_id, id);
    CREATE INDEX review_decisions_at ON review_decisions (at);
    CREATE TRIGGER review_decisions_no_update BEFORE UPDATE ON review_decisions
    BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only: audit records cannot be changed'); END;
    CREATE TRIGGER review_decisions_no_delete BEFORE DELETE ON review_decisions
    BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only: audit records cannot be deleted'); END;
    -- INSERT OR REPLACE deletes the old row without firing DELETE triggers: refuse re-used ids.
    CREATE TRIGGER review_decisions_no_replace BEFORE INSERT ON review_decisions
    WHEN EXISTS (SELECT 1 FROM review_decisions WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only: ids cannot be reused'); END;
    """,
    # 4: durable MQTT outbox (edge/storage/outbox.py): an event row lives here from before it is published until
    # the broker's PUBACK; outbox_state keeps the created_at of the newest passage enqueued.
    """
    CREATE TABLE outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,   -- publish order
        topic       TEXT NOT NULL,
        payload     BLOB NOT NULL,
        qos         INTEGER NOT NULL CHECK (qos IN (0, 1, 2)),
        retain      INTEGER NOT NULL DEFAULT 0,
        event_id    TEXT,                                -- passage id: subscribers drop redeliveries by it
        created_at  TEXT NOT NULL
    );
    CREATE TABLE outbox_state (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
]


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


def _private_file(path: Path) -> None:
    """The database holds password hashes and session tokens: create it 0600 (SQLite gives its -wal/-shm files
    the database's mode) and take group/other access off an existing one."""
    # Never open() an existing database file here: closing any descriptor of a file drops every POSIX lock this
    # process holds on it, including SQLite's own (other connections in this process then see "disk I/O error").
    try:
        if not path.exists():
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                if extra.exists():
                    os.chmod(extra, stat.S_IMODE(extra.stat().st_mode) & 0o700)
    except OSError:
        pass  # read-only media or not ours: sqlite3 reports the real problem when it opens the file


class Store:
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
        _private_file(self.path)
        self._migrate()

    # -- connections -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a migration
            # is one transaction. check_same_thread=False only so close() can close
            # every thread's connection; each connection is still used by one thread.
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed verdict survives a power cut too (NORMAL in WAL mode may lose the last
            # commits); one fsync per write is cheap at a gate's few passages a minute.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

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
        row = self._conn().execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        conn = self._conn()
        with self._write_lock:
            # IMMEDIATE takes the write lock first, so two processes opening the same
            # file cannot both apply migration N.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
                current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
                known = len(self._migrations)
                if current > known:
                    raise StoreError(
                        f"{self.path}: database schema version {current} is newer than this smartgate "
                        f"understands (up to {known}); upgrade smartgate or point storage.database elsewhere"
                    )
                for version in range(current + 1, known + 1):
                    for stmt in split_sql(self._migrations[version - 1]):
                        conn.execute(stmt)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        (version, utc_text(datetime.now(UTC))),
                    )
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
        conn = self._conn()
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
        row = self._conn().execute("SELECT body FROM passages WHERE id = ?", (id,)).fetchone()
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
        rows = self._conn().execute(
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
        return int(self._conn().execute(f"SELECT COUNT(*) FROM passages{where}", args).fetchone()[0])

    def ping(self) -> bool:
        """True when the database answers a query and its last integrity check passed (for /api/health)."""
        if self.integrity_error is not None:
            return False
        try:
            self._conn().execute("SELECT 1 FROM passages LIMIT 1").fetchall()
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
            rows = self._conn().execute("PRAGMA quick_check(5)").fetchall()
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
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
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
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return d

    @staticmethod
    def _declaration(row: tuple[str, str | None]) -> Declaration:
        d = Declaration.model_validate_json(row[0])
        return d.model_copy(update={"matched_passage_id": row[1]})

    def get_declaration(self, id: str) -> Declaration | None:
        row = self._conn().execute("SELECT body, matched_passage_id FROM declarations WHERE id = ?",
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
        rows = self._conn().execute(
            f"SELECT body, matched_passage_id FROM declarations{where}"
            " ORDER BY received_at DESC, id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [self._declaration(r) for r in rows]

    def count_declarations(self, unmatched_only: bool = False, since: datetime | None = None,
                           plate: str | None = None) -> int:
        where, args = self._declaration_where(unmatched_only, since, plate)
        return int(self._conn().execute(f"SELECT COUNT(*) FROM declarations{where}", args).fetchone()[0])

    def mark_declaration_matched(self, decl_id: str, passage_id: str | None, only_if_unmatched: bool = False) -> bool:
        """Record (or with None, clear) the passage a declaration was matched to; False if the id is unknown,
        or with `only_if_unmatched` when another passage claimed it first (two lanes, one manifest)."""
        sql = "UPDATE declarations SET matched_passage_id = ? WHERE id = ?"
        if only_if_unmatched:
            sql += " AND matched_passage_id IS NULL"
        conn = self._conn()
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
        conn = self._conn()
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

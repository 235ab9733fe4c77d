"""The schema as numbered SQL files (edge/storage/migrations/): the same schema the former in-code
`MIGRATIONS` constant of edge/storage/store.py produced, recognised in databases it created, applied
once and in order; plus the Store's public connection API and the shared connection factory."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import make_passage

from edge.storage import sqlite_conn
from edge.storage.schema import MIGRATIONS_DIR, SchemaError, load_migrations
from edge.storage.store import MIGRATIONS, Store

# The constant exactly as edge/storage/store.py held it up to commit e87de0b (schema version 4). Frozen
# here as the reference: a database it created must be taken as current by the migration files.
OLD_MIGRATIONS: list[str] = [
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


def _schema(path: Path) -> list[tuple[str, str, str, str | None]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


def _applied(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version").fetchall()
    finally:
        conn.close()


def test_files_are_numbered_without_gaps_and_loaded_in_order():
    names = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert names == ["0001_passages.sql", "0002_declarations.sql", "0003_review.sql", "0004_outbox.sql"]
    assert load_migrations() == MIGRATIONS
    assert len(MIGRATIONS) == len(OLD_MIGRATIONS)


def test_final_schema_equals_what_the_old_constant_produced(tmp_path):
    Store(tmp_path / "old.db", migrations=OLD_MIGRATIONS).close()
    Store(tmp_path / "new.db").close()
    old, new = _schema(tmp_path / "old.db"), _schema(tmp_path / "new.db")
    assert {name for _t, name, _tbl, _sql in new} >= {"passages", "declarations", "users", "review_decisions",
                                                      "review_decisions_no_replace", "outbox", "outbox_state"}
    assert new == old  # statement text included: sqlite_master is byte-identical


def test_each_step_matches_the_old_constant(tmp_path):
    for n in range(1, len(OLD_MIGRATIONS) + 1):
        Store(tmp_path / f"old{n}.db", migrations=OLD_MIGRATIONS[:n]).close()
        Store(tmp_path / f"new{n}.db", migrations=MIGRATIONS[:n]).close()
        assert _schema(tmp_path / f"new{n}.db") == _schema(tmp_path / f"old{n}.db")


def test_database_made_by_the_old_constant_is_not_migrated_again(tmp_path):
    path = tmp_path / "gate.db"
    p = make_passage()
    with Store(path, migrations=OLD_MIGRATIONS) as s:
        s.save_passage(p)
    before, schema_before = _applied(path), _schema(path)
    assert [v for v, _ in before] == [1, 2, 3, 4]
    with Store(path) as s:
        assert s.schema_version == len(OLD_MIGRATIONS)
        assert s.get_passage(p.id) == p
    assert _applied(path) == before  # same rows, same applied_at: nothing re-ran
    assert _schema(path) == schema_before


def test_an_old_database_at_version_2_gets_3_and_4_once_in_order(tmp_path):
    path = tmp_path / "gate.db"
    Store(path, migrations=OLD_MIGRATIONS[:2]).close()
    first = _applied(path)
    Store(path).close()
    Store(path).close()
    after = _applied(path)
    assert [v for v, _ in after] == [1, 2, 3, 4]
    assert after[:2] == first
    assert after[2][1] <= after[3][1]  # applied in order
    Store(tmp_path / "ref.db").close()
    assert _schema(path) == _schema(tmp_path / "ref.db")


def test_load_migrations_refuses_gaps_and_bad_names(tmp_path):
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x);")
    (tmp_path / "0003_c.sql").write_text("CREATE TABLE c (x);")
    with pytest.raises(SchemaError, match="expected number 0002"):
        load_migrations(tmp_path)
    (tmp_path / "0003_c.sql").unlink()
    (tmp_path / "0002-Bad.sql").write_text("CREATE TABLE b (x);")
    with pytest.raises(SchemaError, match="NNNN_name.sql"):
        load_migrations(tmp_path)


def test_transaction_commits_or_rolls_back(tmp_path):
    with Store(tmp_path / "gate.db") as s:
        with s.transaction() as c:
            c.execute("INSERT INTO outbox_state (key, value) VALUES ('a', '1')")
        with pytest.raises(RuntimeError), s.transaction() as c:
            c.execute("INSERT INTO outbox_state (key, value) VALUES ('b', '2')")
            raise RuntimeError("boom")
        rows = s.connection().execute("SELECT key FROM outbox_state ORDER BY key").fetchall()
    assert rows == [("a",)]


def test_factory_settings_and_private_file(tmp_path):
    path = tmp_path / "gate.db"
    sqlite_conn.private_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = sqlite_conn.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
        assert conn.isolation_level is None
    finally:
        conn.close()
    path.chmod(0o644)
    sqlite_conn.private_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

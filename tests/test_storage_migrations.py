"""The schema as numbered SQL files (edge/storage/migrations/): the same schema the former in-code
`MIGRATIONS` constant of edge/storage/store.py produced, recognised in databases it created, applied
once and in order; plus the Store's public connection API and the shared connection factory."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import make_passage

from edge.storage import sqlite_conn
from edge.storage.schema import MIGRATIONS_DIR, SchemaError, load_migrations
from edge.storage.store import MIGRATIONS, Store

# The constant exactly as edge/storage/store.py held it up to commit e87de0b (schema version 4), frozen in a
# data file as the reference: a database it created must be taken as current by the migration files.
FROZEN = Path(__file__).with_name("data") / "store_migrations_e87de0b.json"
OLD_MIGRATIONS: list[str] = json.loads(FROZEN.read_text(encoding="utf-8"))["migrations"]


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

"""Store over real SQLite files: migrations, idempotent saves, filters, threads."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import make_passage

from edge.domain.types import PlateRead, Verdict
from edge.storage.store import MIGRATIONS, Store, StoreError, split_sql

T0 = datetime(2025, 3, 4, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db" / "gate.db")
    yield s
    s.close()


def test_fresh_database_is_migrated_with_wal(tmp_path):
    path = tmp_path / "gate.db"
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    conn.close()


def test_reopen_is_idempotent_and_keeps_data(tmp_path):
    path = tmp_path / "gate.db"
    p = make_passage()
    with Store(path) as s:
        s.save_passage(p)
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert s.get_passage(p.id) == p
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_new_migration_upgrades_an_old_database(tmp_path):
    path = tmp_path / "gate.db"
    p = make_passage()
    with Store(path) as s:
        s.save_passage(p)
    extra = "CREATE TABLE reviews (passage_id TEXT NOT NULL REFERENCES passages(id), note TEXT);"
    with Store(path, migrations=[*MIGRATIONS, extra]) as s:
        assert s.schema_version == len(MIGRATIONS) + 1
        assert s.get_passage(p.id) == p
        s._conn().execute("INSERT INTO reviews VALUES (?, 'ok')", (p.id,))
        # foreign keys are enforced
        with pytest.raises(sqlite3.IntegrityError):
            s._conn().execute("INSERT INTO reviews VALUES ('nope', 'x')")


def test_failed_migration_rolls_back_completely(tmp_path):
    path = tmp_path / "gate.db"
    Store(path).close()
    broken = "CREATE TABLE a (x INTEGER); INSERT INTO no_such_table VALUES (1);"
    with pytest.raises(sqlite3.OperationalError):
        Store(path, migrations=[*MIGRATIONS, broken])
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "a" not in tables
    assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_database_newer_than_code_is_refused(tmp_path):
    path = tmp_path / "gate.db"
    with Store(path, migrations=[*MIGRATIONS, "CREATE TABLE future (x);"]):
        pass
    n = len(MIGRATIONS)
    with pytest.raises(StoreError, match=rf"schema version {n + 1} is newer .*up to {n}\)"):
        Store(path)


def test_split_sql_keeps_trigger_bodies_whole():
    script = """
    CREATE TABLE t (x);
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; SELECT 2; END;
    """
    stmts = split_sql(script)
    assert len(stmts) == 2
    assert stmts[1].startswith("CREATE TRIGGER") and stmts[1].endswith("END;")


def test_save_is_idempotent_by_id_and_updates(store):
    p = make_passage()
    store.save_passage(p)
    store.save_passage(p)
    assert store.count_passages() == 1
    changed = p.model_copy(update={"verdict": Verdict(status="clear")})
    store.save_passage(changed)
    assert store.count_passages() == 1
    assert store.get_passage(p.id).verdict.status == "clear"
    assert store.count_passages(status="flag") == 0


def test_get_unknown_returns_none(store):
    assert store.get_passage("does-not-exist") is None


def test_filters_and_newest_first(store):
    ps = []
    for i in range(6):
        ps.append(make_passage(
            started_at=T0 + timedelta(minutes=i),
            lane="in-1" if i % 2 == 0 else "out-1",
            verdict=Verdict(status="flag" if i % 3 == 0 else "clear"),
            plate=PlateRead(text=f"29C1234{i}", country="VN") if i != 5 else PlateRead(reason="no_text"),
        ))
    for p in reversed(ps):  # insertion order must not matter
        store.save_passage(p)

    assert [p.id for p in store.list_passages()] == [p.id for p in reversed(ps)]
    assert {p.id for p in store.list_passages(lane="in-1")} == {ps[0].id, ps[2].id, ps[4].id}
    assert {p.id for p in store.list_passages(status="flag")} == {ps[0].id, ps[3].id}
    assert [p.id for p in store.list_passages(since=T0 + timedelta(minutes=4))] == [ps[5].id, ps[4].id]
    # the same instant expressed in another zone
    hcm = timezone(timedelta(hours=7))
    assert store.count_passages(since=(T0 + timedelta(minutes=4)).astimezone(hcm)) == 2
    assert store.count_passages(lane="in-1", status="flag") == 1
    # plate: normalised, partial, separators ignored; a no-read never matches
    assert [p.id for p in store.list_passages(plate="29c-123.43")] == [ps[3].id]
    assert store.count_passages(plate="1234") == 5
    assert store.count_passages(plate="%") == 6  # nothing left after normalising: no filter, not a wildcard
    assert store.count_passages(plate="ZZZ") == 0
    # paging is stable and complete
    page1 = store.list_passages(limit=4)
    page2 = store.list_passages(limit=4, offset=4)
    assert [p.id for p in page1 + page2] == [p.id for p in reversed(ps)]


def test_equal_start_times_page_without_duplicates(store):
    ids = set()
    for _ in range(5):
        p = make_passage(started_at=T0)
        ids.add(p.id)
        store.save_passage(p)
    seen = [p.id for off in range(0, 5, 2) for p in store.list_passages(limit=2, offset=off)]
    assert sorted(seen) == sorted(ids)


def test_chinese_plate_round_trip_and_search(store):
    p = make_passage(plate=PlateRead(text="桂A12345", country="CN", format="cn_ordinary", confidence=0.9))
    store.save_passage(p)
    assert store.get_passage(p.id).plate.text == "桂A12345"
    assert [x.id for x in store.list_passages(plate="桂a")] == [p.id]


def test_concurrent_writer_and_readers(store):
    n = 200
    errors: list[BaseException] = []
    stop = threading.Event()
    counts: list[list[int]] = [[], [], []]

    def writer():
        try:
            for i in range(n):
                store.save_passage(make_passage(started_at=T0 + timedelta(seconds=i)))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            stop.set()

    def reader(mine: list[int]):
        try:
            while not stop.is_set():
                mine.append(store.count_passages())
                page = store.list_passages(limit=20)
                assert len(page) >= min(20, mine[-1])  # read after the count; the table only grows
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(c,)) for c in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert store.count_passages() == n
    for mine in counts:  # each reader sees a growing table, never a half-written row
        assert mine, "reader never ran"
        assert mine == sorted(mine) and mine[0] >= 0 and mine[-1] <= n


def test_closed_store_refuses(tmp_path):
    s = Store(tmp_path / "x.db")
    s.close()
    with pytest.raises(StoreError):
        s.get_passage("x")


def test_memory_path_rejected():
    with pytest.raises(ValueError):
        Store(":memory:")

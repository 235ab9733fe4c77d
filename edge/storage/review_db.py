"""Access to the gate's SQLite Store for the review tables (created by Store migration 3).

The review code shares the Store's per-thread connections and its write lock, so its writes never race
the daemon's passage writes on SQLite's busy handler.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from edge.storage.store import Store, utc_text


def conn(store: Store) -> sqlite3.Connection:
    return store._conn()  # noqa: SLF001 — the Store's own per-thread connection, by design


@contextmanager
def write(store: Store) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE … COMMIT) under the Store's write lock."""
    c = conn(store)
    with store._write_lock:  # noqa: SLF001
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


def now_text() -> str:
    return utc_text(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

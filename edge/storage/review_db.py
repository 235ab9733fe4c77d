"""Access to the gate's SQLite Store for the review tables (created by migration 0003_review.sql).

The review code (edge/api/review) shares the Store's per-thread connections and its write lock, through
`Store.connection()` and `Store.transaction()`, so its writes never race the daemon's passage writes on
SQLite's busy handler. Also the UTC text format the review tables store times in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from edge.storage.store import Store, utc_text


def conn(store: Store) -> sqlite3.Connection:
    """The Store's connection for this thread (reads)."""
    return store.connection()


@contextmanager
def write(store: Store) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE … COMMIT) under the Store's write lock."""
    with store.transaction() as c:
        yield c


def now_text() -> str:
    """Now as fixed-width UTC text (see store.utc_text)."""
    return utc_text(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    """The inverse of utc_text: stored text back to an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

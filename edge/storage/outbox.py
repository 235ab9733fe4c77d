"""Durable MQTT outbox: every event is a row in SQLite until the broker acknowledges it.

Why: paho keeps unacknowledged QoS 1 messages in memory only, so a daemon that is
killed (or loses power) while the broker is away would lose every verdict queued
meanwhile. Here an event is committed to the `outbox` table (same database as the
passages, WAL, synchronous=FULL) before anything is handed to paho; the row is
deleted only after the broker's PUBACK. A restarted daemon publishes what is left,
in `seq` order. A crash between PUBACK and the delete re-sends an event: it keeps
its `event_id` (the passage id), so subscribers drop the redelivery.

`passage_mark` is a high-water mark (created_at of the newest passage enqueued),
written in the same transaction as the row. The daemon stores a passage and then
enqueues its event; `passages_after_mark()` finds passages stored but never
enqueued (a crash between the two commits) so they can be enqueued at start-up.

One connection shared by the sink thread (enqueue), the drain thread (read,
delete) and the API (decisions), serialised by a lock: each statement is short.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.domain.types import Passage
from edge.storage import sqlite_conn
from edge.storage.store import Store, utc_text

_MARK_KEY = "passage_mark"


@dataclass(frozen=True)
class OutboxItem:
    """One unacknowledged event, as `after()` returns it."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    event_id: str | None


class Outbox:
    """The `outbox` table behind one connection shared by every thread (see the module doc)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        Store(self.path).close()  # creates/upgrades the schema (the outbox table is migration 0004_outbox.sql)
        # WAL, synchronous=FULL (a committed event survives a power cut, not only a process crash), 10 s busy
        # timeout: the same settings as the Store's connections.
        self._conn = sqlite_conn.connect(self.path)
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)
        self._closed = False
        self._last_seq = self._query_one("SELECT COALESCE(MAX(seq), 0) FROM outbox")

    def _query_one(self, sql: str, args: tuple[object, ...] = ()) -> int:
        with self._lock:
            return int(self._conn.execute(sql, args).fetchone()[0])

    # -- writing -------------------------------------------------------------------------------------------

    def enqueue(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False,
                event_id: str | None = None, passage_created_at: datetime | None = None) -> int:
        """Commit one event; returns its sequence number. Safe from any thread."""
        body = payload.encode() if isinstance(payload, str) else bytes(payload)
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        with self._lock:
            if self._closed:
                raise RuntimeError("outbox is closed")
            with sqlite_conn.transaction(self._conn) as c:
                cur = c.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, event_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (topic, body, qos, int(retain), event_id, utc_text(datetime.now(UTC))),
                )
                if passage_created_at is not None:
                    c.execute(
                        "INSERT INTO outbox_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                        " SET value = max(value, excluded.value)",
                        (_MARK_KEY, utc_text(passage_created_at)),
                    )
            seq = int(cur.lastrowid or 0)
            self._last_seq = max(self._last_seq, seq)
            self._new.notify_all()
        return seq

    def ack(self, seqs: list[int]) -> None:
        """Delete acknowledged events (one transaction)."""
        if not seqs:
            return
        with self._lock:
            if self._closed:
                return
            with sqlite_conn.transaction(self._conn) as c:
                c.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    # -- reading -------------------------------------------------------------------------------------------

    def after(self, seq: int, limit: int = 100) -> list[OutboxItem]:
        """Events with a sequence number above `seq`, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, payload, qos, retain, event_id FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [OutboxItem(int(r[0]), r[1], bytes(r[2]), int(r[3]), bool(r[4]), r[5]) for r in rows]

    def wait_for_new(self, seq: int, timeout: float) -> bool:
        """Block until an event above `seq` may exist (or timeout)."""
        deadline = time.monotonic() + timeout
        with self._new:
            while self._last_seq <= seq and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._new.wait(left)
            return self._last_seq > seq

    def depth(self) -> int:
        """How many events wait for the broker's acknowledgement."""
        return self._query_one("SELECT COUNT(*) FROM outbox")

    def oldest_age_s(self) -> float:
        """Age of the oldest unacknowledged event in seconds (0 when empty)."""
        with self._lock:
            row = self._conn.execute("SELECT MIN(created_at) FROM outbox").fetchone()
        if not row or row[0] is None:
            return 0.0
        t = datetime.strptime(row[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return max(0.0, (datetime.now(UTC) - t).total_seconds())

    def passages_after_mark(self, limit: int = 10_000) -> list[Passage]:
        """Passages stored after the newest one whose event was enqueued, oldest first.

        The first time (no mark yet) the mark is set to now and nothing is returned: a database that
        predates the outbox does not replay its whole history."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM outbox_state WHERE key = ?", (_MARK_KEY,)).fetchone()
            if row is None:
                self._conn.execute("INSERT OR IGNORE INTO outbox_state (key, value) VALUES (?, ?)",
                                   (_MARK_KEY, utc_text(datetime.now(UTC))))
                return []
            rows = self._conn.execute(
                "SELECT body FROM passages WHERE created_at > ? ORDER BY created_at, id LIMIT ?", (row[0], limit)
            ).fetchall()
        return [Passage.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        """Close the connection and wake `wait_for_new` callers; enqueue() raises afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._new.notify_all()
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

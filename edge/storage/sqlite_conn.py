"""The one way smartgate opens the gate's SQLite database: file mode, connection PRAGMAs, transactions.

`Store` (per-thread connections) and `Outbox` (one shared connection) both open the same file; keeping
the settings here means they cannot drift apart:

- the file is created 0600 (it holds password hashes and session tokens) and an existing one loses
  group/other access, without ever open()ing it in-process (see `private_file`);
- WAL so that readers run beside the writer, synchronous=FULL so that a commit survives a power cut,
  foreign keys on, and a 10 s busy timeout;
- autocommit (isolation_level=None): callers issue BEGIN IMMEDIATE / COMMIT themselves via `transaction`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

BUSY_TIMEOUT_S = 10.0


def private_file(path: Path) -> None:
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


def connect(path: Path) -> sqlite3.Connection:
    """A new connection to the database at `path` with smartgate's settings.

    isolation_level=None: we issue BEGIN/COMMIT ourselves, so a migration is one transaction.
    check_same_thread=False only so that an owner can close every thread's connection (or share one under
    its own lock); each connection is still used by one thread at a time.
    """
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed verdict or event survives a power cut too (NORMAL in WAL mode may lose the last
    # commits); one fsync per write is cheap at a gate's few passages a minute.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT on `conn`, ROLLBACK on any exception. IMMEDIATE takes SQLite's write lock
    first, so two processes cannot both read-then-write on stale data. The caller holds its own thread lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

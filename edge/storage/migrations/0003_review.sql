-- Inspectors' review (edge/api/review): accounts, sessions, machine tokens, and the append-only
-- decision/audit trail. Secrets are stored as hashes only (argon2 for passwords, sha256 for the
-- random session ids and tokens). The triggers make the audit immutable for every caller.
-- Shipped: never edit this file, add the next number. Statements keep their shipped indentation
-- because SQLite stores their text in sqlite_master.
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

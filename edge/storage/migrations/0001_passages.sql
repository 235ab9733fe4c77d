-- Passages with the columns the API filters on; the full Passage is the JSON in `body`.
-- Shipped: never edit this file, add the next number. Statements keep their shipped indentation
-- because SQLite stores their text in sqlite_master.
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

-- Declarations (manifests of expected trucks) and their container codes, for matching.
-- Shipped: never edit this file, add the next number. Statements keep their shipped indentation
-- because SQLite stores their text in sqlite_master.
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

-- Durable MQTT outbox (edge/storage/outbox.py): an event row lives here from before it is published until
-- the broker's PUBACK; outbox_state keeps the created_at of the newest passage enqueued.
-- Shipped: never edit this file, add the next number. Statements keep their shipped indentation
-- because SQLite stores their text in sqlite_master.
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

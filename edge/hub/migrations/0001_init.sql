-- 1: the hub's store of record. Append-only file: never edit a migration that has shipped, add the next one.

-- Trigram indexes for "plate/container contains" searches over millions of rows (pg_trgm is a trusted
-- extension since PostgreSQL 13: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per passage (event_id), holding its latest revision. Revision 1 is the box's verdict; the hub
-- writes revision 2, 3, ... when it re-decides. A redelivered or older revision never overwrites a newer one.
CREATE TABLE passages (
    event_id         text PRIMARY KEY,
    gate             text NOT NULL,
    lane             text NOT NULL,
    box              text,
    direction        text NOT NULL CHECK (direction IN ('import', 'export')),
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,              -- when the box decided (revision 1)
    received_at      timestamptz NOT NULL DEFAULT now(), -- when the hub committed revision 1
    updated_at       timestamptz NOT NULL DEFAULT now(), -- when the current revision was committed
    plate_text       text,                               -- normalised plate, NULL for a no-read
    vehicle_key      text,                               -- identity_key() of an AI-IGV id
    containers       text NOT NULL DEFAULT '',           -- the codes read, space-separated (search)
    declaration_id   text,
    status           text NOT NULL CHECK (status IN ('clear', 'flag')),
    reasons          text[] NOT NULL DEFAULT '{}',
    first_status     text NOT NULL CHECK (first_status IN ('clear', 'flag')),  -- the box's verdict
    flagged_at       timestamptz,                        -- first time a revision flagged it (decision time base)
    revision         integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    revision_reason  text,
    review_status    text NOT NULL DEFAULT 'pending' CHECK (review_status IN ('pending', 'approved', 'rejected')),
    decided_at       timestamptz,
    decided_by       text,
    body             jsonb NOT NULL                      -- the current revision's payload
);
CREATE INDEX passages_started ON passages (started_at DESC, event_id DESC);
CREATE INDEX passages_gate_lane_started ON passages (gate, lane, started_at DESC);
CREATE INDEX passages_box_started ON passages (box, started_at DESC);
CREATE INDEX passages_flag_started ON passages (started_at DESC, event_id DESC) WHERE status = 'flag';
CREATE INDEX passages_plate_trgm ON passages USING gin (plate_text gin_trgm_ops);
CREATE INDEX passages_containers_trgm ON passages USING gin (containers gin_trgm_ops);
CREATE INDEX passages_declaration ON passages (declaration_id);
CREATE INDEX passages_vehicle ON passages (vehicle_key) WHERE vehicle_key IS NOT NULL;
CREATE INDEX passages_unmatched ON passages (gate, direction, started_at) WHERE declaration_id IS NULL;

-- Every revision of every passage, as published.
CREATE TABLE passage_revisions (
    event_id        text NOT NULL,
    revision        integer NOT NULL CHECK (revision >= 1),
    at              timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL,
    reasons         text[] NOT NULL,
    declaration_id  text,
    reason          text,          -- why this revision (NULL for the box's)
    actor           text NOT NULL, -- 'box', 'hub' or the inspector who linked a manifest
    body            jsonb NOT NULL,
    PRIMARY KEY (event_id, revision)
);

-- Declarations (manifests) from the Single Window feed: the hub is where they live.
CREATE TABLE declarations (
    id           text PRIMARY KEY,
    gate         text,
    direction    text NOT NULL CHECK (direction IN ('import', 'export')),
    plate        text,
    vehicle_key  text,
    channel      text CHECK (channel IS NULL OR channel IN ('green', 'yellow', 'red')),
    released_at  timestamptz,
    received_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    body         jsonb NOT NULL
);
CREATE INDEX declarations_plate ON declarations (plate);
CREATE INDEX declarations_vehicle ON declarations (vehicle_key);
CREATE INDEX declarations_received ON declarations (received_at DESC);
CREATE INDEX declarations_plate_trgm ON declarations USING gin (plate gin_trgm_ops);

CREATE TABLE declaration_containers (
    declaration_id  text NOT NULL REFERENCES declarations (id) ON DELETE CASCADE,
    code            text NOT NULL,
    PRIMARY KEY (declaration_id, code)
);
CREATE INDEX declaration_containers_code ON declaration_containers (code);

-- One manifest, one passage, across every box and lane: the primary key on declaration_id is the rule
-- (a second claim fails in the database, whatever process makes it), and one passage has one manifest.
-- No foreign keys: a box may claim for a passage the hub has not received yet, and passages follow retention.
CREATE TABLE declaration_matches (
    declaration_id  text PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    at              timestamptz NOT NULL DEFAULT now(),
    source          text NOT NULL CHECK (source IN ('box', 'hub', 'hand')),
    matched_by      text,          -- plate | vehicle_id | container | hand
    note            text,
    actor           text           -- the box, 'hub', or the inspector
);

-- Decisions: approve / reject / correct from the boxes' review pages (consumed from MQTT, idempotent on
-- (gate, lane, decision_id): the id increases per box and a lane belongs to one box), and approve / reject /
-- link made on the hub's page. Append-only: triggers refuse UPDATE and DELETE.
CREATE TABLE decisions (
    id               bigserial PRIMARY KEY,
    source           text NOT NULL CHECK (source IN ('box', 'hub')),
    gate             text NOT NULL,
    lane             text NOT NULL,
    box_decision_id  bigint,       -- the box's decision_id (source = 'box')
    event_id         text NOT NULL,
    at               timestamptz NOT NULL,
    user_name        text NOT NULL,
    role             text NOT NULL,
    via              text NOT NULL,
    action           text NOT NULL CHECK (action IN ('approve', 'reject', 'correct', 'link')),
    field            text,
    item             integer,
    previous         text,
    new              text,
    comment          text NOT NULL DEFAULT '',
    review_status    text,
    body             jsonb
);
CREATE UNIQUE INDEX decisions_box_key ON decisions (gate, lane, box_decision_id) WHERE source = 'box';
CREATE INDEX decisions_event ON decisions (event_id, id);
CREATE INDEX decisions_at ON decisions (at);

CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decisions is append-only: audit records cannot be changed or deleted';
END $$;
CREATE TRIGGER decisions_no_update BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();

-- What the hub publishes (re-decided passages), committed with the revision and deleted after the broker's
-- PUBACK, like the box's SQLite outbox.
CREATE TABLE outbox (
    seq         bigserial PRIMARY KEY,
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    qos         smallint NOT NULL CHECK (qos IN (0, 1, 2)),
    event_id    text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Messages that could not be ingested (not JSON, not a passage event): kept for an operator, then acknowledged.
CREATE TABLE rejected_messages (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    topic     text NOT NULL,
    error     text NOT NULL,
    payload   bytea NOT NULL
);

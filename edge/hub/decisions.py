"""Inspectors' decisions on the hub, each inside the caller's transaction: a box's decision heard on MQTT
(`ingest_decision`, idempotent), an approve or reject on the hub's own page (`decide_on_hub`, final), and a
decision that arrived before its passage applied once the passage is stored (`apply_decisions`).

All write the `decisions` table and the passage's `review_status`; `HubCore` (core.py) calls them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from edge.comms.payload import iso_utc
from edge.hub.errors import Conflict, NotFound

_REVIEW = {"approve": "approved", "reject": "rejected"}


def apply_decisions(conn: psycopg.Connection, event_id: str) -> None:
    """A decision consumed before its passage (or kept past the passage's retention) sets its status."""
    row = conn.execute(
        "SELECT action, at, user_name FROM decisions WHERE event_id = %s AND action IN ('approve', 'reject')"
        " ORDER BY at, id LIMIT 1", (event_id,)).fetchone()
    if row is not None:
        conn.execute("UPDATE passages SET review_status = %s, decided_at = %s, decided_by = %s"
                     " WHERE event_id = %s", (_REVIEW[row[0]], row[1], row[2], event_id))


def ingest_decision(conn: psycopg.Connection, d: dict[str, Any]) -> bool:
    """A box's review decision (docs/mqtt.md), idempotent on (gate, lane, decision_id)."""
    for k in ("decision_id", "event_id", "gate", "lane", "at", "user", "action"):
        if k not in d:
            raise ValueError(f"decision without {k}")
    if d["action"] not in ("approve", "reject", "correct"):
        raise ValueError(f"decision action {d['action']!r}")
    at = datetime.fromisoformat(str(d["at"]).replace("Z", "+00:00"))
    got = conn.execute(
        "INSERT INTO decisions (source, gate, lane, box_decision_id, event_id, at, user_name, role, via, action,"
        " field, item, previous, new, comment, review_status, body)"
        " VALUES ('box', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (gate, lane, box_decision_id) WHERE source = 'box' DO NOTHING RETURNING 1",
        (d["gate"], d["lane"], int(d["decision_id"]), d["event_id"], at, d["user"], d.get("role") or "inspector",
         d.get("via") or "session", d["action"], d.get("field"), d.get("index"), d.get("previous"),
         d.get("new"), d.get("comment") or "", d.get("review_status"), Jsonb(d))).fetchone()
    if got is not None and d["action"] in _REVIEW:
        conn.execute("UPDATE passages SET review_status = %s, decided_at = %s, decided_by = %s"
                     " WHERE event_id = %s AND review_status = 'pending'",
                     (_REVIEW[d["action"]], at, d["user"], d["event_id"]))
    return got is not None

def decide_on_hub(conn: psycopg.Connection, event_id: str, action: str, user: str, role: str, via: str,
                  comment: str) -> str:
    """Approve or reject on the hub's page: final, like the box's (a decided passage takes no more)."""
    row = conn.execute("SELECT gate, lane, review_status, decided_by, decided_at FROM passages"
                       " WHERE event_id = %s FOR UPDATE", (event_id,)).fetchone()
    if row is None:
        raise NotFound(f"no passage with id {event_id!r}")
    gate, lane, status, by, at = row
    if status != "pending":
        raise Conflict(f"passage was {status} by {by} at {iso_utc(at) if at else '?'}")
    new = _REVIEW[action]
    now = conn.execute(
        "INSERT INTO decisions (source, gate, lane, event_id, at, user_name, role, via, action, previous, new,"
        " comment, review_status) VALUES ('hub', %s, %s, %s, clock_timestamp(), %s, %s, %s, %s, 'pending', %s,"
        " %s, %s) RETURNING at", (gate, lane, event_id, user, role, via, action, new, comment, new)).fetchone()
    conn.execute("UPDATE passages SET review_status = %s, decided_at = %s, decided_by = %s WHERE event_id = %s",
                 (new, now[0] if now else None, user, event_id))
    return new

"""Inspectors' decisions: an append-only audit trail, and what it implies for a passage.

Each decision is one row of `review_decisions` (who, when, action, field, previous → new, comment);
SQLite triggers refuse UPDATE, DELETE and id re-use, so no caller — not even a bug — can rewrite it.
The passage itself stays as the cameras saw it: a correction is an audit record, and the corrected
readings are derived by replaying the records (`effective_readings`). The review status of a passage is
its last approve/reject record; a decided passage takes no further decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from edge.api.review.auth import Principal
from edge.comms.payload import SCHEMA_VERSION, iso_utc
from edge.domain import iso6346
from edge.domain.plate_grammar import match as plate_match
from edge.domain.plate_grammar import normalise as plate_normalise
from edge.domain.types import Passage
from edge.storage import review_db as db
from edge.storage.store import Store, utc_text

Action = Literal["approve", "reject", "correct"]
Field = Literal["plate", "container", "cargo"]
ReviewStatus = Literal["pending", "approved", "rejected"]
# CargoRead.cls values (edge/domain/types.py).
CARGO_CLASSES = ("fertilizer", "coke_coal", "chemicals", "agricultural", "electronics", "closed", "empty", "unknown")
_STATUS_OF = {"approve": "approved", "reject": "rejected"}
_COLUMNS = "id, passage_id, gate, lane, at, user_name, role, via, action, field, item, previous, new, comment"


class DecisionError(ValueError):
    """The decision cannot be recorded; `status` is the HTTP answer (409 decided already, 422 invalid)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Decision:
    id: int
    passage_id: str
    gate: str
    lane: str
    at: datetime
    user: str
    role: str
    via: str
    action: Action
    field: Field | None
    item: int | None
    previous: str | None
    new: str | None
    comment: str

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> Decision:
        return cls(r[0], r[1], r[2], r[3], db.parse_time(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                   r[13])

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "event_id": self.passage_id, "gate": self.gate, "lane": self.lane, "at": iso_utc(self.at),
            "user": self.user, "role": self.role, "via": self.via, "action": self.action, "field": self.field,
            "index": self.item, "previous": self.previous, "new": self.new, "comment": self.comment,
        }


def decision_payload(d: Decision, review_status: ReviewStatus) -> dict[str, Any]:
    """The MQTT message on `<prefix>/<gate>/<lane>/decision` (edge/comms/schemas/decision.schema.json)."""
    out = d.to_json()
    out["decision_id"] = out.pop("id")
    return {"schema_version": SCHEMA_VERSION, **out, "review_status": review_status}


# -- validation of corrections -----------------------------------------------------------------

def normalise_correction(field: Field, value: str) -> str:
    """The corrected value in stored form, or DecisionError explaining why it is refused."""
    v = value.strip()
    if field == "plate":
        text = plate_normalise(v)
        if not text or not plate_match(text, max_corrections=0):
            raise DecisionError(f"plate: {v!r} is not a Vietnamese, Chinese or other known plate format")
        return text
    if field == "container":
        code = "".join(v.split()).upper()
        if not iso6346.CODE_RE.fullmatch(code):
            raise DecisionError(f"container: {v!r} is not an ISO 6346 code (4 letters ending in U/J/Z, 7 digits)")
        want = iso6346.check_digit(code[:10])
        if int(code[10]) != want:
            raise DecisionError(f"container: {code}: ISO 6346 check digit should be {want}, not {code[10]}")
        return code
    if v not in CARGO_CLASSES:
        raise DecisionError(f"cargo: {v!r} is not one of {', '.join(CARGO_CLASSES)}")
    return v


def current_value(p: Passage, decisions: list[Decision], field: Field, item: int | None) -> str | None:
    """The reading as it stands after earlier corrections (the `previous` of a new correction)."""
    eff = effective_readings(p, decisions)
    if field == "plate":
        return eff["plate"]["value"]
    if field == "cargo":
        return eff["cargo"]["value"]
    assert item is not None
    return eff["containers"][item]["value"]


def effective_readings(p: Passage, decisions: list[Decision]) -> dict[str, Any]:
    """Readings with corrections applied, each with the machine's original and who corrected it."""
    plate = {"value": p.plate.text if p.plate else None, "original": p.plate.text if p.plate else None,
             "corrected_by": None}
    containers = [{"value": c.code, "original": c.code, "check_digit_ok": c.check_digit_ok, "corrected_by": None}
                  for c in p.containers]
    cargo = {"value": p.cargo.cls if p.cargo else None, "original": p.cargo.cls if p.cargo else None,
             "corrected_by": None}
    for d in decisions:
        if d.action != "correct":
            continue
        target = plate if d.field == "plate" else cargo if d.field == "cargo" else None
        if d.field == "container" and d.item is not None:
            while len(containers) <= d.item:  # a container the cameras missed entirely
                containers.append({"value": None, "original": None, "check_digit_ok": False, "corrected_by": None})
            target = containers[d.item]
            target["check_digit_ok"] = True  # validated on entry
        if target is not None:
            target["value"] = d.new
            target["corrected_by"] = d.user
    return {"plate": plate, "containers": containers, "cargo": cargo}


# -- the trail ---------------------------------------------------------------------------------

class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def for_passage(self, passage_id: str) -> list[Decision]:
        rows = db.conn(self.store).execute(
            f"SELECT {_COLUMNS} FROM review_decisions WHERE passage_id = ? ORDER BY id", (passage_id,)).fetchall()
        return [Decision.from_row(r) for r in rows]

    @staticmethod
    def status(decisions: list[Decision]) -> ReviewStatus:
        final = [d for d in decisions if d.action in _STATUS_OF]
        return _STATUS_OF[final[-1].action] if final else "pending"  # type: ignore[return-value]

    def record(self, p: Passage, who: Principal, action: Action, comment: str, field: Field | None = None,
               item: int | None = None, value: str | None = None) -> tuple[Decision, ReviewStatus]:
        """Validate and append one decision atomically; returns it and the passage's new review status."""
        comment = comment.strip()
        if action == "correct":
            if not comment:
                raise DecisionError("comment: a correction needs a comment")
            if field is None or value is None:
                raise DecisionError("a correction names a field and a value")
            if field == "container":
                if item is None or not 0 <= item <= len(p.containers):
                    raise DecisionError(f"index: the passage has {len(p.containers)} container(s)")
            else:
                item = None
            new = normalise_correction(field, value)
        elif field is not None or value is not None:
            raise DecisionError(f"{action} takes no field or value")
        with db.write(self.store) as c:  # read-check-append in one transaction: two inspectors, one truck
            rows = c.execute(f"SELECT {_COLUMNS} FROM review_decisions WHERE passage_id = ? ORDER BY id",
                             (p.id,)).fetchall()
            earlier = [Decision.from_row(r) for r in rows]
            status = self.status(earlier)
            if status != "pending":
                last = [d for d in earlier if d.action in _STATUS_OF][-1]
                raise DecisionError(f"passage was {status} by {last.user} at {iso_utc(last.at)}", status=409)
            if action == "correct":
                previous = current_value(p, earlier, field, item)  # type: ignore[arg-type]
                if previous == new:
                    raise DecisionError(f"{field}: the reading is {new} already")
            else:
                previous, new = "pending", _STATUS_OF[action]
            cur = c.execute(
                "INSERT INTO review_decisions (passage_id, gate, lane, at, user_name, role, via, action, field, item,"
                " previous, new, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.id, p.gate, p.lane, db.now_text(), who.name, who.role, who.via, action, field, item, previous,
                 new, comment),
            )
            row = c.execute(f"SELECT {_COLUMNS} FROM review_decisions WHERE id = ?", (cur.lastrowid,)).fetchone()
        d = Decision.from_row(row)
        return d, self.status([*earlier, d])

    def query(self, passage_id: str | None = None, user: str | None = None, action: Action | None = None,
              lane: str | None = None, since: datetime | None = None, until: datetime | None = None,
              limit: int = 100, offset: int = 0) -> tuple[int, list[Decision]]:
        """(total, page) of decisions, newest first."""
        clauses, args = [], []
        for col, val in (("passage_id", passage_id), ("user_name", user), ("action", action), ("lane", lane)):
            if val is not None:
                clauses.append(f"{col} = ?")
                args.append(val)
        if since is not None:
            clauses.append("at >= ?")
            args.append(utc_text(since))
        if until is not None:
            clauses.append("at < ?")
            args.append(utc_text(until))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        c = db.conn(self.store)
        total = int(c.execute(f"SELECT COUNT(*) FROM review_decisions{where}", args).fetchone()[0])
        rows = c.execute(f"SELECT {_COLUMNS} FROM review_decisions{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                         [*args, limit, offset]).fetchall()
        return total, [Decision.from_row(r) for r in rows]

    def queue(self, lane: str | None = None, reason: str | None = None, since: datetime | None = None,
              until: datetime | None = None, status: Literal["pending", "decided", "all"] = "pending",
              limit: int = 100, offset: int = 0) -> tuple[int, list[tuple[Passage, ReviewStatus, Decision | None]]]:
        """Flagged passages, newest first, with their review status and final decision (if any)."""
        clauses, args = ["p.status = 'flag'"], []
        if lane is not None:
            clauses.append("p.lane = ?")
            args.append(lane)
        if since is not None:
            clauses.append("p.started_at >= ?")
            args.append(utc_text(since))
        if until is not None:
            clauses.append("p.started_at < ?")
            args.append(utc_text(until))
        if reason is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(p.body, '$.verdict.reasons') r"
                           " WHERE json_extract(r.value, '$.code') = ?)")
            args.append(reason)
        if status == "pending":
            clauses.append("d.id IS NULL")
        elif status == "decided":
            clauses.append("d.id IS NOT NULL")
        sql = (" FROM passages p LEFT JOIN review_decisions d ON d.id = (SELECT MAX(x.id) FROM review_decisions x"
               " WHERE x.passage_id = p.id AND x.action IN ('approve', 'reject'))"
               " WHERE " + " AND ".join(clauses))
        c = db.conn(self.store)
        total = int(c.execute("SELECT COUNT(*)" + sql, args).fetchone()[0])
        cols = ", ".join(f"d.{k.strip()}" for k in _COLUMNS.split(","))
        rows = c.execute(f"SELECT p.body, {cols}" + sql + " ORDER BY p.started_at DESC, p.id DESC LIMIT ? OFFSET ?",
                         [*args, limit, offset]).fetchall()
        out = []
        for r in rows:
            p = Passage.model_validate_json(r[0])
            d = Decision.from_row(r[1:]) if r[1] is not None else None
            out.append((p, _STATUS_OF[d.action] if d else "pending", d))
        return total, out

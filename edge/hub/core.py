"""What the hub does with a passage, a decision or a declaration, each inside the caller's transaction.

* `ingest_passage`: idempotent on `event_id`, ordered by `revision` (a redelivery or an older revision never
  overwrites a newer one). A box's revision 1 is then reconciled with the hub's view of the declarations:
  the box's match is claimed in `declaration_matches` (the table's primary key is the one-manifest-one-passage
  rule, across every box and lane); a manifest already used elsewhere, a match the box never heard about, or a
  manifest that has arrived since is re-decided here as revision 2.
* `match_for_box`: a box asks at decision time (POST /api/hub/match); the match is claimed for the box's
  passage id in the same transaction, so two boxes asking for the same manifest cannot both get it.
* `store_declaration`: upsert; then a late manifest re-decides the passage it fits that started up to
  `redecide.window_min` before, and an update of a matched manifest re-decides its passage when the verdict
  changes.
* `link_by_hand`: an inspector links a manifest to a passage; audited in `decisions` (action `link`).
* Inspectors' decisions (a box's, heard on MQTT, and the hub page's): edge/hub/decisions.py.
* Every re-decision is a new revision with its reason, stored in `passage_revisions` and queued in the
  `outbox` for MQTT (same topic and event_id as the box's event).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from edge.comms.payload import passage_from_payload
from edge.decision.matching import MatchOutcome, MatchResult, explain_match
from edge.decision.policy import LaneExpectations, PassageFacts, PolicyRules, decide
from edge.domain.declarations import Declaration, DeclarationIn, identity_key
from edge.domain.types import ContainerRead, Passage, PlateRead
from edge.hub.config import HubConfig
from edge.hub.decisions import apply_decisions, decide_on_hub, ingest_decision
from edge.hub.errors import Conflict, NotFound
from edge.storage.store import normalise_plate

log = logging.getLogger("smartgate.hub")

__all__ = ["MATCH_CANDIDATES", "Conflict", "HubCore", "IngestResult", "NotFound"]  # Conflict, NotFound: errors.py

MATCH_CANDIDATES = 2000


@dataclass
class IngestResult:
    event_id: str
    stored: bool  # False: a redelivery or an older revision (nothing changed)
    revision: int
    created_at: datetime | None = None  # the box's decision time (the consumer measures box -> commit from it)
    redecided: list[int] = field(default_factory=list)  # revisions the hub wrote


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _expectations(body: dict[str, Any]) -> LaneExpectations:
    checks = body.get("checks")
    if isinstance(checks, dict):
        return LaneExpectations(containers=bool(checks.get("containers")), cargo=bool(checks.get("cargo")))
    # An older box that does not say: a lane showed its cameras by what they read or what the box flagged.
    codes = {r.get("code") for r in body.get("verdict", {}).get("reasons", [])}
    containers = bool(body.get("containers")) or bool(codes & {"container_unread", "container_check_digit_failed",
                                                               "container_not_declared"})
    cargo = body.get("cargo") is not None or "cargo_unverified" in codes
    return LaneExpectations(containers=containers, cargo=cargo)


def _row_values(body: dict[str, Any], p: Passage) -> dict[str, Any]:
    plate = p.plate.text if p.plate is not None and p.plate.text else None
    return {
        "event_id": p.id, "gate": p.gate, "lane": p.lane, "box": p.box, "direction": p.direction,
        "started_at": _utc(p.started_at), "ended_at": _utc(p.ended_at), "created_at": _utc(p.created_at),
        "plate_text": normalise_plate(plate) if plate else None,
        "vehicle_key": identity_key(p.vehicle_id) if p.vehicle_id else None,
        "containers": " ".join(c.code for c in p.containers),
        "declaration_id": p.declaration_id, "status": p.verdict.status,
        "reasons": [r.code for r in p.verdict.reasons],
        "revision": int(body.get("revision") or 1), "revision_reason": body.get("revision_reason"),
        "body": Jsonb(body),
    }


class HubCore:
    def __init__(self, cfg: HubConfig) -> None:
        self.cfg = cfg
        self.prefix = cfg.mqtt.topic_prefix.strip("/") if cfg.mqtt is not None else "smartgate"
        self.qos = max(1, cfg.mqtt.qos) if cfg.mqtt is not None else 1

    def rules(self, gate: str) -> PolicyRules:
        return PolicyRules.from_config(self.cfg.gate_policy(gate).policy)

    def window_h(self, gate: str) -> float:
        return self.cfg.gate_policy(gate).match_window_h

    # -- passages ------------------------------------------------------------------------------------------

    def ingest_passage(self, conn: psycopg.Connection, body: dict[str, Any], actor: str = "box") -> IngestResult:
        """Store a passage event (a box's, or a revision the hub published and now hears back)."""
        p = passage_from_payload(body)  # ValueError for anything that is not a passage event
        v = _row_values(body, p)
        rev = v["revision"]
        row = conn.execute(
            """
            INSERT INTO passages (event_id, gate, lane, box, direction, started_at, ended_at, created_at, plate_text,
                                  vehicle_key, containers, declaration_id, status, reasons, first_status, flagged_at,
                                  revision, revision_reason, body, received_at, updated_at)
            VALUES (%(event_id)s, %(gate)s, %(lane)s, %(box)s, %(direction)s, %(started_at)s, %(ended_at)s,
                    %(created_at)s, %(plate_text)s, %(vehicle_key)s, %(containers)s, %(declaration_id)s, %(status)s,
                    %(reasons)s, %(status)s, CASE WHEN %(status)s = 'flag' THEN %(created_at)s END, %(revision)s,
                    %(revision_reason)s, %(body)s, clock_timestamp(), clock_timestamp())
            ON CONFLICT (event_id) DO UPDATE SET
                declaration_id = EXCLUDED.declaration_id, status = EXCLUDED.status, reasons = EXCLUDED.reasons,
                revision = EXCLUDED.revision, revision_reason = EXCLUDED.revision_reason, body = EXCLUDED.body,
                flagged_at = COALESCE(passages.flagged_at,
                                      CASE WHEN EXCLUDED.status = 'flag' THEN clock_timestamp() END),
                updated_at = clock_timestamp()
            WHERE passages.revision < EXCLUDED.revision
            RETURNING (xmax = 0) AS inserted
            """, v).fetchone()
        if row is None:
            return IngestResult(p.id, False, rev)
        conn.execute(
            "INSERT INTO passage_revisions (event_id, revision, status, reasons, declaration_id, reason, actor, body)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (p.id, rev, v["status"], v["reasons"], v["declaration_id"], v["revision_reason"],
             actor if rev == 1 else "hub", v["body"]))
        result = IngestResult(p.id, True, rev, created_at=_utc(p.created_at))
        if row[0]:  # first time this passage is seen
            apply_decisions(conn, p.id)
            if rev == 1:
                self._reconcile(conn, body, p, result)
        return result

    def _reconcile(self, conn: psycopg.Connection, body: dict[str, Any], p: Passage, result: IngestResult) -> None:
        claim = conn.execute("SELECT declaration_id FROM declaration_matches WHERE event_id = %s",
                             (p.id,)).fetchone()
        claimed = claim[0] if claim else None
        if p.declaration_id is not None:
            if claimed == p.declaration_id:
                return  # the box asked the hub: claimed at decision time
            if claimed is None:
                got = conn.execute(
                    "INSERT INTO declaration_matches (declaration_id, event_id, source, matched_by, note, actor)"
                    " VALUES (%s, %s, 'box', NULL, 'matched by the box', %s) ON CONFLICT DO NOTHING RETURNING 1",
                    (p.declaration_id, p.id, p.box)).fetchone()
                if got is not None:
                    return
                owner = conn.execute("SELECT event_id FROM declaration_matches WHERE declaration_id = %s",
                                     (p.declaration_id,)).fetchone()
                why = (f"declaration {p.declaration_id} was already used by passage {owner[0] if owner else '?'} "
                       "(one manifest, one truck)")
                other = self._hub_match(conn, p, exclude=(p.declaration_id,))
                if other is not None:
                    why += f"; matched {other.declaration.id} instead ({other.note})"
                self.redecide(conn, p.id, other.declaration if other else None, why, "hub", result=result)
                return
            # The hub holds another claim for this passage than the box used (not expected): the hub's wins.
            decl = self.get_declaration(conn, claimed)
            self.redecide(conn, p.id, decl, f"the hub had matched declaration {claimed} to this passage", "hub",
                          result=result)
            return
        if claimed is not None:  # the box asked, the hub claimed, the answer was lost on the way back
            decl = self.get_declaration(conn, claimed)
            self.redecide(conn, p.id, decl, f"declaration {claimed} was matched by the hub when the box asked; "
                          "the box did not get the answer", "hub", result=result)
            return
        found = self._hub_match(conn, p)
        if found is not None:
            self.redecide(conn, p.id, found.declaration,
                          f"declaration {found.declaration.id} matched by the hub after the box decided without it "
                          f"({found.note})", "hub", result=result)

    # -- matching ------------------------------------------------------------------------------------------

    def candidates(self, conn: psycopg.Connection, gate: str, direction: str, since: datetime,
                   plate: str | None, vehicle_id: str | None, containers: list[str],
                   exclude: tuple[str, ...] = ()) -> list[Declaration]:
        """Unmatched declarations of this gate (or of no gate) and direction: every one received since `since`,
        plus older ones sharing a plate, vehicle id or container code exactly (as the box does)."""
        unmatched = ("NOT EXISTS (SELECT 1 FROM declaration_matches m WHERE m.declaration_id = d.id)"
                     " AND (d.gate IS NULL OR d.gate = %(gate)s) AND d.direction = %(direction)s"
                     " AND NOT (d.id = ANY(%(exclude)s))")
        args: dict[str, Any] = {"gate": gate, "direction": direction, "since": since, "exclude": list(exclude),
                                "limit": MATCH_CANDIDATES}
        rows = conn.execute(f"SELECT d.body, d.received_at FROM declarations d WHERE {unmatched}"
                            " AND d.received_at >= %(since)s ORDER BY d.received_at DESC LIMIT %(limit)s",
                            args).fetchall()
        ors = []
        if plate:
            ors.append("d.plate = %(plate)s")
            args["plate"] = normalise_plate(plate)
        if vehicle_id:
            ors.append("d.vehicle_key = %(vkey)s")
            args["vkey"] = identity_key(vehicle_id)
        if containers:
            ors.append("d.id IN (SELECT declaration_id FROM declaration_containers WHERE code = ANY(%(codes)s))")
            args["codes"] = sorted({c.upper() for c in containers})
        if ors:
            rows += conn.execute(f"SELECT d.body, d.received_at FROM declarations d WHERE {unmatched}"
                                 f" AND d.received_at < %(since)s AND ({' OR '.join(ors)})"
                                 " ORDER BY d.received_at DESC LIMIT %(limit)s", args).fetchall()
        return [_declaration(r[0], r[1]) for r in rows]

    def _explain(self, conn: psycopg.Connection, gate: str, direction: str, started_at: datetime,
                 plate: PlateRead | None, vehicle_id: str | None, containers: list[ContainerRead],
                 exclude: tuple[str, ...] = ()) -> MatchOutcome:
        window = self.window_h(gate)
        since = min(_utc(started_at), datetime.now(UTC)) - timedelta(hours=window)
        cands = self.candidates(conn, gate, direction, since, plate.text if plate else None, vehicle_id,
                                [c.code for c in containers], exclude)
        return explain_match(plate, vehicle_id, containers, cands, direction, gate=gate, now=started_at,  # type: ignore[arg-type]
                             window_h=window)

    def _claim(self, conn: psycopg.Connection, decl_id: str, event_id: str, source: str, matched_by: str | None,
               note: str | None, actor: str | None) -> bool:
        """Insert the match; False when the manifest (or the passage) is taken: the database decides."""
        return conn.execute(
            "INSERT INTO declaration_matches (declaration_id, event_id, source, matched_by, note, actor)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (decl_id, event_id, source, matched_by, note, actor)).fetchone() is not None

    def _hub_match(self, conn: psycopg.Connection, p: Passage, exclude: tuple[str, ...] = ()) -> MatchResult | None:
        """Match and claim for a stored passage; a claim lost to a concurrent one is retried without it."""
        for _ in range(3):
            out = self._explain(conn, p.gate, p.direction, p.started_at, p.plate, p.vehicle_id, list(p.containers),
                                exclude)
            if out.result is None:
                if out.ambiguous:
                    log.info("passage %s: %s", p.id, out.note)
                return None
            if self._claim(conn, out.result.declaration.id, p.id, "hub", out.result.matched_by, out.note, "hub"):
                return out.result
            exclude = (*exclude, out.result.declaration.id)
        return None

    def match_for_box(self, conn: psycopg.Connection, req: dict[str, Any]) -> dict[str, Any]:
        """A box asks for the declaration of a passage it is deciding (`edge/hub/client.py`); idempotent on
        `event_id` (a retried request gets the same answer)."""
        event_id = req["event_id"]
        held = conn.execute("SELECT declaration_id, matched_by, note FROM declaration_matches WHERE event_id = %s",
                            (event_id,)).fetchone()
        if held is not None:
            decl = self.get_declaration(conn, held[0])
            return {"declaration": decl.model_dump(mode="json") if decl else None, "matched_by": held[1],
                    "note": held[2]}
        plate = PlateRead(**req["plate"]) if req.get("plate") else None
        containers = [ContainerRead(**c) for c in req.get("containers") or []]
        started = datetime.fromisoformat(req["started_at"].replace("Z", "+00:00"))
        exclude: tuple[str, ...] = ()
        for _ in range(3):
            out = self._explain(conn, req["gate"], req["direction"], started, plate, req.get("vehicle_id"),
                                containers, exclude)
            if out.result is None:
                return {"declaration": None, "matched_by": None, "note": out.note}
            r = out.result
            if self._claim(conn, r.declaration.id, event_id, "box", r.matched_by, out.note, req.get("box")):
                return {"declaration": r.declaration.model_dump(mode="json"), "matched_by": r.matched_by,
                        "note": out.note}
            exclude = (*exclude, r.declaration.id)
        return {"declaration": None, "matched_by": None, "note": "every fitting declaration was taken meanwhile"}

    # -- re-decision ---------------------------------------------------------------------------------------

    def redecide(self, conn: psycopg.Connection, event_id: str, declaration: Declaration | None, reason: str,
                 actor: str, result: IngestResult | None = None, only_if_changed: bool = False) -> int | None:
        """Decide the passage again with `declaration`; store and queue revision n+1. Returns it, or None when
        `only_if_changed` and the verdict and declaration are as before."""
        row = conn.execute("SELECT body, revision FROM passages WHERE event_id = %s FOR UPDATE",
                           (event_id,)).fetchone()
        if row is None:
            raise NotFound(f"no passage {event_id}")
        body, rev = row[0], int(row[1])
        p = passage_from_payload(body)
        facts = PassageFacts.from_passage(p, _expectations(body))
        verdict = decide(facts, declaration, self.rules(p.gate))
        new_decl = declaration.id if declaration is not None else None
        old = body.get("verdict", {})
        if only_if_changed and new_decl == body.get("declaration_id") and verdict.status == old.get("status") \
                and [r.code for r in verdict.reasons] == [r.get("code") for r in old.get("reasons", [])]:
            return None
        new = {**body, "declaration_id": new_decl, "verdict": verdict.model_dump(mode="json"),
               "revision": rev + 1, "revision_reason": reason[:2000]}
        codes = [r.code for r in verdict.reasons]
        conn.execute(
            "UPDATE passages SET declaration_id = %s, status = %s, reasons = %s, revision = %s, revision_reason = %s,"
            " body = %s, updated_at = clock_timestamp(),"
            " flagged_at = COALESCE(flagged_at, CASE WHEN %s = 'flag' THEN clock_timestamp() END)"
            " WHERE event_id = %s",
            (new_decl, verdict.status, codes, rev + 1, new["revision_reason"], Jsonb(new), verdict.status, event_id))
        conn.execute(
            "INSERT INTO passage_revisions (event_id, revision, status, reasons, declaration_id, reason, actor, body)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (event_id, rev + 1, verdict.status, codes, new_decl, new["revision_reason"], actor, Jsonb(new)))
        conn.execute("INSERT INTO outbox (topic, payload, qos, event_id) VALUES (%s, %s, %s, %s)",
                     (f"{self.prefix}/{p.gate}/{p.lane}/passage",
                      json.dumps(new, ensure_ascii=False, separators=(",", ":")).encode(), self.qos, event_id))
        log.info("passage %s re-decided: revision %d %s (%s)", event_id, rev + 1, verdict.status.upper(), reason)
        if result is not None:
            result.redecided.append(rev + 1)
        return rev + 1

    # -- declarations --------------------------------------------------------------------------------------

    def get_declaration(self, conn: psycopg.Connection, decl_id: str) -> Declaration | None:
        row = conn.execute("SELECT d.body, d.received_at, m.event_id FROM declarations d"
                           " LEFT JOIN declaration_matches m ON m.declaration_id = d.id WHERE d.id = %s",
                           (decl_id,)).fetchone()
        if row is None:
            return None
        return _declaration(row[0], row[1], row[2])

    def store_declaration(self, conn: psycopg.Connection, din: DeclarationIn, received_at: datetime | None = None,
                          gate: str | None = None) -> tuple[Declaration, list[tuple[str, int]]]:
        """Upsert a declaration (a resend replaces it; its match is kept) and re-decide what it changes.
        `gate` (the topic's) fills a declaration that names none. Returns it and the (passage, revision)s written."""
        if din.gate is None and gate is not None:
            din = din.model_copy(update={"gate": gate})
        d = Declaration.received(din, received_at)
        assert d.received_at is not None
        conn.execute(
            "INSERT INTO declarations (id, gate, direction, plate, vehicle_key, channel, released_at, received_at,"
            " body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET gate = EXCLUDED.gate,"
            " direction = EXCLUDED.direction, plate = EXCLUDED.plate, vehicle_key = EXCLUDED.vehicle_key,"
            " channel = EXCLUDED.channel, released_at = EXCLUDED.released_at, received_at = EXCLUDED.received_at,"
            " body = EXCLUDED.body, updated_at = clock_timestamp()",
            (d.id, d.gate, d.direction, d.plate, d.vehicle_key, d.channel, d.released_at, d.received_at,
             Jsonb(d.model_dump(mode="json", exclude={"matched_passage_id"}))))
        conn.execute("DELETE FROM declaration_containers WHERE declaration_id = %s", (d.id,))
        if d.containers:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO declaration_containers (declaration_id, code) VALUES (%s, %s)",
                                [(d.id, c) for c in d.containers])
        written: list[tuple[str, int]] = []
        held = conn.execute("SELECT event_id FROM declaration_matches WHERE declaration_id = %s", (d.id,)).fetchone()
        window = timedelta(minutes=self.cfg.redecide.window_min)
        if held is not None:
            d = d.model_copy(update={"matched_passage_id": held[0]})
            started = conn.execute("SELECT started_at FROM passages WHERE event_id = %s", (held[0],)).fetchone()
            if started is not None and window and started[0] >= d.received_at - window:
                rev = self.redecide(conn, held[0], d, f"declaration {d.id} was updated (resent)", "hub",
                                    only_if_changed=True)
                if rev is not None:
                    written.append((held[0], rev))
            return d, written
        if window:
            hit = self._late_match(conn, d, window)
            if hit is not None:
                event_id, note, started_at = hit
                late = (d.received_at - _utc(started_at)).total_seconds() / 60
                rev = self.redecide(conn, event_id, d, f"late declaration {d.id} received {late:.0f} min after the "
                                    f"passage started: {note}", "hub")
                if rev is not None:
                    written.append((event_id, rev))
                    d = d.model_copy(update={"matched_passage_id": event_id})
        return d, written

    def _late_match(self, conn: psycopg.Connection, d: Declaration,
                    window: timedelta) -> tuple[str, str, datetime] | None:
        """The one unmatched passage that started within `window` before the declaration arrived and fits it
        best (same rules as at decision time); None when none fits or the best two tie (an officer decides)."""
        assert d.received_at is not None
        rows = conn.execute(
            "SELECT p.body FROM passages p WHERE p.declaration_id IS NULL AND p.direction = %s"
            " AND (%s::text IS NULL OR p.gate = %s) AND p.started_at >= %s AND p.started_at <= %s"
            " AND NOT EXISTS (SELECT 1 FROM declaration_matches m WHERE m.event_id = p.event_id)"
            " ORDER BY p.started_at DESC LIMIT %s",
            (d.direction, d.gate, d.gate, d.received_at - window, d.received_at + timedelta(minutes=5),
             MATCH_CANDIDATES)).fetchall()
        fits: list[tuple[tuple[int, int], Passage, MatchResult]] = []
        for (body,) in rows:
            p = passage_from_payload(body)
            out = explain_match(p.plate, p.vehicle_id, list(p.containers), [d], p.direction, gate=p.gate,
                                now=p.started_at, window_h=self.window_h(p.gate))
            if out.result is not None:
                fits.append(((0 if out.result.exact else 1, -len(out.result.keys)), p, out.result))
        if not fits:
            return None
        fits.sort(key=lambda f: f[0])
        if len(fits) > 1 and fits[0][0] == fits[1][0]:
            log.info("late declaration %s fits passages %s and %s equally: not matched", d.id, fits[0][1].id,
                     fits[1][1].id)
            return None
        _, p, r = fits[0]
        if not self._claim(conn, d.id, p.id, "hub", r.matched_by, f"late: {r.note}", "hub"):
            return None
        return p.id, r.note, p.started_at

    def link_by_hand(self, conn: psycopg.Connection, event_id: str, decl_id: str, user: str, role: str, via: str,
                     comment: str) -> int:
        """An inspector links a manifest to a passage that has none: claim, re-decide, audit. Conflict when
        either is taken."""
        row = conn.execute("SELECT gate, lane, declaration_id FROM passages WHERE event_id = %s FOR UPDATE",
                           (event_id,)).fetchone()
        if row is None:
            raise NotFound(f"no passage with id {event_id!r}")
        gate, lane, current = row
        if current is not None:
            raise Conflict(f"passage already matched to declaration {current}")
        decl = self.get_declaration(conn, decl_id)
        if decl is None:
            raise NotFound(f"no declaration with id {decl_id!r}")
        if not self._claim(conn, decl_id, event_id, "hand", "hand", comment, user):
            owner = conn.execute("SELECT event_id FROM declaration_matches WHERE declaration_id = %s",
                                 (decl_id,)).fetchone()
            if owner is not None and owner[0] != event_id:
                raise Conflict(f"declaration {decl_id} is already used by passage {owner[0]}")
            raise Conflict("this passage already has a declaration claimed for it")
        rev = self.redecide(conn, event_id, decl, f"declaration {decl_id} linked by hand by {user}: {comment}", user)
        assert rev is not None
        conn.execute(
            "INSERT INTO decisions (source, gate, lane, event_id, at, user_name, role, via, action, previous, new,"
            " comment) VALUES ('hub', %s, %s, %s, clock_timestamp(), %s, %s, %s, 'link', NULL, %s, %s)",
            (gate, lane, event_id, user, role, via, decl_id, comment))
        return rev

    # -- decisions (edge/hub/decisions.py) -----------------------------------------------------------------

    def ingest_decision(self, conn: psycopg.Connection, d: dict[str, Any]) -> bool:
        """A box's review decision (docs/mqtt.md), idempotent on (gate, lane, decision_id)."""
        return ingest_decision(conn, d)

    def decide_on_hub(self, conn: psycopg.Connection, event_id: str, action: str, user: str, role: str, via: str,
                      comment: str) -> str:
        """Approve or reject on the hub's page: final, like the box's (a decided passage takes no more)."""
        return decide_on_hub(conn, event_id, action, user, role, via, comment)

    # -- housekeeping --------------------------------------------------------------------------------------

    def release_stale_claims(self, conn: psycopg.Connection) -> int:
        """Claims a box made for a passage that never arrived (it died between asking and storing)."""
        cutoff = datetime.now(UTC) - timedelta(minutes=self.cfg.redecide.claim_ttl_min)
        rows = conn.execute(
            "DELETE FROM declaration_matches m WHERE m.source = 'box' AND m.at < %s"
            " AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.event_id = m.event_id) RETURNING declaration_id",
            (cutoff,)).fetchall()
        for (decl_id,) in rows:
            log.warning("declaration %s released: the box that claimed it never delivered the passage", decl_id)
        return len(rows)

    def sweep_unmatched(self, conn: psycopg.Connection, limit: int = 500) -> list[tuple[str, int]]:
        """Match again the passages without a declaration that started within the re-decision window. Closes the
        race of a passage and its manifest committed at the same moment by two transactions (each looked before
        the other was visible); otherwise it finds nothing that ingest and the late-manifest rule did not."""
        window = timedelta(minutes=self.cfg.redecide.window_min)
        if not window:
            return []
        bodies = conn.execute(
            "SELECT p.body FROM passages p WHERE p.declaration_id IS NULL AND p.started_at >= %s"
            " AND NOT EXISTS (SELECT 1 FROM declaration_matches m WHERE m.event_id = p.event_id)"
            " ORDER BY p.started_at LIMIT %s", (datetime.now(UTC) - window, limit)).fetchall()
        out = []
        for (body,) in bodies:
            p = passage_from_payload(body)
            found = self._hub_match(conn, p)
            if found is not None:
                rev = self.redecide(conn, p.id, found.declaration, f"declaration {found.declaration.id} matched by "
                                    f"the hub's sweep ({found.note})", "hub")
                if rev is not None:
                    out.append((p.id, rev))
        return out

    def purge(self, conn: psycopg.Connection, days: int) -> int:
        """Retention: passage rows (and their revisions) whose passage started more than `days` ago."""
        cutoff = datetime.now(UTC) - timedelta(days=days)
        conn.execute("DELETE FROM passage_revisions r USING passages p WHERE r.event_id = p.event_id"
                     " AND p.started_at < %s", (cutoff,))
        cur = conn.execute("DELETE FROM passages WHERE started_at < %s", (cutoff,))
        return cur.rowcount or 0


def _declaration(body: dict[str, Any], received_at: datetime | None, matched: str | None = None) -> Declaration:
    d = Declaration.model_validate({**body, "matched_passage_id": matched})
    if received_at is not None:
        d = d.model_copy(update={"received_at": received_at})
    return d

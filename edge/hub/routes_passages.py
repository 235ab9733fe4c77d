"""Passages on the hub's review page: the queue and search over every box (`GET /api/hub/passages`), one
passage with its revisions, declaration and decisions (`GET /api/hub/passages/{id}`), and acting on it (`link` a
manifest by hand, `approve`, `reject`: inspector, a personal account; each audited and published).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from edge.api.review.auth import Principal
from edge.api.review.routes_passages import DecideIn
from edge.comms.payload import iso_utc
from edge.domain.validation import QueryTime, SafeText
from edge.hub.http_context import EVENT_ID, IDENT, HubContext, log, person
from edge.storage.store import normalise_plate

SEARCH = re.compile(r"^[A-Za-z0-9._\- \u00c0-\u1ef9\u4e00-\u9fff·]{1,64}$")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    declaration_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    comment: SafeText = Field(min_length=1, max_length=2000, description="why; mandatory")


def passages_router(ctx: HubContext) -> APIRouter:
    """`GET /api/hub/passages` and `GET /api/hub/passages/{id}` (viewer)."""
    router = APIRouter()
    hub = ctx.hub
    viewer = ctx.need("viewer")

    @router.get("/api/hub/passages", tags=["review"])
    def passages(
        who: Principal = viewer,
        gate: Annotated[str | None, Query(pattern=IDENT)] = None,
        lane: Annotated[str | None, Query(pattern=IDENT)] = None,
        box: Annotated[str | None, Query(max_length=64)] = None,
        status: Literal["clear", "flag"] | None = None,
        review: Literal["pending", "approved", "rejected", "decided"] | None = None,
        reason: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None,
        revised: bool | None = None,
        q: Annotated[str | None, Query(max_length=64, description="plate, container code or declaration id "
                                                                  "(partial; case and separators ignored)")] = None,
        since: Annotated[QueryTime | None, Query(description="started at or after (UTC if no zone)")] = None,
        until: Annotated[QueryTime | None, Query(description="started before (UTC if no zone)")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        count: bool = Query(True, description="also count the matches (up to 10,000)"),
    ) -> dict[str, Any]:
        """Passages of every box, newest first; the queue is `status=flag&review=pending`."""
        if q is not None and not SEARCH.fullmatch(q):
            raise HTTPException(422, "q: letters, digits, spaces, '.', '-', '_' only")
        where, args = _passage_where(gate, lane, box, status, review, reason, revised, q, since, until)
        with hub.db.tx() as conn:
            rows = conn.execute(
                f"SELECT event_id, gate, lane, box, direction, started_at, plate_text, containers, declaration_id,"
                f" status, reasons, revision, revision_reason, review_status, decided_by, decided_at,"
                f" body->'plate'->>'display', body->>'vehicle_id' FROM passages WHERE {where}"
                f" ORDER BY started_at DESC, event_id DESC LIMIT %(limit)s OFFSET %(offset)s",
                {**args, "limit": limit, "offset": offset}).fetchall()
            total = None
            if count:
                n = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM passages WHERE {where} LIMIT 10001) t",
                                 args).fetchone()
                total = int(n[0]) if n else 0
        items = [{"event_id": r[0], "gate": r[1], "lane": r[2], "box": r[3], "direction": r[4],
                  "started_at": iso_utc(r[5]), "plate": r[6], "plate_display": r[16], "vehicle_id": r[17],
                  "containers": r[7].split() if r[7] else [], "declaration_id": r[8], "status": r[9],
                  "reasons": r[10], "revision": r[11], "revision_reason": r[12], "review_status": r[13],
                  "decided_by": r[14], "decided_at": iso_utc(r[15]) if r[15] else None} for r in rows]
        return {"total": total, "total_capped": total is not None and total > 10_000, "limit": limit,
                "offset": offset, "items": items}

    @router.get("/api/hub/passages/{event_id}", tags=["review"])
    def passage(event_id: EVENT_ID, who: Principal = viewer) -> dict[str, Any]:
        """The current revision's payload, every revision with its reason, the declaration, the decisions."""
        return passage_view(ctx, event_id)

    return router


def decisions_router(ctx: HubContext) -> APIRouter:
    """`POST /api/hub/passages/{id}/link`, `/approve`, `/reject` (inspector, a personal account)."""
    router = APIRouter()
    hub = ctx.hub
    inspector = ctx.need("inspector")

    @router.post("/api/hub/passages/{event_id}/link", tags=["review"], responses={403: {}, 404: {}, 409: {}})
    def link(event_id: EVENT_ID, body: LinkIn, who: Principal = inspector) -> dict[str, Any]:
        """Link a manifest to a passage by hand (audited): the passage is re-decided with it (a new revision,
        published); 409 when the manifest is used by another passage or the passage has one."""
        person(who)
        rev = ctx.run_tx(hub.core.link_by_hand, event_id, body.declaration_id, who.name, who.role, who.via,
                         body.comment)
        log.info("hub: %s linked declaration %s to passage %s (revision %d)", who.name, body.declaration_id,
                 event_id, rev)
        return passage_view(ctx, event_id)

    def decide(event_id: str, action: str, body: DecideIn, who: Principal) -> dict[str, Any]:
        person(who)
        ctx.run_tx(hub.core.decide_on_hub, event_id, action, who.name, who.role, who.via, body.comment)
        log.info("hub: %s %s passage %s", who.name, action, event_id)
        return passage_view(ctx, event_id)

    @router.post("/api/hub/passages/{event_id}/approve", tags=["review"], responses={403: {}, 404: {}, 409: {}})
    def approve(event_id: EVENT_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Clear the truck. Final."""
        return decide(event_id, "approve", body, who)

    @router.post("/api/hub/passages/{event_id}/reject", tags=["review"], responses={403: {}, 404: {}, 409: {}})
    def reject(event_id: EVENT_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Send the truck to traditional inspection. Final."""
        return decide(event_id, "reject", body, who)

    return router


def passage_view(ctx: HubContext, event_id: str) -> dict[str, Any]:
    """One passage as `GET /api/hub/passages/{id}` answers it (404 when there is none)."""
    hub = ctx.hub
    with hub.db.tx() as conn:
        row = conn.execute("SELECT body, review_status, decided_by, decided_at, received_at FROM passages"
                           " WHERE event_id = %s", (event_id,)).fetchone()
        if row is None:
            raise HTTPException(404, f"no passage with id {event_id!r}")
        revs = conn.execute("SELECT revision, at, status, reasons, declaration_id, reason, actor"
                            " FROM passage_revisions WHERE event_id = %s ORDER BY revision", (event_id,)).fetchall()
        decs = conn.execute("SELECT id, source, at, user_name, role, action, field, item, previous, new, comment"
                            " FROM decisions WHERE event_id = %s ORDER BY at, id", (event_id,)).fetchall()
        body = row[0]
        decl = hub.core.get_declaration(conn, body["declaration_id"]) if body.get("declaration_id") else None
    return {
        "passage": body,
        "review": {"status": row[1], "decided_by": row[2], "decided_at": iso_utc(row[3]) if row[3] else None},
        "received_at": iso_utc(row[4]),
        "revisions": [{"revision": r[0], "at": iso_utc(r[1]), "status": r[2], "reasons": r[3],
                       "declaration_id": r[4], "reason": r[5], "actor": r[6]} for r in revs],
        "declaration": decl.model_dump(mode="json") if decl else None,
        "decisions": [{"id": d[0], "source": d[1], "at": iso_utc(d[2]), "user": d[3], "role": d[4],
                       "action": d[5], "field": d[6], "index": d[7], "previous": d[8], "new": d[9],
                       "comment": d[10]} for d in decs],
    }


def _passage_where(gate: str | None, lane: str | None, box: str | None, status: str | None, review: str | None,
                   reason: str | None, revised: bool | None, q: str | None, since: datetime | None,
                   until: datetime | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    args: dict[str, Any] = {}
    for col, val in (("gate", gate), ("lane", lane), ("box", box), ("status", status)):
        if val is not None:
            clauses.append(f"{col} = %({col})s")
            args[col] = val
    if review == "decided":
        clauses.append("review_status <> 'pending'")
    elif review is not None:
        clauses.append("review_status = %(review)s")
        args["review"] = review
    if reason is not None:
        clauses.append("reasons @> ARRAY[%(reason)s]::text[]")  # the GIN index on reasons
        args["reason"] = reason
    if revised is not None:
        clauses.append("revision > 1" if revised else "revision = 1")
    if since is not None:
        clauses.append("started_at >= %(since)s")
        args["since"] = since
    if until is not None:
        clauses.append("started_at < %(until)s")
        args["until"] = until
    if q:
        key = normalise_plate(q)
        ors = ["declaration_id = %(q_exact)s"]
        args["q_exact"] = q.strip()
        if len(key) >= 3:  # trigram indexes need 3 characters to help
            ors += ["plate_text LIKE %(q_like)s", "containers LIKE %(q_like)s"]
            args["q_like"] = f"%{key}%"
        elif key:
            ors += ["plate_text = %(q_key)s"]
            args["q_key"] = key
        clauses.append("(" + " OR ".join(ors) + ")")
    return (" AND ".join(clauses) or "TRUE"), args

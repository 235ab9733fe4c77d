"""Flagged passages on the review page: reading them (`/api/review/queue`, `/api/review/passages/{id}`, their
evidence images) and deciding them (`approve`, `reject`, `correct`: inspector and up, a personal account).

A decision is recorded in the audit log first, then announced to open pages (SSE) and published to MQTT
(`ApiState.publish_decision`); trouble publishing never undoes it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from edge.api.review.audit import DecisionError, decision_payload, effective_readings
from edge.api.review.auth import Principal
from edge.api.review.context import IDENT, PASSAGE_ID, ReviewContext, log
from edge.api.review.sse import passage_summary
from edge.comms.payload import iso_utc
from edge.domain.validation import MAX_OFFSET, QueryTime, SafeLine, SafeText


class DecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: SafeText = Field("", max_length=2000)


class CorrectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Literal["plate", "container", "cargo"]
    index: int | None = Field(None, ge=0, le=7, description="which container (0-based); container only")
    value: SafeLine = Field(min_length=1, max_length=64)
    comment: SafeText = Field(min_length=1, max_length=2000, description="why; mandatory")


def passages_router(ctx: ReviewContext) -> APIRouter:
    """`GET /api/review/queue`, `GET /api/review/passages/{id}`, `GET /api/review/evidence/{path}` (viewer)."""
    router = APIRouter()
    viewer = ctx.need("viewer")

    @router.get("/api/review/queue", tags=["review"])
    def queue(
        who: Principal = viewer,
        lane: Annotated[str | None, Query(pattern=IDENT)] = None,
        reason: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$", description="reason code")] = None,
        since: Annotated[QueryTime | None, Query(description="started at or after (UTC if no zone)")] = None,
        until: Annotated[QueryTime | None, Query(description="started before (UTC if no zone)")] = None,
        status: Literal["pending", "decided", "all"] = "pending",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        """Flagged passages, newest first, with their review status."""
        total, rows = ctx.audit.queue(lane, reason, since, until, status, limit, offset)
        items = []
        for p, review_status, final in rows:
            items.append({**passage_summary(p), "review_status": review_status,
                          "decided_by": final.user if final else None,
                          "decided_at": iso_utc(final.at) if final else None})
        return {"total": total, "limit": limit, "offset": offset, "items": items}

    @router.get("/api/review/passages/{passage_id}", tags=["review"], responses={404: {}})
    def detail(passage_id: PASSAGE_ID, who: Principal = viewer) -> dict[str, Any]:
        """A passage with its declaration, evidence, corrected readings, review status and audit trail."""
        return passage_detail(ctx, passage_id)

    @router.get("/api/review/evidence/{path:path}", tags=["review"], response_class=FileResponse,
                responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
    def evidence(path: str, who: Principal = viewer) -> FileResponse:
        try:
            f = ctx.state.evidence.resolve(path)
        except ValueError:
            raise HTTPException(404, "no such evidence image") from None
        if not f.is_file():
            raise HTTPException(404, "no such evidence image")
        return FileResponse(f, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    return router


def decisions_router(ctx: ReviewContext) -> APIRouter:
    """`POST /api/review/passages/{id}/approve`, `/reject`, `/correct` (inspector, personal account)."""
    router = APIRouter()
    inspector = ctx.need("inspector")

    @router.post("/api/review/passages/{passage_id}/approve", tags=["review"],
                 responses={403: {}, 404: {}, 409: {}})
    def approve(passage_id: PASSAGE_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Clear the truck. Final: a decided passage takes no further decisions (409)."""
        return decide(ctx, passage_id, who, "approve", body.comment)

    @router.post("/api/review/passages/{passage_id}/reject", tags=["review"],
                 responses={403: {}, 404: {}, 409: {}})
    def reject(passage_id: PASSAGE_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Send the truck to traditional inspection. Final."""
        return decide(ctx, passage_id, who, "reject", body.comment)

    @router.post("/api/review/passages/{passage_id}/correct", tags=["review"],
                 responses={403: {}, 404: {}, 409: {}, 422: {}})
    def correct(passage_id: PASSAGE_ID, body: CorrectIn, who: Principal = inspector) -> dict[str, Any]:
        """Correct a reading (plate, container code with a valid ISO 6346 check digit, cargo class)."""
        index = body.index if body.field == "container" else None
        if body.field == "container" and index is None:
            raise HTTPException(422, "index: which container (0-based) is corrected")
        return decide(ctx, passage_id, who, "correct", body.comment, field=body.field, item=index, value=body.value)

    return router


def decide(ctx: ReviewContext, passage_id: str, who: Principal, action: Literal["approve", "reject", "correct"],
           comment: str, **correction: Any) -> dict[str, Any]:
    """Record one decision, tell open pages, publish it; answers the passage's detail as it is now."""
    state = ctx.state
    if who.user_id is None:
        raise HTTPException(403, "decisions need a personal account (the shared api token cannot decide)")
    p = state.store.get_passage(passage_id)
    if p is None:
        raise HTTPException(404, f"no passage with id {passage_id!r}")
    try:
        d, status = ctx.audit.record(p, who, action, comment, **correction)
    except DecisionError as e:
        raise HTTPException(e.status, str(e)) from None
    log.info("review: %s %s passage %s%s", who.name, action, p.id,
             f" ({d.field} {d.previous} -> {d.new})" if action == "correct" else "")
    state.review_events.notify("decision", {**d.to_json(), "review_status": status})
    if state.publish_decision is not None:
        try:
            state.publish_decision(decision_payload(d, status))
        except Exception:  # recorded already; MQTT trouble must not undo or hide the decision
            log.exception("review: decision %d not published", d.id)
    return passage_detail(ctx, passage_id)


def passage_detail(ctx: ReviewContext, passage_id: str) -> dict[str, Any]:
    p = ctx.state.store.get_passage(passage_id)
    if p is None:
        raise HTTPException(404, f"no passage with id {passage_id!r}")
    decisions = ctx.audit.for_passage(p.id)
    final = [d for d in decisions if d.action in ("approve", "reject")]
    decl = ctx.state.store.get_declaration(p.declaration_id) if p.declaration_id else None
    return {
        "summary": passage_summary(p),
        "passage": p.model_dump(mode="json"),
        "declaration": decl.model_dump(mode="json") if decl else None,
        "readings": effective_readings(p, decisions),
        "review": {"status": ctx.audit.status(decisions),
                   "decided_by": final[-1].user if final else None,
                   "decided_at": iso_utc(final[-1].at) if final else None},
        "evidence": [{"kind": e.kind, "camera": e.camera, "frame_time": iso_utc(e.frame_time),
                      "url": f"/api/review/evidence/{quote(e.path)}"} for e in p.evidence],
        "audit": [d.to_json() for d in decisions],
    }

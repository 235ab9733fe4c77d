"""Activity feeds of the review page: `/api/review/events` (Server-Sent Events: new flags and decisions, for
open pages) and `/api/audit` (the decision records, read-only).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from edge.api.review.auth import Principal
from edge.api.review.context import IDENT, ReviewContext
from edge.domain.validation import MAX_OFFSET, QueryTime


def events_router(ctx: ReviewContext) -> APIRouter:
    """`GET /api/review/events` and `GET /api/audit` (viewer)."""
    router = APIRouter()
    viewer = ctx.need("viewer")

    @router.get("/api/review/events", tags=["review"], response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def events(request: Request, who: Principal = viewer) -> StreamingResponse:
        """Server-Sent Events: `flag` (a new flagged passage, queue item shape) and `decision`. The caller is
        checked again every few seconds: the stream ends when the session is logged out or expires, the
        token is revoked or the user is disabled."""

        async def still_allowed() -> bool:
            now = await run_in_threadpool(ctx.caller, request, False)
            return now is not None and now.has("viewer")

        return StreamingResponse(ctx.state.review_events.stream(request.is_disconnected, still_allowed),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/api/audit", tags=["review"])
    def audit(
        who: Principal = viewer,
        event_id: Annotated[str | None, Query(max_length=64, description="passage id")] = None,
        user: Annotated[str | None, Query(max_length=64)] = None,
        action: Literal["approve", "reject", "correct"] | None = None,
        lane: Annotated[str | None, Query(pattern=IDENT)] = None,
        since: QueryTime | None = None,
        until: QueryTime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        """Decision records, newest first. Read-only: no route changes or deletes a record."""
        total, rows = ctx.audit.query(event_id, user, action, lane, since, until, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "items": [d.to_json() for d in rows]}

    return router

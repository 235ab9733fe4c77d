"""Machine routes of the hub's API: `POST /api/hub/match` (a box asks for the declaration of the passage it is
deciding, edge/hub/client.py) and the declarations: `POST /api/declarations` (the Single Window; a late
manifest re-decides the passage it fits) and the reads `GET /api/declarations[/{id}]`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from edge.api.middleware import read_limited
from edge.api.review.auth import Principal
from edge.domain.declarations import MAX_BODY_BYTES, Declaration, error_message, parse_declaration
from edge.domain.validation import MAX_OFFSET, QueryTime
from edge.hub.http_context import IDENT, HubContext
from edge.storage.store import normalise_plate


class PlateIn(BaseModel):
    text: str | None = Field(None, max_length=32)
    raw: str | None = Field(None, max_length=64)
    confidence: float = Field(0.0, ge=0, le=1)
    country: Literal["VN", "CN", "OTHER"] | None = None
    format: str | None = Field(None, max_length=32)
    display: str | None = Field(None, max_length=32)
    reason: str | None = Field(None, max_length=64)


class ContainerIn(BaseModel):
    code: str = Field(pattern=r"^[A-Z0-9]{4,11}$")
    check_digit_ok: bool
    corrected: bool = False
    confidence: float = Field(0.0, ge=0, le=1)
    layout: Literal["horizontal", "two_line", "vertical", "unknown"] = "unknown"
    size_type: str | None = Field(None, max_length=8)


class MatchIn(BaseModel):
    """A box asking for the declaration of a passage it is deciding (edge/hub/client.py)."""

    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    gate: str = Field(pattern=IDENT)
    lane: str = Field(pattern=IDENT)
    direction: Literal["import", "export"]
    box: str | None = Field(None, max_length=64)
    started_at: str = Field(max_length=40)
    plate: PlateIn | None = None
    vehicle_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
    containers: list[ContainerIn] = Field(default_factory=list, max_length=8)


def declarations_router(ctx: HubContext) -> APIRouter:
    """`POST /api/hub/match`, `POST /api/declarations` (machine writes); `GET /api/declarations[/{id}]` (viewer)."""
    router = APIRouter()
    hub = ctx.hub
    viewer, write = ctx.need("viewer"), ctx.write()

    @router.post("/api/hub/match", tags=["matching"])
    def match(body: MatchIn, who: Principal = write) -> dict[str, Any]:
        """A box asks for the declaration of the passage it is deciding; the manifest is claimed for that
        passage id at once (a unique key in the database): no other passage of any box can get it."""
        return ctx.run_tx(hub.core.match_for_box, body.model_dump(mode="json"))

    @router.post("/api/declarations", status_code=201, tags=["declarations"])
    async def post_declaration(request: Request, who: Principal = write) -> dict[str, Any]:
        """Store a declaration (the box's format, docs/api.md); a resend replaces it. A late manifest re-decides
        the passage it fits (docs/hub.md)."""
        raw = await read_limited(request, MAX_BODY_BYTES)
        try:
            din = parse_declaration(raw)
        except (ValidationError, ValueError) as e:
            raise HTTPException(422, error_message(e)) from None
        d, written = await run_in_threadpool(ctx.run_tx, hub.core.store_declaration, din)
        return {**d.model_dump(mode="json"), "redecided": [{"event_id": e, "revision": r} for e, r in written]}

    @router.get("/api/declarations", tags=["declarations"])
    def declarations(
        who: Principal = viewer,
        unmatched: bool = False,
        q: Annotated[str | None, Query(max_length=64, description="id or plate, partial")] = None,
        since: QueryTime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        clauses, args = ["TRUE"], {"limit": limit, "offset": offset}
        if unmatched:
            clauses.append("m.declaration_id IS NULL")
        if since is not None:
            clauses.append("d.received_at >= %(since)s")
            args["since"] = since
        if q:
            clauses.append("(d.id ILIKE %(qid)s OR d.plate LIKE %(qp)s)")
            args["qid"] = f"%{_like(q)}%"
            args["qp"] = f"%{normalise_plate(q)}%"
        where = " AND ".join(clauses)
        with hub.db.tx() as conn:
            rows = conn.execute(
                f"SELECT d.body, d.received_at, m.event_id FROM declarations d LEFT JOIN declaration_matches m"
                f" ON m.declaration_id = d.id WHERE {where} ORDER BY d.received_at DESC, d.id DESC"
                " LIMIT %(limit)s OFFSET %(offset)s", args).fetchall()
        items = [Declaration.model_validate({**b, "received_at": r, "matched_passage_id": m}).model_dump(mode="json")
                 for b, r, m in rows]
        return {"limit": limit, "offset": offset, "items": items}

    @router.get("/api/declarations/{declaration_id}", tags=["declarations"])
    def declaration(declaration_id: Annotated[str, Path(max_length=64)], who: Principal = viewer) -> dict[str, Any]:
        with hub.db.tx() as conn:
            d = hub.core.get_declaration(conn, declaration_id)
        if d is None:
            raise HTTPException(404, f"no declaration with id {declaration_id!r}")
        return d.model_dump(mode="json")

    return router


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

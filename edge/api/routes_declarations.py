"""Declaration routes of the box's API: `POST /api/declarations` (a Single Window manifest, write guard; stored,
then handed to the daemon through `ApiState.on_declaration`) and the reads `GET /api/declarations[/{id}]`.

The POST body is read by hand under its own cap (MAX_BODY_BYTES) before it is parsed, so OpenAPI gets the
request schema explicitly.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from edge.api.common import ErrorOut, LimitQuery, OffsetQuery, PlateQuery
from edge.api.guards import Guards
from edge.api.middleware import read_limited
from edge.api.state import ApiState
from edge.domain.declarations import (
    MAX_BODY_BYTES,
    Declaration,
    DeclarationIn,
    error_message,
    parse_declaration,
)
from edge.domain.validation import QueryTime

# The logger keeps the name it had before these routes left edge/api/app.py (log filters, the log format).
log = logging.getLogger("edge.api.app")


class DeclarationList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Declaration]


# The POST body is parsed by hand (size limit first), so give OpenAPI its schema explicitly. Its only
# sub-model, DeclarationLine, is in the components already through the Declaration response.
_DECL_IN_SCHEMA = {k: v for k, v in DeclarationIn.model_json_schema(
    ref_template="#/components/schemas/{model}").items() if k != "$defs"}


def declarations_router(state: ApiState, guards: Guards) -> APIRouter:
    """`POST /api/declarations` (write guard), `GET /api/declarations` and `GET /api/declarations/{id}`."""
    router = APIRouter()

    @router.post(
        "/api/declarations", status_code=201, response_model=Declaration, dependencies=guards.write,
        tags=["declarations"],
        responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _DECL_IN_SCHEMA}}}},
    )
    async def post_declaration(request: Request) -> Declaration:
        """Store a declaration (manifest of one expected truck); resending an id replaces it.

        Body: `DeclarationIn` (edge/comms/schemas/declaration.schema.json), at most 256 kB. A container code
        whose ISO 6346 check digit does not verify is refused (422).
        """
        body = await read_limited(request, MAX_BODY_BYTES)
        try:
            din = parse_declaration(body)
        except (ValidationError, ValueError) as e:
            raise HTTPException(422, error_message(e)) from None
        if din.gate is not None and din.gate != state.gate_id:
            raise HTTPException(422, f"gate: declaration is for gate {din.gate!r}, this is {state.gate_id!r}")
        stored = await run_in_threadpool(state.store.save_declaration, Declaration.received(din))
        if state.on_declaration is not None:
            try:
                await run_in_threadpool(state.on_declaration, stored)
            except Exception:  # stored already; the daemon's reaction must not turn into a client error
                log.exception("on_declaration failed for %s", stored.id)
        return stored

    @router.get("/api/declarations", response_model=DeclarationList, dependencies=guards.read, tags=["declarations"])
    def declarations(
        unmatched: Annotated[bool, Query(description="only declarations not yet matched to a passage")] = False,
        since: Annotated[
            QueryTime | None,
            Query(description="ISO-8601 time; declarations received at or after it (UTC if no zone)"),
        ] = None,
        plate: PlateQuery = None,
        limit: LimitQuery = 100,
        offset: OffsetQuery = 0,
    ) -> DeclarationList:
        """Declarations, newest received first."""
        filters = {"unmatched_only": unmatched, "since": since, "plate": plate}
        return DeclarationList(
            total=state.store.count_declarations(**filters),
            limit=limit,
            offset=offset,
            items=state.store.list_declarations(**filters, limit=limit, offset=offset),
        )

    @router.get(
        "/api/declarations/{declaration_id}", response_model=Declaration, dependencies=guards.read,
        tags=["declarations"], responses={404: {"model": ErrorOut}},
    )
    def declaration(declaration_id: Annotated[str, Path(max_length=64)]) -> Declaration:
        d = state.store.get_declaration(declaration_id)
        if d is None:
            raise HTTPException(404, f"no declaration with id {declaration_id!r}")
        return d

    return router

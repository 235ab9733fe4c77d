"""Passage routes of the box's API: `/api/passages` (filtered, newest first) and `/api/passages/{id}`, and the
evidence images (`/evidence/{path}`) a passage's `evidence` list points to.

All read the Store and EvidenceStore the daemon writes, behind the read guard (plates are personal data).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from edge.api.common import IDENT, ErrorOut, LimitQuery, OffsetQuery, PlateQuery
from edge.api.guards import Guards
from edge.api.state import ApiState
from edge.domain.types import Passage
from edge.domain.validation import QueryTime


class PassageList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Passage]


def passages_router(state: ApiState, guards: Guards) -> APIRouter:
    """`GET /api/passages` and `GET /api/passages/{passage_id}`."""
    router = APIRouter()

    @router.get("/api/passages", response_model=PassageList, dependencies=guards.read, tags=["passages"])
    def passages(
        lane: Annotated[str | None, Query(pattern=IDENT, description="lane id")] = None,
        status: Annotated[Literal["clear", "flag"] | None, Query(description="verdict status")] = None,
        since: Annotated[
            QueryTime | None, Query(description="ISO-8601 time; passages that started at or after it (UTC if no zone)")
        ] = None,
        plate: PlateQuery = None,
        limit: LimitQuery = 100,
        offset: OffsetQuery = 0,
    ) -> PassageList:
        """Passages, newest first."""
        filters = {"lane": lane, "status": status, "since": since, "plate": plate}
        return PassageList(
            total=state.store.count_passages(**filters),
            limit=limit,
            offset=offset,
            items=state.store.list_passages(**filters, limit=limit, offset=offset),
        )

    @router.get(
        "/api/passages/{passage_id}", response_model=Passage, dependencies=guards.read, tags=["passages"],
        responses={404: {"model": ErrorOut}},
    )
    def passage(passage_id: Annotated[str, Path(max_length=64)]) -> Passage:
        p = state.store.get_passage(passage_id)
        if p is None:
            raise HTTPException(404, f"no passage with id {passage_id!r}")
        return p

    return router


def evidence_router(state: ApiState, guards: Guards) -> APIRouter:
    """`GET /evidence/{path}`: one evidence image (JPEG), behind the read guard."""
    router = APIRouter()

    @router.get(
        "/evidence/{path:path}", dependencies=guards.read, tags=["evidence"], response_class=FileResponse,
        responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorOut}},
    )
    def evidence(path: str) -> FileResponse:
        """An evidence image by the `path` given in a passage's `evidence` list."""
        try:
            f = state.evidence.resolve(path)
        except ValueError:
            # Same answer as a missing file: do not help anyone probe the file system.
            raise HTTPException(404, "no such evidence image") from None
        if not f.is_file():
            raise HTTPException(404, "no such evidence image")
        return FileResponse(f, media_type="image/jpeg")

    return router

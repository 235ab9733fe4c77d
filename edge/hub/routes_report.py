"""The report route of the hub's API: `GET /api/hub/report?from=&to=` (docs/hub.md), as JSON or CSV, the same
figures `smartgate report` prints (edge/hub/report.py).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from edge.api.review.auth import Principal
from edge.hub.http_context import IDENT, HubContext
from edge.hub.report import compute as compute_report
from edge.hub.report import to_csv


def report_router(ctx: HubContext) -> APIRouter:
    """`GET /api/hub/report` (viewer), at most 400 days."""
    router = APIRouter()
    hub, cfg = ctx.hub, ctx.hub.cfg
    viewer = ctx.need("viewer")

    @router.get("/api/hub/report", tags=["report"])
    def report(
        who: Principal = viewer,
        d_from: Annotated[date, Query(alias="from")] = ...,  # type: ignore[assignment]
        d_to: Annotated[date, Query(alias="to")] = ...,  # type: ignore[assignment]
        gate: Annotated[str | None, Query(pattern=IDENT)] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Any:
        """The report (docs/hub.md): JSON, or `format=csv` (one figure per row, as `smartgate report --csv`)."""
        if d_to < d_from:
            raise HTTPException(422, "to: before from")
        if (d_to - d_from).days > 400:
            raise HTTPException(422, "to: at most 400 days after from")
        with hub.db.tx() as conn:
            rep = compute_report(conn, d_from, d_to, cfg.report.timezone, gate)
        if format == "csv":
            return Response(to_csv(rep), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="smartgate-report-{d_from}-{d_to}.csv"'})
        return rep

    return router

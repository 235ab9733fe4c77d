"""Status routes of the hub's API: `/` (to the queue page) and `/api/health` (open, for monitoring: database,
MQTT, ingest counters, backlog).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from edge.hub.http_context import HubContext


def status_router(ctx: HubContext) -> APIRouter:
    router = APIRouter()
    hub = ctx.hub

    @router.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/hub")

    @router.get("/api/health", tags=["status"])
    def health() -> dict[str, Any]:
        problems = hub.problems()
        c = hub.consumer
        return {"status": "ok" if not problems else "degraded", "problems": problems, "db_ok": hub.db.ping(),
                "mqtt_connected": c.connected if c is not None else None,
                "ingested": c.ingested if c else 0, "duplicates": c.duplicates if c else 0,
                "rejected": c.rejected if c else 0, "redecided": c.redecided if c else 0,
                "backlog": c.backlog() if c else 0, "schema_version": hub.db.schema_version}

    return router

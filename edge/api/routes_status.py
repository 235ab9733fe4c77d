"""Status routes of the box's API: `/` (to the docs), `/api/health` (open, for monitoring), `/api/version`,
`/api/cameras`, and Prometheus `/metrics`.

Health is `degraded` with reasons in words when the database, a camera, MQTT or one of the daemon's own alarms
(`ApiState.problems`) is unwell.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from edge.api.guards import Guards
from edge.api.state import ApiState
from edge.comms.payload import SCHEMA_VERSION
from edge.metrics import CONTENT_TYPE

# Camera states that mean "should deliver frames but does not".
_BAD_CAMERA_STATES = {"reconnecting", "offline"}


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    cameras_online: int
    cameras_total: int
    uptime_s: float
    db_ok: bool
    mqtt_connected: bool | None = None
    problems: list[str] = []  # why the status is `degraded`, in words


class VersionInfo(BaseModel):
    name: str = "smartgate"
    version: str
    gate_id: str
    gate_name: str
    payload_schema_version: int = SCHEMA_VERSION


class CameraStatus(BaseModel):
    """One camera's health snapshot (cameras.base.CameraHealth); extra counters pass through."""

    model_config = ConfigDict(extra="allow")
    name: str
    state: str
    role: str | None = None
    lane: str | None = None


def health_of(state: ApiState) -> Health:
    """The gate's health now: `degraded`, with its problems in words, when anything is unwell."""
    cams = _camera_snapshots(state)
    db_ok = state.store.ping()
    online = sum(1 for c in cams if c.state == "online")
    bad = any(c.state in _BAD_CAMERA_STATES for c in cams)
    mqtt_ok = state.mqtt_connected() if state.mqtt_connected else None
    problems = list(state.problems()) if state.problems else []
    if not db_ok:
        problems.insert(0, "database does not answer or failed its integrity check")
    if bad:
        problems.append("camera(s) " + ", ".join(c.name for c in cams if c.state in _BAD_CAMERA_STATES)
                        + " not delivering")
    if mqtt_ok is False:
        problems.append("MQTT broker not connected (events wait in the outbox)")
    return Health(
        status="ok" if not problems else "degraded",
        problems=problems,
        cameras_online=online,
        cameras_total=len(cams),
        uptime_s=round((datetime.now(UTC) - state.started_at).total_seconds(), 3),
        db_ok=db_ok,
        mqtt_connected=mqtt_ok,
    )


def status_router(state: ApiState, guards: Guards) -> APIRouter:
    """`/`, `/api/health` (no token), `/api/version` and `/api/cameras` (read guard)."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @router.get("/api/health", response_model=Health, tags=["status"])
    def health() -> Health:
        return health_of(state)

    @router.get("/api/version", response_model=VersionInfo, dependencies=guards.read, tags=["status"])
    def version() -> VersionInfo:
        return VersionInfo(version=state.version, gate_id=state.gate_id, gate_name=state.gate_name)

    @router.get("/api/cameras", response_model=list[CameraStatus], dependencies=guards.read, tags=["status"])
    def cameras() -> list[CameraStatus]:
        return _camera_snapshots(state)

    return router


def metrics_router(state: ApiState) -> APIRouter:
    """Prometheus `/metrics` (no token: scrapers on the gate's network)."""
    router = APIRouter()

    @router.get("/metrics", tags=["status"], response_class=Response,
                responses={200: {"content": {"text/plain": {}}}})
    def metrics() -> Response:
        """Prometheus text exposition."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    return router


def _camera_snapshots(state: ApiState) -> list[CameraStatus]:
    out = []
    for c in state.cameras():
        out.append(CameraStatus.model_validate(c if isinstance(c, dict) else c.model_dump()))
    return out

"""HTTP API of the gate: health, cameras, passages, declarations, lane triggers, evidence images, metrics.

Reads the Store and EvidenceStore the daemon writes; the only writes are declarations (stored here, then
handed to the daemon) and external lane triggers (handed to the daemon). Handlers are
plain `def` so FastAPI runs them in its thread pool (SQLite calls block).
When a token is configured every /api route except /api/health, and the
evidence images (plates are personal data), need `Authorization: Bearer`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from edge.api.review.auth import Auth
from edge.api.review.routes import build_review_router
from edge.api.review.sse import ReviewEvents
from edge.comms.payload import SCHEMA_VERSION
from edge.domain.declarations import (
    MAX_BODY_BYTES,
    VEHICLE_ID_PATTERN,
    Declaration,
    DeclarationIn,
    error_message,
    parse_declaration,
)
from edge.domain.types import Passage
from edge.domain.validation import MAX_OFFSET, QueryTime
from edge.metrics import CONTENT_TYPE, Metrics
from edge.storage.evidence import EvidenceStore
from edge.storage.store import Store

log = logging.getLogger(__name__)

IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_LIMIT = 500
# Any request body (every route, every method); POST /api/declarations has its own, lower cap.
MAX_REQUEST_BYTES = 1024 * 1024
# Module level: with postponed annotations FastAPI resolves Depends(...) in module globals.
_bearer = HTTPBearer(auto_error=False, description="Required when the gate is configured with api.token_env")
# Camera states that mean "should deliver frames but does not".
_BAD_CAMERA_STATES = {"reconnecting", "offline"}
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_CSP_DOCS = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
             "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; worker-src 'self' blob:; "
             "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@dataclass
class ApiState:
    """What the daemon hands the API; callables give live snapshots."""

    store: Store
    evidence: EvidenceStore
    metrics: Metrics
    gate_id: str
    gate_name: str
    version: str
    cameras: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    token: str | None = None
    mqtt_connected: Callable[[], bool] | None = None  # None: MQTT not configured
    # Called after a declaration is stored (e.g. to match it to a waiting passage); errors are logged.
    on_declaration: Callable[[Declaration], None] | None = None
    # External trigger (loop detector): (lane, "start" | "end", vehicle_id or None).
    on_trigger: Callable[[str, str, str | None], None] | None = None
    lanes: list[str] = field(default_factory=list)  # lane ids that accept triggers
    # Review page (edge/api/review): inspectors' decisions go to MQTT through this (MqttPublisher.publish_decision);
    # the daemon calls review_events.passage(p) after storing a passage so new flags reach open pages.
    publish_decision: Callable[[dict[str, Any]], None] | None = None
    review_events: ReviewEvents = field(default_factory=ReviewEvents)
    # The daemon's own alarms (a sink that keeps failing, a full backlog): each makes /api/health `degraded`.
    problems: Callable[[], list[str]] | None = None


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


class PassageList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Passage]


class ErrorOut(BaseModel):
    detail: str


class DeclarationList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Declaration]


class TriggerIn(BaseModel):
    """An external trigger (loop detector, barrier PLC): a vehicle enters (`start`) or leaves (`end`) the lane."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["start", "end"]
    vehicle_id: str | None = Field(None, pattern=VEHICLE_ID_PATTERN, description="AI-IGV id, when the vehicle sent one")


class TriggerAccepted(BaseModel):
    lane: str
    state: Literal["start", "end"]
    vehicle_id: str | None = None


# The POST body is parsed by hand (size limit first), so give OpenAPI its schema explicitly. Its only
# sub-model, DeclarationLine, is in the components already through the Declaration response.
_DECL_IN_SCHEMA = {k: v for k, v in DeclarationIn.model_json_schema(
    ref_template="#/components/schemas/{model}").items() if k != "$defs"}


async def _read_limited(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than `limit` bytes without reading it all into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit // 1024} kB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit // 1024} kB")
    return bytes(body)


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body")]
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc) or 'request'}: {msg}")
    return "; ".join(parts)


def create_app(state: ApiState) -> FastAPI:
    app = FastAPI(
        title=f"smartgate — {state.gate_name or state.gate_id}",
        version=state.version,
        description="Edge inspection API of one smart border gate: passages (plate, containers, cargo, verdict), "
        "camera health, evidence images and Prometheus metrics.",
    )
    app.state.smartgate = state
    review_auth = Auth(state.store, shared_token=state.token)

    app.add_middleware(BodyLimit, max_bytes=MAX_REQUEST_BYTES)  # inner: its 413 gets the security headers too
    app.add_middleware(SecurityHeaders)

    def require_token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if state.token is None:
            return
        given = creds.credentials if creds is not None else ""
        if hmac.compare_digest(given.encode(), state.token.encode()):
            return
        # A personal machine token (`smartgate user token NAME`, any role) is accepted too.
        if review_auth.token_principal(given) is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(require_token)]

    def require_writer(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        """Mutating machine routes (declarations, lane triggers) are never anonymous, even on an open
        localhost API: they need the gate's shared token or a personal token of an inspector or admin."""
        given = creds.credentials if creds is not None else ""
        if state.token is not None and hmac.compare_digest(given.encode(), state.token.encode()):
            return
        who = review_auth.token_principal(given)
        if who is None:
            raise HTTPException(401, "writing needs a bearer token (api.token_env, or `smartgate user token NAME`)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not who.has("inspector"):
            raise HTTPException(403, f"role {who.role!r} cannot write; inspector or admin needed")

    write_auth = [Depends(require_writer)]

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": _validation_message(errors), "errors": errors})

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/api/health", response_model=Health, tags=["status"])
    def health() -> Health:
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

    @app.get("/api/version", response_model=VersionInfo, dependencies=auth, tags=["status"])
    def version() -> VersionInfo:
        return VersionInfo(version=state.version, gate_id=state.gate_id, gate_name=state.gate_name)

    @app.get("/api/cameras", response_model=list[CameraStatus], dependencies=auth, tags=["status"])
    def cameras() -> list[CameraStatus]:
        return _camera_snapshots(state)

    @app.get("/api/passages", response_model=PassageList, dependencies=auth, tags=["passages"])
    def passages(
        lane: Annotated[str | None, Query(pattern=IDENT, description="lane id")] = None,
        status: Annotated[Literal["clear", "flag"] | None, Query(description="verdict status")] = None,
        since: Annotated[
            QueryTime | None, Query(description="ISO-8601 time; passages that started at or after it (UTC if no zone)")
        ] = None,
        plate: Annotated[
            str | None, Query(min_length=1, max_length=32, description="plate text, partial; separators ignored")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> PassageList:
        """Passages, newest first."""
        filters = {"lane": lane, "status": status, "since": since, "plate": plate}
        return PassageList(
            total=state.store.count_passages(**filters),
            limit=limit,
            offset=offset,
            items=state.store.list_passages(**filters, limit=limit, offset=offset),
        )

    @app.get(
        "/api/passages/{passage_id}", response_model=Passage, dependencies=auth, tags=["passages"],
        responses={404: {"model": ErrorOut}},
    )
    def passage(passage_id: Annotated[str, Path(max_length=64)]) -> Passage:
        p = state.store.get_passage(passage_id)
        if p is None:
            raise HTTPException(404, f"no passage with id {passage_id!r}")
        return p

    @app.post(
        "/api/declarations", status_code=201, response_model=Declaration, dependencies=write_auth,
        tags=["declarations"],
        responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _DECL_IN_SCHEMA}}}},
    )
    async def post_declaration(request: Request) -> Declaration:
        """Store a declaration (manifest of one expected truck); resending an id replaces it.

        Body: `DeclarationIn` (edge/comms/schemas/declaration.schema.json), at most 256 kB. A container code
        whose ISO 6346 check digit does not verify is refused (422).
        """
        body = await _read_limited(request, MAX_BODY_BYTES)
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

    @app.get("/api/declarations", response_model=DeclarationList, dependencies=auth, tags=["declarations"])
    def declarations(
        unmatched: Annotated[bool, Query(description="only declarations not yet matched to a passage")] = False,
        since: Annotated[
            QueryTime | None,
            Query(description="ISO-8601 time; declarations received at or after it (UTC if no zone)"),
        ] = None,
        plate: Annotated[
            str | None, Query(min_length=1, max_length=32, description="plate text, partial; separators ignored")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> DeclarationList:
        """Declarations, newest received first."""
        filters = {"unmatched_only": unmatched, "since": since, "plate": plate}
        return DeclarationList(
            total=state.store.count_declarations(**filters),
            limit=limit,
            offset=offset,
            items=state.store.list_declarations(**filters, limit=limit, offset=offset),
        )

    @app.get(
        "/api/declarations/{declaration_id}", response_model=Declaration, dependencies=auth, tags=["declarations"],
        responses={404: {"model": ErrorOut}},
    )
    def declaration(declaration_id: Annotated[str, Path(max_length=64)]) -> Declaration:
        d = state.store.get_declaration(declaration_id)
        if d is None:
            raise HTTPException(404, f"no declaration with id {declaration_id!r}")
        return d

    @app.post(
        "/api/lanes/{lane}/trigger", status_code=202, response_model=TriggerAccepted, dependencies=write_auth,
        tags=["lanes"], responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    )
    def trigger(lane: Annotated[str, Path(max_length=64)], body: TriggerIn) -> TriggerAccepted:
        """External trigger: a loop detector saw a vehicle enter (`start`) or leave (`end`) the lane."""
        if lane not in state.lanes:
            raise HTTPException(404, f"no lane {lane!r}")
        if state.on_trigger is None:
            raise HTTPException(503, "external triggers are not wired in this process")
        try:
            state.on_trigger(lane, body.state, body.vehicle_id)
        except ValueError as e:  # a vehicle_id on a lane that takes no AI-IGVs
            raise HTTPException(422, str(e)) from None
        return TriggerAccepted(lane=lane, state=body.state, vehicle_id=body.vehicle_id)

    @app.get(
        "/evidence/{path:path}", dependencies=auth, tags=["evidence"], response_class=FileResponse,
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

    @app.get("/metrics", tags=["status"], response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    def metrics() -> Response:
        """Prometheus text exposition."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(build_review_router(state, review_auth))  # /review page, /api/review/*, /api/audit
    return app


class BodyLimit:
    """413 for a request body over `max_bytes`: at once from Content-Length; a body without one (chunked) is
    read up to the limit before the app sees it; and a body longer than it said is cut while it streams in
    (an HTTPException raised from receive(): FastAPI re-raises it while parsing and answers 413)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body larger than {self.max_bytes // 1024} kB"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": too_large}, status_code=413)(scope, receive, send)
            return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            # Chunked (no length): buffer up to the limit before the app runs, so that a route that never
            # reads its body (logout) refuses an oversized one too.
            body = bytearray()
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # client went away
                body += message.get("body", b"")
                more = bool(message.get("more_body", False))
                if len(body) > self.max_bytes:
                    await JSONResponse({"detail": too_large}, status_code=413)(scope, receive, send)
                    return
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        seen = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited_receive, send)


def security_headers(path: str | None) -> list[tuple[bytes, bytes]]:
    """CSP, nosniff, no framing, no referrer; `path` picks the docs pages' looser CSP."""
    # FastAPI's doc pages load Swagger UI / ReDoc from a CDN with inline scripts.
    csp = _CSP_DOCS if path in ("/docs", "/redoc") else _CSP
    return [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]


class SecurityHeaders:
    """CSP, nosniff, no framing, no referrer on every response (pure ASGI: streams such as SSE pass through).

    Errors included: an exception that escapes the app before its response started is logged and answered
    here (500, JSON, with the headers; the connection stays usable); Starlette's own 500 page would be
    rendered outside this middleware, without them. The same error (type and place) is logged with its
    traceback at most once a minute, then counted."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("path"))
        started = False

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:
                raise
            if isinstance(exc, HTTPException):  # raised outside FastAPI's handlers (e.g. from receive())
                await JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                   headers=exc.headers)(scope, receive, send_with_headers)
                return
            self._log(scope, exc)
            await JSONResponse({"detail": "internal error; the gate's log has the details"},
                               status_code=500)(scope, receive, send_with_headers)

    def _log(self, scope: dict[str, Any], exc: Exception) -> None:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"
        key = (type(exc).__name__, where)
        now = time.monotonic()
        last, skipped = self._logged.get(key, (-60.0, 0))
        if now - last < 60.0:
            self._logged[key] = (last, skipped + 1)
            return
        if len(self._logged) > 1000:
            self._logged.clear()
        self._logged[key] = (now, 0)
        log.error("unhandled error answering %s %s%s", scope.get("method"), scope.get("path"),
                  f" ({skipped} more like it in the last minute)" if skipped else "", exc_info=exc)


def _camera_snapshots(state: ApiState) -> list[CameraStatus]:
    out = []
    for c in state.cameras():
        out.append(CameraStatus.model_validate(c if isinstance(c, dict) else c.model_dump()))
    return out

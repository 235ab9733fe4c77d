"""The review page and its JSON API (mounted by `edge.api.app.create_app`).

Who may do what (see docs/review.md):
* reading (`/api/review/queue`, passages, evidence, events, `/api/audit`): `viewer` and up;
* deciding (approve, reject, correct): `inspector` and up; `/api/review/users`: `admin`.
A caller is a session cookie (the page; mutating requests also need the session's CSRF token in
`X-CSRF-Token`) or `Authorization: Bearer` (a personal token from `smartgate user token`, with its user's
role; the gate's shared api token reads as `viewer` and can never decide: every decision names a person).
There is no route that changes or deletes a decision; the table's triggers refuse it anyway.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from edge.api.review.audit import CARGO_CLASSES, AuditLog, DecisionError, decision_payload, effective_readings
from edge.api.review.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_TTL,
    Auth,
    Principal,
    Role,
)
from edge.api.review.sse import passage_summary
from edge.comms.payload import iso_utc
from edge.domain.reasons import known_codes, sentences
from edge.domain.validation import MAX_OFFSET, QueryTime, SafeLine, SafeText

if TYPE_CHECKING:
    from edge.api.app import ApiState

log = logging.getLogger(__name__)

STATIC = FsPath(__file__).with_name("static")
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|svg)$")
_MEDIA = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PASSAGE_ID = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class DecideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: SafeText = Field("", max_length=2000)


class CorrectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Literal["plate", "container", "cargo"]
    index: int | None = Field(None, ge=0, le=7, description="which container (0-based); container only")
    value: SafeLine = Field(min_length=1, max_length=64)
    comment: SafeText = Field(min_length=1, max_length=2000, description="why; mandatory")


@dataclass
class _Ctx:
    state: ApiState
    auth: Auth
    audit: AuditLog


def _client_ip(request: Request) -> str:
    """The TCP peer: the server believes X-Forwarded-For only from api.trusted_proxies (edge/api/server.py),
    so a client cannot pick the address the login limiter and the log see."""
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    """A browser sends Origin on cross-site POSTs; when present it must be this host."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def login_response(auth: Auth, body: LoginIn, request: Request) -> JSONResponse:
    """A password login for the box's review page and the hub's alike: same-origin check, the login limiter on
    the TCP peer, 429 with Retry-After or 401, then the HttpOnly session cookie and the page's CSRF token."""
    if not _same_origin(request):
        raise HTTPException(403, "cross-site login refused")
    ip = _client_ip(request)
    result = auth.login(body.name, body.password, ip)
    if isinstance(result, float):
        if result > 0:
            raise HTTPException(429, "too many failed logins; try again later",
                                headers={"Retry-After": str(int(result) + 1)})
        log.info("review: failed login as %r from %s", body.name[:64], ip)
        raise HTTPException(401, "wrong user name or password")
    cookie, who = result
    resp = JSONResponse({"user": who.name, "role": who.role, "csrf": who.csrf})
    resp.set_cookie(SESSION_COOKIE, cookie, max_age=int(SESSION_TTL.total_seconds()), path="/", httponly=True,
                    samesite="strict", secure=request.url.scheme == "https")
    log.info("review: %s logged in from %s", who.name, ip)
    return resp


def build_review_router(state: ApiState, auth: Auth | None = None) -> APIRouter:
    ctx = _Ctx(state, auth or Auth(state.store, shared_token=state.token), AuditLog(state.store))
    router = APIRouter()

    def caller(request: Request, touch: bool = True) -> Principal | None:
        authz = request.headers.get("authorization")
        if authz is not None:  # an explicit bearer wins; a wrong one is never "rescued" by a cookie
            scheme, _, token = authz.partition(" ")
            return ctx.auth.token_principal(token.strip()) if scheme.lower() == "bearer" else None
        return ctx.auth.session_principal(request.cookies.get(SESSION_COOKIE), touch=touch)

    def need(role: Role) -> Any:
        def dependency(request: Request) -> Principal:
            who = caller(request)
            if who is None:
                raise HTTPException(401, "log in (session cookie) or send Authorization: Bearer <token>",
                                    headers={"WWW-Authenticate": "Bearer"})
            if request.method not in _SAFE_METHODS and who.via == "session":
                sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
                if not _same_origin(request) or not who.csrf or not hmac.compare_digest(sent, who.csrf.encode()):
                    raise HTTPException(403, f"CSRF check failed: send the session's token in {CSRF_HEADER}")
            if not who.has(role):
                raise HTTPException(403, f"this needs the {role} role; {who.name} is {who.role}")
            return who
        return Depends(dependency)

    viewer, inspector, admin = need("viewer"), need("inspector"), need("admin")

    # -- pages -------------------------------------------------------------------------------

    @router.get("/review", include_in_schema=False)
    def page(request: Request) -> Response:
        if ctx.auth.session_principal(request.cookies.get(SESSION_COOKIE)) is None:
            return RedirectResponse("/review/login", status_code=303)
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    @router.get("/review/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    @router.get("/review/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if not _STATIC_NAME.fullmatch(name) or not (STATIC / name).is_file():
            raise HTTPException(404, "not found")
        return FileResponse(STATIC / name, media_type=_MEDIA[name.rsplit(".", 1)[1]],
                            headers={"Cache-Control": "no-cache"})

    # -- session -----------------------------------------------------------------------------

    @router.post("/api/review/login", tags=["review"], responses={401: {}, 429: {}})
    def login(body: LoginIn, request: Request) -> JSONResponse:
        """Start a session: sets the HttpOnly `sg_session` cookie; returns the CSRF token for the page."""
        return login_response(ctx.auth, body, request)

    @router.post("/api/review/logout", status_code=204, tags=["review"])
    def logout(request: Request, who: Principal = viewer) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if who.via == "session" and cookie:
            ctx.auth.logout(cookie)
        resp = Response(status_code=204)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return resp

    @router.get("/api/review/me", tags=["review"])
    def me(who: Principal = viewer) -> dict[str, Any]:
        """The caller, the CSRF token (sessions), and what the page needs for its filters."""
        return {
            "user": who.name, "role": who.role, "via": who.via, "csrf": who.csrf,
            "gate_id": state.gate_id, "gate_name": state.gate_name, "lanes": state.lanes,
            "reasons": [{"code": c, "en": sentences(c)[0], "vi": sentences(c)[1]} for c in known_codes()],
            "cargo_classes": list(CARGO_CLASSES),
        }

    # -- reading -----------------------------------------------------------------------------

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
        return _detail(ctx, passage_id)

    @router.get("/api/review/evidence/{path:path}", tags=["review"], response_class=FileResponse,
                responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
    def evidence(path: str, who: Principal = viewer) -> FileResponse:
        try:
            f = state.evidence.resolve(path)
        except ValueError:
            raise HTTPException(404, "no such evidence image") from None
        if not f.is_file():
            raise HTTPException(404, "no such evidence image")
        return FileResponse(f, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @router.get("/api/review/events", tags=["review"], response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def events(request: Request, who: Principal = viewer) -> StreamingResponse:
        """Server-Sent Events: `flag` (a new flagged passage, queue item shape) and `decision`. The caller is
        checked again every few seconds: the stream ends when the session is logged out or expires, the
        token is revoked or the user is disabled."""

        async def still_allowed() -> bool:
            now = await run_in_threadpool(caller, request, False)
            return now is not None and now.has("viewer")

        return StreamingResponse(state.review_events.stream(request.is_disconnected, still_allowed),
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

    @router.get("/api/review/users", tags=["review"])
    def users(who: Principal = admin) -> list[dict[str, Any]]:
        return [{"name": u.name, "role": u.role, "created_at": u.created_at, "disabled": u.disabled}
                for u in ctx.auth.list_users()]

    # -- deciding ----------------------------------------------------------------------------

    def decide(passage_id: str, who: Principal, action: Literal["approve", "reject", "correct"], comment: str,
               **correction: Any) -> dict[str, Any]:
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
        return _detail(ctx, passage_id)

    @router.post("/api/review/passages/{passage_id}/approve", tags=["review"],
                 responses={403: {}, 404: {}, 409: {}})
    def approve(passage_id: PASSAGE_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Clear the truck. Final: a decided passage takes no further decisions (409)."""
        return decide(passage_id, who, "approve", body.comment)

    @router.post("/api/review/passages/{passage_id}/reject", tags=["review"],
                 responses={403: {}, 404: {}, 409: {}})
    def reject(passage_id: PASSAGE_ID, body: DecideIn, who: Principal = inspector) -> dict[str, Any]:
        """Send the truck to traditional inspection. Final."""
        return decide(passage_id, who, "reject", body.comment)

    @router.post("/api/review/passages/{passage_id}/correct", tags=["review"],
                 responses={403: {}, 404: {}, 409: {}, 422: {}})
    def correct(passage_id: PASSAGE_ID, body: CorrectIn, who: Principal = inspector) -> dict[str, Any]:
        """Correct a reading (plate, container code with a valid ISO 6346 check digit, cargo class)."""
        index = body.index if body.field == "container" else None
        if body.field == "container" and index is None:
            raise HTTPException(422, "index: which container (0-based) is corrected")
        return decide(passage_id, who, "correct", body.comment, field=body.field, item=index, value=body.value)

    return router


def _detail(ctx: _Ctx, passage_id: str) -> dict[str, Any]:
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

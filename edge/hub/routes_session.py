"""Sessions and pages of the hub: `/api/hub/login` (the box's review login, on the hub's accounts), `/logout`,
`/me` (the caller, its CSRF token, the lanes seen in 30 days, the reason codes), and the HTML pages (`/hub`,
`/hub/report`, `/hub/login`) with their static files, which fall back to the box review page's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from edge.api.review.auth import SESSION_COOKIE, Principal
from edge.api.review.context import LoginIn, login_response
from edge.comms.payload import iso_utc
from edge.domain.reasons import known_codes, sentences
from edge.hub.http_context import HubContext

STATIC = FsPath(__file__).with_name("static")
REVIEW_STATIC = FsPath(__file__).resolve().parent.parent / "api" / "review" / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|svg)$")
_MEDIA = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}


def session_router(ctx: HubContext) -> APIRouter:
    """`POST /api/hub/login`, `POST /api/hub/logout`, `GET /api/hub/me`."""
    router = APIRouter()
    hub, cfg, auth = ctx.hub, ctx.hub.cfg, ctx.auth
    viewer = ctx.need("viewer")

    @router.post("/api/hub/login", tags=["session"], responses={401: {}, 429: {}})
    def login(body: LoginIn, request: Request) -> JSONResponse:
        return login_response(auth, body, request)  # the box's review login, on the hub's accounts

    @router.post("/api/hub/logout", status_code=204, tags=["session"])
    def logout(request: Request, who: Principal = viewer) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if who.via == "session" and cookie:
            auth.logout(cookie)
        resp = Response(status_code=204)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return resp

    @router.get("/api/hub/me", tags=["session"])
    def me(who: Principal = viewer) -> dict[str, Any]:
        with hub.db.tx() as conn:
            lanes = conn.execute("SELECT DISTINCT gate, lane, box FROM passages WHERE started_at > now() - interval"
                                 " '30 days' ORDER BY 1, 2").fetchall()
        return {"user": who.name, "role": who.role, "via": who.via, "csrf": who.csrf, "hub": cfg.id,
                "name": cfg.name, "lanes": [{"gate": g, "lane": ln, "box": b} for g, ln, b in lanes],
                "reasons": [{"code": c, "en": sentences(c)[0], "vi": sentences(c)[1]} for c in known_codes()],
                "now": iso_utc(datetime.now(UTC))}

    return router


def pages_router(ctx: HubContext) -> APIRouter:
    """`/hub`, `/hub/report` (to the login page without a session), `/hub/login`, `/hub/static/{name}`."""
    router = APIRouter()
    auth = ctx.auth

    def page(name: str, request: Request) -> Response:
        if auth.session_principal(request.cookies.get(SESSION_COOKIE)) is None:
            return RedirectResponse("/hub/login", status_code=303)
        return FileResponse(STATIC / name, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    @router.get("/hub", include_in_schema=False)
    def hub_page(request: Request) -> Response:
        return page("hub.html", request)

    @router.get("/hub/report", include_in_schema=False)
    def report_page(request: Request) -> Response:
        return page("report.html", request)

    @router.get("/hub/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    @router.get("/hub/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        for folder in (STATIC, REVIEW_STATIC):
            if _STATIC_NAME.fullmatch(name) and (folder / name).is_file():
                return FileResponse(folder / name, media_type=_MEDIA[name.rsplit(".", 1)[1]],
                                    headers={"Cache-Control": "no-cache"})
        raise HTTPException(404, "not found")

    return router

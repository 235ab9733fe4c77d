"""The review page's HTML and static files: `/review` (to the login page without a session), `/review/login`
and `/review/static/{name}`. Not in the OpenAPI schema.
"""

from __future__ import annotations

import re
from pathlib import Path as FsPath

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from edge.api.review.auth import SESSION_COOKIE
from edge.api.review.context import ReviewContext

STATIC = FsPath(__file__).with_name("static")
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|svg)$")
_MEDIA = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}


def pages_router(ctx: ReviewContext) -> APIRouter:
    router = APIRouter()

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

    return router

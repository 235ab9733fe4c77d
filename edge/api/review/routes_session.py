"""Sessions and accounts of the review page: `/api/review/login`, `/logout`, `/me` (the caller, its CSRF
token, and the lanes, reason codes and cargo classes the page's filters offer), and `/api/review/users`
(admin: the accounts).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from edge.api.review.audit import CARGO_CLASSES
from edge.api.review.auth import SESSION_COOKIE, Principal
from edge.api.review.context import LoginIn, ReviewContext, login_response
from edge.domain.reasons import known_codes, sentences


def session_router(ctx: ReviewContext) -> APIRouter:
    """`POST /api/review/login`, `POST /api/review/logout`, `GET /api/review/me`."""
    router = APIRouter()
    state = ctx.state
    viewer = ctx.need("viewer")

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

    return router


def accounts_router(ctx: ReviewContext) -> APIRouter:
    """`GET /api/review/users` (admin)."""
    router = APIRouter()
    admin = ctx.need("admin")

    @router.get("/api/review/users", tags=["review"])
    def users(who: Principal = admin) -> list[dict[str, Any]]:
        return [{"name": u.name, "role": u.role, "created_at": u.created_at, "disabled": u.disabled}
                for u in ctx.auth.list_users()]

    return router

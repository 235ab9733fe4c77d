"""What every review route shares: the `ReviewContext` (gate state, accounts, audit log), who is calling
(`caller`: a bearer token, else the session cookie) and the role check (`need`: 401, CSRF on mutating session
requests, 403 below the role), as FastAPI dependencies.

Also the login answer (`login_response`) the hub's login reuses, so both pages log in the same way.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from edge.api.review.audit import AuditLog
from edge.api.review.auth import CSRF_HEADER, SESSION_COOKIE, SESSION_TTL, Auth, Principal, Role
from edge.api.state import ApiState

# One logger for every review route, under the name it had when they all lived in routes.py (log filters,
# the log format, and tests/test_faults_http.py count its login lines).
log = logging.getLogger("edge.api.review.routes")

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
IDENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PASSAGE_ID = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@dataclass
class ReviewContext:
    """The gate's state, its accounts and its audit log, handed to each review router."""

    state: ApiState
    auth: Auth
    audit: AuditLog

    def caller(self, request: Request, touch: bool = True) -> Principal | None:
        return caller_of(self.auth, request, touch)

    def need(self, role: Role) -> Any:
        """A `Depends` giving the calling Principal when it holds `role` (and, for a session's mutating
        request, sent its CSRF token from this origin)."""
        def dependency(request: Request) -> Principal:
            return require_role(self.caller(request), request, role, check_origin=True)
        return Depends(dependency)


def caller_of(auth: Auth, request: Request, touch: bool = True) -> Principal | None:
    """Who is calling: a bearer token, else the session cookie (`touch`: extend the session)."""
    authz = request.headers.get("authorization")
    if authz is not None:  # an explicit bearer wins; a wrong one is never "rescued" by a cookie
        scheme, _, token = authz.partition(" ")
        return auth.token_principal(token.strip()) if scheme.lower() == "bearer" else None
    return auth.session_principal(request.cookies.get(SESSION_COOKIE), touch=touch)


def require_role(who: Principal | None, request: Request, role: Role, check_origin: bool) -> Principal:
    """`who` when it holds `role`: 401 for nobody; 403 for a session's mutating request without its CSRF token
    (or, with `check_origin`, from another origin) and below the role. Shared by the review page and the hub."""
    if who is None:
        raise HTTPException(401, "log in (session cookie) or send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in _SAFE_METHODS and who.via == "session":
        sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
        if (check_origin and not same_origin(request)) or not who.csrf or not hmac.compare_digest(
                sent, who.csrf.encode()):
            raise HTTPException(403, f"CSRF check failed: send the session's token in {CSRF_HEADER}")
    if not who.has(role):
        raise HTTPException(403, f"this needs the {role} role; {who.name} is {who.role}")
    return who


def client_ip(request: Request) -> str:
    """The TCP peer: the server believes X-Forwarded-For only from api.trusted_proxies (edge/api/server.py),
    so a client cannot pick the address the login limiter and the log see."""
    return request.client.host if request.client else "unknown"


def same_origin(request: Request) -> bool:
    """A browser sends Origin on cross-site POSTs; when present it must be this host."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def login_response(auth: Auth, body: LoginIn, request: Request) -> JSONResponse:
    """A password login for the box's review page and the hub's alike: same-origin check, the login limiter on
    the TCP peer, 429 with Retry-After or 401, then the HttpOnly session cookie and the page's CSRF token."""
    if not same_origin(request):
        raise HTTPException(403, "cross-site login refused")
    ip = client_ip(request)
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

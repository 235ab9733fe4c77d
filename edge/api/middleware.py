"""ASGI middleware and body limits shared by the box's API (`edge.api.app`) and the hub's (`edge.hub.api`).

`BodyLimit` refuses oversized request bodies (413) before a route sees them, `SecurityHeaders` puts CSP,
nosniff, no-framing and no-referrer on every response (errors included), and `read_limited` reads a route's
own body under a lower cap. `edge/api/server.py` adds the same headers to the answers it gives itself.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

# The logger keeps the name it had before these classes left edge/api/app.py (log filters, the log format).
log = logging.getLogger("edge.api.app")

# Any request body (every route, every method); POST /api/declarations has its own, lower cap.
MAX_REQUEST_BYTES = 1024 * 1024
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_CSP_DOCS = ("default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
             "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; worker-src 'self' blob:; "
             "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


async def read_limited(request: Request, limit: int) -> bytes:
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


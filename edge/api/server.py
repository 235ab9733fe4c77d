"""The API's HTTP server: uvicorn with limits that keep slow or hostile clients from exhausting the gate.

`build_server(app, api_cfg)` returns the `uvicorn.Server` the daemon runs. Against uvicorn's defaults:

* **Connection cap** (`api.max_connections`): at the cap, a new connection first closes the longest-idle
  keep-alive connection (nothing is lost: a client reconnects), else it is closed at once without reading a
  byte; the process's file handles, which SQLite and the cameras need too, stay bounded.
* **Request-head timeout** (`api.header_timeout_s`), from connecting (and from each response on a kept-alive
  connection) until the complete request head has arrived: idle or trickling (slowloris) connections are
  closed. A head is at most `MAX_HEAD_BYTES`; bigger is a 400.
* Short keep-alive (`api.keepalive_timeout_s`), no `Server:` header, and proxy headers (`X-Forwarded-For`,
  `X-Forwarded-Proto`) believed only from `api.trusted_proxies` (none by default: the peer address is the
  client, which the login limiter and the logs rely on).
* **Host check** (`api.allowed_hosts`, DNS rebinding): another Host header gets 400. By default any IP
  address, `localhost`, the bind name and `public_url`'s host are accepted (an IP literal cannot be a
  rebinding attack: the attacker's page would have to be served from that address).
* Noise: connection resets, refused connections, malformed requests and asyncio's transport warnings are
  logged at most once a minute per kind, with a count of the ones left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from edge.api.config import ApiConfig
from edge.api.middleware import SecurityHeaders, security_headers

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024  # request line + headers; h11's own default, made explicit
LOG_EVERY_S = 60.0
_WILDCARD_BINDS = {"0.0.0.0", "::", ""}
_HEAD_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int
    header_timeout_s: float


class _RateLimit:
    """At most one message per `key` per LOG_EVERY_S; returns how many were left out before this one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Any, tuple[float, int]] = {}  # key -> (time of last logged, left out since)

    def allow(self, key: Any) -> tuple[bool, int]:
        now = time.monotonic()
        with self._lock:
            last, skipped = self._seen.get(key, (-LOG_EVERY_S, 0))
            if now - last < LOG_EVERY_S:
                self._seen[key] = (last, skipped + 1)
                return False, skipped + 1
            if len(self._seen) > 1000:  # many kinds of message: forget them all rather than grow
                self._seen.clear()
            self._seen[key] = (now, 0)
            return True, skipped


class QuietLogFilter(logging.Filter):
    """Rate-limits uvicorn's and asyncio's warnings and errors (per logger, message and exception type)."""

    def __init__(self) -> None:
        super().__init__("smartgate-quiet")
        self._limit = _RateLimit()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        ok, skipped = self._limit.allow((record.name, str(record.msg), exc))
        if ok and skipped:
            record.msg = f"{record.msg} ({skipped} similar message(s) in the last minute left out)"
        if ok and exc in ("ConnectionResetError", "BrokenPipeError", "ConnectionAbortedError", "TimeoutError"):
            record.exc_info = None  # a peer that went away is not a bug: one line, no traceback
            record.exc_text = None
        return ok


_QUIET = QuietLogFilter()
_refusals = _RateLimit()


def _install_log_filters() -> None:
    for name in ("uvicorn.error", "uvicorn", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietLogFilter) for f in logger.filters):
            logger.addFilter(_QUIET)


class GateH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the connection cap and the request-head timeout."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits: ServerLimits = config.smartgate_limits  # type: ignore[attr-defined]
        self.max_connections = limits.max_connections
        self.header_timeout_s = limits.header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None  # a kept-alive connection waiting for its next request

    # -- the cap ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections and not self._make_room():
            self.transport = transport  # connection_lost() closes it again; harmless
            transport.abort()  # close now, read nothing
            ok, skipped = _refusals.allow("refused")
            if ok:
                log.warning("HTTP: connection refused, %d open (api.max_connections)%s", len(self.connections),
                            f"; {skipped} more refused in the last minute" if skipped else "")
            return
        super().connection_made(transport)
        self._arm_head_timer()

    def _make_room(self) -> bool:
        """Close the longest-idle keep-alive connection (it holds no request); False when there is none."""
        idle = [c for c in self.connections if isinstance(c, GateH11Protocol) and c._idle_since is not None
                and not c.transport.is_closing()]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since or 0.0)
        oldest._close()
        self.connections.discard(oldest)
        return True

    # -- the request-head timeout -------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        if self.transport is not None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE:  # still no complete request head
            self._close()

    def _close(self) -> None:
        self._disarm_head_timer()
        self._unset_keepalive_if_required()
        if not self.transport.is_closing():
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self.send_400_response(f"request head larger than {MAX_HEAD_BYTES // 1024} kB")
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the connection failed)
            self._disarm_head_timer()

    def _head_too_large(self, data: bytes) -> bool:
        """h11 bounds only a head that arrives in pieces; one that arrives whole is measured here."""
        buffered = self.conn.trailing_data[0]
        if len(buffered) + len(data) <= MAX_HEAD_BYTES:
            return False
        end = _HEAD_END.search(buffered + data)
        return (end.end() if end else len(buffered) + len(data)) > MAX_HEAD_BYTES

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:  # kept alive, waiting for the next request head
            self._idle_since = time.monotonic()
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._idle_since = None
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """A malformed or oversized request head: 400 in JSON with the security headers, then close. Written
        as raw bytes: h11 may be in a state where it would not send a response."""
        body = json.dumps({"detail": msg}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close"), *security_headers(None)]
        head = b"HTTP/1.1 400 Bad Request\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n"
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()


# -- Host header --------------------------------------------------------------------------------

def _host_only(value: str) -> str | None:
    """The host part of a Host header ('[::1]:8080' -> '::1', 'Gate.Local.:80' -> 'gate.local'); None if bad."""
    v = value.strip().lower()
    if not v or any(c in v for c in "/\\@ \t,"):
        return None
    if v.startswith("["):
        end = v.find("]")
        if end < 0 or (v[end + 1:] and not (v[end + 1] == ":" and v[end + 2:].isdigit())):
            return None
        return v[1:end]
    host, sep, port = v.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        v = host
    return v.rstrip(".") or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPolicy:
    names: frozenset[str]
    suffixes: tuple[str, ...] = ()  # from '*.domain' entries: '.domain'
    any_ip: bool = False
    any_host: bool = False

    def allows(self, header: str | None) -> bool:
        if self.any_host:
            return True
        host = _host_only(header or "")
        if host is None:
            return False
        if host in self.names or (self.any_ip and _is_ip(host)):
            return True
        if _is_ip(host):  # '::0001' == '::1'
            canon = str(ipaddress.ip_address(host))
            return canon in self.names
        return any(host.endswith(s) for s in self.suffixes)


def host_policy(api: ApiConfig) -> HostPolicy:
    """`api.allowed_hosts` as a policy; None gives the default described in the module doc."""
    if api.allowed_hosts is not None:
        names: set[str] = set()
        suffixes = []
        for entry in api.allowed_hosts:
            e = entry.strip().lower().rstrip(".")
            if e == "*":
                return HostPolicy(frozenset(), any_host=True)
            if e.startswith("*."):
                suffixes.append(e[1:])
            elif e:
                names.add(str(ipaddress.ip_address(e.strip("[]"))) if _is_ip(e.strip("[]")) else e)
        return HostPolicy(frozenset(names), tuple(suffixes))
    names = {"localhost"}
    if api.bind not in _WILDCARD_BINDS and not _is_ip(api.bind):
        names.add(api.bind.lower())
    if api.public_url:
        host = urlsplit(api.public_url).hostname
        if host:
            names.add(host.lower().rstrip("."))
    return HostPolicy(frozenset(names), any_ip=True)


class HostGuard:
    """400 (JSON) for a request whose Host header the policy refuses (pure ASGI)."""

    def __init__(self, app: Any, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self.policy.any_host:
            host = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"host"), None)
            if not self.policy.allows(host):
                ok, skipped = _refusals.allow("host")
                if ok:
                    log.warning("HTTP: request with Host %r refused (api.allowed_hosts)%s", (host or "")[:100],
                                f"; {skipped} more in the last minute" if skipped else "")
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = b'{"detail":"Host header not allowed (api.allowed_hosts)"}'
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


# -- the server ---------------------------------------------------------------------------------

def build_server(app: Any, api_cfg: ApiConfig) -> uvicorn.Server:
    """The hardened uvicorn server for `app` on api.bind:api.port (run it with `.run()` in a thread)."""
    trusted = list(api_cfg.trusted_proxies)
    config = uvicorn.Config(
        SecurityHeaders(HostGuard(app, host_policy(api_cfg))),
        host=api_cfg.bind,
        port=api_cfg.port,
        http=GateH11Protocol,
        ws="none",
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_keep_alive=api_cfg.keepalive_timeout_s,  # type: ignore[arg-type]  # a float works (call_later)
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        backlog=min(2048, api_cfg.max_connections * 2),
    )
    config.smartgate_limits = ServerLimits(api_cfg.max_connections, api_cfg.header_timeout_s)  # type: ignore[attr-defined]
    _install_log_filters()  # after uvicorn.Config, which (re)configures its loggers
    _check_file_limit(api_cfg.max_connections)
    return uvicorn.Server(config)


def _check_file_limit(max_connections: int) -> None:
    """Warn when api.max_connections leaves too few file handles for SQLite, evidence files and cameras."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return
    if soft != resource.RLIM_INFINITY and soft - max_connections < 256:
        log.warning("HTTP: api.max_connections=%d leaves %d of the process's %d file handles for the database, "
                    "evidence and cameras; lower it or raise the limit (LimitNOFILE)", max_connections,
                    soft - max_connections, soft)

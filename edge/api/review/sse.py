"""Server-Sent Events for the review page: new flags and decisions appear without a reload.

`ReviewEvents.notify(type, data)` may be called from any thread (the daemon's sink thread, the API's
thread pool); each open stream has an asyncio queue on the server's event loop and gets the event through
`call_soon_threadsafe`. A stream that falls behind by more than QUEUE_SIZE events gets one `resync`
event instead (the page then reloads its queue), so a stuck browser never grows the server's memory.
Every `recheck_s` seconds a stream asks whether its caller may still read (session not logged out or
expired, user not disabled, token not revoked) and ends when not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from edge.comms.payload import iso_utc
from edge.domain.types import Passage

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
KEEPALIVE_S = 15.0
RECHECK_S = 5.0
_CLOSE = object()


def passage_summary(p: Passage) -> dict[str, Any]:
    """What the queue shows for one passage (also the `flag` event's data)."""
    return {
        "id": p.id, "gate": p.gate, "lane": p.lane, "direction": p.direction,
        "started_at": iso_utc(p.started_at),
        "plate": (p.plate.display or p.plate.text) if p.plate else None,
        "vehicle_id": p.vehicle_id,
        "containers": [{"code": c.code, "check_digit_ok": c.check_digit_ok} for c in p.containers],
        "cargo": {"class": p.cargo.cls, "confidence": p.cargo.confidence} if p.cargo else None,
        "verdict": p.verdict.status,
        "reasons": [r.model_dump() for r in p.verdict.reasons],
    }


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False

    def put(self, item: Any) -> None:  # runs on self.loop
        if self.overflowed and item is not _CLOSE:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(("resync", {}))


class ReviewEvents:
    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._subs: set[_Subscriber] = set()
        self._closed = False

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def notify(self, type: str, data: dict[str, Any]) -> None:
        """Send one event to every open stream; thread-safe, never blocks, never raises."""
        with self._lock:
            subs = list(self._subs)
        for s in subs:
            with contextlib.suppress(RuntimeError):  # loop already closed
                s.loop.call_soon_threadsafe(s.put, (type, data))

    def passage(self, p: Passage) -> None:
        """The daemon calls this after storing a passage: flagged ones reach the inspectors' queue."""
        if p.verdict.status == "flag":
            self.notify("flag", passage_summary(p))

    def close(self) -> None:
        """End every stream (server shutdown), so open browser connections do not hold it up."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        for s in subs:
            with contextlib.suppress(RuntimeError):
                s.loop.call_soon_threadsafe(s.put, _CLOSE)

    async def stream(self, is_disconnected: Any,
                     still_allowed: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[str]:
        """SSE text for one client until it disconnects, `still_allowed()` says no, or `close()`."""
        loop = asyncio.get_running_loop()
        sub = _Subscriber(loop)
        with self._lock:
            if self._closed:
                return
            self._subs.add(sub)
        try:
            yield "retry: 3000\n\n"
            next_keepalive = loop.time() + KEEPALIVE_S
            next_check = loop.time() + self.recheck_s
            while True:
                timeout = min(next_keepalive, next_check if still_allowed else next_keepalive) - loop.time()
                try:
                    item = await asyncio.wait_for(sub.queue.get(), timeout=max(0.0, timeout))
                except TimeoutError:
                    item = None
                now = loop.time()
                if still_allowed is not None and now >= next_check:
                    next_check = now + self.recheck_s
                    if not await still_allowed():
                        log.info("review: event stream ended (caller logged out, expired or disabled)")
                        return
                if item is None:
                    if now >= next_keepalive:
                        if await is_disconnected():
                            return
                        next_keepalive = now + KEEPALIVE_S
                        yield ": keep-alive\n\n"
                    continue
                if item is _CLOSE:
                    return
                type_, data = item
                if type_ == "resync":
                    sub.overflowed = False
                yield f"event: {type_}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"
        finally:
            with self._lock:
                self._subs.discard(sub)

"""Failed-login back-off for the review page and the hub (`LoginLimiter`), in memory.

Failed logins are counted three ways at once: per (user name, client address), per user name (any address) and per
client address (any name). On each, the first failures are free, then every attempt waits 2^k s (capped at 15 min)
after the last failure, even with the right password. An attempt reserves its place before the password is checked
(`LoginSlot`), so parallel guesses cannot all be judged. A restart forgives.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class _Count:
    """One counter of the limiter: failures judged, time of the last, attempts being judged now."""

    __slots__ = ("inflight", "last", "n")

    def __init__(self) -> None:
        self.n = 0
        self.last = 0.0
        self.inflight = 0


class LoginSlot:
    """A reserved login attempt (LoginLimiter.attempt): call `failure()` or `success()` once the password
    has been judged; `release()` (idempotent, for a finally block) gives the place back unjudged."""

    def __init__(self, limiter: LoginLimiter, keys: list[tuple[str, Hashable]]) -> None:
        self._limiter = limiter
        self._keys = keys
        self._open = True

    def failure(self) -> None:
        self._finish("failure")

    def success(self) -> None:
        self._finish("success")

    def release(self) -> None:
        self._finish(None)

    def _finish(self, outcome: str | None) -> None:
        if self._open:
            self._open = False
            self._limiter._finish(self._keys, outcome)  # noqa: SLF001


class LoginLimiter:
    """Failed-login back-off, per (user name, address), per user name and per address; in memory (a restart
    forgives). Failures left alone for FORGET_S are forgotten. Each table holds at most `max_keys` entries: a
    new one evicts the oldest entry that carries no back-off; if every entry does, the attempt is refused
    rather than a lock-out forgotten."""

    FREE_FAILURES = 5  # per (user name, address)
    ACCOUNT_FREE_FAILURES = 20  # per user name, from all addresses together
    ADDRESS_FREE_FAILURES = 30  # per address, for all user names together
    MAX_DELAY_S = 900.0
    FORGET_S = 3600.0
    MAX_KEYS = 10_000
    BUSY_WAIT_S = 1.0  # answer while earlier attempts on a counter are still being judged

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int | None = None) -> None:
        self.clock = clock
        self.max_keys = max_keys or self.MAX_KEYS
        self._lock = threading.Lock()
        self._free = {"pair": self.FREE_FAILURES, "name": self.ACCOUNT_FREE_FAILURES,
                      "addr": self.ADDRESS_FREE_FAILURES}
        self._tables: dict[str, OrderedDict[Hashable, _Count]] = {k: OrderedDict() for k in self._free}

    @staticmethod
    def _keys(name: str, ip: str) -> list[tuple[str, Hashable]]:
        n = name.strip().lower()[:64]
        return [("pair", (n, ip)), ("name", n), ("addr", ip)]

    def _get(self, kind: str, key: Hashable, now: float) -> _Count | None:
        c = self._tables[kind].get(key)
        if c is not None and c.inflight == 0 and c.n and now - c.last >= self.FORGET_S:
            del self._tables[kind][key]
            return None
        return c

    def _delay(self, kind: str, n: int) -> float:
        return min(2.0 ** (n - self._free[kind]), self.MAX_DELAY_S)

    def _wait(self, kind: str, c: _Count | None, now: float, reserving: bool) -> float:
        """Seconds before this counter lets one more attempt be judged (0: now)."""
        if c is None:
            return 0.0
        free = self._free[kind]
        if c.n + (c.inflight if reserving else 0) < free:
            return 0.0
        if c.n < free:  # free places all taken by attempts still being judged
            return self.BUSY_WAIT_S
        left = c.last + self._delay(kind, c.n) - now
        if reserving and c.inflight:
            return max(left, self.BUSY_WAIT_S)
        return max(0.0, left)

    def _pinned(self, kind: str, c: _Count, now: float) -> bool:
        """An entry that must not be evicted: being judged, or carrying a back-off not yet forgotten."""
        return c.inflight > 0 or (c.n >= self._free[kind] and now - c.last < self.FORGET_S)

    def _entry(self, kind: str, key: Hashable, now: float) -> _Count | float:
        """The counter for `key`, created if needed; a wait (float) when the table is full of pinned entries."""
        table = self._tables[kind]
        c = self._get(kind, key, now)
        if c is not None:
            return c
        if len(table) >= self.max_keys:
            victim, soonest = None, self.MAX_DELAY_S
            for k, old in table.items():  # oldest first
                if not self._pinned(kind, old, now):
                    victim = k
                    break
                if old.inflight == 0:
                    soonest = min(soonest, old.last + self.FORGET_S - now)
            if victim is None:
                return max(soonest, self.BUSY_WAIT_S)
            del table[victim]
        c = table[key] = _Count()
        return c

    def attempt(self, name: str, ip: str) -> LoginSlot | float:
        """Reserve the right to judge one login attempt now, or the seconds to wait (> 0)."""
        keys = self._keys(name, ip)
        with self._lock:
            now = self.clock()
            wait = max(self._wait(kind, self._get(kind, key, now), now, reserving=True) for kind, key in keys)
            if wait > 0:
                return wait
            counters = []
            for kind, key in keys:
                c = self._entry(kind, key, now)
                if isinstance(c, float):
                    for old in counters:
                        old.inflight -= 1
                    return c
                c.inflight += 1
                counters.append(c)
            return LoginSlot(self, keys)

    def _finish(self, keys: list[tuple[str, Hashable]], outcome: str | None) -> None:
        with self._lock:
            now = self.clock()
            for kind, key in keys:
                table = self._tables[kind]
                c = table.get(key)
                if c is None:
                    continue
                c.inflight = max(0, c.inflight - 1)
                if outcome == "failure":
                    c.n += 1
                    c.last = now
                    table.move_to_end(key)
                elif outcome == "success" and kind != "addr":  # a good password from an address is no
                    c.n = 0  # reason to forgive the names it sprayed
                if c.n == 0 and c.inflight == 0:
                    del table[key]

    # Without reservation (tools and tests): the same counters.

    def retry_after(self, name: str, ip: str) -> float:
        """Seconds until (name, ip) may try again; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            return max(self._wait(kind, self._get(kind, key, now), now, reserving=False)
                       for kind, key in self._keys(name, ip))

    def failed(self, name: str, ip: str) -> None:
        slot = self._reserve_anyway(name, ip)
        if slot is not None:
            slot.failure()

    def succeeded(self, name: str, ip: str) -> None:
        slot = self._reserve_anyway(name, ip)
        if slot is not None:
            slot.success()

    def _reserve_anyway(self, name: str, ip: str) -> LoginSlot | None:
        keys = self._keys(name, ip)
        with self._lock:
            now = self.clock()
            for kind, key in keys:
                c = self._entry(kind, key, now)
                if isinstance(c, float):
                    return None
                c.inflight += 1
        return LoginSlot(self, keys)

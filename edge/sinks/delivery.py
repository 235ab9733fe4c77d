"""Delivering a decided passage to its sinks without ever dropping it.

A verdict goes through named steps (evidence, store, review events, declaration, MQTT outbox, console).
Storage can fail for a while — a full disk, a database file that cannot be opened while the box is out of
file handles, a locked database — and must not lose this verdict or any later one. So:

* each step runs once per passage: a step that succeeded is not repeated when a later one fails (no duplicate
  evidence, no second outbox event);
* a failing step is retried with exponential backoff (`retry_min_s` … `retry_max_s`) until it succeeds;
  passages keep their order (the head waits, the rest queue behind it in the daemon's bounded queue, so
  memory is bounded and the lanes slow down instead of dropping verdicts);
* while a step fails, `SinkHealth.problems()` says which and since when, so `/api/health` turns `degraded`,
  and the error is logged once per state change plus a reminder a minute, not once per retry;
* a passage that still cannot be stored when the daemon stops is written to a rescue file (JSON, one per
  passage) beside the database or, failing that, logged whole at CRITICAL; `load_rescued()` hands rescue
  files back at the next start.

Pure bookkeeping here; the sinks themselves are in edge/sinks/outputs.py and the daemon lists them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edge.domain.types import Passage

if TYPE_CHECKING:
    from edge.decision.finalize import EvidenceImage

log = logging.getLogger("smartgate.sinks")

RESCUE_DIR = "unsaved-passages"
REMIND_EVERY_S = 60.0


@dataclass
class Delivery:
    """A decided passage on its way out, with what the sinks need besides the passage itself, and the sinks
    it has been through (a sink that succeeded is not run again when a later one fails)."""

    passage: Passage
    images: list[EvidenceImage] = field(default_factory=list)  # crops the evidence sink writes
    declaration_id: str | None = None  # matched on this box: the declaration sink marks it used
    done: set[str] = field(default_factory=set)
    attempts: int = 0


@runtime_checkable
class Sink(Protocol):
    """Where a decided passage goes: the store, the evidence folder, MQTT, the review page, the console.

    `deliver` raises on failure. A `critical` sink is retried until it succeeds (the passage waits); a
    non-critical one that fails is logged and skipped. To add one: write a class with these three members
    (edge/sinks/outputs.py has the shipped ones) and add it to the daemon's list in `Daemon.build_sinks`.
    """

    name: str
    critical: bool

    def deliver(self, d: Delivery) -> None: ...


@dataclass
class Step:
    """A sink made of a function of the passage (tests and one-off sinks)."""

    name: str
    run: Callable[[Passage], None]
    critical: bool = True

    def deliver(self, d: Delivery) -> None:
        self.run(d.passage)


class StepFailed(Exception):
    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(f"{step}: {type(error).__name__}: {error}")
        self.step = step
        self.error = error


def deliver(d: Delivery, sinks: list[Sink]) -> None:
    """Run every sink not yet done, in order; raise StepFailed at the first critical failure."""
    d.attempts += 1
    for step in sinks:
        if step.name in d.done:
            continue
        try:
            step.deliver(d)
        except Exception as e:
            if step.critical:
                raise StepFailed(step.name, e) from e
            log.error("passage %s: %s failed (not retried): %s", d.passage.id, step.name, e)
        d.done.add(step.name)


def backoff_s(attempt: int, lo: float, hi: float) -> float:
    """Delay before retry `attempt` (1-based): lo, 2·lo, 4·lo … capped at hi."""
    return min(hi, lo * 2.0 ** max(0, attempt - 1))


class SinkHealth:
    """What the sink thread reports to /api/health and the metrics: the failing step, since when, the backlog."""

    def __init__(self, backlog: Callable[[], int], backlog_max: int) -> None:
        self._lock = threading.Lock()
        self._backlog = backlog
        self.backlog_max = backlog_max
        self.failing: StepFailed | None = None
        self.failing_since: float | None = None
        self._last_log = 0.0

    def failed(self, passage_id: str, err: StepFailed, retry_in: float) -> None:
        now = time.monotonic()
        with self._lock:
            first = self.failing is None
            self.failing = err
            if first:
                self.failing_since = now
            remind = first or now - self._last_log >= REMIND_EVERY_S
            if remind:
                self._last_log = now
        if remind:
            log.error("passage %s not delivered (%s); retrying in %.1f s, %d passage(s) waiting — nothing is "
                      "dropped", passage_id, err, retry_in, self._backlog() + 1)

    def succeeded(self, passage_id: str) -> None:
        with self._lock:
            was = self.failing
            since = self.failing_since
            self.failing, self.failing_since = None, None
        if was is not None:
            down = time.monotonic() - (since or time.monotonic())
            log.warning("passage %s delivered: %s recovered after %.0f s", passage_id, was.step, down)

    def problems(self) -> list[str]:
        """Human-readable reasons the sink is not healthy; empty when it is."""
        out: list[str] = []
        with self._lock:
            failing, since = self.failing, self.failing_since
        waiting = self._backlog()
        if failing is not None:
            age = time.monotonic() - (since or time.monotonic())
            out.append(f"sink {failing} (failing for {age:.0f} s, {waiting + 1} passage(s) waiting)")
        if waiting >= self.backlog_max:
            out.append(f"sink backlog full ({waiting}/{self.backlog_max}): lanes are held back")
        return out


def rescue(p: Passage, database: str | Path) -> Path | None:
    """Last resort at shutdown: write the passage as JSON beside the database (0600). Returns the path, or None
    after logging the whole passage at CRITICAL when even that write fails (a full disk)."""
    folder = Path(database).parent / RESCUE_DIR
    path = folder / f"{p.id}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(p.model_dump_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        log.critical("passage %s could not be stored; kept in %s and stored at the next start", p.id, path)
        return path
    except OSError as e:
        log.critical("passage %s could not be stored nor written to %s (%s); its verdict follows: %s",
                     p.id, folder, e, p.model_dump_json())
        return None


def load_rescued(database: str | Path) -> list[tuple[Path, Passage]]:
    """Passages a previous run could not store, oldest first; unreadable files are logged and left in place."""
    folder = Path(database).parent / RESCUE_DIR
    if not folder.is_dir():
        return []
    out: list[tuple[Path, Passage]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            out.append((path, Passage.model_validate_json(path.read_bytes())))
        except (OSError, ValueError) as e:
            log.error("rescued passage %s unreadable, left in place: %s", path, e)
    out.sort(key=lambda item: item[1].created_at)
    return out

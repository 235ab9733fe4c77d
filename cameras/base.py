"""The one interface every frame source implements, and its health record.

A source is consumed by one thread through the blocking generator `frames()`;
`health()` and `close()` may be called from any other thread (the API, the
daemon's supervisor). Counters live behind a lock so a health snapshot is
always consistent.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from cameras.frame import CameraRole, Frame

HealthState = Literal["starting", "online", "reconnecting", "offline", "ended"]


class CameraError(Exception):
    """A source that cannot be opened at all (missing file, bad URL); the message names camera and source."""


class CameraHealth(BaseModel):
    """Snapshot of one camera's state, safe to serialise to the API/MQTT."""

    name: str
    role: CameraRole
    lane: str
    state: HealthState = "starting"
    frames: int = Field(0, description="frames delivered to the consumer")
    corrupt_frames: int = Field(0, description="frames that could not be decoded and were skipped")
    dropped_frames: int = Field(0, description="good frames discarded because the consumer was late")
    reconnects: int = Field(0, description="reconnection attempts after the first open (live sources)")
    last_frame_at: datetime | None = Field(None, description="UTC time the last frame was delivered")
    last_error: str | None = None
    fps_measured: float = Field(0.0, description="smoothed rate of delivered frames")


class FrameSource(ABC):
    """Base class: owns the health counters and the close event."""

    #: smoothing factor of the exponential moving average behind fps_measured
    _FPS_ALPHA = 0.1

    def __init__(self, name: str, role: CameraRole, lane: str) -> None:
        self.name = name
        self.role: CameraRole = role
        self.lane = lane
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._health = CameraHealth(name=name, role=role, lane=lane)
        self._last_delivery: float | None = None  # monotonic
        self._dt_avg: float | None = None

    # -- public interface ---------------------------------------------------------------------------------

    @property
    @abstractmethod
    def is_live(self) -> bool:
        """True when frames arrive in real time (network/USB cameras, paced replays)."""

    @abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Blocking generator of frames. Finite sources end; live ones run until close()."""

    def health(self) -> CameraHealth:
        with self._lock:
            return self._health.model_copy()

    def close(self) -> None:
        """Stop the source; a consumer blocked in frames() returns promptly. Idempotent."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, role={self.role!r}, lane={self.lane!r})"

    # -- helpers for subclasses ---------------------------------------------------------------------------

    def _set_state(self, state: HealthState, error: str | None = None) -> None:
        with self._lock:
            self._health.state = state
            if error is not None:
                self._health.last_error = error

    def _state(self) -> HealthState:
        with self._lock:
            return self._health.state

    def _count_delivered(self) -> None:
        now = time.monotonic()
        with self._lock:
            h = self._health
            h.frames += 1
            h.last_frame_at = datetime.now(UTC)
            if self._last_delivery is not None:
                dt = max(now - self._last_delivery, 1e-6)
                self._dt_avg = dt if self._dt_avg is None else self._dt_avg + self._FPS_ALPHA * (dt - self._dt_avg)
                h.fps_measured = round(1.0 / self._dt_avg, 2)
            self._last_delivery = now

    def _count_corrupt(self, n: int = 1, error: str | None = None) -> None:
        with self._lock:
            self._health.corrupt_frames += n
            if error is not None:
                self._health.last_error = error

    def _count_dropped(self, n: int = 1) -> None:
        with self._lock:
            self._health.dropped_frames += n

    def _count_reconnect(self) -> None:
        with self._lock:
            self._health.reconnects += 1


def parse_start_time(value: str | None, camera: str) -> datetime | None:
    """ISO-8601 → aware UTC datetime; a naive time is taken as UTC. None stays None."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CameraError(f"camera {camera!r}: start_time {value!r} is not an ISO-8601 time") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)

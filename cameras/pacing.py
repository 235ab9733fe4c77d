"""Replay a finite source in real time, as if it were a camera (`live: true` on a file or folder).

Used to test the daemon under real-time load, e.g. the benchmark replaying N
cameras from clips. Frame k is due at `t0 + pts_k / speed`; the pacer sleeps
until it is due, and a frame whose due time passed more than one frame period
ago is dropped (counted), exactly like a live camera whose consumer is late.
Timestamps are the inner source's (start time + pts), which with the default
start time ("when opened") track the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from cameras.base import CameraHealth, FrameSource
from cameras.frame import Frame


class PacedSource(FrameSource):
    """Wraps a file/folder source; `frames()` ends when the inner source ends."""

    def __init__(self, inner: FrameSource, *, speed: float = 1.0, late_tolerance_s: float | None = None) -> None:
        super().__init__(inner.name, inner.role, inner.lane)
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.inner = inner
        self.speed = speed
        fps = float(getattr(inner, "fps", 10.0))
        self.late_tolerance_s = late_tolerance_s if late_tolerance_s is not None else 1.0 / (fps * speed)

    @property
    def is_live(self) -> bool:
        return True

    def frames(self) -> Iterator[Frame]:
        it = self.inner.frames()
        t0: float | None = None
        try:
            for frame in it:
                if self._closed.is_set():
                    return
                now = time.monotonic()
                if t0 is None:
                    t0 = now - frame.pts_s / self.speed
                due = t0 + frame.pts_s / self.speed
                if now > due + self.late_tolerance_s:
                    self._count_dropped(1)
                    continue
                if due > now and self._closed.wait(due - now):
                    return
                self._count_delivered()
                yield frame
        finally:
            it.close()

    def health(self) -> CameraHealth:
        h = self.inner.health()
        with self._lock:
            own = self._health
            h.frames = own.frames
            h.dropped_frames += own.dropped_frames
            h.fps_measured = own.fps_measured
            h.last_frame_at = own.last_frame_at
        if self._closed.is_set():
            h.state = "ended"
        return h

    def close(self) -> None:
        super().close()
        self.inner.close()

"""Live cameras: rtsp(s)://, http(s):// (MJPEG, HLS, ...) and `usb:N`, through OpenCV.

A reader thread pulls frames as fast as the camera sends them and keeps only
the newest one, so a slow consumer gets the freshest image instead of an ever
growing backlog (every overwritten frame is counted as dropped). Opening happens
in that thread too: a dead camera never blocks start-up.

Failure policy: any open or read failure releases the capture and retries
after an exponential backoff with jitter (0.5 s doubling up to 30 s by
default), forever, until close(). The state is `reconnecting` during retries
and `offline` once `offline_after` consecutive attempts have failed; the first
good frame makes it `online` again and resets the backoff.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np

from cameras.base import CameraError, FrameSource, HealthState
from cameras.frame import CameraRole, Frame

log = logging.getLogger(__name__)

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")

# OpenCV reads this at every FFmpeg open. RTSP over TCP survives lossy links and NAT (UDP loses whole
# frames); `timeout` (µs) bounds socket I/O. An operator's own setting wins.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|timeout;5000000")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with ±jitter so that many cameras behind one dead switch do not retry in step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Delay before the next attempt after `failures` (>= 1) consecutive failures."""
        base = min(self.max_s, self.initial_s * self.factor ** max(failures - 1, 0))
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.max_s, base * (1.0 + r)))


def redact(url: str) -> str:
    """Hide the password of rtsp://user:pass@host URLs in logs and health."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.split("@", 1) if "@" in rest.split("/", 1)[0] else ("", rest)
    if not creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


class LiveSource(FrameSource):
    """A real-time camera. `frames()` blocks for the next frame and only ends on close()."""

    def __init__(
        self,
        name: str,
        role: CameraRole,
        lane: str,
        url: str,
        *,
        backoff: Backoff | None = None,
        offline_after: int = 5,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(name, role, lane)
        self.url = url
        self._target: int | str
        if url.lower().startswith("usb:"):
            try:
                self._target = int(url[4:])
            except ValueError:
                raise CameraError(f"camera {name!r}: {url!r} is not usb:N with N a device number") from None
        elif url.lower().startswith(NETWORK_SCHEMES):
            self._target = url
        else:
            raise CameraError(f"camera {name!r}: unsupported live source {redact(url)!r} "
                              f"(use rtsp://, rtsps://, http://, https:// or usb:N)")
        self.backoff = backoff or Backoff()
        self.offline_after = max(1, offline_after)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._cond = threading.Condition()
        self._latest: tuple[int, datetime, float, np.ndarray] | None = None
        self._t0 = time.monotonic()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._reader, name=f"camera-{name}", daemon=True)
        self._thread.start()

    @property
    def is_live(self) -> bool:
        return True

    def _set_state(self, state: HealthState, error: str | None = None) -> None:
        # After close() the state stays `ended`, whatever the reader thread was about to report.
        with self._lock:
            if self._closed.is_set() and state != "ended":
                return
            self._health.state = state
            if error is not None:
                self._health.last_error = error

    # -- reader thread ------------------------------------------------------------------------------------

    def _open(self) -> cv2.VideoCapture | None:
        if isinstance(self._target, int):
            cap = cv2.VideoCapture(self._target, cv2.CAP_ANY)
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000),
            ]
            cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _reader(self) -> None:
        failures = 0  # consecutive failed attempts since the last good frame
        seq = 0  # index of good frames captured, across reconnects
        first_attempt = True
        while not self._closed.is_set():
            if not first_attempt:
                self._count_reconnect()
            first_attempt = False
            cap = self._open()
            if cap is None:
                error = f"cannot open {redact(self.url)}"
            else:
                error = f"stream {redact(self.url)} stopped delivering frames"
                try:
                    while not self._closed.is_set():
                        ok, image = cap.read()
                        if not ok:
                            break
                        if image is None or not image.size:
                            self._count_corrupt(1, "empty frame from decoder")
                            continue
                        now = datetime.now(UTC)
                        pts = time.monotonic() - self._t0
                        if failures or self._state() != "online":
                            if failures:
                                log.info("camera %s: back online after %d failed attempt(s)", self.name, failures)
                            failures = 0
                            self._set_state("online")
                        with self._cond:
                            if self._latest is not None:
                                self._count_dropped(1)
                            self._latest = (seq, now, pts, image)
                            self._cond.notify_all()
                        seq += 1
                finally:
                    cap.release()  # only this thread ever touches cap: no release during a read
            if self._closed.is_set():
                break
            failures += 1
            state = "offline" if failures >= self.offline_after else "reconnecting"
            delay = self.backoff.delay(failures, self._rng)
            if failures == 1 or failures == self.offline_after:
                log.warning("camera %s: %s; %s, retrying in %.1f s", self.name, error, state, delay)
            self._set_state(state, error)
            self._closed.wait(delay)

    # -- consumer side ------------------------------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        while True:
            with self._cond:
                while self._latest is None and not self._closed.is_set():
                    self._cond.wait(0.5)
                if self._closed.is_set():
                    return
                seq, ts, pts, image = self._latest  # type: ignore[misc]
                self._latest = None
            self._count_delivered()
            yield Frame(camera=self.name, role=self.role, lane=self.lane, index=seq, timestamp=ts, pts_s=pts,
                        image=image)

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop; the consumer returns at once, the reader thread within its current read (bounded by
        read_timeout_s; it is a daemon thread and releases the capture itself)."""
        super().close()
        with self._cond:
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
        self._set_state("ended")

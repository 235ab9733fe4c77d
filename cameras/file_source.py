"""Video files (mp4, mkv, avi, ...) through OpenCV's FFmpeg backend, as fast as they decode.

Timestamps are `start_time + pts`: replays with a fixed `start_time` are
deterministic. Without one, the start time is the moment the source was
opened, so a replay's timestamps look like a camera that started then.

A read that fails before the end announced by the container (a damaged packet)
is a corrupt frame, not the end of the stream: FFmpeg resynchronises on the
next key frame and reading continues. Failures are only committed to the
corrupt counter once a good frame follows them, because a container that
over-estimates its frame count also produces failing reads at the real end.

Only regular files are opened (not a FIFO or a device: they would hang or never end).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from cameras.base import CameraError, FrameSource
from cameras.frame import CameraRole, Frame
from cameras.imageio import ImageError, open_regular

log = logging.getLogger(__name__)


def _open_regular_video(name: str, path: Path) -> cv2.VideoCapture:
    """VideoCapture of `path`, which must be a regular file: a FIFO would block FFmpeg's open() or read()
    forever, a device (/dev/zero) never ends. The file is opened here (O_NONBLOCK, checked with fstat) and
    FFmpeg opens the very same file through /proc/self/fd, so a path swapped for a FIFO after the check
    cannot hang it. USB cameras are live sources (`usb:N`), not files."""
    if not path.exists():
        raise CameraError(f"camera {name!r}: video file {path} does not exist")
    try:
        fd = open_regular(path)
    except ImageError as e:
        raise CameraError(f"camera {name!r}: video file {e} (a USB camera is the source usb:N)") from None
    try:
        via = f"/proc/self/fd/{fd}"
        return cv2.VideoCapture(via if os.path.exists(via) else str(path), cv2.CAP_FFMPEG)
    finally:
        os.close(fd)  # FFmpeg holds its own descriptor of the same file


class VideoFileSource(FrameSource):
    """Frames of one video file; `frames()` ends at the end of the file (state `ended`)."""

    def __init__(
        self,
        name: str,
        role: CameraRole,
        lane: str,
        path: str | Path,
        *,
        fps: float = 10.0,
        start_time: datetime | None = None,
        max_consecutive_failures: int = 50,
    ) -> None:
        super().__init__(name, role, lane)
        self.path = Path(path)
        self._cap = _open_regular_video(name, self.path)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(f"camera {name!r}: cannot open video file {self.path} (not a video OpenCV can decode)")
        file_fps = self._cap.get(cv2.CAP_PROP_FPS)
        # Some containers report 0, NaN or 90000 (a time base, not a rate): fall back to the config.
        self.fps = file_fps if math.isfinite(file_fps) and 0 < file_fps <= 240 else float(fps)
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count: int | None = int(count) if math.isfinite(count) and count > 0 else None
        self.start_time = start_time or datetime.now(UTC)
        self.max_consecutive_failures = max_consecutive_failures
        self._started = False

    @property
    def is_live(self) -> bool:
        return False

    def frames(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError(f"camera {self.name!r}: frames() can be iterated once")
        self._started = True
        cap = self._cap
        pending_failures = 0  # failed reads not yet known to be mid-file corruption
        attempts = 0  # reads tried = position in the file, so skipped frames leave a gap in `index`
        last_pts = -1.0
        self._set_state("online")
        try:
            while not self._closed.is_set():
                ok, image = cap.read()
                index = attempts
                attempts += 1
                if ok and image is not None and image.size:
                    if pending_failures:
                        self._count_corrupt(
                            pending_failures,
                            f"{pending_failures} undecodable frame(s) before frame {index} of {self.path.name}",
                        )
                        log.warning("camera %s: skipped %d undecodable frame(s) before frame %d of %s",
                                    self.name, pending_failures, index, self.path)
                        pending_failures = 0
                    pts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    if not math.isfinite(pts) or pts <= last_pts:
                        pts = index / self.fps  # backend gave no usable position
                    last_pts = pts
                    self._count_delivered()
                    yield Frame(
                        camera=self.name,
                        role=self.role,
                        lane=self.lane,
                        index=index,
                        timestamp=self.start_time + timedelta(seconds=pts),
                        pts_s=pts,
                        image=image,
                    )
                    continue
                # A failed read: mid-file damage if the container promises more frames.
                if self.frame_count is None or attempts > self.frame_count:
                    break
                pending_failures += 1
                if pending_failures >= self.max_consecutive_failures:
                    msg = (f"stopped at frame {index} of {self.frame_count} in {self.path.name} after "
                           f"{pending_failures} consecutive read failures")
                    log.warning("camera %s: %s", self.name, msg)
                    self._set_state("ended", msg)
                    return
            self._set_state("ended")
        finally:
            if self._state() != "ended":
                self._set_state("ended")
            cap.release()

    def close(self) -> None:
        super().close()
        if not self._started:
            self._cap.release()

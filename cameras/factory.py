"""Config → frame source: the one place that decides which class reads a `source` string."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from cameras.base import CameraError, FrameSource, parse_start_time
from cameras.config import CameraConfig
from cameras.file_source import VideoFileSource
from cameras.folder_source import ImageFolderSource
from cameras.live_source import NETWORK_SCHEMES, Backoff, LiveSource, redact
from cameras.pacing import PacedSource

_epoch_lock = threading.Lock()
_replay_epoch: datetime | None = None


def replay_epoch() -> datetime:
    """Default start time of file/folder sources: when the first one was opened in this process.

    Shared so that the cameras of one replay stay in step (the daemon merges a
    lane's files by timestamp) and a replay looks like cameras started "now".
    """
    global _replay_epoch
    with _epoch_lock:
        if _replay_epoch is None:
            _replay_epoch = datetime.now(UTC)
        return _replay_epoch


def open_source(cfg: CameraConfig) -> FrameSource:
    """Open the source a camera config names. Raises CameraError naming the camera and the source."""
    src = cfg.source.strip()
    low = src.lower()
    if low.startswith(NETWORK_SCHEMES) or low.startswith("usb:"):
        backoff = Backoff(initial_s=cfg.reconnect_min_s, max_s=max(cfg.reconnect_max_s, cfg.reconnect_min_s))
        # live: false cannot make a camera faster than real time; it is ignored here.
        return LiveSource(cfg.name, cfg.role, cfg.lane, src, backoff=backoff)
    if "://" in src:
        raise CameraError(f"camera {cfg.name!r}: unsupported source scheme in {redact(src)!r} "
                          f"(use a file, a folder, rtsp://, rtsps://, http://, https:// or usb:N)")
    path = Path(src).expanduser()
    start = parse_start_time(cfg.start_time, cfg.name) or replay_epoch()
    inner: FrameSource
    if path.is_dir():
        inner = ImageFolderSource(cfg.name, cfg.role, cfg.lane, path, fps=cfg.fps, start_time=start)
    elif path.exists():  # a regular file; anything else (FIFO, device) is refused there with a clear error
        inner = VideoFileSource(cfg.name, cfg.role, cfg.lane, path, fps=cfg.fps, start_time=start)
    else:
        raise CameraError(f"camera {cfg.name!r}: source {path} does not exist (expected a video file or image folder)")
    return PacedSource(inner) if cfg.live else inner

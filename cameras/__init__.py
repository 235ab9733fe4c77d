"""Frame sources: video files, image folders, RTSP/HTTP/USB cameras, behind one interface.

Names are re-exported lazily (PEP 562): edge/config.py imports cameras.config, and `smartgate config check`
must not pay for importing OpenCV. The package owns its config model (cameras/config.py) and safe image
decoding (cameras/imageio.py); it imports nothing from edge/ but the shared domain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Backoff": "cameras.live_source",
    "CameraError": "cameras.base",
    "CameraHealth": "cameras.base",
    "CameraRole": "cameras.frame",
    "Frame": "cameras.frame",
    "FrameSource": "cameras.base",
    "HealthState": "cameras.base",
    "ImageFolderSource": "cameras.folder_source",
    "LiveSource": "cameras.live_source",
    "PacedSource": "cameras.pacing",
    "VideoFileSource": "cameras.file_source",
    "open_source": "cameras.factory",
}

__all__ = [
    "Backoff",
    "CameraError",
    "CameraHealth",
    "CameraRole",
    "Frame",
    "FrameSource",
    "HealthState",
    "ImageFolderSource",
    "LiveSource",
    "PacedSource",
    "VideoFileSource",
    "open_source",
]

if TYPE_CHECKING:
    from cameras.base import CameraError, CameraHealth, FrameSource, HealthState
    from cameras.factory import open_source
    from cameras.file_source import VideoFileSource
    from cameras.folder_source import ImageFolderSource
    from cameras.frame import CameraRole, Frame
    from cameras.live_source import Backoff, LiveSource
    from cameras.pacing import PacedSource


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cameras' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

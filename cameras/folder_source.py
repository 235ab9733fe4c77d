"""A folder of still images played as a camera: one image per frame at the configured fps.

Files are taken in natural order (frame_2 before frame_10). A file that cannot
be read or decoded is a corrupt frame: counted, logged once with its name, and
skipped; its index stays unused so the gap is visible downstream. Only regular files are
read: a FIFO or a device named like an image is such a corrupt frame, never a hang.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from cameras.base import CameraError, FrameSource
from cameras.frame import CameraRole, Frame
from cameras.imageio import ImageError, load_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def _natural_key(path: Path) -> list[object]:
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    """Entries with an image suffix that are not folders, in natural order. A FIFO, a device or a dangling
    link named like an image is listed too: reading it is refused (load_image reads regular files only),
    so it becomes a counted, logged corrupt frame instead of vanishing or hanging the source."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()]
    return sorted(files, key=_natural_key)


class ImageFolderSource(FrameSource):
    """Images of one folder; `frames()` ends after the last image (state `ended`)."""

    def __init__(
        self,
        name: str,
        role: CameraRole,
        lane: str,
        path: str | Path,
        *,
        fps: float = 10.0,
        start_time: datetime | None = None,
    ) -> None:
        super().__init__(name, role, lane)
        self.path = Path(path)
        if not self.path.is_dir():
            raise CameraError(f"camera {name!r}: image folder {self.path} does not exist")
        self.files = list_images(self.path)
        if not self.files:
            raise CameraError(
                f"camera {name!r}: image folder {self.path} holds no {'/'.join(sorted(IMAGE_SUFFIXES))} files"
            )
        if fps <= 0:
            raise CameraError(f"camera {name!r}: fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.start_time = start_time or datetime.now(UTC)

    @property
    def is_live(self) -> bool:
        return False

    def _decode(self, path: Path) -> np.ndarray | None:
        # The same size caps and messages as every other image input (cameras.imageio); a file that vanished
        # or is unreadable is the same case as a bad file.
        try:
            return load_image(path)
        except ImageError as e:
            log.warning("camera %s: %s; skipped", self.name, e)
            return None

    def frames(self) -> Iterator[Frame]:
        self._set_state("online")
        try:
            for index, path in enumerate(self.files):
                if self._closed.is_set():
                    break
                image = self._decode(path)
                if image is None:
                    self._count_corrupt(1, f"undecodable image {path.name}")
                    continue
                pts = index / self.fps
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
        finally:
            self._set_state("ended")

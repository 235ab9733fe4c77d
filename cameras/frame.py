"""The unit that flows out of every camera source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

CameraRole = Literal["plate", "container", "cargo", "overview"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded BGR image from one camera.

    `timestamp` is UTC wall-clock time for live sources; for files it is the
    source's start time plus the position in the file, so replays are
    deterministic. `pts_s` is the position in the source in seconds.
    """

    camera: str
    role: CameraRole
    lane: str
    index: int
    timestamp: datetime
    pts_s: float
    image: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return h, w

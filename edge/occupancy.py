"""Is something standing in the lane's trigger zone?

Frame differencing only sees *motion*, so a truck that stops in the zone would
close its passage. We compare each frame with a background model of the empty
zone instead, and update the background only while the zone looks empty, so a
stopped truck stays "present" until it leaves. Work is done on a small blurred
grey image (cheap: well under 1 ms a frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

_WORK_WIDTH = 160


class OccupancyDetector:
    def __init__(
        self,
        zone: Sequence[tuple[float, float]] | None = None,
        pixel_threshold: int = 28,
        learn_rate: float = 0.05,
        absorb_after_frames: int = 3000,
    ) -> None:
        """`zone`: polygon in normalised (0..1) image coordinates; None = whole frame.
        `absorb_after_frames`: an object present this long is learnt into the background
        (a parked vehicle must not hold the lane open for ever)."""
        self._zone = [(float(x), float(y)) for x, y in zone] if zone else None
        self._thr = pixel_threshold
        self._rate = learn_rate
        self._absorb = absorb_after_frames
        self._bg: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._present_frames = 0

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        sh = max(1, round(h * _WORK_WIDTH / w))
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (_WORK_WIDTH, sh), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)

    def _zone_mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, np.uint8)
        if self._zone is None:
            mask[:] = 1
        else:
            h, w = shape
            pts = np.array([[x * (w - 1), y * (h - 1)] for x, y in self._zone], np.int32)
            cv2.fillPoly(mask, [pts], 1)
        return mask.astype(bool)

    def update(self, image: np.ndarray) -> float:
        """Feed one frame; returns the fraction (0..1) of the zone that differs from the empty lane."""
        small = self._small(image)
        if self._bg is None or self._bg.shape != small.shape:
            self._bg = small.copy()
            self._mask = self._zone_mask(small.shape)
            return 0.0
        assert self._mask is not None
        diff = np.abs(small - self._bg)
        # A global lighting change shifts every pixel; the zone's median difference estimates it.
        diff = np.abs(diff - np.median(diff[self._mask]))
        changed = (diff > self._thr) & self._mask
        frac = float(changed.sum()) / float(self._mask.sum())
        if frac < 0.01:
            self._present_frames = 0
            cv2.accumulateWeighted(small, self._bg, self._rate)
        else:
            self._present_frames += 1
            if self._present_frames > self._absorb:
                self._bg = small.copy()
                self._present_frames = 0
        return frac

"""Is something standing in the lane's trigger zone?

Frame differencing only sees *motion*, so a truck that stops in the zone would
close its passage. OccupancyDetector reuses calibration's MotionDetector (same
downscaled, blurred, lighting-compensated comparison) but changes what the
background learns: it is updated only while the zone looks empty, so a stopped
truck stays "present" until it leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from calibration.zones import MotionDetector, Polygon


class OccupancyDetector(MotionDetector):
    def __init__(
        self,
        zone: Polygon | Sequence[Sequence[float]] | None = None,
        pixel_threshold: float = 28.0,
        learn_rate: float = 0.05,
        empty_below: float = 0.01,
        absorb_after_frames: int = 3000,
        present_above: float | None = None,
    ) -> None:
        """`empty_below`: changed fraction under which the zone counts as empty (and is learnt).
        `absorb_after_frames`: an object present this long is learnt into the background
        (a parked vehicle must not hold the lane open for ever).
        `present_above`: the caller's presence threshold (pipeline.motion_threshold). Fractions
        between `empty_below` and it are not a vehicle to the caller, so they are learnt too:
        otherwise the residue a long stop leaves (light and glare moved on while the background
        was frozen) is never learnt, creeps over the threshold and opens a ghost passage."""
        super().__init__(zone, pixel_threshold=pixel_threshold, learn_rate=learn_rate)
        self._empty_below = max(empty_below, present_above or 0.0)
        self._absorb = absorb_after_frames
        self._present_frames = 0

    def _learn(self, small: np.ndarray, changed: float) -> None:
        if changed < self._empty_below:
            self._present_frames = 0
            super()._learn(small, changed)
            return
        self._present_frames += 1
        if self._present_frames > self._absorb:
            self._bg = small.copy()
            self._present_frames = 0

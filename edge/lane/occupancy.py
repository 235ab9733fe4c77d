"""Is something standing in the lane's trigger zone?

Frame differencing only sees *motion*, so a truck that stops in the zone would
close its passage. OccupancyDetector reuses calibration's MotionDetector (same
downscaled, blurred, lighting-compensated comparison) but changes what the
background learns: it is updated only while the zone looks empty, so a stopped
truck stays "present" until it leaves.

The empty lane is not taken from the first frame blindly (a daemon that starts
with a truck in view would take the truck for the lane, and hold a passage open
when it leaves). Frames spaced out in time are sampled; while the scene stays
still and the caller knows of no vehicle in view (`hold`), the samples pile up,
and their per-pixel median becomes the background once they span the warm-up.
Until then `ready` is False and the caller opens no passage from occupancy.
A motion (a vehicle moving) starts the collection over. After that, a scene that
stays "present" but perfectly still for `absorb_still_samples` samples while
nothing holds it (a ghost: the lane as it is now, differing from a background
that was learnt with a vehicle in it) is learnt as the background.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import cv2
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
        sample_every: int = 1,
        warmup_samples: int = 5,
        absorb_still_samples: int | None = None,
        still_span: int = 1,
    ) -> None:
        """`empty_below`: changed fraction under which the zone counts as empty (and is learnt).
        `absorb_after_frames`: an object present this long is learnt into the background
        (a parked vehicle must not hold the lane open for ever).
        `present_above`: the caller's presence threshold (pipeline.motion_threshold). Fractions
        between `empty_below` and it are not a vehicle to the caller, so they are learnt too:
        otherwise the residue a long stop leaves (light and glare moved on while the background
        was frozen) is never learnt, creeps over the threshold and opens a ghost passage.
        `sample_every`: frames between two background samples; `warmup_samples` still samples in a
        row (and nothing held) make the first background, their median.
        `absorb_still_samples`: a present but perfectly still scene that nothing holds is learnt after
        this many samples (None: never; `absorb_after_frames` still applies).
        `still_span`: a frame is still when it matches the frame this many frames before (and the previous
        sample): a smooth truck face creeping forward changes little from one frame to the next."""
        super().__init__(zone, pixel_threshold=pixel_threshold, learn_rate=learn_rate)
        self._empty_below = max(empty_below, present_above or 0.0)
        self._absorb = absorb_after_frames
        self._present_frames = 0
        self._every = max(1, int(sample_every))
        self._need = max(1, int(warmup_samples))
        self._absorb_still = absorb_still_samples
        self._samples: deque[np.ndarray] = deque(maxlen=self._need)
        self._ref: np.ndarray | None = None  # the previous sample: the stillness test compares with it
        self._recent: deque[np.ndarray] = deque(maxlen=max(1, int(still_span)))  # the last frames, oldest first
        self._n = 0
        self._still_present = 0
        self.ready = False  # a background of the empty lane has been learnt
        self.hold = False  # set by the caller: a vehicle is known to be in view, learn nothing
        self.still = False  # the last sample showed no motion against the one before

    def reset(self) -> None:
        super().reset()
        self._samples.clear()
        self._recent.clear()
        self._ref = None
        self._n = 0
        self.ready = False

    def _frac(self, a: np.ndarray, b: np.ndarray) -> float:
        assert self._mask is not None
        diff = cv2.absdiff(a, b)
        diff = np.abs(diff - np.median(diff[self._mask]))
        return int(np.count_nonzero((diff > self.pixel_threshold) & self._mask)) / self._mask_n

    def update(self, image: np.ndarray) -> float:
        """Feed one frame (BGR or grey); returns the changed fraction against the background (the first frame
        stands in for it until a background is learnt; the first frame returns 0.0)."""
        shape = (int(image.shape[0]), int(image.shape[1]))
        if shape != self._shape:
            self._prepare(shape)
            self._samples.clear()
            self._recent.clear()
            self._ref = None
            self._n = 0
            self.ready = False
        small = self._small(image)
        sampled = self._n % self._every == 0
        self._n += 1
        if sampled:
            old = self._recent[0] if len(self._recent) == self._recent.maxlen else None
            self.still = (self._ref is not None and self._frac(small, self._ref) < self._empty_below
                          and (old is None or self._frac(small, old) < self._empty_below))
            self._ref = small
        self._recent.append(small)
        if sampled and not self.ready:
            self._warm(small)
        if self._bg is None:
            self._bg = small
            return 0.0
        frac = self._frac(small, self._bg)
        self._learn(small, frac)
        if sampled and self.ready:
            self._ghost(small, frac)
        return frac

    def _warm(self, small: np.ndarray) -> None:
        """Collect still, unheld samples; their median becomes the first background."""
        if self.hold or (self._samples and not self.still):
            self._samples.clear()
        if self.hold:
            return
        self._samples.append(small)
        if len(self._samples) >= self._need:
            self._bg = np.median(np.stack(self._samples), axis=0).astype(np.float32)
            self._present_frames = 0
            self.ready = True

    def _ghost(self, small: np.ndarray, frac: float) -> None:
        if self._absorb_still is None or frac < self._empty_below or self.hold or not self.still:
            self._still_present = 0
            return
        self._still_present += 1
        if self._still_present >= self._absorb_still:
            self._bg = small.copy()
            self._still_present = 0
            self._present_frames = 0

    def _learn(self, small: np.ndarray, changed: float) -> None:
        if changed < self._empty_below:
            self._present_frames = 0
            if not self.hold:
                super()._learn(small, changed)
            return
        self._present_frames += 1
        if self._present_frames > self._absorb:
            self._bg = small.copy()
            self._present_frames = 0


def lane_detector(zone: Polygon | Sequence[Sequence[float]] | None, fps: float, warmup_s: float,
                  absorb_still_s: float | None, present_above: float) -> OccupancyDetector:
    """A lane camera's detector: background samples spread over `warmup_s` (five of them; 0: the first frame is
    the empty lane), a still ghost absorbed after `absorb_still_s` (None: never)."""
    every = max(1, round(fps * warmup_s / 4)) if warmup_s > 0 else 1
    still = max(1, round(absorb_still_s * fps / every)) if absorb_still_s is not None else None
    return OccupancyDetector(zone=zone, present_above=present_above, sample_every=every,
                             warmup_samples=5 if warmup_s > 0 else 1, absorb_still_samples=still,
                             still_span=max(1, round(fps * warmup_s)))

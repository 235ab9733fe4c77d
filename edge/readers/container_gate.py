"""A cheap look before a full container read: is there text on the container camera that was not there before?

The full read (text detection at `det_max_side`, recognition of every line, the vertical and check-digit passes)
costs several times a bare detection on a small copy. Many frames a container camera reads while a truck passes
show no text but the lane's own (a sign behind the lane, whose pixels do not change): the cab, a tarpaulin, a tank,
an open deck. This gate runs the text detector alone at two thirds of the reader's detector size (under half the
pixels) and reports the text lines that are new: not at the place of a line of this camera's previous gated frame with the same pixels there. The
lane pipeline reads the frame in full only when there is one (issue 18: reads per vehicle). It does not judge what
the text says, so a code's first piece already opens the full read; a code that stands still in view was read when
it arrived (the same pixels give the same read).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.readers.ocr.engine import OcrEngine

# the gate's detector input against the reader's: at 1/2 of 960 px one real gate photo in 105 (800×600, small
# glyphs) showed no text at all; at 2/3 every photo whose code the reader reads has a gate line over the code
GATE_SCALE = 2 / 3
PLACE_TOL = 0.5  # a line "at the same place": corners within this fraction of its height (the detector jitters)
PIXEL_TOL = 4.0  # mean grey difference (0-255) of the line's 32×8 thumbnail below which its pixels are the same


class ContainerGate:
    """The text detector alone on a small copy of a container camera's frame; new text lines since the last look."""

    def __init__(self, engine: OcrEngine, max_side: int):
        self.engine = engine
        self.max_side = max_side
        self._last: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}  # camera → (quad, thumbnail) of last look

    def new_text(self, image: np.ndarray, camera: str = "") -> int:
        """How many text lines of `image` are not lines of this camera's previous look: a line counts as old when
        a line of that look was at about the same place and the pixels there have not changed (the detector's
        box jitters by a few pixels; the pixels are compared inside the earlier box, so the jitter does not
        count)."""
        quads = self.engine.detect(image, max_side=self.max_side)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        before = self._last.get(camera, [])
        self._last[camera] = [(q, _thumb(grey, q)) for q in quads]
        return sum(1 for q in quads if not any(_near(q, pq) and _still(grey, pq, pth) for pq, pth in before))


def gate_for(reader: object, det_max_side: int | None) -> ContainerGate | None:
    """A gate sharing the container reader's OCR engine at GATE_SCALE of its detector size; None for a reader
    without one (a test's fake reader)."""
    engine = getattr(reader, "engine", None)
    if not isinstance(engine, OcrEngine):
        return None
    side = det_max_side or getattr(reader, "det_max_side", 960)
    return ContainerGate(engine, max(160, round(int(side) * GATE_SCALE)))


def _thumb(grey: np.ndarray, quad: np.ndarray) -> np.ndarray:
    h, w = grey.shape[:2]
    x0, y0 = (max(0, int(v)) for v in np.floor(quad.min(axis=0)))
    x1, y1 = min(w, int(np.ceil(quad[:, 0].max()))), min(h, int(np.ceil(quad[:, 1].max())))
    crop = grey[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    return cv2.resize(crop, (32, 8), interpolation=cv2.INTER_AREA).astype(np.int16)


def _near(q: np.ndarray, pq: np.ndarray) -> bool:
    """Corners within PLACE_TOL of the line's height (at least 6 px)."""
    height = float(pq[:, 1].max() - pq[:, 1].min())
    return bool(np.abs(q - pq).max() <= max(6.0, PLACE_TOL * height))


def _still(grey: np.ndarray, pq: np.ndarray, pth: np.ndarray) -> bool:
    """The pixels inside the earlier box are the ones it held then."""
    return bool(np.abs(_thumb(grey, pq) - pth).mean() < PIXEL_TOL)

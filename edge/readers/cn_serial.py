"""CN serial-character classifier (34 classes: A–Z without I/O, 0–9), trained on synthetic plate lines
only (smartgate_tools.train.train_cn_serial).

The plate reader's slot vote ends a slot as contested when the recognisers split between two
characters (W/H, 6/G, 1/L) or when a pooled 0 may be a Q whose tail is a few pixels. Those slots
were no-reads. This tiny CNN looks at the one glyph, cut from the rectified line crop around the
slot's CTC steps, and may settle the contest — only in favour of one of the contenders and only
when it is sure (`SERIAL_SURE` in the reader). It never adds a character of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.readers.cn_province import GLYPH_OF_LINE, GlyphClassifier, line_windows
from models import ModelError

MODEL_NAME = "cn_serial"
SERIAL_CLASSES = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
# One-line CN plate glyphs are 45×90 mm on a 57 mm pitch, but a plate seen at an angle is squeezed
# sideways (real glyphs are often only 0.35 of their height wide): the window's height follows the
# glyph height, its width the serial's measured pitch, so a window holds one glyph and the edges of
# its neighbours whatever the foreshortening. It is stretched to a square for the model (the trainer
# cuts its crops with this same function and these constants).
WINDOW_HEIGHT = 1.25  # window height / glyph height
WINDOW_PITCHES = 1.3  # window width / glyph pitch
NOMINAL_PITCH = 57 / 90  # glyph pitch / glyph height on an unforeshortened plate
SIZES = (0.95, 1.1)  # window scale factors averaged at run time
SHIFTS = (-0.15, 0.0, 0.15)  # window centre offsets, in glyph pitches (CTC steps are coarse)


def serial_pitch(xs: list[float], glyph_h: float) -> float:
    """Glyph pitch (px) from the centres of the five serial slots (template slots 2–6, evenly spaced
    on the plate): their least-squares slope, kept within 0.3–1.0 glyph heights (else nominal)."""
    slope = float(np.polyfit(np.arange(len(xs)), xs, 1)[0]) if len(xs) >= 2 else 0.0
    return slope if 0.3 * glyph_h <= slope <= 1.0 * glyph_h else NOMINAL_PITCH * glyph_h


def serial_windows(line_crop: np.ndarray, x_centre: float, pitch: float, glyph_of_line: float = GLYPH_OF_LINE,
                   sizes: tuple[float, ...] = SIZES, shifts: tuple[float, ...] = SHIFTS) -> list[np.ndarray]:
    """Windows around the glyph centred at `x_centre` of a rectified one-line plate crop whose
    glyphs stand `pitch` px apart."""
    glyph_h = glyph_of_line * line_crop.shape[0]
    return line_windows(line_crop, x_centre, WINDOW_PITCHES * pitch, WINDOW_HEIGHT * glyph_h, pitch, sizes, shifts)


class SerialClassifier(GlyphClassifier):
    """`glyph_probs(line_crop, x)` → probability of each serial character for the glyph at x."""

    def __init__(self, threads: int = 2, verify: bool = True, path: Path | None = None):
        super().__init__(MODEL_NAME, threads, verify, path)
        if "".join(self.classes) != SERIAL_CLASSES:
            raise ModelError(f"{self.path}: class list {''.join(self.classes)} is not {SERIAL_CLASSES}")

    def glyph_probs(self, line_crop: np.ndarray, x_centre: float, pitch: float) -> dict[str, float]:
        """Mean probabilities over a few windows shifted and scaled around `x_centre`."""
        mean = self.probs_batch(serial_windows(line_crop, x_centre, pitch)).mean(axis=0)
        return dict(zip(self.classes, map(float, mean), strict=True))

"""CN province-glyph classifier (31 classes), trained on synthetic renders only (smartgate_tools.train.train_cn_province).

The general PP-OCR recognisers sometimes give the true province glyph no probability at all on
small, blurred plates (川 read as M, 皖 as 低/编). This tiny CNN looks at the glyph alone: a square
around the plate line's first character, side ≈ 1.25 × the glyph height, grey, 32×32. It is one
more vote in the plate reader's province choice, never a reader on its own.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edge.domain.plate_grammar import CN_PROVINCES
from models import ModelError, model_path

MODEL_NAME = "cn_province"
GLYPH_OF_LINE = 0.58  # glyph height / height of a plate line's crop (detector box + crop_quad's 0.1 pad)
# The top line of a CN two-line plate ("province · letter" over the serial) has glyphs about as wide
# as tall, twice as wide for their height as a one-line plate's 45×90 mm glyphs; its window is that
# much wider and squeezed back to a square (glyph/crop height is about the same as on one-line plates)
TOP_ASPECT = 2.0
TOP_PITCH = 1.2  # top line: province centre to authority-letter centre, in crop heights


class GlyphClassifier:
    """A small ONNX CNN over grey square glyph windows; classes and input size from its metadata."""

    def __init__(self, name: str, threads: int = 2, verify: bool = True, path: Path | None = None):
        """`path`: another ONNX file to load instead of the shipped one (training/measurement only)."""
        path = model_path(name, verify=verify) if path is None else Path(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.path = path
        self.meta = self._session.get_modelmeta().custom_metadata_map
        self.classes: tuple[str, ...] = tuple(json.loads(self.meta["classes"]))
        self.size = int(self.meta["input_size"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def _prep(self, crop: np.ndarray) -> np.ndarray:
        return grey_input(crop, self.size).astype(np.float32)[None] / 127.5 - 1.0

    def probs_batch(self, crops: list[np.ndarray]) -> np.ndarray:
        """(n, classes) probabilities in `classes` order."""
        if not crops:
            return np.zeros((0, len(self.classes)), np.float32)
        x = np.stack([self._prep(c) for c in crops])
        with self._lock:
            return self._session.run(None, {self._input: x})[0]


def grey_input(crop: np.ndarray, size: int) -> np.ndarray:
    """A glyph window as the classifiers see it: grey, resized to size×size (uint8). The trainers
    make their samples with this same function."""
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    interp = cv2.INTER_AREA if min(grey.shape[:2]) > size else cv2.INTER_CUBIC
    return cv2.resize(grey, (size, size), interpolation=interp)


class ProvinceClassifier(GlyphClassifier):
    """`probs(crop)` → probability of each of the 31 province glyphs for a square glyph crop (BGR)."""

    def __init__(self, threads: int = 2, verify: bool = True, path: Path | None = None):
        super().__init__(MODEL_NAME, threads, verify, path)
        if "".join(self.classes) != CN_PROVINCES:
            raise ModelError(f"{self.path}: class list {''.join(self.classes)} is not CN_PROVINCES")
        self.crop_side = float(self.meta["crop_side"])

    def probs(self, crop_bgr: np.ndarray) -> dict[str, float]:
        return dict(zip(self.classes, map(float, self.probs_batch([crop_bgr])[0]), strict=True))

    def line_vector(self, line_crop: np.ndarray, x_centre: float, glyph_of_line: float = GLYPH_OF_LINE,
                    aspect: float = 1.0) -> np.ndarray:
        """Mean probabilities over a few squares around the first glyph of a rectified plate line
        crop (`x_centre`: its estimated centre in crop pixels; CTC peaks are off by up to a third of a
        glyph, so the squares are shifted and resized around it). `glyph_of_line`: glyph height /
        crop height; `aspect`: how many times wider than a one-line plate glyph (45×90 mm) the glyph
        is relative to its height — the window is that much wider and squeezed back to a square, so
        the glyph looks as condensed as the ones the model learnt."""
        return self.probs_batch(line_squares(line_crop, x_centre, self.crop_side, glyph_of_line, aspect)).mean(axis=0)


SQUARE_SIZES = (0.95, 1.1)  # window side / (crop_side × glyph height)
SQUARE_SHIFTS = (-0.12, 0.0, 0.12)  # window centre offsets, in glyph heights (× aspect)


def line_squares(line_crop: np.ndarray, x_centre: float, crop_side: float = 1.25,
                 glyph_of_line: float = GLYPH_OF_LINE, aspect: float = 1.0,
                 sizes: tuple[float, ...] = SQUARE_SIZES, shifts: tuple[float, ...] = SQUARE_SHIFTS) -> list[np.ndarray]:
    """The windows the classifier sees around a line's first glyph (shared with the trainer, which
    cuts its training crops from synthetic plate lines with this same code)."""
    glyph_h = glyph_of_line * line_crop.shape[0]
    side = crop_side * glyph_h
    return line_windows(line_crop, x_centre, side * aspect, side, glyph_h * aspect, sizes, shifts)


def line_windows(line_crop: np.ndarray, x_centre: float, width: float, height: float, step: float,
                 sizes: tuple[float, ...], shifts: tuple[float, ...]) -> list[np.ndarray]:
    """Windows width×height (each scaled by every size) centred on the line's middle row at
    x_centre + shift × step (every shift), squeezed to squares by `window`."""
    y = line_crop.shape[0] / 2
    return [window(line_crop, x_centre + dx * step, y, width * size, height * size) for size in sizes for dx in shifts]


def square(image: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    """side×side square centred on (cx, cy), borders replicated where it leaves the image."""
    return window(image, cx, cy, side, side)


def window(image: np.ndarray, cx: float, cy: float, width: float, height: float) -> np.ndarray:
    """height×height window showing width×height image pixels centred on (cx, cy) (squeezed
    horizontally when wider), borders replicated where it leaves the image."""
    s = max(int(round(height)), 4)
    sx = s / max(int(round(width)), 1)  # exactly 1 for a square
    m = np.float32([[sx, 0, s / 2 - cx * sx], [0, 1, s / 2 - cy]])
    return cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

"""CN province-glyph classifier (31 classes), trained on synthetic renders only (edge.train.cn_province).

The general PP-OCR recognisers sometimes give the true province glyph no probability at all on
small, blurred plates (川 read as M, 皖 as 低/编). This tiny CNN looks at the glyph alone: a square
around the plate line's first character, side ≈ 1.25 × the glyph height, grey, 32×32. It is one
more vote in the plate reader's province choice, never a reader on its own.
"""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import onnxruntime as ort

from edge.readers.plate_grammar import CN_PROVINCES
from models import ModelError, model_path

MODEL_NAME = "cn_province"
GLYPH_OF_LINE = 0.58  # glyph height / height of a plate line's crop (detector box + crop_quad's 0.1 pad)


class ProvinceClassifier:
    """`probs(crop)` → probability of each of the 31 province glyphs for a square glyph crop (BGR)."""

    def __init__(self, threads: int = 2, verify: bool = True):
        path = model_path(MODEL_NAME, verify=verify)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self._session.get_modelmeta().custom_metadata_map
        self.classes: tuple[str, ...] = tuple(json.loads(meta["classes"]))
        if "".join(self.classes) != CN_PROVINCES:
            raise ModelError(f"{path}: class list {''.join(self.classes)} is not CN_PROVINCES")
        self.size = int(meta["input_size"])
        self.crop_side = float(meta["crop_side"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def _prep(self, crop: np.ndarray) -> np.ndarray:
        grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape[:2]
        interp = cv2.INTER_AREA if min(h, w) > self.size else cv2.INTER_CUBIC
        x = cv2.resize(grey, (self.size, self.size), interpolation=interp).astype(np.float32)
        return x[None] / 127.5 - 1.0

    def probs_batch(self, crops: list[np.ndarray]) -> np.ndarray:
        """(n, 31) probabilities in CN_PROVINCES order."""
        if not crops:
            return np.zeros((0, len(self.classes)), np.float32)
        x = np.stack([self._prep(c) for c in crops])
        with self._lock:
            return self._session.run(None, {self._input: x})[0]

    def probs(self, crop_bgr: np.ndarray) -> dict[str, float]:
        return dict(zip(self.classes, map(float, self.probs_batch([crop_bgr])[0]), strict=True))

    def line_vector(self, line_crop: np.ndarray, x_centre: float) -> np.ndarray:
        """Mean probabilities over a few squares around the first glyph of a rectified plate line
        crop (`x_centre`: its estimated centre in crop pixels; CTC peaks are off by up to a third of a
        glyph, so the squares are shifted and resized around it)."""
        h = line_crop.shape[0]
        glyph_h = GLYPH_OF_LINE * h
        crops = []
        for size in (0.95, 1.1):
            side = self.crop_side * glyph_h * size
            for dx in (-0.12, 0.0, 0.12):
                crops.append(square(line_crop, x_centre + dx * glyph_h, h / 2, side))
        return self.probs_batch(crops).mean(axis=0)


def square(image: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    """side×side square centred on (cx, cy), borders replicated where it leaves the image."""
    s = max(int(round(side)), 4)
    m = np.float32([[1, 0, s / 2 - cx], [0, 1, s / 2 - cy]])
    return cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

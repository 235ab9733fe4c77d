"""Cargo classifier at run time: one image from the cargo camera -> CargoRead.

onnxruntime only (no torch). The ONNX file carries its own class list and preprocessing recipe in its
metadata (written by `smartgate_tools.train.train_cargo`), so a retrained model with another input size still gets the
preprocessing it was trained with. The shipped model is verified against `models/manifest.json`.

Abstention: the ONNX metadata may carry per-class confidence thresholds (`thresholds`, JSON {class: t}), chosen
on grouped cross-validation so that each class's precision is >= 95 % (`smartgate_tools.train.train_cargo`). A top class whose
probability is below its threshold is read as `unknown`, which the policy turns into `cargo_unverified`. They
travel inside the model file, so the sha256 in the manifest covers them and a promoted model brings its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from cameras.imageio import reader_image
from edge.domain.types import CargoRead

CARGO_CLASSES = ["fertilizer", "coke_coal", "chemicals", "agricultural", "electronics", "closed", "empty"]
UNKNOWN = "unknown"
MANIFEST_NAME = "cargo_cls"
DEFAULT_MIN_CONFIDENCE = 0.5  # a class without a threshold in the model's metadata


# Longest side over shortest side beyond which an image is no cargo view (camera views are ~4:3).
MAX_CARGO_ASPECT = 8


class CargoModelError(RuntimeError):
    """The cargo model is missing, tampered with, or not a cargo classifier."""


def preprocess(image_bgr: np.ndarray, size: int, resize: str = "squash", norm: str = "minus1_1") -> np.ndarray:
    """BGR uint8 image -> 1x3xSxS float32 RGB tensor, exactly as in training.

    resize: "squash" scales the whole frame to S x S (the gate view is wide and the cargo may sit anywhere
    along it, so nothing is cropped away); "center_crop" scales the short side to S and crops the centre
    (ultralytics' classification eval transform). norm: "minus1_1" = x/127.5 - 1 (EfficientNet-Lite),
    "0_1" = x/255 (ultralytics).
    """
    if image_bgr.ndim == 2:
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    h, w = image_bgr.shape[:2]
    if resize == "center_crop":
        s = size / min(h, w)
        nh, nw = max(size, round(h * s)), max(size, round(w * s))
        img = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        y0, x0 = (nh - size) // 2, (nw - size) // 2
        img = img[y0:y0 + size, x0:x0 + size]
    elif resize == "squash":
        shrink = size < min(h, w)
        img = cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    else:
        raise ValueError(f"unknown resize mode {resize!r}")
    rgb = img[:, :, ::-1].astype(np.float32)
    if norm == "minus1_1":
        rgb = rgb / 127.5 - 1.0
    elif norm == "0_1":
        rgb = rgb / 255.0
    else:
        raise ValueError(f"unknown normalisation {norm!r}")
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


def default_model_path() -> Path:
    """The shipped model, sha256-checked against models/manifest.json."""
    from models import ModelError, model_path

    try:
        return model_path(MANIFEST_NAME)
    except ModelError as e:
        raise CargoModelError(str(e)) from e


def _verify(path: Path, expected_sha256: str | None) -> None:
    from models import load_manifest, sha256_file

    expected = expected_sha256 or load_manifest().get(MANIFEST_NAME, {}).get("sha256")
    if not expected:
        raise CargoModelError(f"no sha256 to check {path} against (no {MANIFEST_NAME!r} manifest entry)")
    digest = sha256_file(path)
    if digest != expected:
        raise CargoModelError(f"cargo model {path}: sha256 {digest} does not match the expected {expected}; "
                              "refusing to load a model that is not the one recorded")


class CargoClassifier:
    """Classify the cargo of a truck from one cargo-camera image.

    `model_path=None` loads the shipped model (manifest-checked). An explicit path is checked against
    `expected_sha256` if given, else against the manifest entry (so a tampered copy is refused); pass
    `verify=False` only for a model you just trained yourself.

    `min_confidence=None` (the default) applies the model's own per-class thresholds (metadata `thresholds`;
    `DEFAULT_MIN_CONFIDENCE` for a class without one); a number overrides them with one threshold for all
    classes (0.0: always the top class).
    """

    def __init__(self, model_path: str | Path | None = None, threads: int = 2, min_confidence: float | None = None,
                 *, expected_sha256: str | None = None, verify: bool = True) -> None:
        import onnxruntime as ort

        if model_path is None:
            path = default_model_path()
        else:
            path = Path(model_path)
            if not path.is_file():
                raise CargoModelError(f"cargo model {path} not found")
            if verify:
                _verify(path, expected_sha256)
        self.path = path
        self.min_confidence = min_confidence
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self._sess.get_modelmeta().custom_metadata_map
        try:
            self.classes: list[str] = json.loads(meta["classes"])
            self.size = int(meta["imgsz"])
        except (KeyError, ValueError) as e:
            raise CargoModelError(f"{path}: no cargo metadata (classes, imgsz) in the ONNX file") from e
        try:
            shipped = {str(k): float(v) for k, v in json.loads(meta.get("thresholds", "{}")).items()}
        except (ValueError, TypeError, AttributeError) as e:
            raise CargoModelError(f"{path}: unreadable `thresholds` metadata") from e
        self.model_thresholds: dict[str, float] = shipped
        self.thresholds: dict[str, float] = {
            c: float(min_confidence) if min_confidence is not None else shipped.get(c, DEFAULT_MIN_CONFIDENCE)
            for c in self.classes}
        self.resize = meta.get("resize", "squash")
        self.norm = meta.get("norm", "minus1_1")
        self.arch = meta.get("arch", "")
        inp = self._sess.get_inputs()[0]
        self._input = inp.name
        n_out = self._sess.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.classes):
            raise CargoModelError(f"{path}: {n_out} outputs but {len(self.classes)} class names")

    def probabilities(self, image_bgr: np.ndarray) -> np.ndarray:
        """Softmax probabilities over `self.classes` (the model's last op is a softmax)."""
        x = preprocess(image_bgr, self.size, self.resize, self.norm)
        return np.asarray(self._sess.run(None, {self._input: x})[0][0], dtype=np.float64)

    def classify(self, image_bgr: np.ndarray) -> CargoRead:
        return self.classify_probs(image_bgr)[0]

    def classify_probs(self, image_bgr: np.ndarray) -> tuple[CargoRead, np.ndarray | None]:
        """The read and the probabilities behind it (None when the image is no cargo view at all)."""
        bgr = reader_image(image_bgr)
        h, w = bgr.shape[:2] if bgr is not None else (0, 0)
        if bgr is None or max(h, w) > MAX_CARGO_ASPECT * min(h, w):
            # Empty, odd-shaped, non-8-bit or a thin strip (no cargo view looks like that): unknown, no guess.
            return CargoRead(cls=UNKNOWN, confidence=0.0), None
        p = self.probabilities(bgr)
        return self.decide(p), p

    def decide(self, p: np.ndarray) -> CargoRead:
        """The read for a probability vector: the top class, or `unknown` below that class's threshold."""
        k = int(np.argmax(p))
        conf = float(p[k])
        cls = self.classes[k]
        return CargoRead(cls=cls if conf >= self.thresholds[cls] else UNKNOWN, confidence=round(conf, 4))

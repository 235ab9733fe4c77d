"""Training plate crops put back into real scenes at camera-like sizes: a validation set for worse cameras.

Degrading the crops alone shows no gap (the reader enlarges a small crop); what breaks on worse cameras is a plate
that is small *in a scene* full of other text (issue 17, docs/accuracy.md "Worse cameras than ours"). The dev
photos may not be tuned on, so the scenes are made from data we may: each crop of ../shared/train is pasted,
scaled to a plate width a roadside or gate camera gives, onto a real truck/cargo photo of ../shared/cargo/train
(timestamps, cab lettering, container codes: the clutter real frames have) and the scene is JPEG-compressed.
Backgrounds where the reader itself finds a plate are left out, so every read of a scene is a read of the pasted
plate. Each scene is a pure function of the crop's name and the condition (seeded), so runs are comparable.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from smartgate_tools.experiments.degrade import jpeg

SCENE_WIDTH = 640  # the backgrounds' width, as the cargo photos come (dev scene photos are 400-1000 px wide)
SEP = "#"  # a scene's key: "<crop path>#<condition>"


@dataclass(frozen=True)
class Condition:
    """How small and how compressed the pasted plate is: plate width drawn uniformly in [min_w, max_w] px of a
    640-px scene, JPEG quality, Gaussian blur sigma (focus/motion)."""

    min_w: int
    max_w: int
    quality: int
    blur: float


CONDITIONS = {
    "scene": Condition(80, 140, 75, 0.0),       # a fair gate camera: plate 80-140 px wide
    "scene-poor": Condition(56, 100, 45, 0.4),  # a camera further away, lower bit rate
}


def is_scene(key: str) -> bool:
    return SEP in key and key.rsplit(SEP, 1)[1] in CONDITIONS


def scene_key(path: str, condition: str) -> str:
    return f"{path}{SEP}{condition}"


def backgrounds(cargo: Path, cache: Path | None = None, n: int = 160, threads: int = 2) -> list[Path]:
    """Up to `n` cargo photos (every class but agricultural, spread by name) on which the shipped plate reader finds no plate (cached)."""
    if cache is not None and cache.is_file():
        return [Path(p) for p in json.loads(cache.read_text(encoding="utf-8"))]
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.evaluate import imread

    # vehicles, loads and boxes (timestamps, cab lettering, container codes, cartons' print); not fruit close-ups
    photos = sorted(p for p in cargo.rglob("*.jpg") if p.parent.name != "agricultural")
    photos.sort(key=lambda p: zlib.crc32(p.name.encode()))  # a spread over classes and sources, deterministic
    reader = PlateReader(OcrEngine(threads=threads))
    kept: list[Path] = []
    for p in photos:
        img = imread(p)
        if img is None:
            continue
        # nothing read there clean nor blurred and compressed harder than any condition (a faint sign can turn
        # into a plate-like read once compressed)
        worse = in_scene(img[:8, :8], img, 8, 30, 0.6, np.random.default_rng(0))
        if not any(r.text for im in (_fit_width(img), worse) for r in reader.read_all(im)):
            kept.append(p)
        if len(kept) >= n:
            break
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps([str(p) for p in kept]), encoding="utf-8")
    return kept


def _fit_width(img: np.ndarray) -> np.ndarray:
    f = SCENE_WIDTH / img.shape[1]
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def in_scene(crop: np.ndarray, background: np.ndarray, width: int, quality: int, blur: float,
             rng: np.random.Generator) -> np.ndarray:
    """`crop` scaled to `width` px and pasted into the lower part of `background` (640 px wide), then blurred and
    JPEG-compressed as a whole (a camera compresses the frame, not the plate)."""
    scene = _fit_width(background).copy()
    h, w = scene.shape[:2]
    f = width / crop.shape[1]
    plate = cv2.resize(crop, (width, max(8, round(crop.shape[0] * f))), interpolation=cv2.INTER_AREA)
    ph, pw = plate.shape[:2]
    ph = min(ph, h // 2)
    x = int(rng.integers(int(0.05 * w), max(int(0.05 * w) + 1, w - pw - int(0.05 * w))))
    y = int(rng.integers(h // 2, max(h // 2 + 1, h - ph - 4)))
    scene[y : y + ph, x : x + pw] = plate[:ph]
    if blur > 0:
        scene = cv2.GaussianBlur(scene, (0, 0), blur)
    return jpeg(scene, quality)


def load_scene(key: str, backs: list[Path]) -> np.ndarray | None:
    """The scene `key` names (seeded by the crop's file name and the condition), or None if a photo is unreadable."""
    from smartgate_tools.evaluate import imread

    path, condition = key.rsplit(SEP, 1)
    c = CONDITIONS[condition]
    seed = zlib.crc32(f"{Path(path).name}{SEP}{condition}".encode())
    rng = np.random.default_rng(seed)
    crop = imread(Path(path))
    back = imread(backs[int(rng.integers(len(backs)))])
    if crop is None or back is None:
        return None
    return in_scene(crop, back, int(rng.integers(c.min_w, c.max_w + 1)), c.quality, c.blur, rng)

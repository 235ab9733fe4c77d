"""Slant correction of a rectified text-line crop (shear, not rotation)."""

from __future__ import annotations

import cv2
import numpy as np

SHEARS = np.linspace(-0.8, 0.8, 33)  # candidate slants (x shift per row, relative to mid-height)


def deskew(line_crop: np.ndarray) -> tuple[np.ndarray, float]:
    """The line crop with its glyphs' slant removed, and the shear applied.

    Detector boxes are rotated rectangles, so a plate seen obliquely keeps its slant in the crop
    (苏EB68W9 leans ≈ 25°). The shear that makes the vertical strokes most vertical is the one whose
    column sums of the horizontal gradient (middle rows) are most peaked. Rows are shifted about
    mid-height, so x positions on the middle row (the slot centres) do not move."""
    grey = line_crop if line_crop.ndim == 2 else cv2.cvtColor(line_crop, cv2.COLOR_BGR2GRAY)
    h = grey.shape[0]
    grad = np.abs(cv2.Sobel(grey.astype(np.float32), cv2.CV_32F, 1, 0, ksize=3))
    band = slice(int(0.2 * h), max(int(0.8 * h), int(0.2 * h) + 1))
    scores = [float((shear(grad, k, cv2.BORDER_CONSTANT)[band].sum(axis=0) ** 2).sum()) for k in SHEARS]
    upright = int(np.argmin(np.abs(SHEARS)))
    # a flat or tiny crop scores alike at every shear: leave it as it is unless a slant does better
    best = float(SHEARS[int(np.argmax(scores))]) if max(scores) > scores[upright] else 0.0
    return (shear(line_crop, best) if best else line_crop), best


def shear(image: np.ndarray, k: float, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """`image` with each row shifted by k × (row − mid-height): a slant of k, same size."""
    h, w = image.shape[:2]
    m = np.float32([[1, k, -k * h / 2], [0, 1, 0]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)

"""Fronto-parallel views of a plane (a plate zone, a container side) from four point pairs.

Text on a plane seen at 40-60° is foreshortened and sheared; the recogniser
was trained on upright lines. Four image points of a rectangle on that plane
(clicked once by the installer, in the order top-left, top-right,
bottom-right, bottom-left) define the homography that undoes the perspective.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cameras.config import check_quad


def homography(src: Sequence[Sequence[float]], dst: Sequence[Sequence[float]]) -> np.ndarray:
    """3×3 H with dst ~ H · src for exactly four point pairs."""
    s = check_quad(src, "src")
    d = check_quad(dst, "dst")
    return cv2.getPerspectiveTransform(s.astype(np.float32), d.astype(np.float32)).astype(np.float64)


def rect_corners(size: tuple[int, int]) -> np.ndarray:
    """Corners TL, TR, BR, BL of a w×h output image, on the pixel-edge convention (0 and w, not w-1)."""
    w, h = size
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)


def rectifying_homography(src: Sequence[Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    """H mapping the quad `src` (TL, TR, BR, BL in image pixels) onto a `size` (w, h) upright rectangle."""
    return homography(src, rect_corners(size))


def apply(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a homography to (N, 2) points."""
    p = np.asarray(pts, np.float64).reshape(-1, 2)
    q = np.hstack([p, np.ones((len(p), 1))]) @ np.asarray(H, np.float64).T
    return q[:, :2] / q[:, 2:3]


def rectify(image: np.ndarray, src: Sequence[Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    """Warp the quad `src` of `image` to an upright `size` view (no lens model; see view.CameraView for that)."""
    H = rectifying_homography(src, size)
    return cv2.warpPerspective(image, H, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

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


def check_quad(points: Sequence[Sequence[float]], what: str = "rectify.src") -> np.ndarray:
    """(4, 2) float64 of a usable quadrilateral, or ValueError saying what is wrong.

    No three points may be (nearly) collinear: the homography would be singular
    or would blow a sliver up to the whole view.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (4, 2):
        raise ValueError(f"{what}: needs exactly 4 (x, y) points, got {len(points)}")
    if not np.all(np.isfinite(pts)):
        raise ValueError(f"{what}: points must be finite")
    scale = max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1e-12)
    for i in range(4):
        a, b, c = pts[i], pts[(i + 1) % 4], pts[(i + 2) % 4]
        area2 = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
        if area2 < 1e-3 * scale * scale:
            raise ValueError(f"{what}: points {i + 1}, {(i + 1) % 4 + 1}, {(i + 2) % 4 + 1} are (nearly) collinear")
    # Crossing edges (a "bow tie": points not in order around the quad) give a mirrored, folded view.
    d = np.diff(np.vstack([pts, pts[:1]]), axis=0)
    cross = d[:, 0] * np.roll(d[:, 1], -1) - d[:, 1] * np.roll(d[:, 0], -1)
    if not (np.all(cross > 0) or np.all(cross < 0)):
        raise ValueError(f"{what}: points must go around a convex quadrilateral "
                         "(top-left, top-right, bottom-right, bottom-left)")
    return pts


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

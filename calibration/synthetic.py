"""Synthetic camera images with a known lens, for tests and the oblique-reading experiment.

`render_board` photographs a printed checkerboard at a pose through a real
(distorting) lens by inverse mapping: for every sensor pixel, undo the lens,
cast the ray, hit the board plane, look the texture up. `distort` turns an
ideal pinhole image into what the distorting lens would have recorded.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.intrinsics import undistort_pixels


def checkerboard(board: tuple[int, int], square_px: int, margin_squares: float = 1.0) -> np.ndarray:
    """Grey image of a board with `board` inner corners (cols, rows) and a white quiet zone around it.
    The first inner corner sits at (margin + 1 square) pixels from the top-left."""
    cols, rows = board
    m = int(round(margin_squares * square_px))
    h, w = (rows + 1) * square_px + 2 * m, (cols + 1) * square_px + 2 * m
    img = np.full((h, w), 255, np.uint8)
    for r in range(rows + 1):
        for c in range(cols + 1):
            if (r + c) % 2 == 0:
                y, x = m + r * square_px, m + c * square_px
                img[y:y + square_px, x:x + square_px] = 0
    return img


_RAYS: dict[bytes, np.ndarray] = {}


def _sensor_rays(K: np.ndarray, dist: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 2) float32 ideal normalised coordinates (x/z, y/z) of every sensor pixel of the lens.
    Cached: iterative undistortion of a whole sensor is the slow part, and every pose shares it."""
    key = np.asarray(K, np.float64).tobytes() + np.asarray(dist, np.float64).tobytes() + bytes(str(size), "ascii")
    if key not in _RAYS:
        if len(_RAYS) > 4:
            _RAYS.clear()
        w, h = size
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        ideal = undistort_pixels(np.stack([xs.ravel(), ys.ravel()], 1), K, dist, np.eye(3))
        _RAYS[key] = ideal.reshape(h, w, 2).astype(np.float32)
    return _RAYS[key]


def render_board(texture: np.ndarray, px_per_mm: float, origin_px: tuple[float, float], K: np.ndarray,
                 dist: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, size: tuple[int, int],
                 background: int = 128, supersample: int = 2) -> np.ndarray:
    """Photograph a planar texture. Board frame: millimetres, z = 0 on the board, texture pixel
    (u, v) = origin_px + px_per_mm * (X, Y). Supersampled so edges are anti-aliased like a real sensor's."""
    s = supersample
    w, h = size
    Ks = K.copy()
    Ks[:2] *= s
    Ks[0, 2] += (s - 1) / 2  # pixel centres: sub-pixel (i, j) of a big pixel sits at s*x + (s-1)/2
    Ks[1, 2] += (s - 1) / 2
    rays = _sensor_rays(Ks, dist, (w * s, h * s))
    R, _ = cv2.Rodrigues(np.asarray(rvec, np.float64))
    t = np.asarray(tvec, np.float64).reshape(3)
    # A plane is a homography away from the normalised image: (x, y, 1) ~ [r1 r2 t] (X, Y, 1).
    A = np.array([[px_per_mm, 0, origin_px[0]], [0, px_per_mm, origin_px[1]], [0, 0, 1]])
    H = A @ np.linalg.inv(np.column_stack([R[:, 0], R[:, 1], t]))
    uv = cv2.perspectiveTransform(rays.reshape(-1, 1, 2), H).reshape(h * s, w * s, 2)
    # Rays that meet the plane behind the camera have a negative depth along the board normal.
    behind = (rays[..., 0] * R[0, 2] + rays[..., 1] * R[1, 2] + R[2, 2]) * (R[:, 2] @ t) <= 0
    uv[behind] = -1e6
    big = cv2.remap(texture, uv, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=background)
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA) if s > 1 else big


def distort(ideal: np.ndarray, K: np.ndarray, dist: np.ndarray, ideal_K: np.ndarray | None = None,
            border: int | tuple[int, ...] = 0, size: tuple[int, int] | None = None) -> np.ndarray:
    """What the lens (K, dist) records, at `size` (w, h; default: the ideal image's), of a scene whose
    pinhole image (camera `ideal_K`, default K) is `ideal`. A barrel lens sees more than a pinhole of the
    same focal length: give a bigger `ideal` canvas (K with a shifted centre) to fill the corners."""
    w, h = size or (ideal.shape[1], ideal.shape[0])
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    src = undistort_pixels(np.stack([xs.ravel(), ys.ravel()], 1), K, dist, K if ideal_K is None else ideal_K)
    mx = src[:, 0].reshape(h, w).astype(np.float32)
    my = src[:, 1].reshape(h, w).astype(np.float32)
    return cv2.remap(ideal, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)

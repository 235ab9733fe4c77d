"""Views of a container photo for reading again: cuts, padded glyphs, a vertical strip's character cells laid side
by side, and the digit a CTC posterior shows where a boxed check digit sits, and the thumbnails that tell a text box's pixels
unchanged since the last image (used by `container.py`)."""

from __future__ import annotations

import cv2
import numpy as np

from edge.readers.container_column import ink_rows
from edge.readers.ocr.ctc import ctc_segments


def pad(crop: np.ndarray, frac: float = 0.25) -> np.ndarray:
    """Replicate-pad a small crop so the recogniser sees margins around a lone glyph."""
    p = max(2, int(frac * crop.shape[0]))
    return cv2.copyMakeBorder(crop, p, p, p, p, cv2.BORDER_REPLICATE)


def cut(image: np.ndarray, bx: tuple[float, float, float, float] | None) -> np.ndarray | None:
    if bx is None:
        return None
    H, W = image.shape[:2]
    x0, y0, x1, y1 = int(max(0, bx[0])), int(max(0, bx[1])), int(min(W, bx[2])), int(min(H, bx[3]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return image[y0:y1, x0:x1]


def tail_digit(probs: np.ndarray | None, charset: list[str], serial: str) -> tuple[str | None, float, float]:
    """Best digit after the serial in a reading of `serial` + check digit as one line; nothing unless the
    greedy reading starts with the serial itself (so the tail really is what follows it)."""
    if probs is None:
        return None, 0.0, 0.0
    segs = ctc_segments(probs)
    chars = [charset[k] if k < len(charset) else "" for k, _, _ in segs]
    digits = [(i, ch) for i, ch in enumerate(chars) if ch.isdigit()]
    if len(digits) < len(serial) or "".join(ch for _, ch in digits[:len(serial)]) != serial:
        return None, 0.0, 0.0
    last_step = segs[digits[len(serial) - 1][0]][2]
    return best_digit(probs[last_step + 1:], charset)


def best_digit(probs: np.ndarray | None, charset: list[str]) -> tuple[str | None, float, float]:
    """Most probable digit anywhere in a CTC posterior (T, C), its probability and its margin over the
    runner-up digit."""
    if probs is None or len(probs) == 0:
        return None, 0.0, 0.0
    idx = [charset.index(d) for d in "0123456789"]
    best = probs[:, idx].max(axis=0)
    order = np.argsort(best)[::-1]
    return "0123456789"[order[0]], float(best[order[0]]), float(best[order[0]] - best[order[1]])


def split_rows(strip: np.ndarray) -> list[np.ndarray]:
    """Cut a vertical strip into character cells at the blank rows of its ink profile."""
    g = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY) if strip.ndim == 3 else strip
    _, bw = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # ink is the minority class (light text on dark paint or dark on light)
    if bw.mean() > 127:
        bw = 255 - bw
    min_h = 0.25 * strip.shape[1]
    cells = [(a, b) for a, b in ink_rows((bw > 0).mean(axis=1)) if b - a >= min_h]
    return [strip[max(0, a - 2):b + 2] for a, b in cells]


def hstack_cells(cells: list[np.ndarray]) -> np.ndarray:
    """Lay character cells side by side at a common height, each widened by replicating its edges."""
    h = max(c.shape[0] for c in cells)
    gap = max(2, h // 5)
    parts = []
    for c in cells:
        top = (h - c.shape[0]) // 2
        parts.append(cv2.copyMakeBorder(c, top, h - c.shape[0] - top, gap, gap, cv2.BORDER_REPLICATE))
    line = np.hstack(parts)
    return cv2.copyMakeBorder(line, h // 4, h // 4, h // 4, h // 4, cv2.BORDER_REPLICATE)


def thumb(crop: np.ndarray) -> np.ndarray:
    small = cv2.resize(crop, (64, 16), interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return small.astype(np.int16)


def same_place(a: np.ndarray, b: np.ndarray, tol: float = 4.0) -> bool:
    return float(np.abs(a - b).max()) <= tol


def same_pixels(a: np.ndarray, b: np.ndarray, tol: float = 2.5) -> bool:
    return a.shape == b.shape and float(np.abs(a - b).mean()) < tol

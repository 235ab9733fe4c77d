"""Plate text lines: finding them in an image and telling how they sit (one-line vs two-line layout).

The plate reader has no plate detector: the PP-OCR text detector finds text lines in the read zone (or
the crop) and every line is recognised once by the main recogniser. This module holds that step
(`prepare`, `find_lines`, the cheap `find_plate_boxes` gate) and the geometry that pairs lines into
two-line plates (`stacked`, `small_top`, `extents_along`). A two-line plate is never fed whole to the
recogniser: a squarish single box is split at the ink-profile minimum (`ink_split_row`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.domain.plate_grammar import normalise
from edge.domain.types import Box
from edge.readers.ocr.engine import OcrEngine, RecResult, crop_quad

SMALL_SIDE = 64  # crops whose short side is below this are upscaled before detection
MAX_LINES = 24  # recognise at most this many text lines per image (largest first)
GATE_SIDE = 480  # `find_plate_boxes`: the detector's input long side (~4x fewer pixels than a 960 px read)
GATE_MIN_H = 12.0  # `find_plate_boxes`: text lines lower than this (image pixels) are too small to read anyway


@dataclass
class TextLine:
    quad: np.ndarray  # in the working image
    rec: RecResult
    text: str  # normalised
    conf: float
    char_conf: list[float] = field(default_factory=list)
    engine: OcrEngine | None = None  # the recogniser that produced `rec` when not the main one
    fixed: bool = False  # text already carries a re-decoded province glyph
    voted: bool = False  # CN reading voted by several recognisers (see plate_cn.CnPlateReader)
    cn_only: bool = False  # looked like a CN plate: only the voted CN reading may come from it
    province_p: float = 0.0  # the most any recogniser gave a province glyph before its first character (CN vote)

    @property
    def x0(self) -> float:
        return float(self.quad[:, 0].min())

    @property
    def x1(self) -> float:
        return float(self.quad[:, 0].max())

    @property
    def y0(self) -> float:
        return float(self.quad[:, 1].min())

    @property
    def y1(self) -> float:
        return float(self.quad[:, 1].max())

    @property
    def h(self) -> float:
        return max(self.y1 - self.y0, 1.0)

    @property
    def w(self) -> float:
        return max(self.x1 - self.x0, 1.0)


def norm_conf(raw: str, conf: list[float]) -> list[float]:
    """Per-character confidence aligned with `normalise(raw)` (separators dropped)."""
    out: list[float] = []
    for c, p in zip(raw, conf, strict=False):
        out += [p] * len(normalise(c))
    return out


def prepare(image: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Upscale small crops (a 94×24 plate) and pad the border so edge characters are detected."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    scale = 1.0
    if min(h, w) < SMALL_SIDE * 2 and max(h, w) < 400:
        scale = min(4.0, 2 * SMALL_SIDE / min(h, w), 480 / max(h, w))
        scale = max(scale, 1.0)
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    pad = max(8, int(0.06 * min(image.shape[:2])))
    image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return image, scale, pad


def find_lines(engine: OcrEngine, work: np.ndarray, max_side: int) -> list[TextLine]:
    """Every horizontal text line of the working image (largest `MAX_LINES`), read by `engine`."""
    quads = engine.detect(work, max_side=max_side, min_side=SMALL_SIDE)
    keep = []
    for q in quads:
        w = float(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2])))
        h = float(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2])))
        if min(w, h) < 6 or w < 0.6 * h:  # specks, and vertical strips (plates are horizontal)
            continue
        keep.append((w * h, q))
    keep = sorted(keep, key=lambda t: -t[0])[:MAX_LINES]
    quads = [q for _, q in keep]
    crops = [crop_quad(work, q, pad=0.1) for q in quads]
    extra_quads, extra_crops = _split_two_line_boxes(quads, crops)
    recs = engine.recognize(crops + extra_crops, return_probs=True)
    lines = []
    for q, r in zip(quads + extra_quads, recs, strict=True):
        text = normalise(r.text)
        if text:
            lines.append(TextLine(q, r, text, r.confidence, norm_conf(r.text, r.char_conf)))
    return lines


def _split_two_line_boxes(quads: list[np.ndarray],
                          crops: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A squarish single box on a plate is two lines detected as one: the quads and crops of its halves."""
    extra_quads, extra_crops = [], []
    for q, c in zip(quads, crops, strict=True):
        ch, cw = c.shape[:2]
        if cw < 2.2 * ch:
            row = ink_split_row(cv2.cvtColor(c, cv2.COLOR_BGR2GRAY))
            if row is not None:
                x0, y0 = q[:, 0].min(), q[:, 1].min()
                x1, y1 = q[:, 0].max(), q[:, 1].max()
                ym = y0 + (y1 - y0) * row / ch
                for a, b, part in ((y0, ym, c[:row]), (ym, y1, c[row:])):
                    extra_quads.append(np.array([[x0, a], [x1, a], [x1, b], [x0, b]], np.float32))
                    extra_crops.append(part)
    return extra_quads, extra_crops


def find_plate_boxes(engine: OcrEngine, image: np.ndarray, max_side: int = GATE_SIDE,
                     min_h: float = GATE_MIN_H) -> list[Box]:
    """Where plate-like text may be, cheaply: the text detector alone on a small copy (no recognition), boxes
    of text lines shaped like a plate or a plate line (1.2:1 to 8:1) at least `min_h` pixels tall in `image`
    and at most 30 % of its height (a radiator grille is a tall block of "lines")."""
    if image is None or image.size == 0:
        return []
    out = []
    top = 0.3 * image.shape[0]
    for q in engine.detect(image, max_side=max_side, min_side=SMALL_SIDE):
        x0, y0 = q.min(axis=0)
        x1, y1 = q.max(axis=0)
        w, h = float(x1 - x0), float(y1 - y0)
        if min_h <= h <= top and 1.2 <= w / max(h, 1.0) <= 8.0:
            out.append(Box(x=int(x0), y=int(y0), w=max(1, int(round(w))), h=max(1, int(round(h)))))
    return out


def ink_split_row(gray: np.ndarray) -> int | None:
    """Row between the two text lines of a two-line plate crop: the ink-profile minimum in the
    middle band (30–70 % of the height), or None when there is no clear gap."""
    h = gray.shape[0]
    if h < 16:
        return None
    binar = cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                  max(3, (h // 4) | 1), 5)
    profile = cv2.blur(binar.sum(axis=1).astype(np.float32).reshape(-1, 1), (1, max(3, h // 20))).ravel()
    lo, hi = int(0.3 * h), int(0.7 * h)
    row = lo + int(np.argmin(profile[lo:hi]))
    peak = float(profile.max())
    if peak <= 0 or profile[row] > 0.5 * peak:
        return None
    return row


def extents_along(ref: TextLine, ln: TextLine) -> tuple[float, float, float, float]:
    """x0, x1, y0, y1 of `ln`'s quad in the frame of `ref`'s baseline (x along the text, y down
    across it); the upright box when `ref` is level. Quads run top-left, top-right, bottom-right,
    bottom-left, as the detector returns them."""
    q = ref.quad.astype(np.float64)
    d = (q[1] - q[0]) + (q[2] - q[3])
    norm = float(np.hypot(*d))
    if norm < 1e-6:
        return ln.x0, ln.x1, ln.y0, ln.y1
    u = d / norm
    n = np.array([-u[1], u[0]])  # y down in the image: the normal points down when the text runs right
    pts = ln.quad.astype(np.float64)
    xs, ys = pts @ u, pts @ n
    return float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())


def stacked(top: TextLine, bot: TextLine) -> bool:
    """`bot` sits right under `top`, overlapping horizontally, like the two lines of one plate.

    Measured along the top line's own axes: on a tilted plate the upright boxes of its two
    lines overlap vertically, which would otherwise look like one line drawn over another.
    """
    tx0, tx1, ty0, ty1 = extents_along(top, top)
    bx0, bx1, by0, by1 = extents_along(top, bot)
    th, bh, tw, bw = max(ty1 - ty0, 1.0), max(by1 - by0, 1.0), max(tx1 - tx0, 1.0), max(bx1 - bx0, 1.0)
    if by0 < ty0 + 0.5 * th:
        return False
    gap = by0 - ty1
    if gap > 0.8 * max(th, bh) or gap < -0.4 * min(th, bh):
        return False
    overlap = min(tx1, bx1) - max(tx0, bx0)
    if overlap < 0.6 * min(tw, bw):
        return False
    return 0.5 < th / bh < 2.0 and tw < 1.6 * bw


def small_top(top: TextLine, bot: TextLine) -> bool:
    """`top` is the small upper line of a CN two-line plate over the serial line `bot`: 0.3–0.8 of
    its height, right above it, centred over it and not wider."""
    if not 0.3 <= top.h / bot.h <= 0.8 or top.w > 1.1 * bot.w:
        return False
    gap = bot.y0 - top.y1
    # The detector often draws the serial's box up into the small top line (overlap up to ~0.6 of its height).
    if gap < -0.7 * top.h or gap > 0.6 * bot.h:
        return False
    return bot.x0 <= (top.x0 + top.x1) / 2 <= bot.x1

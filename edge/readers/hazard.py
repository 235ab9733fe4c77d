"""ADR orange panels (hazard identification number over UN number, domain.md §5) in a frame.

It runs on many frames, so it looks for orange first and reads only when it finds a panel:
1. Colour: HSV mask of retro-reflective orange on a copy at most 640 px wide (a frame without orange
   costs a resize and a colour conversion, ~1 ms on 1280×720); only then the shape search at ≤ 1280 px.
2. Shape: orange blobs are grouped (the black divider splits a panel into two halves, reflective cells
   split it further), and a group is a panel when its outline is a level quadrilateral of aspect
   1:1 - 3.4:1 (400×300 mm plates, 300×120 mm small ones, seen at an angle), mostly orange.
3. Reading: the panel is rectified, the divider found as the least orange row band near the middle,
   and each half is recognised once; the recogniser's probabilities are re-decoded with only digits
   (and X, first, for the hazard id) allowed, so "O"/"I" cannot appear.
4. Validation: hazard id `X?[2-9]\\d{1,2}`, UN number `\\d{4}`; a divided panel needs both (the orange
   rectangle alone is not a panel: a cab door, a cone, a painted kerb) and is dropped otherwise (another frame
   of the passage will read it). A plain orange panel with no divider and no dark marks, inside its own black
   border, is a blank panel (packaged dangerous goods): HazardRead with both numbers None; a passage needs it on
   several frames (`BLANK_MIN_VOTES` in `edge.decision.voting`, which votes a passage's panels across frames:
   this module reads one frame).
5. A panel that touches the image edge is not read at all: it may continue beyond the frame (issue 18: a blank
   orange area at the frame edge became a panel).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import cv2
import numpy as np

from cameras.imageio import reader_image
from edge.domain.types import Box, HazardRead
from edge.readers.ocr.det_postprocess import order_quad
from edge.readers.ocr.engine import OcrEngine, crop_quad

log = logging.getLogger(__name__)

# OpenCV hue is 0..180: the three real panels measure 8-14 (5th-95th percentile), the sample renderer
# paints 15. A yellow warning stripe under a blue sky measured 19-22, yellow plates ~24, red placards 0-5.
HUE_LO, HUE_HI = 5, 18
SAT_MIN, VAL_MIN = 70, 90  # faded panels (cargo_002) measure saturation 66-132
PRECHECK_SIDE = 640  # any orange at all? (INTER_AREA to 640 is cheap; to 960 it costs ~7 ms)
WORK_SIDE = 1280  # shape search: a 48 px panel in a 1024 px photo must keep its pieces
MIN_PANEL_H = 10  # pixels on the work image; smaller panels cannot be read anyway
MIN_BLANK_H = 20  # a blank panel has only its colour and frame to go on: ask for a bigger one
EDGE_PX = 2  # a panel this close to the image border may be cut off: not a whole panel
HAZARD_RE = re.compile(r"^X?[2-9]\d{1,2}$")
UN_RE = re.compile(r"^\d{4}$")


@dataclass
class PanelCandidate:
    quad: np.ndarray  # (4, 2) float32, full-image pixels, clockwise from top-left
    fill: float  # orange fraction inside the quad


def orange_mask(bgr: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    return cv2.inRange(hsv, (HUE_LO, SAT_MIN, VAL_MIN), (HUE_HI, 255, 255))


def _scaled(image: np.ndarray, side: int, interpolation: int) -> tuple[np.ndarray, float]:
    h, w = image.shape[:2]
    s = min(1.0, side / max(h, w))
    if s < 1.0:
        return cv2.resize(image, (int(round(w * s)), int(round(h * s))), interpolation=interpolation), s
    return image, 1.0


def has_orange(image: np.ndarray, min_pixels: int = 24) -> bool:
    """The cheap gate every frame pays: ~1 ms on 1280×720."""
    small, _ = _scaled(image, PRECHECK_SIDE, cv2.INTER_AREA)
    return cv2.countNonZero(orange_mask(small)) >= min_pixels


def _groups(stats: np.ndarray, keep: list[int]) -> list[list[int]]:
    """Union blobs that make one panel: halves stacked at like width, or cells/pieces side by side.

    Digits that span a half's full height cut it into pieces; the divider cuts it into halves.
    """
    parent = {i: i for i in keep}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a_i, a in enumerate(keep):
        ax, ay, aw, ah = (int(v) for v in stats[a, :4])
        for b in keep[a_i + 1:]:
            bx, by, bw, bh = (int(v) for v in stats[b, :4])
            x_ov = min(ax + aw, bx + bw) - max(ax, bx)
            y_ov = min(ay + ah, by + bh) - max(ay, by)
            x_gap, y_gap = -x_ov, -y_ov
            hmin, wmin = min(ah, bh), min(aw, bw)
            side_by_side = y_ov > 0.5 * hmin and x_gap <= 1.2 * max(ah, bh) and hmin / max(ah, bh) > 0.4
            stacked = x_ov > 0.6 * wmin and y_gap <= 0.5 * hmin + 2 and wmin / max(aw, bw) > 0.5
            if side_by_side or stacked:
                parent[find(a)] = find(b)
    out: dict[int, list[int]] = {}
    for i in keep:
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def _outline(labels: np.ndarray, stats: np.ndarray, i: int) -> np.ndarray:
    """Outline points (x, y) of component i, found inside its own box (cheap for the hull)."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    sub = (labels[y:y + h, x:x + w] == i).astype(np.uint8)
    contours, _ = cv2.findContours(sub, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return np.concatenate([c.reshape(-1, 2) for c in contours]) + (x, y)


def _quad_of(points: np.ndarray) -> np.ndarray:
    """Four corners of a blob group: its hull simplified to 4 points, else the min-area rectangle."""
    hull = cv2.convexHull(points)
    peri = cv2.arcLength(hull, True)
    for eps in (0.02, 0.04, 0.06):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return order_quad(approx.reshape(4, 2).astype(np.float32))
    return order_quad(cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float32))


def find_panels(image: np.ndarray) -> list[PanelCandidate]:
    """Orange, level, panel-shaped quads; cheap, no OCR. Quads are in full-image pixels."""
    if not has_orange(image):
        return []
    small, s = _scaled(image, WORK_SIDE, cv2.INTER_LINEAR)
    mask = orange_mask(small)
    min_area = MIN_PANEL_H * MIN_PANEL_H
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 12 and stats[i, cv2.CC_STAT_HEIGHT] >= 3]
    frame_area = small.shape[0] * small.shape[1]
    out: list[PanelCandidate] = []
    for group in _groups(stats, keep):
        area = int(sum(stats[i, cv2.CC_STAT_AREA] for i in group))
        if area < min_area or area > 0.3 * frame_area:
            continue
        gx0 = min(int(stats[i, 0]) for i in group)
        gy0 = min(int(stats[i, 1]) for i in group)
        gw = max(int(stats[i, 0] + stats[i, 2]) for i in group) - gx0
        gh = max(int(stats[i, 1] + stats[i, 3]) for i in group) - gy0
        if gh < MIN_PANEL_H or not 0.6 <= gw / gh <= 5.0 or area < 0.3 * gw * gh:
            continue  # cheap rejects before the hull
        pts = np.concatenate([_outline(labels, stats, i) for i in group]).astype(np.int32)
        quad = _quad_of(pts)
        top_w = np.linalg.norm(quad[1] - quad[0])
        bot_w = np.linalg.norm(quad[2] - quad[3])
        left_h = np.linalg.norm(quad[3] - quad[0])
        right_h = np.linalg.norm(quad[2] - quad[1])
        w, h = (top_w + bot_w) / 2, (left_h + right_h) / 2
        if h < MIN_PANEL_H or not 0.9 <= w / max(h, 1.0) <= 3.4:
            continue
        # Opposite sides of like length: a plate seen at an angle, not a ragged blob.
        if not (0.6 < top_w / max(bot_w, 1.0) < 1.6 and 0.6 < left_h / max(right_h, 1.0) < 1.6):
            continue
        # Level: the top edge within 30° of horizontal (a placard diamond is at 45°).
        dx, dy = quad[1] - quad[0]
        if abs(np.degrees(np.arctan2(dy, dx))) > 30:
            continue
        quad_area = cv2.contourArea(quad)
        fill = area / max(quad_area, 1.0)
        if not 0.45 <= fill <= 1.05:
            continue
        sh, sw = small.shape[:2]
        if gx0 <= EDGE_PX or gy0 <= EDGE_PX or gx0 + gw >= sw - EDGE_PX or gy0 + gh >= sh - EDGE_PX:
            continue  # cut by the image edge: what lies beyond may be anything
        out.append(PanelCandidate(quad=(quad / s).astype(np.float32), fill=float(fill)))
    return out


# -- reading ---------------------------------------------------------------------------------------

PANEL_H = 96  # rectified panel height for the divider search


def _split_rows(panel: np.ndarray) -> tuple[int, float] | None:
    """Row of the black divider and how dark it is (1 = no orange); None for a blank panel."""
    mask = orange_mask(panel) > 0
    rows = mask.mean(axis=1)
    h = len(rows)
    lo, hi = int(h * 0.3), int(h * 0.7)
    band = max(1, h // 24)
    smooth = np.convolve(rows, np.ones(band) / band, mode="same")
    mid = lo + int(np.argmin(smooth[lo:hi]))
    above, below = rows[int(h * 0.1):mid].mean(), rows[mid:int(h * 0.9)].mean()
    darkness = 1.0 - smooth[mid] / max(min(above, below), 1e-3)
    if darkness > 0.6 and min(above, below) > 0.25:
        return mid, float(darkness)
    return None


def _is_blank(panel: np.ndarray) -> bool:
    """Plain orange inside (≥ 85 % of the central area) with nothing dark printed on it."""
    h, w = panel.shape[:2]
    inner = panel[int(h * 0.15):int(h * 0.85), int(w * 0.1):int(w * 0.9)]
    return bool((orange_mask(inner) > 0).mean() > 0.85)


def _has_dark_frame(image: np.ndarray, quad: np.ndarray, pad: float = 0.12) -> bool:
    """A blank panel must show its black border: the ring just outside the orange area is dark.

    Without it every orange blob (a cab door, a cone) would be a dangerous-goods mark.
    """
    q = quad.astype(np.float32)
    w = float(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2])))
    h = float(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2])))
    m = int(round(pad * min(w, h)))
    if m < 2:
        return False
    crop = crop_quad(image, q, pad=pad)  # panels are wider than 0.9 × tall: crop_quad does not rotate them
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    ring = np.ones(crop.shape[:2], bool)
    ring[m:-m, m:-m] = False
    inner = ~ring
    inner[: 2 * m] = inner[-2 * m:] = False
    inner[:, : 2 * m] = inner[:, -2 * m:] = False
    v_ring = hsv[..., 2][ring]
    v_in = hsv[..., 2][inner] if inner.any() else hsv[..., 2][~ring]
    return bool(np.mean(v_ring < 0.5 * np.median(v_in)) > 0.7)


def _orange_extent(half: np.ndarray) -> np.ndarray:
    """Trim a half to the orange area so the panel's black border is not read as a '1'."""
    m = orange_mask(half) > 0
    cols = np.nonzero(m.mean(axis=0) > 0.3)[0]
    rows = np.nonzero(m.mean(axis=1) > 0.3)[0]
    if len(cols) < 4 or len(rows) < 4:
        return half
    return half[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


class HazardPanelReader:
    """Find ADR orange panels and read both numbers with the shared OCR recogniser."""

    def __init__(self, engine: OcrEngine, min_char_conf: float = 0.3):
        self.engine = engine
        self.min_char_conf = min_char_conf
        charset = engine.charset
        self._digits = [charset.index(c) for c in "0123456789"]
        self._x = charset.index("X")

    def read(self, image: np.ndarray) -> list[HazardRead]:
        bgr = reader_image(image)  # empty, odd-shaped or non-8-bit input: no read, not an exception
        if bgr is None:
            return []
        image = bgr
        out: list[HazardRead] = []
        for cand in find_panels(image):
            read = self._read_panel(image, cand)
            if read is not None:
                out.append(read)
        return out

    def _read_panel(self, image: np.ndarray, cand: PanelCandidate) -> HazardRead | None:
        panel = crop_quad(image, cand.quad, pad=0.0)
        scale = PANEL_H / max(panel.shape[0], 1)
        panel = cv2.resize(panel, (max(8, int(round(panel.shape[1] * scale))), PANEL_H),
                           interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        q = cand.quad
        ih, iw = image.shape[:2]
        x0, y0 = (max(0, int(v)) for v in np.floor(q.min(axis=0)))
        x1, y1 = min(iw, int(np.ceil(q[:, 0].max()))), min(ih, int(np.ceil(q[:, 1].max())))
        box = Box(x=x0, y=y0, w=max(1, x1 - x0), h=max(1, y1 - y0))
        split = _split_rows(panel)
        if split is None:
            if box.h >= MIN_BLANK_H and _is_blank(panel) and _has_dark_frame(image, cand.quad):
                return HazardRead(confidence=round(min(1.0, cand.fill), 3), box=box)
            return None
        mid, _ = split
        gap = max(2, PANEL_H // 16)
        top = _orange_extent(panel[: max(mid - gap, 4)])
        bottom = _orange_extent(panel[mid + gap:])
        recs = self.engine.recognize([top, bottom], return_probs=True)
        hz, hz_conf = self._decode(recs[0].probs, allow_x=True)
        un, un_conf = self._decode(recs[1].probs, allow_x=False)
        hazard_id = hz if HAZARD_RE.match(hz) else None
        un_number = un if UN_RE.match(un) else None
        log.debug("hazard panel at %s: top %r (%s) bottom %r (%s)", box, recs[0].text, hz, recs[1].text, un)
        if hazard_id is None or un_number is None:
            return None  # both numbers or nothing: orange with one stray number is not a read panel
        confs = [c for c, ok in ((hz_conf, hazard_id), (un_conf, un_number)) if ok]
        return HazardRead(
            hazard_id=hazard_id,
            un_number=un_number,
            hazard_class=hazard_id.lstrip("X")[0] if hazard_id else None,
            confidence=round(float(min(confs)), 3),
            box=box,
        )

    def _decode(self, probs: np.ndarray | None, allow_x: bool) -> tuple[str, float]:
        """Greedy CTC over blank + digits (+ X): the best allowed class per step, repeats merged."""
        if probs is None:
            return "", 0.0
        allowed = [0, *self._digits, *([self._x] if allow_x else [])]
        sub = probs[:, allowed]
        idx = sub.argmax(axis=1)
        chars: list[str] = []
        confs: list[float] = []
        prev = 0
        for t, k in enumerate(idx):
            if k != 0 and k != prev:
                p = float(sub[t, k])
                if p >= self.min_char_conf:
                    chars.append(self.engine.charset[allowed[k]])
                    confs.append(p)
            prev = k
        text = "".join(chars)
        if "X" in text[1:]:  # X only leads a hazard id
            return "", 0.0
        return text, (float(np.mean(confs)) if confs else 0.0)

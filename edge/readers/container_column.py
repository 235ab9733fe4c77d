"""Vertical container codes read as columns of stacked upright characters.

On a door edge the code runs down one character per row (`B E A U / 2 5 7 6 8 7 / [8]`). The text detector
seldom returns that column as one box: it returns pieces (a tall box over part of the serial, another over the
owner code, the boxed check digit as a small box of its own) and misses characters between them. This module

1. groups the detector's narrow boxes that are aligned in x and stacked in y into one column
   (`column_groups`, pure geometry), with the character pitch the pieces show;
2. cuts a strip around the whole column, extended towards where missing characters would be
   (`column_region`), and splits it into character cells at the blank rows of its ink profile (`stack_cells`);
3. lays the cells side by side as one ordinary text line, recognises it once, and assigns each recognised
   character back to its cell through the CTC time steps (`read_column`). Tokens break at the large gaps
   (owner code | serial | boxed check digit) and at cells that are not character-sized, so a code must
   start and end on a token boundary, as everywhere else in `iso6346.find_codes`.

Nothing is filled in by computation: a cell read as nothing or as a framing glyph is decoded again restricted
to the ten digits only when it ends a token (the boxed check digit) and the pixels clearly favour one digit;
the check digit of all eleven characters remains the judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.domain import iso6346
from edge.readers.container_layout import CodeLine, is_tall
from edge.readers.ocr.ctc import ctc_segments
from edge.readers.ocr.engine import REC_HEIGHT, REC_MIN_WIDTH, OcrEngine

CODE_PITCHES = 12.5  # an 11-character column with the gap before the boxed check digit, in character pitches
MAX_GAP_PITCHES = 4.5  # detector pieces of one column may be this far apart (missed characters between them)
DIGITS = "0123456789"


@dataclass
class Column:
    """Detector boxes forming one vertical column, and the column's character pitch (px per row)."""

    lines: list[CodeLine]
    pitch: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        ls = self.lines
        return min(p.x0 for p in ls), min(p.y0 for p in ls), max(p.x1 for p in ls), max(p.y1 for p in ls)


def _pitch(ln: CodeLine) -> float | None:
    """Row pitch a box shows: its height per character for a box of stacked characters, its height for a
    one-glyph box; None for a box written along a row."""
    n = len(iso6346.clean(ln.text))
    if ln.h > 1.3 * ln.w and n >= 2:  # characters stacked in the box
        return ln.h / n
    if n <= 1 and ln.h <= 2.0 * ln.w:
        return ln.h
    return None


def _joins(col: list[CodeLine], ln: CodeLine, pitch: float) -> bool:
    """`ln` continues the column: narrow, aligned in x with the column's nearest piece, close in y."""
    near = min(col, key=lambda c: min(abs(ln.y0 - c.y1), abs(c.y0 - ln.y1)))
    widest = max(c.w for c in col)
    if ln.w > 1.8 * widest or ln.w > 2.0 * pitch:
        return False
    # aligned, allowing a column leaning by up to ~8 degrees (door edges seen at an angle, lens distortion)
    if abs(ln.cx - near.cx) > 0.7 * max(pitch, near.w, ln.w) + 0.15 * abs(ln.cy - near.cy):
        return False
    gap = max(ln.y0 - max(c.y1 for c in col), min(c.y0 for c in col) - ln.y1)
    return -0.5 * pitch < gap < MAX_GAP_PITCHES * pitch


def column_groups(lines: list[CodeLine]) -> list[Column]:
    """Columns seeded by each tall box, grown by the narrow boxes above and below it. A column of small
    boxes without any tall piece is `container_layout.column_candidates`' job (its text suffices)."""
    seeds = sorted((ln for ln in lines if is_tall(ln) and ln.quad is not None), key=lambda ln: -ln.h)
    cols: list[Column] = []
    used: set[int] = set()
    for seed in seeds:
        if id(seed) in used:
            continue
        pitch = _pitch(seed) or seed.w * 1.5
        col = [seed]
        grown = True
        while grown:
            grown = False
            for ln in sorted(lines, key=lambda c: c.y0):
                if id(ln) in used or any(ln is c for c in col) or not _joins(col, ln, pitch):
                    continue
                col.append(ln)
                used.add(id(ln))
                grown = True
            pitches = [p for p in (_pitch(c) for c in col) if p]
            pitch = float(np.median(pitches)) if pitches else pitch
        used.add(id(seed))
        col.sort(key=lambda c: c.y0)
        cols.append(Column(col, pitch))
    return cols


def column_region(col: Column, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Strip around the column, widened a little, and extended up (the owner code is the piece the detector
    misses most) and down (the boxed check digit) until it could hold a whole code."""
    x0, y0, x1, y1 = col.box
    p = col.pitch
    short = max(0.0, CODE_PITCHES * p - (y1 - y0))
    up, down = max(2.0 * p, short), max(1.6 * p, min(short, 2.5 * p))
    mx = 0.35 * max(c.w for c in col.lines)
    H, W = shape[:2]
    return int(max(0, x0 - mx)), int(max(0, y0 - up)), int(min(W, x1 + mx)), int(min(H, y1 + down))


def _blobs(bw: np.ndarray, pitch: float) -> np.ndarray:
    """Character-sized blobs of a binary mask (rails, edges and shadows running through several rows would
    join every row of the profile; specks are no characters)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(bw, connectivity=8)
    h, w = stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_WIDTH]
    # tightly stacked characters touch: a blob a few rows tall but character-wide is kept (cut at the profile)
    keep = ((h <= 1.9 * pitch) | ((h <= 3.6 * pitch) & (w >= 0.45 * pitch))) & (np.maximum(w, h) >= 0.2 * pitch)
    keep[0] = False
    return keep[lab]


def _ink(strip: np.ndarray, pitch: float, level: int = 2) -> np.ndarray:
    """Ink mask of the strip (ink = the minority class of a global threshold: light paint on dark or dark on
    light). The background is levelled first (top-hat), so a lighting gradient along the door does not turn
    half of the strip into ink (`level` >= 1), and long vertical edges (door rails, the container's edge) are
    taken out (`level` 2; tightly stacked characters can also form such an edge, hence the other levels)."""
    g = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY) if strip.ndim == 3 else strip
    _, bw = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light_ink = bw.mean() <= 127
    if not level:
        return _blobs(bw if light_ink else 255 - bw, pitch)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(pitch)),) * 2)
    lev = cv2.morphologyEx(g, cv2.MORPH_TOPHAT if light_ink else cv2.MORPH_BLACKHAT, k)
    if level >= 2:
        rail = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(5, int(2.2 * pitch))))
        lev = cv2.subtract(lev, cv2.morphologyEx(lev, cv2.MORPH_OPEN, rail))
    _, bw = cv2.threshold(lev, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return _blobs(bw, pitch)


def ink_rows(profile: np.ndarray, min_ink: float = 0.04) -> list[tuple[int, int]]:
    """Runs (y0, y1) of rows whose share of ink is above `min_ink`: the characters of a stacked column."""
    cells: list[tuple[int, int]] = []
    start = None
    for y, v in enumerate(profile > min_ink):
        if v and start is None:
            start = y
        elif not v and start is not None:
            cells.append((start, y))
            start = None
    if start is not None:
        cells.append((start, len(profile)))
    return cells


def stack_cells(strip: np.ndarray, pitch: float | None = None, level: int = 2) -> list[tuple[int, int]]:
    """Rows (y0, y1) of ink separated by blank rows of the strip's ink profile: one per stacked character.
    A row two to four times the usual height is touching characters and is cut at the
    profile's minima. `level`: see `_ink` (0: one global threshold)."""
    ink = _ink(strip, pitch or strip.shape[1], level)
    prof = ink.mean(axis=1)
    cells = [(a, b) for a, b in ink_rows(prof) if b - a >= 3]
    if len(cells) < 3:
        return cells
    med = float(np.median(sorted(b - a for a, b in cells)[len(cells) // 3:]))
    out: list[tuple[int, int]] = []
    for a, b in cells:
        k = int(round((b - a) / (1.1 * med)))
        if 2 <= k <= 4 and (b - a) >= 1.7 * med:
            cuts = [a]
            for j in range(1, k):
                c = a + j * (b - a) // k
                lo, hi = max(a + 1, c - int(0.25 * med)), min(b - 1, c + int(0.25 * med))
                cuts.append(lo + int(np.argmin(prof[lo:hi])) if hi > lo else c)
            cuts.append(b)
            out += list(zip(cuts[:-1], cuts[1:], strict=True))
        else:
            out.append((a, b))
    return out


def _tokens(cells: list[tuple[int, int]]) -> list[list[int]]:
    """Cells grouped into tokens: a break at a gap much wider than the usual one, and around any cell that is
    not character-sized (a rail, a merged blob, a speck). Returns lists of cell indices."""
    hs = [b - a for a, b in cells]
    if not hs:
        return []
    med_h = float(np.median(sorted(hs)[len(hs) // 3:]))  # the upper two thirds: specks do not set the size
    ok = [0.55 * med_h <= h <= 1.7 * med_h for h in hs]
    gaps = [cells[i + 1][0] - cells[i][1] for i in range(len(cells) - 1)]
    good_gaps = [g for i, g in enumerate(gaps) if ok[i] and ok[i + 1]]
    med_g = float(np.median(good_gaps)) if good_gaps else 0.3 * med_h
    tokens: list[list[int]] = []
    cur: list[int] = []
    for i in range(len(cells)):
        if not ok[i]:
            if cur:
                tokens.append(cur)
            cur = []
            continue
        if cur and gaps[i - 1] > max(1.8 * med_g, med_g + 0.35 * med_h):
            tokens.append(cur)
            cur = []
        cur.append(i)
    if cur:
        tokens.append(cur)
    return tokens


def frame_interior(crop: np.ndarray, text_h: float, fill: float = 0.6) -> np.ndarray | None:
    """Inside of the rectangular frame drawn around a check digit, if one is found. `fill`: how much of its
    bounding rectangle the frame's outline must enclose (a rectangle encloses all of it, an O about 0.79)."""
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    best = None
    for inv in (False, True):
        _, bw = cv2.threshold(g, 0, 255, (cv2.THRESH_BINARY_INV if inv else cv2.THRESH_BINARY) + cv2.THRESH_OTSU)
        contours, _ = cv2.findContours(bw, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            if not (0.6 * text_h <= h <= 1.5 * text_h and 0.4 * h <= w <= 1.1 * h):
                continue
            # a frame: its outline fills a thin border, not the whole rectangle
            area = cv2.contourArea(c)
            if area < fill * w * h:
                continue
            if best is None or h * w > best[2] * best[3]:
                best = (x, y, w, h)
    if best is None:
        return None
    x, y, w, h = best
    ix, iy = max(1, int(0.12 * w)), max(1, int(0.08 * h))
    inner = crop[y + iy:y + h - iy, x + ix:x + w - ix]
    return inner if inner.shape[0] >= 6 and inner.shape[1] >= 3 else None


def _line_of(strip: np.ndarray, cells: list[tuple[int, int]],
             boxed: set[int] | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The cells side by side at a common height (each centred, padded by replicating its edges), and each
    cell's x-range in the line. Cells in `boxed` (token ends) are replaced by the inside of a frame."""
    crops = [strip[max(0, a - 2):b + 2] for a, b in cells]
    # a boxed check digit: the frame's inside (recognisers read a framed glyph as 回 or nothing)
    crops = [_inner_or(c) if i in (boxed or set()) else c for i, c in enumerate(crops)]
    h = max(c.shape[0] for c in crops)
    gap = max(2, h // 5)
    margin = h // 4
    parts, spans, x = [], [], margin
    for c in crops:
        top = (h - c.shape[0]) // 2
        parts.append(cv2.copyMakeBorder(c, top, h - c.shape[0] - top, gap, gap, cv2.BORDER_REPLICATE))
        spans.append((x, x + parts[-1].shape[1]))
        x += parts[-1].shape[1]
    line = cv2.copyMakeBorder(np.hstack(parts), margin, margin, margin, margin, cv2.BORDER_REPLICATE)
    return line, spans


def _inner_or(crop: np.ndarray) -> np.ndarray:
    """The inside of a frame drawn around a glyph (a boxed check digit), else the crop itself. A frame is a
    closed outline whose hole holds another blob (the digit), or whose holes stand side by side, full height
    (a digit touching the frame splits the hole); an O, 0 or 8 has holes with nothing inside. Used only on the
    last cell of a token, where the boxed check digit stands."""
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    H = crop.shape[0]
    for inv in (cv2.THRESH_BINARY, cv2.THRESH_BINARY_INV):
        _, bw = cv2.threshold(g, 0, 255, inv + cv2.THRESH_OTSU)
        contours, tree = cv2.findContours(bw, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        if tree is None:
            continue
        for i, c in enumerate(contours):
            x, y, w, h = cv2.boundingRect(c)
            hole = tree[0][i][2]
            if not (h >= 0.6 * H and 0.4 * h <= w <= 1.1 * h) or hole < 0:
                continue
            holes = [hole]
            while tree[0][holes[-1]][0] >= 0:
                holes.append(tree[0][holes[-1]][0])
            inside = tree[0][hole][2]
            tall = [k for k in holes if cv2.boundingRect(contours[k])[3] >= 0.6 * h]
            # the digit inside the hole, or (touching the frame) splitting it into holes side by side
            if (inside >= 0 and cv2.boundingRect(contours[inside])[3] >= 0.4 * h) or len(tall) >= 2:
                ix, iy = max(1, int(0.12 * w)), max(1, int(0.08 * h))
                inner = crop[y + iy:y + h - iy, x + ix:x + w - ix]
                if inner.shape[0] >= 6 and inner.shape[1] >= 3:
                    return cv2.copyMakeBorder(inner, 2, 2, 2, 2, cv2.BORDER_REPLICATE)
    return crop


def _step_scale(line: np.ndarray, steps: int) -> float:
    """Line pixels per CTC step, for a line recognised alone (the engine pads narrow lines to a minimum width)."""
    h, w = line.shape[:2]
    rw = int(np.ceil(REC_HEIGHT * w / max(h, 1)))
    width = int(np.ceil(max(REC_MIN_WIDTH, rw) / 8) * 8)
    return (width / steps) * (w / rw)


def _cell_reads(probs: np.ndarray, charset: list[str], spans: list[tuple[int, int]],
                px_per_step: float) -> list[tuple[str, float, int, int]]:
    """Per cell: the characters whose CTC segment centres fall in it, their mean confidence, and the cell's
    step range."""
    segs = ctc_segments(probs)
    out = []
    for x0, x1 in spans:
        t0, t1 = int(x0 / px_per_step), max(int(x0 / px_per_step), int(np.ceil(x1 / px_per_step)) - 1)
        chars, confs = "", []
        for k, a, b in segs:
            if t0 <= (a + b) / 2 <= t1 and k < len(charset):
                chars += charset[k]
                confs.append(float(probs[a:b + 1, k].max()))
        out.append((chars, float(np.mean(confs)) if confs else 0.0, t0, min(t1, len(probs) - 1)))
    return out


def _digit_in(probs: np.ndarray, charset: list[str], t0: int, t1: int) -> tuple[str, float] | None:
    """The digit the steps t0..t1 clearly show (p >= 0.3, margin >= 0.2 over the next digit), or None."""
    idx = [charset.index(d) for d in DIGITS if d in charset]
    if len(idx) < 10 or t1 < t0:
        return None
    best = probs[t0:t1 + 1][:, idx].max(axis=0)
    order = np.argsort(best)[::-1]
    p, margin = float(best[order[0]]), float(best[order[0]] - best[order[1]])
    return (DIGITS[order[0]], p) if p >= 0.3 and margin >= 0.2 else None


def column_text(probs: np.ndarray, charset: list[str], spans: list[tuple[int, int]], px_per_step: float,
                tokens: list[list[int]]) -> tuple[str, list[float]]:
    """The column as text: tokens separated by spaces, one entry per cell. A token's last cell read as nothing
    or as a framing glyph (a boxed check digit: 回, 日) is decoded again among the ten digits."""
    reads = _cell_reads(probs, charset, spans, px_per_step)
    text, confs = "", []
    for tok in tokens:
        if text:
            text, confs = text + " ", [*confs, 1.0]
        for j, i in enumerate(tok):
            chars, conf, t0, t1 = reads[i]
            if j == len(tok) - 1 and not iso6346.clean(chars):
                digit = _digit_in(probs, charset, t0, t1)
                chars, conf = digit if digit else ("", 0.0)
            text += chars
            confs += [conf] * len(chars)
    return text, confs


def read_column(engines: list[OcrEngine], image: np.ndarray, region: tuple[int, int, int, int],
                pitch: float | None = None) -> list[iso6346.CodeCandidate]:
    """Verified codes read down the strip `region` of `image`: cells from the levelled ink without rails, then
    (when the cells differ) with rails, then from one global threshold; each engine in turn until one
    verifies a code."""
    x0, y0, x1, y1 = region
    strip = image[y0:y1, x0:x1]
    if strip.shape[0] < 20 or strip.shape[1] < 4:
        return []
    seen: list[list[tuple[int, int]]] = []
    for level in (2, 1, 0):
        cells = stack_cells(strip, pitch, level)
        if cells in seen:
            continue
        seen.append(cells)
        found = _read_cells(engines, strip, cells)
        if found:
            return found
    return []


def _read_cells(engines: list[OcrEngine], strip: np.ndarray,
                cells: list[tuple[int, int]]) -> list[iso6346.CodeCandidate]:
    tokens = _tokens(cells)
    if sum(len(t) for t in tokens) < 10:
        return []
    keep = sorted(i for t in tokens for i in t)
    pos = {i: k for k, i in enumerate(keep)}
    toks = [[pos[i] for i in t] for t in tokens]
    line, spans = _line_of(strip, [cells[i] for i in keep], {t[-1] for t in toks})
    for eng in engines:
        rec = eng.recognize([line], return_probs=True)[0]
        if rec.probs is None or not len(rec.probs):
            continue
        text, confs = column_text(rec.probs, eng.charset, spans, _step_scale(line, len(rec.probs)), toks)
        found = [c for c in iso6346.find_codes(text, confs)[:2] if c.check_digit_ok]
        if found:
            return found
    return []

"""Licence-plate reader: text detection → line pairing → recognition → grammar → PlateRead.

No plate detector: the PP-OCR text detector finds text lines in the read zone (or the crop);
single lines and vertically stacked pairs (two-line plates: VN motorbike/square truck plates,
CN yellow rear plates) become candidates; each is validated against the VN/CN grammars (then a
generic one) with letter/digit fixes by position. The first CN glyph is re-decoded from the
recogniser's probabilities restricted to the 31 province glyphs. A two-line plate is never fed
whole to the recogniser: if the detector returns one squarish box, it is split at the
ink-profile minimum. A wrong read is worse than a no-read, so weak or ambiguous reads become
explicit no-reads with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np

from edge.domain import Box, PlateRead
from edge.ocr.ctc import best_in, ctc_segments
from edge.ocr.engine import OcrEngine, RecResult, _charset, crop_quad
from edge.readers.plate_grammar import (
    CN_PROVINCES,
    FORMAT_NAMES,
    PROVINCE_SET,
    GrammarMatch,
    display,
    match,
    normalise,
)

PROVINCE_MIN_P = 0.3  # lowest probability for a province glyph re-decoded among the 31
_CN_TAIL = re.compile(r"^[A-HJ-NP-Z][A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]$")
GENERIC_MIN_CHAR_CONF = 0.8
SMALL_SIDE = 64  # crops whose short side is below this are upscaled before detection
MAX_LINES = 24  # recognise at most this many text lines per image (largest first)


@dataclass
class _Line:
    quad: np.ndarray  # in the working image
    rec: RecResult
    text: str  # normalised
    conf: float
    char_conf: list[float] = field(default_factory=list)
    engine: OcrEngine | None = None  # the recogniser that produced `rec` when not the main one
    fixed: bool = False  # text already carries a re-decoded province glyph

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


@dataclass
class _Candidate:
    lines: list[_Line]
    grammar: GrammarMatch
    score: float
    raw: str


def _norm_conf(raw: str, conf: list[float]) -> list[float]:
    """Per-character confidence aligned with `normalise(raw)` (separators dropped)."""
    out: list[float] = []
    for c, p in zip(raw, conf, strict=False):
        out += [p] * len(normalise(c))
    return out


@cache
def _province_indices_for(rec_name: str) -> tuple[int, ...]:
    index = {c: i for i, c in enumerate(_charset(rec_name))}
    return tuple(index[c] for c in CN_PROVINCES if c in index)


def _province_indices(engine: OcrEngine) -> tuple[int, ...]:
    return _province_indices_for(engine.rec_name)


def _overlap(a: _Candidate, b: _Candidate) -> bool:
    """Candidates share a line, or their boxes overlap by more than a third of the smaller."""
    if {id(x) for x in a.lines} & {id(x) for x in b.lines}:
        return True
    def bbox(c: _Candidate) -> tuple[float, float, float, float]:
        return (min(x.x0 for x in c.lines), min(x.y0 for x in c.lines),
                max(x.x1 for x in c.lines), max(x.y1 for x in c.lines))
    ax0, ay0, ax1, ay1 = bbox(a)
    bx0, by0, bx1, by1 = bbox(b)
    iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return False
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return iw * ih > smaller / 3


def _ink_split_row(gray: np.ndarray) -> int | None:
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


class PlateReader:
    """Reads one plate per image (`read`) or every plate (`read_all`).

    `formats` limits the grammars (e.g. only VN and CN at a VN–CN gate; the generic grammar
    reads other countries). `min_confidence` is the lowest mean character confidence accepted.
    """

    def __init__(
        self,
        engine: OcrEngine | None = None,
        formats: tuple[str, ...] = FORMAT_NAMES,
        min_confidence: float = 0.75,
        min_char_confidence: float = 0.3,
        max_side: int = 960,
        cn_engine: OcrEngine | None = None,
    ):
        self.engine = engine or OcrEngine()
        # PP-OCRv4 re-reads CN-looking lines (sessions are shared process-wide)
        self.cn_engine = cn_engine if cn_engine is not None else OcrEngine(
            det=self.engine.det_name, rec="v4", threads=self.engine.threads)
        self.formats = formats
        self.min_confidence = min_confidence
        self.min_char_confidence = min_char_confidence
        self.max_side = max_side

    # -- public ------------------------------------------------------------------------------------
    def read(self, image: np.ndarray, zone: Box | None = None) -> PlateRead:
        reads = self.read_all(image, zone)
        return reads[0]

    def read_all(self, image: np.ndarray, zone: Box | None = None) -> list[PlateRead]:
        """Every plate found, best first; a single no-read (with reason) when there is none."""
        if image is None or image.size == 0:
            return [PlateRead(reason="empty_image")]
        ox, oy = 0, 0
        if zone is not None:
            ox, oy = max(zone.x, 0), max(zone.y, 0)
            image = image[oy : oy + zone.h, ox : ox + zone.w]
            if image.size == 0:
                return [PlateRead(reason="empty_zone")]
        work, scale, pad = self._prepare(image)
        lines = self._lines(work)
        if not lines:
            return [PlateRead(reason="no_text")]
        cands = self._candidates(work, lines)
        accepted = [c for c in cands if self._acceptable(c)]
        if not accepted:
            best = max(cands, key=lambda c: c.score, default=None)
            raw = best.raw if best else " | ".join(ln.rec.text for ln in lines[:4])
            reason = "low_confidence" if best else "grammar_mismatch"
            return [PlateRead(raw=raw, reason=reason, confidence=best.score if best else 0.0)]
        chosen = self._non_overlapping(accepted)
        return [self._to_read(c, scale, pad, ox, oy) for c in chosen]

    # -- steps -------------------------------------------------------------------------------------
    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, float, int]:
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

    def _lines(self, work: np.ndarray) -> list[_Line]:
        quads = self.engine.detect(work, max_side=self.max_side, min_side=SMALL_SIDE)
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
        # A squarish single box on a plate is two lines detected as one: split it.
        extra_quads, extra_crops = [], []
        for q, c in zip(quads, crops, strict=True):
            ch, cw = c.shape[:2]
            if cw < 2.2 * ch:
                row = _ink_split_row(cv2.cvtColor(c, cv2.COLOR_BGR2GRAY))
                if row is not None:
                    x0, y0 = q[:, 0].min(), q[:, 1].min()
                    x1, y1 = q[:, 0].max(), q[:, 1].max()
                    ym = y0 + (y1 - y0) * row / ch
                    for a, b, part in ((y0, ym, c[:row]), (ym, y1, c[row:])):
                        extra_quads.append(np.array([[x0, a], [x1, a], [x1, b], [x0, b]], np.float32))
                        extra_crops.append(part)
        recs = self.engine.recognize(crops + extra_crops, return_probs=True)
        lines = []
        for q, r in zip(quads + extra_quads, recs, strict=True):
            text = normalise(r.text)
            if text:
                lines.append(_Line(q, r, text, r.confidence, _norm_conf(r.text, r.char_conf)))
        lines += self._cn_rereads(work, lines)
        return lines

    def _cn_rereads(self, work: np.ndarray, lines: list[_Line]) -> list[_Line]:
        """Second reading, by the PP-OCRv4 recogniser, of lines that look like a CN plate whose
        province glyph was misread or dropped: v4 reads the province glyphs far better than v6.
        A 6-character line is re-cropped one character height further left, where the dropped
        glyph should be."""
        if self.cn_engine is None:
            return []
        todo: list[tuple[_Line, np.ndarray, np.ndarray]] = []
        for ln in lines:
            t = ln.text
            # 7 characters: only when the first glyph is a non-province CJK glyph or unsure; a
            # confidently read Latin letter is a foreign plate (Slovak BA302OZ), not a CN one.
            if len(t) == 7 and (t[0] in PROVINCE_SET or not _CN_TAIL.match(t[1:])
                                or (t[0].isascii() and ln.char_conf[:1] and ln.char_conf[0] >= 0.9)):
                continue
            if len(t) == 6 and not _CN_TAIL.match(t):
                continue
            if len(t) not in (6, 7):
                continue
            todo.append((ln, ln.quad, crop_quad(work, ln.quad, pad=0.1)))
            if len(t) == 6:  # the glyph may lie outside the detected box, or inside it but dropped
                q = ln.quad.copy()
                q[[0, 3], 0] = np.maximum(q[[0, 3], 0] - 1.0 * ln.h, 0)
                todo.append((ln, q, crop_quad(work, q, pad=0.1)))
        if not todo:
            return []
        recs = self.cn_engine.recognize([c for _, _, c in todo], return_probs=True)
        out = []
        province_idx = _province_indices(self.cn_engine)
        charset = self.cn_engine.charset
        for (ln, q, _), r in zip(todo, recs, strict=True):
            text = normalise(r.text)
            if text:  # v4's own reading
                out.append(_Line(q, r, text, r.confidence, _norm_conf(r.text, r.char_conf), self.cn_engine))
            # v4's province glyph + the main recogniser's tail
            segs = [sg for sg in ctc_segments(r.probs) if normalise(charset[sg[0]])]
            if not segs:
                continue
            k, p = best_in(r.probs, 0, segs[0][2], province_idx)
            if p < PROVINCE_MIN_P:
                continue
            tail, tconf = (ln.text, ln.char_conf) if len(ln.text) == 6 else (ln.text[1:], ln.char_conf[1:])
            out.append(_Line(q, ln.rec, charset[k] + tail, ln.conf, [p, *tconf], self.cn_engine, fixed=True))
        return out

    def _province_fix(self, line: _Line) -> list[tuple[str, list[float]]]:
        """Alternative readings of a line with its first glyph decoded among the 31 provinces."""
        probs = line.rec.probs
        if line.fixed:
            return []
        engine = line.engine or self.engine
        charset = engine.charset
        province_idx = _province_indices(engine)
        if probs is None or not province_idx:
            return []
        segs = ctc_segments(probs)
        # segments of characters that survive normalisation (drop separators such as '·')
        kept = [s for s in segs if normalise(charset[s[0]])]
        if not kept:
            return []
        out = []
        first = kept[0]
        rest = "".join(normalise(charset[s[0]]) for s in kept[1:])
        rest_conf = [float(probs[s[1]:s[2] + 1, s[0]].max()) for s in kept[1:]]
        if charset[first[0]] not in PROVINCE_SET:
            # the first glyph was read, but as something else (e.g. 'M' for 川)
            k, p = best_in(probs, first[1], first[2], province_idx)
            if p > PROVINCE_MIN_P:
                out.append((charset[k] + rest, [p, *rest_conf]))
            # or the province glyph was dropped before it
            if first[1] > 0:
                k, p = best_in(probs, 0, first[1] - 1, province_idx)
                if p > PROVINCE_MIN_P:
                    first_conf = float(probs[first[1]:first[2] + 1, first[0]].max())
                    out.append((charset[k] + normalise(charset[first[0]]) + rest,
                                [p, first_conf, *rest_conf]))
        return out

    def _candidates(self, work: np.ndarray, lines: list[_Line]) -> list[_Candidate]:
        cands: list[_Candidate] = []

        def add(parts: list[_Line], text: str, conf: list[float], raw: str) -> None:
            if not conf:
                return
            two = len(parts) == 2
            for g in match(text, self.formats, conf=conf):
                if two and not g.strict:
                    continue  # a generic two-line guess is too loose
                g = self._layout_format(g, parts)
                mean = float(np.mean(conf))
                score = mean * (0.93 ** g.corrections)
                cands.append(_Candidate(parts, g, score, raw))

        for ln in lines:
            add([ln], ln.text, ln.char_conf, ln.rec.text)
            for text, conf in self._province_fix(ln):
                add([ln], text, conf, ln.rec.text)
        for top in lines:
            for bot in lines:
                if top is bot or not self._stacked(top, bot):
                    continue
                texts = [(top.text, top.char_conf)] + self._province_fix(top)
                for ttext, tconf in texts:
                    add([top, bot], ttext + bot.text, tconf + bot.char_conf, f"{top.rec.text} / {bot.rec.text}")
        cands.sort(key=lambda c: (c.grammar.cost, -c.score))
        return cands

    @staticmethod
    def _stacked(top: _Line, bot: _Line) -> bool:
        """`bot` sits right under `top`, overlapping horizontally, like the two lines of one plate."""
        if bot.y0 < top.y0 + 0.5 * top.h:
            return False
        gap = bot.y0 - top.y1
        if gap > 0.8 * max(top.h, bot.h) or gap < -0.4 * min(top.h, bot.h):
            return False
        overlap = min(top.x1, bot.x1) - max(top.x0, bot.x0)
        if overlap < 0.6 * min(top.w, bot.w):
            return False
        return 0.5 < top.h / bot.h < 2.0 and top.w < 1.6 * bot.w

    @staticmethod
    def _layout_format(g: GrammarMatch, parts: list[_Line]) -> GrammarMatch:
        """Name the format after the layout: one-line VN = vn_truck, two-line with a digit
        after the series letter = vn_moto, other two-line VN = vn_two_line."""
        name = g.format
        if g.country == "VN" and name in ("vn_truck", "vn_moto"):
            if len(parts) == 1:
                name = "vn_truck" if name == "vn_truck" or not g.text[3].isdigit() else name
            else:
                top_len = len(parts[0].text)
                name = "vn_moto" if top_len == 4 and g.text[3].isdigit() else "vn_two_line"
        if name == g.format:
            return g
        return GrammarMatch(g.text, name, g.country, g.corrections, g.groups, g.strict, g.tier, g.dropped_first)

    def _acceptable(self, c: _Candidate) -> bool:
        """Confident enough. A generic read (no national grammar to check it) must be sure of
        every character: a misread CN province glyph otherwise passes as a foreign plate."""
        confs = [x for ln in c.lines for x in ln.char_conf]
        if c.score < self.min_confidence:
            return False
        floor = self.min_char_confidence if c.grammar.tier < 2 else GENERIC_MIN_CHAR_CONF
        return not (confs and min(confs) < floor)

    @staticmethod
    def _non_overlapping(cands: list[_Candidate]) -> list[_Candidate]:
        """Cheapest candidate first, then further plates that use none of its lines or area.

        Further plates must match a national grammar with at most one fix: a second read only
        from the generic grammar is usually a sign or a date.
        """
        out: list[_Candidate] = []
        for c in cands:
            if out and (c.grammar.tier > 1 or c.grammar.cost > 1.3):
                continue
            if any(_overlap(c, o) for o in out):
                continue
            out.append(c)
        return out

    def _to_read(self, c: _Candidate, scale: float, pad: int, ox: int, oy: int) -> PlateRead:
        pts = np.concatenate([ln.quad for ln in c.lines])
        pts = (pts - pad) / scale
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        g = c.grammar
        return PlateRead(
            text=g.text,
            display=display(g.text, g.format, g.groups),
            country=g.country,
            format=g.format,
            confidence=round(c.score, 4),
            box=Box(x=x0 + ox, y=y0 + oy, w=max(int(x1) - x0, 1), h=max(int(y1) - y0, 1)),
            raw=c.raw,
        )

"""Licence-plate reader: text detection → line pairing → recognition → grammar → PlateRead.

No plate detector: the PP-OCR text detector finds text lines in the read zone (or the crop);
single lines and vertically stacked pairs (two-line plates: VN motorbike/square truck plates,
CN yellow rear plates) become candidates; each is validated against the VN/CN grammars (then a
generic one) with letter/digit fixes by position. A two-line plate is never fed whole to the
recogniser: if the detector returns one squarish box, it is split at the ink-profile minimum.

A wrong read is worse than a no-read, so three recognisers check each other (PP-OCRv6-small is
the main one; v4 and v5 re-read the same crops): CN-looking lines are voted (province glyph from
the recognisers' probabilities over the 31 provinces and a glyph classifier, tail slot by slot; a
leaning line is also read deskewed, and a slot the recognisers split on is settled by a character
classifier only when it is sure of one of the contenders), weak reads need a second
recogniser's agreement (`low_agreement` otherwise), and weak foreign reads go to a 2-of-3 vote.
Weak or ambiguous reads become explicit no-reads with a reason.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np

from edge.domain.plate_grammar import (
    CN_PROVINCES,
    FORMAT_NAMES,
    PROVINCE_SET,
    STICKER_SLOTS,
    GrammarMatch,
    display,
    match,
    normalise,
)
from edge.domain.types import Box, PlateRead
from edge.readers.cn_province import GLYPH_OF_LINE, TOP_ASPECT, TOP_PITCH, ProvinceClassifier
from edge.readers.cn_serial import SerialClassifier, serial_pitch
from edge.readers.ocr.ctc import best_in, ctc_segments
from edge.readers.ocr.engine import OcrEngine, RecResult, _charset, crop_quad
from edge.readers.plate_cn_slots import (
    SlotReading,
    TailVote,
    join,
    read_slots,
    slot_centres,
    vote_slots,
    vote_tail,
)
from edge.readers.slant import deskew

PROVINCE_MIN_P = 0.3  # lowest probability for a province glyph re-decoded among the 31
PROVINCE_AGREED_MIN_P = 0.15  # the same, when several recognisers agree on the glyph
PROVINCE_MARGIN = 0.5  # the runner-up province must be below this fraction of the winner
PROVINCE_SEEN_P = 0.05  # below this a recogniser's best province probability means it saw none
GLYPH_SURE = 0.9  # province classifier: lowest probability for its glyph to count as a vote
GLYPH_VETO = 0.05  # ... and below this it objects to the recognisers' glyph
GLYPH_WEAK_P = 0.5  # its lowest probability for a glyph that every recogniser only faintly prefers
SERIAL_SURE = 0.9  # serial classifier: lowest probability for it to settle a contested slot
MIN_SLANT = 0.1  # |shear| of a CN line crop (x shift per row) from which it is also read deskewed
TAIL_UNCONFIRMED = 0.5  # confidence cap of a CN tail the recognisers disagree on (tie): a no-read
_CN_TAIL = re.compile(r"^[A-HJ-NP-Z][A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳]$")
_CN_SERIAL = re.compile(r"^[A-HJ-NP-Z0-9]{5}$")
_ROUND = frozenset("0口")  # what a Q or D authority letter is misread as
GENERIC_MIN_CHAR_CONF = 0.8
MAJORITY_BELOW = 0.9  # foreign reads whose weakest character is below this are put to a 2-of-3 vote
CROSS_CHECK_BELOW = 0.55  # a read whose weakest character is below this needs a second recogniser's agreement
SMALL_SIDE = 64  # crops whose short side is below this are upscaled before detection
TOP_REDETECT_SIDE = 160  # the band above a CN serial is enlarged to this short side to find its top line
CROWDED_COST = 0.5  # foreign/generic reads inside a block of text lines (road signs) rank below isolated ones
MAX_LINES = 24  # recognise at most this many text lines per image (largest first)
GATE_SIDE = 480  # `find_plates`: the detector's input long side (~4x fewer pixels than a 960 px read)
GATE_MIN_H = 12.0  # `find_plates`: text lines lower than this (image pixels) are too small to read anyway


@dataclass
class _Line:
    quad: np.ndarray  # in the working image
    rec: RecResult
    text: str  # normalised
    conf: float
    char_conf: list[float] = field(default_factory=list)
    engine: OcrEngine | None = None  # the recogniser that produced `rec` when not the main one
    fixed: bool = False  # text already carries a re-decoded province glyph
    voted: bool = False  # CN reading voted by several recognisers (see PlateReader._vote)
    cn_only: bool = False  # looked like a CN plate: only the voted CN reading may come from it

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
    conf: list[float] = field(default_factory=list)  # per character of grammar.text's source, emblems dropped


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


@cache
def _province_columns(rec_name: str) -> tuple[int, ...]:
    """Charset column of each of the 31 provinces, in CN_PROVINCES order (-1: not in the charset)."""
    index = {c: i for i, c in enumerate(_charset(rec_name))}
    return tuple(index.get(c, -1) for c in CN_PROVINCES)


def _ascii_fold(text: str) -> str:
    """Accents dropped ('Á' → 'A'): a glyph smudged into an accented letter is still that letter."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _cn_shape(ln: _Line) -> int | None:
    """7, 6 or 5 when the line looks like a CN plate (whole, province glyph dropped, province
    and authority letter dropped), else None. A confidently read Latin first letter on a
    7-character line is a foreign plate (Slovak BA302OZ), not a CN one; a 5-character serial
    needs a letter and three digits (VN bottom lines are all digits)."""
    t = _ascii_fold(ln.text)
    if len(t) >= 6:  # I and O never occur in a CN serial: they are 1 and 0 there
        t = t[: len(t) - 5] + _serial_fix(t[len(t) - 5 :])
    if len(t) == 7 and _CN_TAIL.match(t[1:]):
        first_sure = t[0].isascii() and bool(ln.char_conf[:1]) and ln.char_conf[0] >= 0.9
        return None if first_sure else 7
    if len(t) == 6 and _CN_TAIL.match(t):
        return 6
    if len(t) == 6 and not t[0].isascii() and _CN_SERIAL.match(t[1:]):
        return 7  # glyph misread as another CJK glyph and the letter dropped (底K5358)
    # the authority letter (Q, D) read as a round non-letter: 0 or 口 (皖Q18632 as 编口18632,
    # 皖Q06417 as 006417 with the glyph outside the box); the constrained vote re-decodes it
    if len(t) == 7 and not t[0].isascii() and t[1] in _ROUND and _CN_SERIAL.match(t[2:]):
        return 7
    if len(t) == 6 and t[0] in _ROUND and _CN_SERIAL.match(t[1:]) and sum(c.isdigit() for c in t[1:]) >= 3:
        return 6
    if (len(t) == 5 and _CN_SERIAL.match(t) and sum(c.isdigit() for c in t) >= 3
            and any(c.isalpha() for c in t)):
        return 5
    return None


def _cn_tail(text: str, conf: list[float]) -> tuple[str, list[float]] | None:
    """The 6 characters after the province glyph (authority letter + serial), I/O fixed to 1/0
    in the serial, from a reading with or without its province glyph."""
    t = _ascii_fold(text)
    if len(t) != len(conf):
        conf = (conf + [min(conf, default=0.0)] * len(t))[: len(t)]
    skip = len(t) - 6
    if skip < 0 or skip > 2 or (skip == 2 and t[1].isascii()):
        return None
    tail = t[skip] + _serial_fix(t[skip + 1 :])
    return (tail, conf[skip:]) if _CN_TAIL.match(tail) else None


def _province_choice(seen: list[np.ndarray]) -> tuple[int, float] | None:
    """Province index and confidence from each recogniser's probabilities over the 31 glyphs.

    A strict majority of recognisers naming the same glyph wins even when each is weak (陕 read
    by all three at 0.2–0.4, with 候/铁 as their free readings); its confidence is their noisy-OR.
    Without a majority, the mean probability decides, and only with a clear margin when the
    recognisers name different glyphs (粤 vs 鄂 is a guess, so a no-read).
    """
    names = Counter(int(v.argmax()) for v in seen)
    (k, n), *rest = names.most_common()
    if n >= 2 and (not rest or rest[0][1] < n):
        agreeing = [v[k] for v in seen if int(v.argmax()) == k]
        if float(np.mean(agreeing)) < PROVINCE_AGREED_MIN_P:
            return None
        return k, 1.0 - float(np.prod([1.0 - x for x in agreeing]))
    mean = np.mean(seen, axis=0)
    second, best = np.sort(mean)[-2:]
    if best < PROVINCE_MIN_P or (len(names) > 1 and second > PROVINCE_MARGIN * best):
        return None
    return int(mean.argmax()), float(best)


def _with_glyph_vote(choice: tuple[int, float] | None, seen: list[np.ndarray], glyph: np.ndarray,
                     weak: list[np.ndarray] = ()) -> tuple[int, float] | None:
    """The recognisers' province choice checked by the glyph classifier's probabilities.

    The classifier (synthetic training only) is one more voter with a veto, not a reader: a glyph
    it is sure of (≥ GLYPH_SURE) fills in a province no recogniser saw or agreed on, unless a
    recogniser clearly named another one (≥ PROVINCE_MIN_P); so does a glyph it clearly favours
    (≥ GLYPH_WEAK_P, twice its runner-up) that is also the best province of every recogniser's
    `weak` (unfiltered) probabilities — two independent faint signals agreeing (川R35779: 0.002–0.02
    for 川 in all three recognisers). A recogniser choice the classifier gives almost nothing while
    sure of another glyph becomes a no-read (湘 read as 浙 by all three).
    """
    c = int(glyph.argmax())
    second = float(np.sort(glyph)[-2])
    sure = float(glyph[c]) >= GLYPH_SURE
    if choice is not None:
        k, p = choice
        if k != c and sure and glyph[k] < GLYPH_VETO:
            return None
        return choice
    if not sure:
        faint = (len(weak) >= 2 and all(int(v.argmax()) == c for v in weak)
                 and glyph[c] >= GLYPH_WEAK_P and second <= 0.5 * glyph[c])
        return (c, float(glyph[c])) if faint else None
    if any(int(v.argmax()) != c and float(v.max()) >= PROVINCE_MIN_P for v in seen):
        return None
    return c, float(glyph[c])


def _kept_conf(g: GrammarMatch, conf: list[float]) -> list[float]:
    """Confidences of the characters the match kept: a dropped EU band or emblem (often read
    weakly) must not make the plate's own characters look unsure."""
    if g.dropped_first:
        return conf[1:]
    if g.dropped_sticker and g.format in STICKER_SLOTS:
        slot = STICKER_SLOTS[g.format]
        return conf[:slot] + conf[slot + 1 :]
    return conf


def _serial_fix(serial: str) -> str:
    return serial.replace("I", "1").replace("O", "0")


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


def _crowded(c: _Candidate, lines: list[_Line]) -> bool:
    """Another text line of similar height sits right above or below the candidate, overlapping it
    horizontally: a block of sign text (EXIT 79B over NORTH), not an isolated plate. Lines of a
    plate's own frame or dealer strip are much smaller and do not count."""
    own = {id(x) for x in c.lines}
    x0, x1 = min(x.x0 for x in c.lines), max(x.x1 for x in c.lines)
    y0, y1 = min(x.y0 for x in c.lines), max(x.y1 for x in c.lines)
    h = y1 - y0
    for ln in lines:
        if id(ln) in own or ln.voted or not 0.7 * h <= ln.h <= 1.6 * h:
            continue
        if min(x1, ln.x1) - max(x0, ln.x0) <= 0:
            continue
        gap = max(ln.y0 - y1, y0 - ln.y1)
        if -0.3 * h < gap < 0.6 * h:
            return True
    return False


def _extents_along(ref: _Line, ln: _Line) -> tuple[float, float, float, float]:
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


def _all_digit_serial(ln: _Line) -> bool:
    """Five digits (O/I read for 0/1 allowed): a CN serial without a letter, or a VN bottom line."""
    t = _serial_fix(_ascii_fold(ln.text))
    return len(t) == 5 and t.isdigit()


def _cn_top_like(top: _Line) -> bool:
    """The small top line of a CN two-line plate reads as the province glyph and the authority
    letter (1–3 characters, however misread, without a digit in the first two); a VN two-line
    plate's top line starts with its 2-digit province code."""
    t = _ascii_fold(top.text)
    return 1 <= len(t) <= 3 and not any(c.isdigit() for c in t[:2])


def _small_top(top: _Line, bot: _Line) -> bool:
    """`top` is the small upper line of a CN two-line plate over the serial line `bot`: 0.3–0.8 of
    its height, right above it, centred over it and not wider."""
    if not 0.3 <= top.h / bot.h <= 0.8 or top.w > 1.1 * bot.w:
        return False
    gap = bot.y0 - top.y1
    # The detector often draws the serial's box up into the small top line (overlap up to ~0.6 of its height).
    if gap < -0.7 * top.h or gap > 0.6 * bot.h:
        return False
    return bot.x0 <= (top.x0 + top.x1) / 2 <= bot.x1


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
        check_engine: OcrEngine | None = None,
        glyph_model: ProvinceClassifier | bool = True,
        serial_model: SerialClassifier | bool = True,
    ):
        self.engine = engine or OcrEngine()
        # PP-OCRv4 re-reads CN-looking lines (sessions are shared process-wide)
        self.cn_engine = cn_engine if cn_engine is not None else OcrEngine(
            det=self.engine.det_name, rec="v4", threads=self.engine.threads)
        # PP-OCRv5: third voter on CN-looking lines
        self.check_engine = check_engine if check_engine is not None else OcrEngine(
            det=self.engine.det_name, rec="v5", threads=self.engine.threads)
        # province-glyph classifier, one more vote on the province (True: the shipped model; False: off)
        self.glyph_model = (ProvinceClassifier(threads=self.engine.threads) if glyph_model is True
                            else glyph_model or None)
        # serial-character classifier: settles slots the recognisers split on (True: shipped model)
        self.serial_model = (SerialClassifier(threads=self.engine.threads) if serial_model is True
                             else serial_model or None)
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
        chosen = [c for c in (self._majority(work, c) for c in self._non_overlapping(accepted))
                  if self._confirmed(work, c)]
        if not chosen:
            best = accepted[0]
            return [PlateRead(raw=best.raw, reason="low_agreement", confidence=round(best.score, 4))]
        return [self._to_read(c, scale, pad, ox, oy) for c in chosen]

    def find_plates(self, image: np.ndarray, max_side: int = GATE_SIDE, min_h: float = GATE_MIN_H) -> list[Box]:
        """Where plate-like text may be, cheaply: the text detector alone on a small copy (no recognition), boxes
        of text lines shaped like a plate or a plate line (1.2:1 to 8:1) at least `min_h` pixels tall in `image`
        and at most 30 % of its height (a radiator grille is a tall block of "lines"). The pipeline runs the
        full `read_all` only where this finds something new (issue 18)."""
        if image is None or image.size == 0:
            return []
        out = []
        top = 0.3 * image.shape[0]
        for q in self.engine.detect(image, max_side=max_side, min_side=SMALL_SIDE):
            x0, y0 = q.min(axis=0)
            x1, y1 = q.max(axis=0)
            w, h = float(x1 - x0), float(y1 - y0)
            if min_h <= h <= top and 1.2 <= w / max(h, 1.0) <= 8.0:
                out.append(Box(x=int(x0), y=int(y0), w=max(1, int(round(w))), h=max(1, int(round(h)))))
        return out

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
        """Vote of three recognisers on lines that look like a CN plate.

        The general recognisers confuse province glyphs (粤/鄂, 湘/浙), misread them as other CJK
        glyphs (候, 底) or drop them, each on different plates. Every CN-looking line is re-read
        by PP-OCRv4 and PP-OCRv5 (and a line missing one or two leading characters also from a
        crop widened to the left); the province glyph is the argmax of the recognisers' mean
        probability over the 31 provinces, the 6-character tail the majority reading. The line
        then yields only this voted CN reading (`cn_only`): a line that looked like a damaged CN
        plate must not come out as a foreign or generic plate (R35779 for 川R35779).
        """
        todo: list[tuple[_Line, np.ndarray, np.ndarray, bool]] = []  # line, quad, crop, glyph strip only
        for ln in lines:
            kind = _cn_shape(ln)
            if kind is None:
                continue
            crop = crop_quad(work, ln.quad, pad=0.1)
            todo.append((ln, ln.quad, crop, False))
            # an obliquely seen plate leans in its (rotated-rectangle) box: all three recognisers also
            # read it deskewed (川A019W2 leaning ≈ 30°: NAO19N2 as boxed, 川A019W2 deskewed). Shearing
            # about mid-height keeps the slot centres, so the deskewed reading shares the box's quad.
            upright, shear = deskew(crop)
            if abs(shear) >= MIN_SLANT:
                todo.append((ln, ln.quad.copy(), upright, False))
            if kind < 7:  # the glyph(s) may lie outside the detected box, or inside it but dropped
                q = ln.quad.copy()
                q[[0, 3], 0] = np.maximum(q[[0, 3], 0] - (1.0 if kind == 6 else 1.8) * ln.h, 0)
                todo.append((ln, q, crop_quad(work, q, pad=0.1), False))
        if not todo:  # a two-line plate with an all-digit serial has no CN-shaped line of its own
            return self._cn_two_line(work, lines)
        crops = [t[2] for t in todo]
        reads: dict[int, list[tuple[OcrEngine, RecResult, np.ndarray, bool]]] = {}
        for eng in (self.cn_engine, self.check_engine):
            for (ln, q, _, glyph), r in zip(todo, eng.recognize(crops, return_probs=True), strict=True):
                reads.setdefault(id(ln), []).append((eng, r, q, glyph))
        # the main recogniser's reading of the extra crops (its reading of the box is ln.rec)
        extra = [k for k, t in enumerate(todo) if t[1] is not t[0].quad]
        for k, r in zip(extra, self.engine.recognize([crops[k] for k in extra], return_probs=True), strict=True):
            reads[id(todo[k][0])].append((self.engine, r, todo[k][1], todo[k][3]))
        out = []
        for ln in {id(t[0]): t[0] for t in todo}.values():
            voted = self._vote(ln, [(self.engine, ln.rec, ln.quad, False), *reads.get(id(ln), [])], work)
            # a Latin first letter with no province glyph found may be a foreign plate (RK896AO)
            ln.cn_only = voted is not None or len(ln.text) < 7 or not ln.text[0].isascii()
            if voted is not None:
                out.append(voted)
        out += self._cn_two_line(work, lines)
        return out

    def _cn_two_line(self, work: np.ndarray, lines: list[_Line]) -> list[_Line]:
        """CN two-line plates (yellow rear plates of trucks and buses): a small top line with the
        province glyph and authority letter centred over a 5-character serial. The pair is read by
        all three recognisers under the split template (2 slots on top, 5 below) and voted like a
        one-line plate; the general pairing misses it because the top line is half as tall."""
        out = []
        for bot in lines:
            if bot.voted:
                continue
            lettered = _cn_shape(bot) == 5
            if not lettered and not _all_digit_serial(bot):
                continue
            # an all-digit serial (common on truck plates) could be a VN bottom line: it needs a top
            # line that reads like "province · letter" (no digit), not like a VN "59-Y1"
            tops = [t for t in lines if t is not bot and not t.voted and _small_top(t, bot)
                    and (lettered or _cn_top_like(t))]
            guessed = False
            if not tops and not any(self._stacked(t, bot) for t in lines if t is not bot):
                # the detector often misses the small top line of a distant or blurred plate: look
                # again, enlarged, above the serial (a line stacked above `bot` means another layout)
                guess = self._top_above(work, bot)
                if guess is not None and (lettered or _cn_top_like(guess)):
                    tops, guessed = [guess], True
            if not tops:
                continue
            top = min(tops, key=lambda t: bot.y0 - t.y1)
            crops = [crop_quad(work, top.quad, pad=0.1), crop_quad(work, bot.quad, pad=0.1)]
            prov: list[np.ndarray] = []
            slot_reads: list[SlotReading] = []
            top_reads: list[SlotReading] = []
            for eng in (self.engine, self.cn_engine, self.check_engine):
                rt, rb = eng.recognize(crops, return_probs=True)
                idx = _province_columns(eng.rec_name)
                prov.append(np.array([rt.probs[:, i].max() if i >= 0 else 0.0 for i in idx]))
                st = read_slots(rt.probs, eng.rec_name, 0, 2)
                sb = read_slots(rb.probs, eng.rec_name, 2, 7)
                if st is not None:
                    top_reads.append(st)
                if st is not None and sb is not None:
                    slot_reads.append(join(st, sb))
            seen = [v for v in prov if v.max() >= PROVINCE_SEEN_P]
            if guessed and not seen:
                continue  # no recogniser sees a province glyph where the top line should be
            choice = _province_choice(seen) if seen else None
            if self.glyph_model is not None and top_reads:
                # the same vote and veto as on one-line plates; the top line's glyph is about as
                # wide as tall, so its window is wider (TOP_ASPECT) and squeezed to a square, and it
                # is found one pitch left of the authority letter (recognisers that do not see the
                # glyph put its CTC slot anywhere before the letter)
                st = min(top_reads, key=lambda r: r.path.penalty)
                vec = self._glyph_vector(work, top.quad, st, 1, TOP_ASPECT, -TOP_PITCH)
                choice = _with_glyph_vote(choice, seen, vec, prov)
            tail = vote_tail(slot_reads) if choice is not None else None
            if tail is None:
                continue
            (k, p), (text, conf) = choice, tail
            quad = np.concatenate([top.quad, bot.quad])
            x0, y0 = quad.min(axis=0)
            x1, y1 = quad.max(axis=0)
            box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
            out.append(_Line(box, bot.rec, CN_PROVINCES[k] + text, bot.conf, [p, *conf], self.cn_engine,
                             fixed=True, voted=True))
        return out

    def _top_above(self, work: np.ndarray, bot: _Line) -> _Line | None:
        """The small "province · letter" line of a CN rear plate over the serial line `bot`, found
        by detecting text again in the band above `bot` (measured along its own axes), enlarged:
        at frame scale the detector often misses a line half as tall as the serial. None when no
        line there sits like that top line (`_small_top`, centred above the serial's top edge)."""
        q = bot.quad.astype(np.float64)
        along = (q[1] - q[0] + q[2] - q[3]) / 2
        down = (q[3] - q[0] + q[2] - q[1]) / 2
        band = np.array([q[0] - 0.1 * along - down, q[1] + 0.1 * along - down,
                         q[1] + 0.1 * along + 0.12 * down, q[0] - 0.1 * along + 0.12 * down], np.float32)
        w = max(int(round(1.2 * float(np.hypot(*along)))), 8)
        h = max(int(round(1.12 * float(np.hypot(*down)))), 8)
        to_band = cv2.getPerspectiveTransform(band, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))
        crop = cv2.warpPerspective(work, to_band, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        back = np.linalg.inv(to_band)
        quads = [cv2.perspectiveTransform(d.reshape(-1, 1, 2).astype(np.float64), back).reshape(4, 2).astype(np.float32)
                 for d in self.engine.detect(crop, min_side=TOP_REDETECT_SIDE)]
        if not quads:
            return None
        recs = self.engine.recognize([crop_quad(work, wq, pad=0.1) for wq in quads], return_probs=True)
        found = [_Line(wq, r, normalise(r.text), r.confidence, _norm_conf(r.text, r.char_conf))
                 for wq, r in zip(quads, recs, strict=True) if normalise(r.text)]
        tops = [t for t in found if _small_top(t, bot) and (t.y0 + t.y1) / 2 < bot.y0]
        return min(tops, key=lambda t: bot.y0 - t.y1) if tops else None

    def _vote(self, ln: _Line, readings: list[tuple[OcrEngine, RecResult, np.ndarray, bool]],
              work: np.ndarray | None = None) -> _Line | None:
        """Province glyph by the recognisers' mean constrained probability (each recogniser's best
        over its crops: the glyph may be inside only the widened one), tail by majority."""
        prov: dict[str, np.ndarray] = {}
        slot_reads: dict[str, tuple[SlotReading, np.ndarray]] = {}  # per recogniser: its best-fitting crop
        for eng, r, q, glyph in readings:
            if r.probs is None:
                continue
            charset = eng.charset
            segs = [sg for sg in ctc_segments(r.probs) if normalise(charset[sg[0]])]
            if not segs and not glyph:
                continue
            idx = _province_columns(eng.rec_name)
            window = r.probs if glyph else r.probs[: segs[0][2] + 1]
            vec = np.array([window[:, i].max() if i >= 0 else 0.0 for i in idx])
            prov[eng.rec_name] = np.maximum(prov.get(eng.rec_name, vec), vec)
            if glyph:
                continue
            sr = read_slots(r.probs, eng.rec_name)
            old = slot_reads.get(eng.rec_name)
            if sr is not None and (old is None or sr.path.penalty < old[0].path.penalty):
                slot_reads[eng.rec_name] = (sr, q)
        if not prov or not slot_reads:
            return None
        # a recogniser that saw no province glyph at all (dropped it) abstains
        seen = [v for v in prov.values() if v.max() >= PROVINCE_SEEN_P]
        choice = _province_choice(seen) if seen else None
        if self.glyph_model is not None and work is not None:
            sr, q = min(slot_reads.values(), key=lambda v: v[0].path.penalty)
            choice = _with_glyph_vote(choice, seen, self._glyph_vector(work, q, sr, 0), list(prov.values()))
        if choice is None:
            return None
        k, p = choice
        vote = vote_slots([sr for sr, _ in slot_reads.values()])
        if vote is None:
            return None
        q = min(slot_reads.values(), key=lambda v: v[0].path.penalty)[1]
        same_crop = [sr for sr, q2 in slot_reads.values() if np.array_equal(q2, q)]
        if work is None:
            text, conf = vote.text, vote.conf
        else:
            text, conf = self._settle(work, q, same_crop, vote)
        return _Line(q, ln.rec, CN_PROVINCES[k] + text, ln.conf, [p, *conf], self.cn_engine, fixed=True,
                     voted=True)

    def _settle(self, work: np.ndarray, quad: np.ndarray, reads: list[SlotReading],
                vote: TailVote) -> tuple[str, list[float]]:
        """The voted tail with its contested slots settled by the serial classifier where it is
        sure (≥ SERIAL_SURE) of one of the contenders; other contested slots keep confidence 0.
        `reads`: the recognisers' constrained readings of the crop of `quad`; a glyph's centre is
        the mean of their slot centres (one CTC step is about half a glyph pitch)."""
        text, conf = list(vote.text), list(vote.conf)
        if self.serial_model is None or not vote.contests or not reads:
            return vote.text, conf
        for i, probs in self._serial_probs(work, quad, reads, list(vote.contests)).items():
            best = max(probs, key=probs.__getitem__)
            if best in vote.contests[i] and probs[best] >= SERIAL_SURE:
                text[i], conf[i] = best, probs[best]
        return "".join(text), conf

    def _serial_probs(self, work: np.ndarray, quad: np.ndarray, reads: list[SlotReading],
                      tail: list[int]) -> dict[int, dict[str, float]]:
        """The serial classifier's probabilities for tail indices `tail` (template slot i + 1) of
        the line crop of `quad`, each glyph centred on the recognisers' mean slot position."""
        assert self.serial_model is not None
        crop = crop_quad(work, quad, pad=0.1)
        xs = slot_centres(reads, crop.shape[0])
        pitch = serial_pitch(xs[2:7], GLYPH_OF_LINE * crop.shape[0])
        return {i: self.serial_model.glyph_probs(crop, xs[i + 1], pitch) for i in tail}

    def _glyph_vector(self, work: np.ndarray, quad: np.ndarray, sr: SlotReading, slot: int,
                      aspect: float = 1.0, offset: float = 0.0) -> np.ndarray:
        """Province classifier's probabilities for the glyph at `slot` of a constrained reading of
        the line `quad` (CTC step t covers crop columns 8t..8t+8 at the recogniser's 48-px height),
        moved by `offset` crop heights."""
        assert self.glyph_model is not None
        crop = crop_quad(work, quad, pad=0.1)
        s = sr.path.slots[slot]
        x = (4.0 * (s.first + s.last + 1) / 48 + offset) * crop.shape[0]
        return self.glyph_model.line_vector(crop, x, aspect=aspect)

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
                if not two and parts[0].cn_only and not parts[0].voted:
                    continue  # only the voted reading speaks for a CN-looking line
                g = self._layout_format(g, parts)
                kept = _kept_conf(g, conf)
                score = float(np.mean(kept)) * (0.93 ** g.corrections)
                cands.append(_Candidate(parts, g, score, raw, kept))

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
        cands.sort(key=lambda c: (c.grammar.cost + (CROWDED_COST if c.grammar.tier and _crowded(c, lines) else 0.0),
                                  -c.score))
        return cands

    @staticmethod
    def _stacked(top: _Line, bot: _Line) -> bool:
        """`bot` sits right under `top`, overlapping horizontally, like the two lines of one plate.

        Measured along the top line's own axes: on a tilted plate the upright boxes of its two
        lines overlap vertically, which would otherwise look like one line drawn over another.
        """
        tx0, tx1, ty0, ty1 = _extents_along(top, top)
        bx0, bx1, by0, by1 = _extents_along(top, bot)
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
        return dataclasses.replace(g, format=name)

    def _acceptable(self, c: _Candidate) -> bool:
        """Confident enough. A generic read (no national grammar to check it) must be sure of
        every character: a misread CN province glyph otherwise passes as a foreign plate."""
        confs = c.conf
        if c.score < self.min_confidence:
            return False
        floor = self.min_char_confidence if c.grammar.tier < 2 else GENERIC_MIN_CHAR_CONF
        return not (confs and min(confs) < floor)

    def _majority(self, work: np.ndarray, c: _Candidate) -> _Candidate:
        """Foreign plates: when PP-OCRv4 and v5 agree on another reading in the same format and the
        main recogniser was unsure, two of three recognisers win (RK884AL over RK384AL). Not for
        VN/CN: their templates accept the older models' typical slips (Y/V, 2/Z) as valid plates."""
        confs = c.conf
        if c.grammar.tier < 1 or not confs or min(confs) >= MAJORITY_BELOW:
            return c
        crops = [crop_quad(work, ln.quad, pad=0.1) for ln in c.lines]
        others = []
        for eng in (self.cn_engine, self.check_engine):
            recs = eng.recognize(crops)
            text = "".join(normalise(r.text) for r in recs)
            conf = [x for r in recs for x in _norm_conf(r.text, r.char_conf)]
            same = [m for m in match(text, self.formats, conf=conf or None) if m.format == c.grammar.format]
            others.append((same[0] if same else None, conf))
        (a, conf_a), (b, _) = others
        if a is None or b is None or a.text != b.text or a.text == c.grammar.text:
            return c
        kept = _kept_conf(a, conf_a)
        return _Candidate(c.lines, a, float(np.mean(kept)) * (0.93 ** a.corrections), c.raw, kept)

    def _confirmed(self, work: np.ndarray, c: _Candidate) -> bool:
        """A read with a weak character must be confirmed by a second recogniser (PP-OCRv4 or
        v5 reading the same crops to the same grammar text); single-recogniser digit slips
        (59Y114665 for 59Y144665) are the main VN wrong reads. CN reads were already voted."""
        confs = c.conf
        if any(ln.voted for ln in c.lines) or not confs or min(confs) >= CROSS_CHECK_BELOW:
            return True
        crops = [crop_quad(work, ln.quad, pad=0.1) for ln in c.lines]
        for eng in (self.cn_engine, self.check_engine):
            text = "".join(normalise(r.text) for r in eng.recognize(crops))
            if any(m.text == c.grammar.text for m in match(text, self.formats)):
                return True
        return False

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

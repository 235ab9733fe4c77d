"""CN plates: the three-recogniser vote on lines that look like a CN plate, one-line and two-line.

The general recognisers confuse province glyphs (粤/鄂, 湘/浙), misread them as other CJK glyphs
(候, 底) or drop them, each on different plates. So every CN-looking line is re-read by PP-OCRv4 and
PP-OCRv5 (a leaning line also deskewed, a line missing leading characters also from a crop widened to
the left), the province glyph is voted over the 31 provinces (with the glyph classifier as one more
voter with a veto, `plate_cn_province`), the tail slot by slot under the CN template (`plate_cn_slots`),
and a slot the recognisers split on is settled by the serial classifier only when it is sure of one of
the contenders. CN two-line plates (small "province · letter" line over a 5-character serial) are read
under the split template. Each vote yields one extra `TextLine` marked `voted`; the candidate step
(`plate_candidates`) matches it against the grammars like any other line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import cv2
import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES, normalise
from edge.readers.cn_province import GLYPH_OF_LINE, TOP_ASPECT, TOP_PITCH, ProvinceClassifier
from edge.readers.cn_serial import SerialClassifier, serial_pitch
from edge.readers.ocr.ctc import ctc_segments
from edge.readers.ocr.engine import OcrEngine, RecResult, crop_quad
from edge.readers.plate_cn_province import (
    PROVINCE_SEEN_P,
    province_choice,
    province_columns,
    with_glyph_vote,
)
from edge.readers.plate_cn_slots import (
    SlotReading,
    TailVote,
    join,
    read_slots,
    slot_centres,
    vote_slots,
    vote_tail,
)
from edge.readers.plate_cn_text import all_digit_serial, cn_shape, cn_top_like
from edge.readers.plate_lines import TextLine, norm_conf, small_top, stacked
from edge.readers.slant import deskew

LLL_DDD = re.compile(r"[A-Z]{3}\d{3}")  # old three-letter, three-digit plates (AR, UY, …)
SERIAL_SURE = 0.9  # serial classifier: lowest probability for it to settle a contested slot
MIN_SLANT = 0.1  # |shear| of a CN line crop (x shift per row) from which it is also read deskewed
LOOKALIKE_DOUBT: float | None = 0.2  # see plate_cn_slots.LOOKALIKES (None: only a 0 doubted as Q); docs/accuracy.md
PLATE_COLOUR_MIN = 0.3  # share of plate-coloured pixels from which a line is on a plate of that colour (colour_share)
# yellow too (large vehicles' plates, the trucks at a gate): 沪BK0490 read as the Brazilian PBK0490 on yellow crops
# in scenes; a yellow foreign plate with a CN tail and a band (UK rear plates) is not expected at a VN-CN gate
EVIDENCE_COLOURS = ("blue", "yellow")
PROVINCE_EVIDENCE = 0.05  # see CnPlateReader.rereads; chosen on training crops in scenes (docs/accuracy.md)
TOP_REDETECT_SIDE = 160  # the band above a CN serial is enlarged to this short side to find its top line

# one recogniser's reading of one crop of a line: (recogniser, result, the crop's quad, glyph strip only)
Reading = tuple[OcrEngine, RecResult, np.ndarray, bool]


# OpenCV hue ranges (0-180) of CN plate backgrounds: ordinary blue plates, large vehicles' yellow ones
PLATE_HUES = {"blue": (95, 130, 70, 40), "yellow": (15, 35, 80, 80)}  # hue from, to, least saturation and value


def colour_share(work: np.ndarray, quad: np.ndarray, colours: tuple[str, ...] = ("blue",)) -> float:
    """The share of a line's pixels in any of the plate `colours` (PLATE_HUES): a CN plate is that colour behind
    its characters; an EU plate's blue band is a fifth of its width at most."""
    crop = crop_quad(work, quad, pad=0.0)
    if crop.size == 0 or crop.ndim != 3 or not colours:
        return 0.0
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hit = np.zeros(h.shape, bool)
    for name in colours:
        lo, hi, min_s, min_v = PLATE_HUES[name]
        hit |= (h >= lo) & (h <= hi) & (s >= min_s) & (v >= min_v)
    return float(hit.mean())


class CnPlateReader:
    """Votes the three recognisers (and the two classifiers) on the CN-looking lines of one image."""

    def __init__(self, engine: OcrEngine, cn_engine: OcrEngine, check_engine: OcrEngine,
                 glyph_model: ProvinceClassifier | None, serial_model: SerialClassifier | None,
                 province_evidence: float = PROVINCE_EVIDENCE, lookalike_doubt: float | None = LOOKALIKE_DOUBT,
                 evidence_colours: tuple[str, ...] = EVIDENCE_COLOURS):
        self.engine = engine  # the main recogniser (its reading of each line's box is already there)
        self.cn_engine = cn_engine
        self.check_engine = check_engine
        self.glyph_model = glyph_model
        self.serial_model = serial_model
        # a recogniser's province probability from which a CN-looking line is never a foreign plate (> 1: off)
        self.province_evidence = province_evidence
        self.evidence_colours = tuple(evidence_colours)  # plate colours (PLATE_HUES) the province evidence holds on
        # a serial character a recogniser reads as its look-alike this much is contested (plate_cn_slots.LOOKALIKES)
        self.lookalike_doubt = lookalike_doubt

    def rereads(self, work: np.ndarray, lines: list[TextLine]) -> list[TextLine]:
        """Voted readings of the lines that look like a CN plate, one-line and two-line.

        The province glyph is the recognisers' vote over the 31 provinces, the 6-character tail the
        majority reading. The line then yields only this voted CN reading (`cn_only`): a line that
        looked like a damaged CN plate must not come out as a foreign or generic plate (R35779 for
        川R35779). Sets `cn_only` on the lines it voted on.
        """
        todo = self._crops_to_reread(work, lines, self._plate_coloured if self.province_evidence <= 1.0 else None)
        if not todo:  # a two-line plate with an all-digit serial has no CN-shaped line of its own
            return self.two_line(work, lines)
        crops = [t[2] for t in todo]
        reads: dict[int, list[Reading]] = {}
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
            # a Latin first letter with no province glyph found may be a foreign plate (RK896AO); so may a
            # 6-character line of three letters and three digits (the old ABC 123 of Argentina and many others:
            # 72 of 79 real Argentine crops were no-reads when every 6-character line was held as CN, while no CN
            # read changed on 600 real CN crops or the dev set). A CN tail of another shape (AB1234) stays CN.
            # Either way, a blue or yellow plate where a recogniser saw a province glyph (≥ province_evidence)
            # before its first Latin character is a CN plate whose glyph was lost, not a foreign one: on worse
            # cameras the glyph turns into a confident Latin letter (皖AN5674 → MAN5674, a Brazilian plate) or
            # vanishes (皖AEC782 → AEC782, an Argentine one). The colour, because an EU plate's blue band draws the
            # same evidence (0.05-0.76 on Slovak plates, 0.07-0.998 on CN ones) while a CN plate is its colour behind
            # its characters (38-83 % of the line's pixels blue on CN plates in scenes, ≤ 20 % on EU plates).
            ln.cn_only = voted is not None or not ln.text[0].isascii() or (
                len(ln.text) < 7 and not LLL_DDD.fullmatch(ln.text)) or (
                ln.province_p >= self.province_evidence and self._plate_coloured(work, ln))
            if voted is not None:
                out.append(voted)
        out += self.two_line(work, lines)
        return out

    def _plate_coloured(self, work: np.ndarray, ln: TextLine) -> bool:
        """The line is on a plate of one of `evidence_colours` (≥ PLATE_COLOUR_MIN of its pixels)."""
        return colour_share(work, ln.quad, self.evidence_colours) >= PLATE_COLOUR_MIN

    @staticmethod
    def _crops_to_reread(work: np.ndarray, lines: list[TextLine], latin_first: Callable[[np.ndarray, TextLine], bool]
                         | None = None) -> list[tuple[TextLine, np.ndarray, np.ndarray, bool]]:
        """(line, quad, crop, glyph strip only) for every crop of a CN-looking line the recognisers read
        (`latin_first(work, line)`: also a 7-character line with a confident Latin first letter that it accepts, see
        `cn_shape`; asked of the plate's colour, since an EU plate's band gives the vote a province glyph on a white
        one, BA302OZ). The colour is looked at only for such lines, not for every line of every read."""
        todo: list[tuple[TextLine, np.ndarray, np.ndarray, bool]] = []
        for ln in lines:
            kind = cn_shape(ln)
            if kind is None and latin_first is not None and cn_shape(ln, latin_first=True) and latin_first(work, ln):
                kind = 7
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
        return todo

    # -- two-line plates -------------------------------------------------------------------------------
    def two_line(self, work: np.ndarray, lines: list[TextLine]) -> list[TextLine]:
        """CN two-line plates (yellow rear plates of trucks and buses): a small top line with the
        province glyph and authority letter centred over a 5-character serial. The pair is read by
        all three recognisers under the split template (2 slots on top, 5 below) and voted like a
        one-line plate; the general pairing misses it because the top line is half as tall."""
        out = []
        for bot in lines:
            if bot.voted:
                continue
            found = self._top_line(work, bot, lines)
            if found is None:
                continue
            top, guessed = found
            voted = self._vote_two_line(work, top, bot, guessed)
            if voted is not None:
                out.append(voted)
        return out

    def _top_line(self, work: np.ndarray, bot: TextLine, lines: list[TextLine]) -> tuple[TextLine, bool] | None:
        """The top line over the serial line `bot` and whether it was found only by detecting again."""
        lettered = cn_shape(bot) == 5
        if not lettered and not all_digit_serial(bot):
            return None
        # an all-digit serial (common on truck plates) could be a VN bottom line: it needs a top
        # line that reads like "province · letter" (no digit), not like a VN "59-Y1"
        tops = [t for t in lines if t is not bot and not t.voted and small_top(t, bot)
                and (lettered or cn_top_like(t))]
        guessed = False
        if not tops and not any(stacked(t, bot) for t in lines if t is not bot):
            # the detector often misses the small top line of a distant or blurred plate: look
            # again, enlarged, above the serial (a line stacked above `bot` means another layout)
            guess = self._top_above(work, bot)
            if guess is not None and (lettered or cn_top_like(guess)):
                tops, guessed = [guess], True
        if not tops:
            return None
        return min(tops, key=lambda t: bot.y0 - t.y1), guessed

    def _vote_two_line(self, work: np.ndarray, top: TextLine, bot: TextLine, guessed: bool) -> TextLine | None:
        """The voted reading of the pair `top` over `bot` under the split template, or None."""
        crops = [crop_quad(work, top.quad, pad=0.1), crop_quad(work, bot.quad, pad=0.1)]
        prov: list[np.ndarray] = []
        slot_reads: list[SlotReading] = []
        top_reads: list[SlotReading] = []
        for eng in (self.engine, self.cn_engine, self.check_engine):
            rt, rb = eng.recognize(crops, return_probs=True)
            idx = province_columns(eng.rec_name)
            prov.append(np.array([rt.probs[:, i].max() if i >= 0 else 0.0 for i in idx]))
            st = read_slots(rt.probs, eng.rec_name, 0, 2)
            sb = read_slots(rb.probs, eng.rec_name, 2, 7)
            if st is not None:
                top_reads.append(st)
            if st is not None and sb is not None:
                slot_reads.append(join(st, sb))
        seen = [v for v in prov if v.max() >= PROVINCE_SEEN_P]
        if guessed and not seen:
            return None  # no recogniser sees a province glyph where the top line should be
        choice = province_choice(seen) if seen else None
        if self.glyph_model is not None and top_reads:
            # the same vote and veto as on one-line plates; the top line's glyph is about as
            # wide as tall, so its window is wider (TOP_ASPECT) and squeezed to a square, and it
            # is found one pitch left of the authority letter (recognisers that do not see the
            # glyph put its CTC slot anywhere before the letter)
            st = min(top_reads, key=lambda r: r.path.penalty)
            vec = self._glyph_vector(work, top.quad, st, 1, TOP_ASPECT, -TOP_PITCH)
            choice = with_glyph_vote(choice, seen, vec, prov)
        # no look-alike doubt here: a two-line serial has no classifier to settle a contest (桂A607K2 rendered:
        # its 0 doubted as D became a no-read), and the scenes that chose the doubt hold one-line plates only
        tail = vote_tail(slot_reads) if choice is not None else None
        if tail is None:
            return None
        (k, p), (text, conf) = choice, tail
        quad = np.concatenate([top.quad, bot.quad])
        x0, y0 = quad.min(axis=0)
        x1, y1 = quad.max(axis=0)
        box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
        return TextLine(box, bot.rec, CN_PROVINCES[k] + text, bot.conf, [p, *conf], self.cn_engine,
                        fixed=True, voted=True)

    def _top_above(self, work: np.ndarray, bot: TextLine) -> TextLine | None:
        """The small "province · letter" line of a CN rear plate over the serial line `bot`, found
        by detecting text again in the band above `bot` (measured along its own axes), enlarged:
        at frame scale the detector often misses a line half as tall as the serial. None when no
        line there sits like that top line (`small_top`, centred above the serial's top edge)."""
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
        found = [TextLine(wq, r, normalise(r.text), r.confidence, norm_conf(r.text, r.char_conf))
                 for wq, r in zip(quads, recs, strict=True) if normalise(r.text)]
        tops = [t for t in found if small_top(t, bot) and (t.y0 + t.y1) / 2 < bot.y0]
        return min(tops, key=lambda t: bot.y0 - t.y1) if tops else None

    # -- the vote --------------------------------------------------------------------------------------
    def _vote(self, ln: TextLine, readings: list[Reading], work: np.ndarray | None = None) -> TextLine | None:
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
            idx = province_columns(eng.rec_name)
            window = r.probs if glyph else r.probs[: segs[0][2] + 1]
            vec = np.array([window[:, i].max() if i >= 0 else 0.0 for i in idx])
            prov[eng.rec_name] = np.maximum(prov.get(eng.rec_name, vec), vec)
            ln.province_p = max(ln.province_p, float(vec.max()))
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
        choice = province_choice(seen) if seen else None
        if self.glyph_model is not None and work is not None:
            sr, q = min(slot_reads.values(), key=lambda v: v[0].path.penalty)
            choice = with_glyph_vote(choice, seen, self._glyph_vector(work, q, sr, 0), list(prov.values()))
        if choice is None:
            return None
        k, p = choice
        vote = vote_slots([sr for sr, _ in slot_reads.values()], self.lookalike_doubt)
        if vote is None:
            return None
        q = min(slot_reads.values(), key=lambda v: v[0].path.penalty)[1]
        same_crop = [sr for sr, q2 in slot_reads.values() if np.array_equal(q2, q)]
        if work is None:
            text, conf = vote.text, vote.conf
        else:
            text, conf = self._settle(work, q, same_crop, vote)
        return TextLine(q, ln.rec, CN_PROVINCES[k] + text, ln.conf, [p, *conf], self.cn_engine, fixed=True,
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

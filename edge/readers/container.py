"""ISO 6346 container-code reader: text detection + recognition, spatial grouping, check-digit gate.

How it reads (see docs/container_reader.md):
1. Detect and recognise every text line in the image (PP-OCR via `OcrEngine`).
2. Group lines spatially into candidate strings: chains of boxes on one row (owner code, serial and the
   boxed check digit are usually three separate boxes), a row followed by the row below it (two-line
   layout), and columns of small boxes or tall strips (vertical layout, one character per row). The grouping
   of boxes is `container_layout.py`; this module adds what reads pixels again (tall strips, check digits),
   and `container_column.py` reads a vertical code the detector returned in pieces as one column, cell by cell.
3. Parse each candidate with `iso6346.find_codes` (class coercion, check-digit-guided correction).
4. A code whose boxed check digit was not read is completed only by reading the box region again and
   finding exactly the digit the other ten characters demand; the digit is never computed into the answer.
5. A photo where a piece of a code is left unexplained (or, for single photos, nothing verified) is read once
   more with the detector at RETRY_MAX_SIDE, enlarging a smaller photo: small stacked glyphs, boxed digits and
   a serial's last digit lost at DET_MAX_SIDE are found there; what verifies is added.
   A photo where several codes verified (a yard?), or a large one where none did or one only through a
   correction, is read again in 2×2 slices, each like a small photo; a slice's code is added only if it verifies
   as read, and a large photo's corrected code stands only if its slice reads it too (`_sliced`).
6. Only codes whose check digit verifies are returned (an unverified read is a no-read at a gate); the
   size/type code is searched in the lines just below (or right of) the code.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from edge.domain import iso6346
from edge.domain.types import Box, ContainerRead
from edge.readers import container_views as views
from edge.readers.container_checks import (
    MEASURE_RE,
    alnum,
    another_code_piece,
    code_fragment,
    drop_echoes,
)
from edge.readers.container_column import column_groups, column_region, read_column
from edge.readers.container_column import frame_interior as _frame_interior
from edge.readers.container_layout import (
    CodeLine,
    Found,
    column_candidates,
    from_textline,
    is_tall,
    row_candidates,
)
from edge.readers.ocr.engine import OcrEngine, TextLine, crop_quad

log = logging.getLogger(__name__)

DET_MAX_SIDE = 960
RETRY_MAX_SIDE = 1280  # the detector's input long side for the second pass (see ContainerReader.read)
# a tall strip showing fewer characters is not read extended (ContainerReader._read_tall): of the tall strips of the
# 220 real photos of train and dev, none of the 101 with at most 6 ink rows and no longer reading gave a code
MIN_STRIP_CHARS = 6
# A photo where this many codes verified may show more boxes (a yard): it is read again in 2×2 slices overlapping by
# SLICE_OVERLAP (ContainerReader._sliced). On 2×2 mosaics of the real training photos (smartgate_tools.experiments.
# container_mosaics) vertical codes read alone were lost in company: the mosaic's horizontal codes verify first.
SLICE_WHEN_CODES = 2
SLICE_OVERLAP = 0.15
SLICE_LARGE = 1.5  # ... and so is a photo this many times RETRY_MAX_SIDE or larger where no code verified as read


class ContainerReader:
    """Reads every ISO 6346 code in an image; returns only codes whose check digit verifies."""

    def __init__(self, engine: OcrEngine | None = None, threads: int = 2, include_unverified: bool = False,
                 vertical_engine: OcrEngine | None = None, det_max_side: int = DET_MAX_SIDE,
                 retry_max_side: int | None = RETRY_MAX_SIDE, retry_blind: bool = True,
                 screen: OcrEngine | bool | None = True):
        """`det_max_side`: the text detector's input long side. The default suits photos up to 1080p; a camera
        whose codes are large in the frame can use less (the detector's cost grows with the pixel count).
        `retry_max_side`: the second, larger detection (a smaller photo is enlarged to it) where a piece of a code
        is left that no verified read explains (None: never). A single photo has no second chance, so it is on by
        default; the lane pipeline turns it off unless configured (pipeline.container_retry_max_side): the next
        frame of the same truck is that chance.
        `retry_blind`: the second detection also where the first saw no piece of a code at all (a photo's only
        chance; a lane's frames between trucks would pay it every time, so the pipeline turns it off).
        `screen`: a fast recogniser that reads every text box first (True: PP-OCRv6-tiny's, about a quarter of
        the main recogniser's cost); where its lines give verified codes, the main recogniser reads only the
        lines at and around those codes, and the photo's result stands only if it reads the same codes there.
        Anything else (no verified code, a disagreement, a piece of another code) reads every box with the main
        recogniser as without a screen. None/False: no screen."""
        self.engine = engine or OcrEngine(det="v6_tiny", rec="v6_small", threads=threads)
        if screen is True:
            screen = OcrEngine(det="v6_tiny", rec="v6_tiny", threads=threads)
        self.screen: OcrEngine | None = screen or None
        self.det_max_side = det_max_side
        self.retry_max_side = retry_max_side
        self.retry_blind = retry_blind
        self._vertical_engine = vertical_engine
        self._threads = threads
        self.include_unverified = include_unverified
        # per recogniser, the previous image's boxes, pixels and reads (see _recognise)
        self._seen: dict[int, list[tuple[np.ndarray, np.ndarray, TextLine]]] = {}
        self._digits: dict[tuple, str | None] = {}  # boxed check digits read in the current pass (_digit_seen)

    @property
    def vertical_engine(self) -> OcrEngine:
        """PP-OCRv4's recogniser reads single glyphs and rotated strips best (loaded on first use)."""
        if self._vertical_engine is None:
            self._vertical_engine = OcrEngine(det="v6_tiny", rec="v4", threads=self._threads)
        return self._vertical_engine

    # -- public --------------------------------------------------------------------------------------
    def read(self, image: np.ndarray) -> list[ContainerRead]:
        if image is None or image.size == 0:
            return []
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        reads = self._read_photo(image)
        verified = sum(r.check_digit_ok for r in reads)
        retry = self.retry_max_side or 0
        # a large photo (a phone photo is 4000 px, the second pass reads it at 1280): its boxes may be small parts of
        # it, so where not one code was found, or one verified only through a check-digit correction, it is read in
        # slices; so is a yard (several codes verified)
        large = bool(retry) and max(image.shape[:2]) >= SLICE_LARGE * retry
        doubt = large and any(r.check_digit_ok and r.corrected for r in reads)
        if retry and (verified >= SLICE_WHEN_CODES or large and (not verified or doubt)):
            again = self._sliced(image)
            if large:  # a corrected code of a large photo stands only if a slice, read larger, reads it too
                sliced = {a.code for a in again}
                reads = [r for r in reads if not (r.check_digit_ok and r.corrected) or r.code in sliced]
            known = {r.code for r in reads}
            for a in again:
                if not a.corrected and a.code not in known:
                    reads.append(a)
                    known.add(a.code)
        return reads

    def _sliced(self, image: np.ndarray) -> list[ContainerRead]:
        """Every verified code of the photo read again in 2×2 overlapping slices, each like a photo of its own (a far
        box's vertical code is found in its slice, not beside a verified code), boxes in the photo's pixels. The
        caller adds only those that verified as read: a slice's small glyphs "corrected" by the check digit gave
        misreads of the boxes around."""
        H, W = image.shape[:2]
        th, tw = int(H / 2 * (1 + SLICE_OVERLAP)), int(W / 2 * (1 + SLICE_OVERLAP))
        out: list[ContainerRead] = []
        for y0 in (0, H - th):
            for x0 in (0, W - tw):
                for r in self._read_photo(image[y0:y0 + th, x0:x0 + tw]):
                    if r.check_digit_ok:
                        b = r.box
                        out.append(r.model_copy(update={"box": b and Box(x=b.x + x0, y=b.y + y0, w=b.w, h=b.h)}))
        return out

    def _read_photo(self, image: np.ndarray) -> list[ContainerRead]:
        """Every code of one image: the first pass and, where needed, the larger second pass."""
        reads, lines = self._read_at(image, self.det_max_side)
        # the detector again, larger (RETRY_MAX_SIDE; a smaller photo is enlarged), where the small glyphs of a
        # vertical code, a boxed check digit or a serial's last digit lost at the first pass's size are found:
        # where a piece of a code no verified read explains was seen, or (retry_blind) where nothing verified.
        # A photo whose codes all verified never pays it.
        retry = self.retry_max_side or 0
        verified = [r for r in reads if r.check_digit_ok]
        if verified:  # another container's code, as tall as the verified one's and not read (weights are not)
            unexplained = any(another_code_piece(ln, verified) for ln in lines)
        else:
            unexplained = self.retry_blind or any(code_fragment(ln) for ln in lines)
        if retry > 1.2 * min(max(image.shape[:2]), self.det_max_side) and unexplained:
            more = self._read_larger(image, retry)
            if not verified:
                return drop_echoes(more or reads)
            # a second container beside a verified one (two boxes on a chassis, a yard): add what is new
            reads += [m for m in more if m.check_digit_ok and m.code not in {r.code for r in reads}
                      and not any(m.box and r.box and m.box.iou(r.box) > 0 for r in verified)]
        return drop_echoes(reads)

    def _read_larger(self, image: np.ndarray, side: int) -> list[ContainerRead]:
        """Read with the detector's input long side at `side`; a smaller image is enlarged to it first (the
        detector never enlarges a frame) and the boxes are mapped back."""
        f = side / max(image.shape[:2])
        if f <= 1.0:
            return self._read_at(image, side, screen=False)[0]
        big = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)

        def back(b: Box | None) -> Box | None:
            return b and Box(x=int(b.x / f), y=int(b.y / f), w=max(1, round(b.w / f)), h=max(1, round(b.h / f)))

        return [r.model_copy(update={"box": back(r.box)}) for r in self._read_at(big, side, screen=False)[0]]

    def _read_at(self, image: np.ndarray, det_max_side: int,
                 screen: bool = True) -> tuple[list[ContainerRead], list[CodeLine]]:
        """Read at one detector size; `screen`: through the screen recogniser where the reader has one (the second
        pass, for the photos the first found hard, reads every box with the main recogniser)."""
        self._digits = {}
        quads = self.engine.detect(image, max_side=det_max_side)
        crops = [crop_quad(image, q, 0.08) for q in quads]
        if screen and self.screen is not None and quads:
            screened = self._screened(image, quads, crops)
            if screened is not None:
                return screened
        lines = _code_lines(self._recognise(image, quads, crops, self.engine))
        return self._candidates(image, lines), lines

    def _candidates(self, image: np.ndarray, lines: list[CodeLine], pixels: bool = True) -> list[ContainerRead]:
        """Codes in the recognised lines, boxed check digits read where ten characters were; `pixels`: also
        read the image again where the lines show a piece of a vertical or broken code (tall strips, columns,
        owner codes left of a serial) — most of a photo's cost where there are vertical codes."""
        # weights and volumes (30.480 KGS, 67.7 CU.M) sit under the code; they are never part of it
        code_lines = [ln for ln in lines if not MEASURE_RE.search(ln.text)]
        found = row_candidates(code_lines)
        if not pixels:
            return self._finalise(self._complete_check_digits(image, found + column_candidates(code_lines)), lines)
        found += self._vertical(image, code_lines)
        found = self._complete_check_digits(image, found)
        found += self._extend_serials(image, code_lines, found)
        return self._finalise(found, lines)

    def _screened(self, image: np.ndarray, quads: list[np.ndarray],
                  crops: list[np.ndarray]) -> tuple[list[ContainerRead], list[CodeLine]] | None:
        """The screen's reading of every box, confirmed by the main recogniser on the boxes at and around the
        codes it verified; None where that does not settle the photo (the caller reads every box).

        Most of a photo's boxes are livery, names, weights and signs: the fast recogniser tells that well
        enough, and the check digit plus the main recogniser's agreement judge the code itself, so a screen
        misreading can cost time (the full read) but never makes a code."""
        assert self.screen is not None
        quick = self._recognise(image, quads, crops, self.screen)
        quick_lines = _code_lines(quick)
        # the lines alone: a code that needs the pixels read again goes the main recogniser's way at once
        codes = [r for r in self._candidates(image, quick_lines, pixels=False) if r.check_digit_ok]
        if not codes or any(another_code_piece(ln, codes) for ln in quick_lines):
            return None
        near = [i for i, t in enumerate(quick) if t is not None and any(_around(t.quad, r) for r in codes)]
        sure = self._recognise(image, [quads[i] for i in near], [crops[i] for i in near], self.engine)
        reads = self._candidates(image, _code_lines(sure))
        if not {r.code for r in codes} <= {r.code for r in reads if r.check_digit_ok}:
            log.debug("screen's codes %s not confirmed: reading every box", [r.code for r in codes])
            return None
        # the lines for the caller's second-pass decision: the main recogniser's where it read, else the screen's
        by_box = dict(zip(near, sure, strict=True))
        return reads, _code_lines([by_box.get(i, t) for i, t in enumerate(quick)])

    def _recognise(self, image: np.ndarray, quads: list[np.ndarray], crops: list[np.ndarray],
                   engine: OcrEngine) -> list[TextLine | None]:
        """Recognise every box with `engine` (None where nothing was read). (Recognising only the largest
        boxes was tried: the code is not always the largest text under perspective.)

        A box whose pixels match a box this recogniser read on this reader's previous image at the same place
        (a sign behind the lane, a truck standing still) keeps its recognition instead of running the
        recogniser again: same pixels, same text. On a fixed gate camera that is the background's text on
        every read."""
        seen = self._seen.get(id(engine), [])
        thumbs = [views.thumb(c) for c in crops]
        results: list[TextLine | None] = [None] * len(quads)
        todo = []
        for i, q in enumerate(quads):
            # the pixels where the previous box was (detector boxes jitter by a pixel or two)
            hit = next((t for pq, pth, t in seen
                        if views.same_place(pq, q) and views.same_pixels(pth, views.thumb(crop_quad(image, pq, 0.08)))), None)
            if hit is not None:
                results[i] = TextLine(quad=q, text=hit.text, confidence=hit.confidence, char_conf=hit.char_conf)
            else:
                todo.append(i)
        if todo:
            for i, r in zip(todo, engine.recognize([crops[i] for i in todo]), strict=True):
                results[i] = TextLine(quad=quads[i], text=r.text, confidence=r.confidence, char_conf=r.char_conf)
        self._seen[id(engine)] = [(q, th, t) for q, th, t in zip(quads, thumbs, results, strict=True)
                                  if t is not None]
        return results

    # -- candidates needing the image -----------------------------------------------------------------
    def _vertical(self, image: np.ndarray, lines: list[CodeLine]) -> list[Found]:
        """Vertical codes: columns of small boxes, then tall strips read again from the image."""
        found = column_candidates(lines)
        for ln in lines:
            if not is_tall(ln) or ln.quad is None:
                continue
            for cand in self._read_tall(image, ln):
                found.append(Found(cand, [ln], "vertical"))
        # columns the detector returned in pieces (owner code, serial, boxed digit apart; characters missed
        # between them): read the whole column from the pixels, cell by cell
        for col in column_groups(lines):
            region = column_region(col, image.shape)
            x0, y0, x1, y1 = region
            if any(f.cand.check_digit_ok and _overlaps(f.box, region) for f in found):
                continue
            for cand in read_column([self.engine, self.vertical_engine], image, region, col.pitch):
                found.append(Found(cand, col.lines, "vertical", extra=[CodeLine(cand.code, [], x0, y0, x1, y1)]))
        return found

    def _read_tall(self, image: np.ndarray, ln: CodeLine) -> list[iso6346.CodeCandidate]:
        """A tall strip is either upright characters stacked one per row, or a line written sideways.
        Stacked: cut it into rows at the gaps of the ink profile and lay the characters side by side, so
        the recogniser sees an ordinary line. Sideways: read it turned both ways. The strip is also
        read extended upwards, because the owner code above the serial is often missed by the detector, and
        downwards, because the boxed check digit under the serial often gets a box of its own.

        A strip that shows fewer than MIN_STRIP_CHARS characters (ink rows, or the longest reading) is not read
        extended: at most 0.75 of its height more cannot make eleven characters (an owner code or a size/type
        code standing alone; the column reading joins such pieces)."""
        out: list[iso6346.CodeCandidate] = []
        H = ln.h
        for k, box in enumerate(((ln.x0, ln.y0, ln.x1, ln.y1),
                                 (ln.x0 - 0.15 * ln.w, ln.y0 - 0.75 * H, ln.x1 + 0.15 * ln.w, ln.y1 + 0.05 * H),
                                 (ln.x0 - 0.15 * ln.w, ln.y0 - 0.02 * H, ln.x1 + 0.15 * ln.w, ln.y1 + 0.2 * H))):
            strip = views.cut(image, box)
            if strip is None or strip.shape[0] < 20:
                continue
            cells = views.split_rows(strip)
            stacked = [views.hstack_cells(cells)] if len(cells) >= 8 else []
            ccw = np.ascontiguousarray(np.rot90(strip))
            shown = len(cells)
            # the second recogniser reads only the stacked characters: on the 220 real photos of train and dev
            # it never read a turned strip the first had missed, and the turned views are the costly ones
            for eng, looks in ((self.engine, [*stacked, ccw, np.ascontiguousarray(ccw[::-1, ::-1])]),
                               (self.vertical_engine, stacked)):
                for rec in eng.recognize(looks) if looks else []:
                    out += [c for c in iso6346.find_codes(rec.text, rec.char_conf)[:2] if c.check_digit_ok]
                    shown = max(shown, len(alnum(rec.text)))
                if any(c.check_digit_ok for c in out):
                    break
            if any(c.check_digit_ok for c in out) or (k == 0 and shown < MIN_STRIP_CHARS):
                break
        return out

    def _extend_serials(self, image: np.ndarray, lines: list[CodeLine], found: list[Found]) -> list[Found]:
        """A serial read without its owner code (the detector missed the letters): read a line extended
        to the left of the serial, where the owner code sits, and keep what verifies."""
        used = {id(ln) for f in found if f.cand.check_digit_ok for ln in f.lines}
        out: list[Found] = []
        for ln in lines:
            s = iso6346.clean(ln.text)
            if id(ln) in used or is_tall(ln) or len(s) not in (6, 7) or not s.isdigit():
                continue
            box = (ln.x0 - 0.85 * ln.w, ln.y0 - 0.1 * ln.h, ln.x1 + (0.3 if len(s) == 6 else 0.05) * ln.w,
                   ln.y1 + 0.1 * ln.h)
            crop = views.cut(image, box)
            if crop is None:
                continue
            rec = self.engine.recognize([views.pad(crop, 0.1)])[0]
            for cand in iso6346.find_codes(rec.text, rec.char_conf)[:2]:
                if cand.check_digit_ok and s[:6] in cand.code:
                    out.append(Found(cand, [ln], "horizontal", extra=[CodeLine(rec.text, [], *box)]))
        return out

    # -- check digit ---------------------------------------------------------------------------------
    def _complete_check_digits(self, image: np.ndarray, found: list[Found]) -> list[Found]:
        """For 10-character reads, re-read the place where the boxed check digit sits (right of the serial,
        or under its right end in two-line layouts) and accept only when those pixels clearly show the
        digit that the ten characters demand. A missing digit is never filled in by computation alone."""
        verified = {f.cand.code[:10] for f in found if f.cand.check_digit_ok}
        tried: set[tuple[str, int]] = set()
        out = list(found)
        for f in found:
            c = f.cand
            # ten characters that needed a rare class coercion (G read where a 6 belongs) are one guess already; a
            # digit read from the box beside them (a bar or the box's own edge reads as 1) would be a second
            if c.complete or c.code in verified or f.layout == "vertical" or iso6346.rare_coercion(c):
                continue
            last = max(f.lines, key=lambda ln: ln.x1)
            # per place, not per code: the same ten characters on the roof and on the doors are two chances
            if (c.code, id(last)) in tried:
                continue
            tried.add((c.code, id(last)))
            try:
                want = str(iso6346.check_digit(c.code))
            except ValueError:
                continue
            h = last.h
            places = [  # (region of the digit alone, region of serial + digit as one line)
                ((last.x1 - 0.1 * h, last.y0 - 0.25 * h, last.x1 + 1.6 * h, last.y1 + 0.25 * h),
                 (last.x0 - 0.1 * h, last.y0 - 0.15 * h, last.x1 + 1.6 * h, last.y1 + 0.15 * h)),
                ((last.x1 - 1.6 * h, last.y1 - 0.1 * h, last.x1 + 0.6 * h, last.y1 + 1.4 * h), None),
            ]
            for alone, line in places:
                if self._digit_seen(image, alone, line, h, c.code[4:10]) == want:
                    code = c.code + want
                    cand = iso6346.CodeCandidate(code, True, corrected=c.corrected, raw=c.raw + "?",
                                                 changes=c.changes, confidence=c.confidence)
                    extra = CodeLine(want, [1.0], *alone)
                    out.append(Found(cand, f.lines, f.layout, extra=[extra]))
                    verified.add(c.code)
                    break
        return out

    def _digit_seen(self, image: np.ndarray, alone: tuple[float, float, float, float],
                    line: tuple[float, float, float, float] | None, text_h: float, serial: str) -> str | None:
        """The digit clearly shown in a small region (a boxed check digit), or None.

        Recognisers read a lone framed glyph badly (回, 中, or nothing), so three views are tried: the
        region, the inside of the frame when one is found, and the serial + region as one text line
        (read only after the serial's digits). Readings are restricted to the ten digits through the CTC
        posteriors; every confident view must agree.
        """
        # the screen's lines and the main recogniser's share their boxes: one reading per place and image
        key = (tuple(round(v) for v in alone), line and tuple(round(v) for v in line), serial)
        if key not in self._digits:
            self._digits[key] = self._read_digit(image, alone, line, text_h, serial)
        return self._digits[key]

    def _read_digit(self, image: np.ndarray, alone: tuple[float, float, float, float],
                    line: tuple[float, float, float, float] | None, text_h: float, serial: str) -> str | None:
        crop = views.cut(image, alone)
        if crop is None:
            return None
        singles = [crop]
        inner = _frame_interior(crop, text_h)
        if inner is not None:
            singles.append(inner)
        wide = views.cut(image, line) if line is not None else None
        votes: list[tuple[str | None, float, float]] = []
        for eng in (self.engine, self.vertical_engine):
            for rec in eng.recognize([views.pad(v) for v in singles], return_probs=True):
                votes.append(views.best_digit(rec.probs, eng.charset))
            if wide is not None:
                rec = eng.recognize([views.pad(wide, 0.15)], return_probs=True)[0]
                votes.append(views.tail_digit(rec.probs, eng.charset, serial))
        good = {d for d, p, margin in votes if d is not None and p >= 0.3 and margin >= 0.2}
        return good.pop() if len(good) == 1 else None

    # -- output --------------------------------------------------------------------------------------
    def _finalise(self, found: list[Found], lines: list[CodeLine]) -> list[ContainerRead]:
        ok = [f for f in found if f.cand.check_digit_ok]
        if self.include_unverified:
            ok += [f for f in found if not f.cand.check_digit_ok and f.cand.complete]
        # best sighting per code: verified, fewest corrections, most characters in the chain
        best: dict[str, Found] = {}
        for f in sorted(ok, key=lambda f: (not f.cand.check_digit_ok, len(f.cand.changes), len(f.lines))):
            best.setdefault(f.cand.code, f)
        picks = list(best.values())
        # two different codes from the same place: keep the one needing fewer changes; a tie is ambiguous
        keep: list[Found] = []
        for f in sorted(picks, key=lambda f: (not f.cand.check_digit_ok, len(f.cand.changes))):
            clash = [k for k in keep if _overlaps(k.box, f.box)]
            if not clash:
                keep.append(f)
                continue
            k = clash[0]
            if f.cand.check_digit_ok and k.cand.check_digit_ok and len(k.cand.changes) == len(f.cand.changes):
                log.debug("ambiguous container code at one place: %s vs %s", k.cand.code, f.cand.code)
                keep.remove(k)  # neither wins: no-read for that place rather than a coin toss
                keep.append(Found(k.cand, k.lines, "ambiguous"))
        results = []
        for f in keep:
            if f.layout == "ambiguous":
                continue
            x0, y0, x1, y1 = f.box
            st = self._size_type(f, lines)
            conf = float(np.mean([c for ln in f.lines for c in ln.confs] or [0.0]))
            results.append(ContainerRead(
                code=f.cand.code, check_digit_ok=f.cand.check_digit_ok, corrected=f.cand.corrected,
                size_type=st.code if st else None, size_type_text=st.text if st else None,
                layout=f.layout if f.layout in ("horizontal", "two_line", "vertical") else "unknown",
                confidence=round(conf, 3),
                box=Box(x=int(x0), y=int(y0), w=int(x1 - x0), h=int(y1 - y0)),
                raw=f.cand.raw,
            ))
        results.sort(key=lambda r: (r.box.x if r.box else 0))
        return results

    @staticmethod
    def _size_type(f: Found, lines: list[CodeLine]) -> iso6346.SizeType | None:
        """Size/type code: in the code's own chain (same line), else the nearest line below the code."""
        for ln in f.lines:
            s = iso6346.clean(ln.text)
            if len(s) <= 6:
                st = iso6346.find_size_type(s)
                if st and not s.isdigit():
                    return st
        x0, y0, x1, y1 = f.box
        h = float(np.median([ln.h for ln in f.lines]))
        below = [ln for ln in lines if ln not in f.lines and y1 - 0.4 * h <= ln.y0 <= y1 + 2.5 * h
                 and ln.x1 > x0 - h and ln.x0 < x1 + h and len(iso6346.clean(ln.text)) <= 6]
        for ln in sorted(below, key=lambda ln: ln.y0):
            st = iso6346.find_size_type(ln.text)
            if st:
                return st
        return None


def _code_lines(lines: list[TextLine | None]) -> list[CodeLine]:
    return [from_textline(t) for t in lines if t is not None and t.text.strip()]


def _around(quad: np.ndarray, read: ContainerRead) -> bool:
    """The box's centre lies on or around a read code: its own lines, the boxed check digit beside it, and the
    size/type code below or right of it (where ContainerReader._size_type looks)."""
    b = read.box
    if b is None:
        return False
    u = min(b.w, b.h)  # a one-row code's letter height; a vertical code's letter width
    cx, cy = float(quad[:, 0].mean()), float(quad[:, 1].mean())
    return b.x - 2 * u <= cx <= b.x + b.w + 3 * u and b.y - 0.5 * u <= cy <= b.y + b.h + 3 * u


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy > 0.3 * smaller

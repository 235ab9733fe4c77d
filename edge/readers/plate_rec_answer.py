"""The plate-trained recogniser answers where PP-OCR has no read (issue 17).

PP-OCR's reads of a plate are sometimes too weak for the reader's rules (a `low_confidence` or `low_agreement`
no-read) or fit no grammar at all. The small CTC recogniser (`edge.readers.plate_rec`) was trained on plate crops
and errs elsewhere; where it reads the same place sure enough, its read stands. Sure enough means all of:

* its own per-country threshold, calibrated on held-out sources to ≤ 0.5 % wrong (`PlateRecRead.accepted`; OTHER
  plates are never accepted from it);
* the text fits a VN or CN grammar exactly, without a single letter/digit fix (a read the rules would have to
  mend is not an answer);
* it is one place: where several places are tried (the best rejected candidates, or text lines shaped like a
  plate when nothing fitted a grammar), exactly one reading may pass, else there is no answer.

It answers only no-reads the reader could have read (weak, disputed or ungrammatical text); it never overrides a
read, a veto (`recogniser_disagrees`) or a plausibility refusal (`not_plate_text`).
"""

from __future__ import annotations

import numpy as np

from edge.domain.plate_grammar import display, match
from edge.domain.types import Box, PlateRead
from edge.readers.plate_candidates import Candidate, box_of
from edge.readers.plate_lines import TextLine, stacked
from edge.readers.plate_rec_check import RecogniserCheck

ANSWERABLE = frozenset({"low_confidence", "low_agreement", "grammar_mismatch"})
MAX_PLACES = 4  # places tried per image: each costs one recogniser run (~1 ms a layout)


def places(lines: list[TextLine], cands: list[Candidate], scale: float, pad: int,
           origin: tuple[int, int]) -> list[Box]:
    """Where a plate may be when PP-OCR's reads of it were refused, most plate-like first: two-line candidates
    and stacked pairs of lines, all the lines when there are few (a plate crop), then the best one-line
    candidates and the largest lines; only boxes shaped like a plate (1:1 to 7.5:1)."""
    by_score = sorted(cands, key=lambda c: -c.score)
    pairs = [[t, b] for t in lines for b in lines if t is not b and stacked(t, b)]
    groups = ([c.lines for c in by_score if len(c.lines) == 2] + pairs + ([lines] if 0 < len(lines) <= 4 else [])
              + [c.lines for c in by_score if len(c.lines) == 1]
              + sorted(([ln] for ln in lines), key=lambda g: -_width(g) * _height(g)))
    out: list[Box] = []
    seen: set[frozenset[int]] = set()
    for g in groups:
        key = frozenset(id(x) for x in g)
        if key in seen or not 1.0 <= _width(g) / _height(g) <= 7.5:
            continue
        seen.add(key)
        box = box_of(g, scale, pad, *origin)
        if box not in out:
            out.append(box)
        if len(out) == MAX_PLACES:
            break
    return out


def _width(lines: list[TextLine]) -> float:
    return max(ln.x1 for ln in lines) - min(ln.x0 for ln in lines)


def _height(lines: list[TextLine]) -> float:
    return max(max(ln.y1 for ln in lines) - min(ln.y0 for ln in lines), 1.0)


def vn_layout(fmt: str, text: str, layout: str) -> str:
    """The VN format named after the layout the recogniser read, as `plate_candidates.layout_format` names
    PP-OCR's: one line = vn_truck, two lines with a digit after the series letter = vn_moto, else vn_two_line."""
    if fmt not in ("vn_truck", "vn_moto"):
        return fmt
    if layout == "one":
        return "vn_truck" if fmt == "vn_truck" or not text[3].isdigit() else fmt
    return "vn_moto" if text[3].isdigit() else "vn_two_line"


def answer(check: RecogniserCheck, image: np.ndarray, boxes: list[Box], formats: tuple[str, ...],
           origin: tuple[int, int] = (0, 0)) -> PlateRead | None:
    """The recogniser's read of exactly one of `boxes` (the `places`, in the caller's coordinates; `origin` is
    where `image` sits in them), when it is sure and fits a VN/CN grammar as read; else None."""
    found: dict[str, PlateRead] = {}
    for box in boxes[:MAX_PLACES]:
        crop = check.crop(image, box, origin)
        if crop is None or min(crop.shape[:2]) < 4:
            continue
        r = check.recogniser.read(crop)
        if not r.accepted:
            continue
        exact = [m for m in match(r.text, formats) if m.text == r.text and m.tier == 0 and m.corrections == 0]
        if not exact:
            continue
        g = exact[0]
        fmt = vn_layout(g.format, g.text, r.layout) if g.country == "VN" else g.format
        found.setdefault(r.text, PlateRead(text=g.text, display=display(g.text, fmt, g.groups),
                                           country=g.country, format=fmt, confidence=round(r.confidence, 4),
                                           box=box, raw=f"plate_rec {r.text}"))
    return next(iter(found.values())) if len(found) == 1 else None

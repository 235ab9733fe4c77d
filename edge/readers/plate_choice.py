"""Choosing among plate candidates: confidence floors, the other recognisers' say, one plate per place.

A wrong read is worse than a no-read. A candidate must be confident enough (`acceptable`; a generic or
foreign read, with no national grammar to check it, must be sure of every character); plates are taken
cheapest first without sharing lines or area (`non_overlapping`); a weak foreign read is put to a 2-of-3
vote of the recognisers (`majority`) and a read with a weak character needs a second recogniser's
agreement (`confirmed`; otherwise the image is a `low_agreement` no-read). CN reads were voted already.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import models
from edge.domain.plate_grammar import match, normalise, plate_like_text
from edge.readers.ocr.engine import OcrEngine, crop_quad
from edge.readers.plate_candidates import Candidate, kept_conf
from edge.readers.plate_lines import norm_conf

log = logging.getLogger(__name__)

FLOORS_FILE = Path(models.__file__).with_name("plates") / "reader_calibration.json"
GENERIC_MIN_CHAR_CONF = 0.8
MAJORITY_BELOW = 0.9  # foreign reads whose weakest character is below this are put to a 2-of-3 vote
CROSS_CHECK_BELOW = 0.8  # a read whose weakest character is below this needs a second recogniser's agreement (docs/accuracy.md)


def acceptable(c: Candidate, min_confidence: float, min_char_confidence: float) -> bool:
    """Confident enough. A generic read (no national grammar to check it) must be sure of
    every character: a misread CN province glyph otherwise passes as a foreign plate."""
    confs = c.conf
    if c.score < min_confidence:
        return False
    floor = min_char_confidence if c.grammar.tier < 2 else GENERIC_MIN_CHAR_CONF
    return not (confs and min(confs) < floor)


def overlap(a: Candidate, b: Candidate) -> bool:
    """Candidates share a line, or their boxes overlap by more than a third of the smaller."""
    if {id(x) for x in a.lines} & {id(x) for x in b.lines}:
        return True
    def bbox(c: Candidate) -> tuple[float, float, float, float]:
        return (min(x.x0 for x in c.lines), min(x.y0 for x in c.lines),
                max(x.x1 for x in c.lines), max(x.y1 for x in c.lines))
    ax0, ay0, ax1, ay1 = bbox(a)
    bx0, by0, bx1, by1 = bbox(b)
    iw, ih = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return False
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return iw * ih > smaller / 3


def non_overlapping(cands: list[Candidate]) -> list[Candidate]:
    """Cheapest candidate first, then further plates that use none of its lines or area.

    Further plates must match a national grammar with at most one fix: a second read only
    from the generic grammar is usually a sign or a date.
    """
    out: list[Candidate] = []
    for c in cands:
        if out and (c.grammar.tier > 1 or c.grammar.cost > 1.3):
            continue
        if any(overlap(c, o) for o in out):
            continue
        out.append(c)
    return out


def majority(work: np.ndarray, c: Candidate, others: Sequence[OcrEngine], formats: tuple[str, ...]) -> Candidate:
    """Foreign plates: when the `others` (PP-OCRv4 and v5) agree on another reading in the same format and the
    main recogniser was unsure, two of three recognisers win (RK884AL over RK384AL). Not for
    VN/CN: their templates accept the older models' typical slips (Y/V, 2/Z) as valid plates."""
    confs = c.conf
    if c.grammar.tier < 1 or not confs or min(confs) >= MAJORITY_BELOW:
        return c
    crops = [crop_quad(work, ln.quad, pad=0.1) for ln in c.lines]
    reads = []
    for eng in others:
        recs = eng.recognize(crops)
        text = "".join(normalise(r.text) for r in recs)
        conf = [x for r in recs for x in norm_conf(r.text, r.char_conf)]
        same = [m for m in match(text, formats, conf=conf or None) if m.format == c.grammar.format]
        reads.append((same[0] if same else None, conf))
    (a, conf_a), (b, _) = reads
    if a is None or b is None or a.text != b.text or a.text == c.grammar.text:
        return c
    kept = kept_conf(a, conf_a)
    return Candidate(c.lines, a, float(np.mean(kept)) * (0.93 ** a.corrections), c.raw, kept)


def confirmed(work: np.ndarray, c: Candidate, others: Sequence[OcrEngine], formats: tuple[str, ...],
              below: float = CROSS_CHECK_BELOW) -> bool:
    """A read with a weak character must be confirmed by a second recogniser (one of `others`,
    PP-OCRv4 or v5, reading the same crops to the same grammar text); single-recogniser digit slips
    (59Y114665 for 59Y144665) are the main VN wrong reads. CN reads were already voted."""
    confs = c.conf
    if any(ln.voted for ln in c.lines) or not confs or min(confs) >= below:
        return True
    crops = [crop_quad(work, ln.quad, pad=0.1) for ln in c.lines]
    for eng in others:
        text = "".join(normalise(r.text) for r in eng.recognize(crops))
        if any(m.text == c.grammar.text for m in match(text, formats)):
            return True
    return False


def plate_text_ok(c: Candidate) -> bool:
    """A chosen read that no VN/CN grammar vouches for must look like a plate's text (`plate_like_text`): a
    camera's overlay ("Camera 03") or a sign's word is not a plate. Asked after the recognisers' vote, which
    fixes reads such as OPR B17 that the rule would refuse."""
    return c.grammar.tier == 0 or plate_like_text(c.raw, c.grammar.text)


def load_floors(path: Path = FLOORS_FILE) -> dict[str, float]:
    """Per-country confidence floors ({"VN": 0.9, ...}) from the calibration file; none when it is missing (a
    reader without floors still has its rules) — logged, since wrong reads then go unguarded."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in data["thresholds"].items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("plate reader calibration %s not loaded (%s): no per-country confidence floors", path, e)
        return {}

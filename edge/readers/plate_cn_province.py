"""The CN province glyph: re-decoded among the 31 provinces and chosen by the recognisers' vote.

The general recognisers confuse province glyphs (粤/鄂, 湘/浙), misread them as other CJK glyphs or as
Latin look-alikes (川 → M), or drop them. This module holds the province part of the CN reading: each
recogniser's probabilities restricted to the 31 province columns (`province_columns`), the vote between
recognisers (`province_choice`), the province classifier's check of that vote (`with_glyph_vote`), and
the alternative readings of one line with its first glyph re-decoded as a province (`province_fix`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cache

import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES, PROVINCE_SET, normalise
from edge.readers.ocr.ctc import best_in, ctc_segments
from edge.readers.ocr.engine import OcrEngine, _charset
from edge.readers.plate_lines import TextLine

PROVINCE_MIN_P = 0.3  # lowest probability for a province glyph re-decoded among the 31
PROVINCE_AGREED_MIN_P = 0.15  # the same, when several recognisers agree on the glyph
PROVINCE_MARGIN = 0.5  # the runner-up province must be below this fraction of the winner
PROVINCE_SEEN_P = 0.05  # below this a recogniser's best province probability means it saw none
GLYPH_SURE = 0.9  # province classifier: lowest probability for its glyph to count as a vote
GLYPH_VETO = 0.05  # ... and below this it objects to the recognisers' glyph
GLYPH_WEAK_P = 0.5  # its lowest probability for a glyph that every recogniser only faintly prefers


@cache
def _province_indices_for(rec_name: str) -> tuple[int, ...]:
    index = {c: i for i, c in enumerate(_charset(rec_name))}
    return tuple(index[c] for c in CN_PROVINCES if c in index)


def province_indices(engine: OcrEngine) -> tuple[int, ...]:
    """Charset columns of the provinces present in `engine`'s charset."""
    return _province_indices_for(engine.rec_name)


@cache
def province_columns(rec_name: str) -> tuple[int, ...]:
    """Charset column of each of the 31 provinces, in CN_PROVINCES order (-1: not in the charset)."""
    index = {c: i for i, c in enumerate(_charset(rec_name))}
    return tuple(index.get(c, -1) for c in CN_PROVINCES)


def province_choice(seen: list[np.ndarray]) -> tuple[int, float] | None:
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


def with_glyph_vote(choice: tuple[int, float] | None, seen: list[np.ndarray], glyph: np.ndarray,
                    weak: Sequence[np.ndarray] = ()) -> tuple[int, float] | None:
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


def province_fix(line: TextLine, main_engine: OcrEngine) -> list[tuple[str, list[float]]]:
    """Alternative readings of a line with its first glyph decoded among the 31 provinces
    (`main_engine`: the recogniser of lines that carry no engine of their own)."""
    probs = line.rec.probs
    if line.fixed:
        return []
    engine = line.engine or main_engine
    charset = engine.charset
    province_idx = province_indices(engine)
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

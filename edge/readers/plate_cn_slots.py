"""CN plate tail (authority letter + 5-character serial) by slot-aligned vote of several recognisers.

Each recogniser's per-step probabilities are decoded under the 7-slot CN template (province,
letter A–Z without I/O, 5 alphanumerics) with `constrained_best_path`, so every reading is
aligned slot by slot even when the free reading dropped, merged or misread a character (皖Q06417
read as "006417": the letter slot still finds Q at 0.2–0.3 in all three). Per slot, the recognisers'
peak probabilities are summed per character; a slot whose runner-up comes close is contested and
gets confidence 0 (W vs H on one plate: a guess, so a no-read rather than a wrong read), and so
does a 0 that one recogniser reads as Q with some confidence (see Q_DOUBT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from edge.domain.plate_grammar import CN_LAST, CN_LETTER, CN_PROVINCES, DIGITS, LATIN, normalise
from edge.readers.ctc_constrained import ConstrainedPath, constrained_best_path
from edge.readers.ocr.engine import _charset

SLOT_CONTEST = 0.6  # a slot is contested when the runner-up's summed probability exceeds this × the winner's
# A serial "0" pools the recognisers' 0 and O (O is folded onto 0), and a Q's tail is a few pixels: the
# pooled 0 outvotes a Q that one recogniser sees plainly (synthetic 桂F36Q71: v6 says Q at 0.5–0.9 on
# every frame, v4/v5 say 0; real 粤A5Q951: Q at only 0.19/0.14/0.05 on a plain Q). So a 0 that any
# recogniser doubts this much in favour of Q is contested (on the dev set's CN plates no true 0 gets
# a Q above 0.03, so the cost in no-reads is small; the serial classifier may then settle it).
Q_DOUBT = 0.1
# The same holds for other serial look-alikes on worse cameras: a letter's telling stroke is a pixel or two (D's
# straight side, Z's bars, B's notch, G's spur, S's curl), and the three recognisers, trained on the same kind of
# text, collapse it onto the digit together (皖A752D5 → 皖A75205, 皖AB262Z → 皖AB2622, at 0.99 on training crops
# pasted into scenes). With `lookalike_doubt` set, a serial winner that any recogniser reads as its look-alike at
# that probability is contested like a doubted 0 (the serial classifier may then settle it).
# Only a digit is doubted: the other way round (a G doubted as 6) refused 50 right reads of 600 for 2 wrong ones.
LOOKALIKES = {"0": "QD", "2": "Z", "8": "B", "6": "G", "5": "S"}
MAX_PENALTY = 12.0  # nats: a reading that fits the template only this badly says nothing about it
# Serial characters that never occur on CN plates, folded onto their digit before decoding.
_FOLD = {"O": "0", "I": "1"}
_SERIAL = (CN_LETTER | DIGITS)


@dataclass(frozen=True)
class CnTemplate:
    slots: tuple[tuple[int, ...], ...]  # allowed charset columns per slot
    skip: tuple[int, ...]  # separator columns, decoded as blanks
    fold: tuple[tuple[int, int], ...]  # (from column, onto column) merged before decoding


@cache
def cn_template(rec_name: str) -> CnTemplate:
    """The 7-slot CN template in `rec_name`'s charset columns."""
    charset = _charset(rec_name)
    index = {c: i for i, c in enumerate(charset)}

    def cols(chars: Sequence[str]) -> tuple[int, ...]:
        return tuple(index[c] for c in sorted(chars) if c in index)

    province = tuple(index[c] for c in CN_PROVINCES if c in index)
    serial = cols(_SERIAL)
    slots = (province, cols(CN_LETTER), serial, serial, serial, serial, cols(CN_LAST - {"I", "O"}))
    skip = tuple(i for i, c in enumerate(charset) if c and not normalise(c))
    fold = tuple((index[a], index[b]) for a, b in _FOLD.items() if a in index and b in index)
    return CnTemplate(slots, skip, fold)


@dataclass
class SlotReading:
    """One recogniser's template-constrained reading of one crop."""

    path: ConstrainedPath
    chars: str  # 7 characters, one per slot
    peaks: list[dict[str, float]]  # per slot: character -> peak probability over the slot's steps


def read_slots(probs: np.ndarray, rec_name: str, first: int = 0, last: int = 7) -> SlotReading | None:
    """Constrained reading of template slots first..last-1 (all 7 by default; 0–2 for the small top
    line of a two-line plate, 2–7 for its serial) from a recogniser output (T, C); None when the
    line cannot hold them or fits them only very badly."""
    tpl = cn_template(rec_name)
    charset = _charset(rec_name)
    slots = tpl.slots[first:last]
    path = constrained_best_path(probs, slots, tpl.skip, tpl.fold)
    if path is None or path.penalty > MAX_PENALTY:
        return None
    folded = dict(tpl.fold)
    peaks = []
    for s, allowed in zip(path.slots, slots, strict=True):
        cols = np.asarray(allowed)
        window = probs[s.first : s.last + 1][:, cols].astype(np.float64)
        for j, c in enumerate(cols):
            for a, b in folded.items():
                if b == c:
                    window[:, j] += probs[s.first : s.last + 1, a]
        peak = window.max(axis=0)
        top = np.argsort(peak)[::-1][:5]
        peaks.append({charset[cols[j]]: float(peak[j]) for j in top})
    return SlotReading(path, "".join(charset[c] for c in path.classes), peaks)


@dataclass
class TailVote:
    """Letter + serial (slots 1–6) as voted, with a confidence per slot; `contests` maps a tail
    index whose vote was a tie (confidence 0) to its contenders, winner first."""

    text: str
    conf: list[float]
    contests: dict[int, tuple[str, ...]]


def vote_slots(readings: Sequence[SlotReading], lookalike_doubt: float | None = None) -> TailVote | None:
    """Letter + serial (slots 2–7) voted over one reading per recogniser, with a confidence per slot.

    Winner per slot = highest summed peak probability. Confidence: the noisy-OR of the
    recognisers whose own constrained choice is the winner (one recogniser alone: its peak);
    0 when the runner-up's sum is within SLOT_CONTEST of the winner's, or when the winner is a 0
    that some recogniser doubts in favour of Q (Q_DOUBT), or, with `lookalike_doubt`, a serial character
    that some recogniser reads as its look-alike (LOOKALIKES) that much — those slots are listed in `contests`.
    """
    if not readings:
        return None
    text, conf = [], []
    contests: dict[int, tuple[str, ...]] = {}
    for i in range(1, 7):
        sums: dict[str, float] = {}
        for r in readings:
            for c, v in r.peaks[i].items():
                sums[c] = sums.get(c, 0.0) + v
        ranked = sorted(sums.items(), key=lambda kv: -kv[1])
        win, win_sum = ranked[0]
        agreeing = [r.peaks[i].get(win, 0.0) for r in readings if r.chars[i] == win]
        if not agreeing:
            return None
        contested = len(ranked) > 1 and ranked[1][1] > SLOT_CONTEST * win_sum
        doubts = ["Q"] if win == "0" and any(r.peaks[i].get("Q", 0.0) >= Q_DOUBT for r in readings) else []
        if lookalike_doubt is not None and i >= 2:
            doubts += [c for c in LOOKALIKES.get(win, "")
                       if c not in doubts and any(r.peaks[i].get(c, 0.0) >= lookalike_doubt for r in readings)]
        if contested or doubts:
            contests[i - 1] = tuple(dict.fromkeys([win] + [ranked[1][0]] * contested + doubts))
        c = 0.0 if contested or doubts else 1.0 - float(np.prod([1.0 - a for a in agreeing]))
        text.append(win)
        conf.append(c)
    tail = "".join(text)
    if not (tail[0] in LATIN and tail[0] in CN_LETTER):
        return None
    return TailVote(tail, conf, contests)


def vote_tail(readings: Sequence[SlotReading], lookalike_doubt: float | None = None) -> tuple[str, list[float]] | None:
    """`vote_slots` as (text, confidence per slot)."""
    v = vote_slots(readings, lookalike_doubt)
    return None if v is None else (v.text, v.conf)


def slot_centres(reads: Sequence[SlotReading], crop_height: int) -> list[float]:
    """Each template slot's centre (crop px), averaged over readings of the same crop: CTC step t
    covers columns 8t..8t+8 of the crop scaled to the recognisers' 48-px input height."""
    return [float(np.mean([4.0 * (r.path.slots[k].first + r.path.slots[k].last + 1) for r in reads]))
            * crop_height / 48 for k in range(len(reads[0].path.slots))]


def join(top: SlotReading, bottom: SlotReading) -> SlotReading:
    """A two-line plate's readings (province + letter on top, serial below) as one 7-slot reading."""
    return SlotReading(bottom.path, top.chars + bottom.chars, top.peaks + bottom.peaks)

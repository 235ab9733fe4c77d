"""When a reader runs: the pure rules behind the lane's read cadences.

A plate, a cargo class or a container code that the passage has already read often enough, and consistently
enough, will not change the vote: the lane then reads that camera sparsely or not at all (issue 18: "confirmed,
read sparsely", per vehicle). A frame that looks the same as the last one a reader read is skipped (a stopped
truck). These functions decide that from a passage draft and counts; edge/lane/pipeline.py keeps the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.lane.passage import PassageDraft

SETTLED_CONFIDENCE = 0.9  # reads at least this sure count towards `enough_reads`
AGREED_RUN_EXTRA = 2  # cargo: `enough_reads` + this many classifications in a row of one class also settle it ...
AGREED_MIN_CONFIDENCE = 0.6  # ... when each is at least this sure
NOVELTY_SIZE = (64, 36)  # thumbnail (w, h) compared for `novelty_threshold`: enough to see a truck move


@dataclass
class LaneStats:
    frames: int = 0
    reads: dict[str, int] = field(
        default_factory=lambda: {"plate": 0, "container": 0, "cargo": 0, "hazard": 0, "cargo_text": 0}
    )
    still_skipped: int = 0  # reads skipped: the frame did not differ from the last one that reader read there


def thumbnail(image: np.ndarray) -> np.ndarray:
    """Small grey copy for the novelty test (INTER_AREA averages away sensor and codec noise)."""
    small = cv2.resize(image, NOVELTY_SIZE, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return small.astype(np.int16)


def finds_confirmed(keys: list[str], need: int) -> bool:
    """Every distinct find was read at least `need` times (nothing found yet: not confirmed)."""
    return bool(keys) and need > 0 and min(keys.count(k) for k in set(keys)) >= need


def settled(draft: PassageDraft, kind: str, need: int) -> bool:
    """`need` confident reads of the draft's plate (kind "plate") or cargo class (any other kind) agree."""
    if not need:
        return False
    if kind == "plate":
        keys = [p.text for p in draft.plates if p.text and p.confidence >= SETTLED_CONFIDENCE]
    else:
        known = [c for c in draft.cargo if c.cls != "unknown"]
        run = known[-(need + AGREED_RUN_EXTRA):]
        # the last few classifications all name one class with some confidence: the vote cannot turn
        if (len(run) == need + AGREED_RUN_EXTRA and len({c.cls for c in run}) == 1
                and min(c.confidence for c in run) >= AGREED_MIN_CONFIDENCE):
            return True
        keys = [c.cls for c in known if c.confidence >= SETTLED_CONFIDENCE]
    return bool(keys) and max(keys.count(k) for k in set(keys)) >= need


def nothing_printed(draft: PassageDraft) -> bool:
    """The draft's cargo vote is a closed roof or an empty deck: no sack or carton to read words on."""
    known = [c.cls for c in draft.cargo if c.cls != "unknown"]
    return bool(known) and max(set(known), key=known.count) in ("closed", "empty")


def containers_complete(draft: PassageDraft, codes: set[str]) -> bool:
    """The confirmed `codes` account for the whole truck: a 40 or 45 ft box, or two boxes (a chassis carries
    at most two 20 ft). Then the container camera has nothing left to read for this passage."""
    sizes = {r.code: r.size_type for r in draft.containers if r.code in codes and r.size_type}
    return len(codes) >= 2 or any(st[0] in "4L" for st in sizes.values())

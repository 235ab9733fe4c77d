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

from edge.domain.types import Box
from edge.lane.passage import PassageDraft
from edge.lane.tracks import Track

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


def looked_enough(empty_reads: int, need: int) -> bool:
    """The reader's last `need` reads of a passage on a camera found nothing (0: never): it may read that camera
    sparsely. A code, a panel or a printed word stays in view for seconds, so a sparse look still finds one."""
    return need > 0 and empty_reads >= need


class FindLog:
    """What the container, hazard and cargo-text readers found per live passage draft: one key per distinct find
    per read (towards `confirm_reads`), and per camera how many reads in a row found nothing (`empty_reads`).
    A reader is sparse on a camera while everything it found there is confirmed, or while it has looked
    `empty_reads` times in a row and found nothing; any new find makes it dense again."""

    def __init__(self) -> None:
        self._finds: dict[tuple[int, str], list[str]] = {}
        self._empty: dict[tuple[int, str, str], int] = {}

    def found(self, draft: PassageDraft | None, kind: str, camera: str, keys: set[str],
              anything: bool | None = None) -> None:
        """One read's distinct `keys` (what confirms); `anything`: the read saw something at all (an unverified
        code: look on densely), by default whether there are keys."""
        if draft is None:
            return
        if keys:
            self._finds.setdefault((id(draft), kind), []).extend(sorted(keys))
        empty = (id(draft), kind, camera)
        self._empty[empty] = 0 if (bool(keys) if anything is None else anything) else self._empty.get(empty, 0) + 1

    def keys(self, draft: PassageDraft | None, kind: str) -> list[str]:
        return self._finds.get((id(draft), kind), []) if draft is not None else []

    def confirmed(self, draft: PassageDraft | None, kind: str, need: int) -> bool:
        """Everything this reader found in the passage was read `need` times."""
        return finds_confirmed(self.keys(draft, kind), need)

    def sparse(self, draft: PassageDraft | None, kind: str, camera: str, confirm: int, empty: int) -> bool:
        """Confirmed, or `empty` reads in a row on this camera found nothing (see the class)."""
        if draft is None:
            return False
        return self.confirmed(draft, kind, confirm) or looked_enough(self._empty.get((id(draft), kind, camera), 0),
                                                                      empty)

    def containers_complete(self, draft: PassageDraft | None, need: int) -> bool:
        """The container codes found are confirmed and account for the whole truck (`containers_complete`)."""
        if draft is None or not self.confirmed(draft, "container", need):
            return False
        return containers_complete(draft, set(self.keys(draft, "container")))

    def forget(self, drafts: list[PassageDraft]) -> None:
        gone = {id(d) for d in drafts}
        self._finds = {k: v for k, v in self._finds.items() if k[0] not in gone}
        self._empty = {k: v for k, v in self._empty.items() if k[0] not in gone}

    def __bool__(self) -> bool:
        return bool(self._finds or self._empty)


def settled_text(t: Track, need: int, min_conf: float) -> bool:
    """`need` confident reads (≥ `min_conf`) of the vehicle's leading text agree: reading it more would not change
    its passage's vote (0: never settled). Text only the generic grammar takes needs twice as many: a CN plate
    whose province glyph is lost while it is still small reads as a foreign one (川AS9V79 as MAS9V79, on queues of
    real photos), and the passage vote lets two national reads outvote up to three generic ones
    (`voting.vote_plate`), so reading on while the plate grows lets its national reading win."""
    if not need:
        return False
    counts = t.text_counts(min_conf)
    if not counts:
        return False
    text, n = counts.most_common(1)[0]
    national = any(r.text == text and r.country in ("VN", "CN") for r in t.reads)
    return n >= (need if national else 2 * need)


def read_zones(boxes: list[Box], shape: tuple[int, ...]) -> list[Box]:
    """Read zones around plate boxes: widened by half the width plus the height, and 1.5 heights up and down
    (room for a two-line plate's other line and a box that moved on), clipped, overlapping ones merged."""
    h, w = int(shape[0]), int(shape[1])
    out: list[list[int]] = []
    for b in boxes:
        dx, dy = int(0.5 * b.w + b.h), int(1.5 * b.h)
        z = [max(0, b.x - dx), max(0, b.y - dy), min(w, b.x + b.w + dx), min(h, b.y + b.h + dy)]
        if z[2] - z[0] < 8 or z[3] - z[1] < 8:
            continue
        for o in out:
            if z[0] < o[2] and o[0] < z[2] and z[1] < o[3] and o[1] < z[3]:
                o[:] = [min(o[0], z[0]), min(o[1], z[1]), max(o[2], z[2]), max(o[3], z[3])]
                break
        else:
            out.append(z)
    return [Box(x=a, y=b_, w=c - a, h=d - b_) for a, b_, c, d in out]

"""Vehicles whose plate is never read still get a passage (issue 18: a truck must never pass unrecorded).

A passage follows a vehicle track, and tracks were made of plate *reads*: a truck whose plate no frame could read
(dirty, bent, covered, a layout no reader knows) made no track, and in a queue, where the zone never empties, no
occupancy passage either. It crossed the gate without a verdict. The plate gate, though, sees its plate-shaped line
on every look. Such a line in the trigger zone that no read explains becomes a *place*
(`PlateTracker.hold_places(startup=False)`), followed by template matching and found again by the next looks (a read
there makes a track of its own: a place followed in traffic may have drifted onto another vehicle's lettering). A
place that ends is a vehicle never read when:

* the plate gate found it more than once (`MIN_SIGHTINGS`: one detection may be anything) and it moved by more
  than its own height (a sign or a painted mark stands still);
* it left as vehicles leave (exit line, trigger zone, frame edge), not lost from sight;
* no passage without a vehicle was open when it was first seen (occupancy in an empty lane, a loop): that passage
  is the vehicle's already;
* it was not on a read vehicle's plate on any frame, and did not leave *with* a read vehicle (`left_with`): lettering
  on a read truck's cab or bumper is plate-shaped too, is seen while that truck's plate is, and leaves when the
  truck does. The next truck in a queue leaves later (the gate lets one truck through at a time), the one in front
  earlier. Motion alone cannot tell them apart: a queue moving in step is as rigid as one truck, and the followed
  boxes do not keep their scale well enough to measure parallax (tried on queues of real photos: lettering looked
  non-rigid). So the judgement waits `LEFT_TOGETHER_S` after the place left, for the vehicles it was seen with to
  leave too or not.

Such a place gets its own passage, its plate a `never_read` no-read (the verdict flags `plate_unread`) with the
frame where the line was seen largest as evidence. Pure logic on tracks; the lane (pipeline.py) opens the passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from edge.lane.tracks import Track, centre

NEVER_READ = "never_read"  # the no-read reason of such a passage's plate
MIN_SIGHTINGS = 2
LEAVING = frozenset({"exit_line", "left_zone", "left_frame"})
# A place and a read vehicle that were seen together and left within this many seconds of each other are one
# vehicle (its plate and its lettering): lettering above a plate crosses the exit line or the frame edge a moment
# after the plate does, while trucks at a gate leave one at a time, seconds apart. A vehicle never read that follows
# a read one closer than this is not given a passage (as before), rather than a read truck's lettering a false one
SEEN_TOGETHER = 1 / 3  # ... seen together: on at least this share of the place's sightings (and 3 of them)
LEFT_TOGETHER_S = 2.0
MIN_TOGETHER = 3
NEAR_SIZES = 2.0  # ... or first seen within this many plate sizes of where the plate that just left would be


def candidate(place: Track) -> bool:
    """An ended place that may be a vehicle never read (before asking whether it left with a read one)."""
    return (place.traffic_place and not place.departed and not place.covered and place.moved
            and place.end_reason in LEAVING and place.sightings >= MIN_SIGHTINGS)


def vehicle(t: Track) -> bool:
    """A track that is a vehicle of its own: in view at start-up (read or not), read and confirmed, or a place already
    judged one. (A single read that never confirmed made no passage: a place beside it may be a vehicle never read.)"""
    return t.startup or (t.unread_passage if t.place_only else t.confirmed)


def left_with(place: Track, other: Track) -> bool:
    """`place` is a part of `other` (a vehicle): it was on `other`'s plate on some frame; or they were seen together
    and left within `LEFT_TOGETHER_S` of each other; or it was first seen just after `other` left, where that plate
    would have been by then (a line right beside a followed plate is that plate's, not a place, so lettering close to
    a plate becomes a place only when the plate has gone)."""
    theirs = dict(other.path)
    common = [(b, theirs[ts]) for ts, b in place.path if ts in theirs]
    if any(b.iou(o) > 0.1 for b, o in common):
        return True
    if abs((other.last_seen - place.last_seen).total_seconds()) > LEFT_TOGETHER_S:
        return False  # its last sighting is when it left (a track still followed has been seen just now)
    if len(common) >= max(MIN_TOGETHER, SEEN_TOGETHER * len(place.path)):
        return True
    after = (place.first_seen - other.last_seen).total_seconds()
    if not 0 <= after <= LEFT_TOGETHER_S or place.first_box is None:
        return False
    (px, py), (ox, oy) = centre(place.first_box), centre(other.predicted(place.first_seen))
    return ((px - ox) ** 2 + (py - oy) ** 2) ** 0.5 <= NEAR_SIZES * max(other.box.w, other.box.h)


class UnreadJudge:
    """Ended places wait here until `LEFT_TOGETHER_S` after they left; then `due` says which were vehicles."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Track, list[Track]]] = []

    def add(self, place: Track, others: Sequence[Track]) -> None:
        """A place that ended; `others`: the tracks live or recently ended now (those it may have left with)."""
        if candidate(place):
            self.waiting.append((place, [o for o in others if o is not place]))

    def due(self, now: datetime | None) -> list[Track]:
        """Places judged now (all of them when `now` is None: end of input) that left without a read vehicle."""
        ready: list[tuple[Track, list[Track]]] = []
        waiting: list[tuple[Track, list[Track]]] = []
        for w in self.waiting:
            late = now is None or (now - w[0].last_seen).total_seconds() > LEFT_TOGETHER_S
            (ready if late else waiting).append(w)
        self.waiting = waiting
        out = []
        for p, others in ready:
            if not any(left_with(p, o) for o in others if vehicle(o)):
                p.unread_passage = True
                out.append(p)
        return out

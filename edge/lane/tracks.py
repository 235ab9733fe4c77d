"""Vehicles on the trigger camera, followed through their plate boxes (ByteTrack-style association, CPU only).

A passage should follow a vehicle, not the zone's occupancy: in a queue the zone never empties. The plate
reader already gives a box and a text for every plate it reads, so a vehicle is tracked by its plate:

* **Association** (each read frame): every plate read is matched to a live track, cheapest first, by
  (a) position: the read's box against the track's box moved on by its velocity (IoU, or the centres within
  1.5 box sizes), and (b) text: the same or a similar string (Jaro-Winkler ≥ 0.8; once the track is lost, at
  most one edit away: plates of one district share their first characters) joins its track even when the box
  jumped (a misdetection in between). A read that matches nothing starts a *tentative* track; a second read
  makes it *confirmed*. Reads a track does not get for `lost_s` end it.
* **A plate change at one place** (a car pulls up where the one before stood): a run of `split_reads` reads
  of a new text at a track's position, with none of its old text among them, ends the old track at its last
  old read and starts a new one with the run. Until then the run's reads are *held*: nobody's (`held`).
* **Following without reading**: once a track's plate is settled (enough agreeing reads), the reader stops for
  that vehicle and the plate patch is followed by normalised cross-correlation in a window around the
  predicted box (three scales: the plate grows as the truck comes closer): ~1 ms instead of ~80 ms a read.
  A weak match, or one far below the last (`FOLLOW_KEEP`), means the plate is hidden or gone: the track is
  *lost*, reading resumes, and a read of the same text within `lost_s` picks the track up again.
* **Leaving**: a track ends when its box centre crosses the lane's `exit_line` (from the side it was first
  seen on) or leaves the trigger zone it was first seen in, when its box leaves the frame, or after `lost_s`
  unseen. A plate read again soon after its track
  ended (the exact text within three `lost_s`), or first seen beyond the exit line, is a vehicle that already left:
  `departed`, never a new passage.
* **Start-up places**: a plate in view at start-up that the first look could not read (too dirty, too small, seen
  at an angle) is still a vehicle that was there before the start. Its place (`hold_places`) is followed like a
  settled plate, and like a settled vehicle's plate it is not read again while followed; a read that does land
  there (a look for another vehicle) joins it. So that vehicle stays a start-up one when it moves on and would
  become readable (queues of real photos: 2 of 19 clips gave it a passage). A place that cannot be followed, or is
  still unread after `PLACE_HOLD_S`, is dropped.
* **Places during traffic** (`hold_places(startup=False)`): a plate-shaped line the plate gate finds later that no
  read explains is held the same way, but looked at again by the gate (and read) every `search_every_n` frames as
  an approaching vehicle would be, and lost rather than dropped when the template fails (the next look finds it
  again). A read landing there does not join it (a place followed in traffic may have drifted onto another
  vehicle's lettering, whose read would take over its past: seen on queues of real photos); when it ends,
  edge.lane.unread judges whether it was a vehicle never read or a part of one that was read. One that does not
  move is dropped after `PLACE_HOLD_S`.

Pure logic on boxes and grey images; time comes from frame timestamps.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein

from edge.domain.types import Box, PlateRead
from edge.lane.follow import FOLLOW_KEEP, best_match, grey_of, patch
from edge.lane.plausibility import EDGE_PX

SAME_TEXT = 0.8  # Jaro-Winkler at or above which two plate strings are one vehicle's (misreads of one plate)
# A lost track (its plate vanished) takes a read of another text only this close (edits): plates of one district
# share their first characters (RK082AL, RK069AV: Jaro-Winkler 0.8), and the next vehicle's plate where the lost one
# was is another vehicle, not a misread (queues of real photos, smartgate_tools.bench.photo_clips)
LOST_SAME_EDITS = 1
# A start-up place (a plate-shaped line nobody could read at start-up) is held at most this long: a vehicle standing
# at the barrier when the daemon started moves on within it, and a sign that only looks like a plate must not
# hold a place on the lane for ever (reads of other vehicles' plates there would join it)
PLACE_HOLD_S = 30.0
PLACE_SIZE = 2.0  # a read joins a place only if their heights are within this ratio (the same plate, nearer)
PATH_KEEP = 300  # sightings kept per track (30 s at 10 frames a second): which tracks were seen together, and where


def centre(b: Box) -> tuple[float, float]:
    return b.x + b.w / 2.0, b.y + b.h / 2.0


def side_of(line: Sequence[tuple[float, float]], p: tuple[float, float]) -> int:
    """-1, 0 or 1: which side of the (pixel) line through two points the point lies on."""
    (x0, y0), (x1, y1) = line[0], line[1]
    v = (x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0)
    return 0 if v == 0 else (1 if v > 0 else -1)


@dataclass
class Track:
    id: int
    first_seen: datetime
    last_seen: datetime
    box: Box
    reads: list[PlateRead] = field(default_factory=list)  # texted reads, oldest first
    hits: int = 1
    startup: bool = False  # in view when the lane started: never a passage
    # a vehicle that already left (seen again beyond the exit line, or the plate of a track that just ended):
    # never a new passage; `continues` is the id of the ended track whose plate it is
    departed: bool = False
    continues: int | None = None
    moved: bool = False  # the box moved by more than its own height since first seen
    ended: bool = False
    end_reason: str | None = None  # exit_line | left_zone | left_frame | lost | replaced
    lost: bool = False  # a followed plate was not found: reading resumes
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, pixels per second
    first_side: int = 0  # side of the exit line at the first sighting
    template: np.ndarray | None = None
    follow_score: float | None = None  # the last accepted template match score (None: the template is a read's)
    settled: bool = False  # enough agreeing reads: followed, not read
    first_box: Box | None = None
    path: list[tuple[datetime, Box]] = field(default_factory=list)  # where it was seen, oldest first (capped)
    sightings: int = 0  # a place: the looks (plate gate) that found a plate-shaped line there
    snap: tuple[datetime, np.ndarray, Box] | None = None  # a place: the frame where it was seen largest (evidence)
    unread_passage: bool = False  # a place that was given a passage as a vehicle never read (edge.lane.unread)
    covered: bool = False  # a place first seen while a passage with no vehicle yet was open: that one records it

    @property
    def place_only(self) -> bool:
        """A place: no read yet (see `PlateTracker.hold_places`)."""
        return not self.reads

    @property
    def traffic_place(self) -> bool:
        """A place held during traffic, not at start-up: perhaps a vehicle never read (edge.lane.unread)."""
        return self.place_only and not self.startup

    @property
    def confirmed(self) -> bool:
        """Two reads make a vehicle; three when no read fits a VN/CN grammar (a sign, a sticker?)."""
        national = any(r.country in ("VN", "CN") for r in self.reads)
        return self.hits >= (2 if national else 3)

    def text_counts(self, min_conf: float = 0.0) -> Counter[str]:
        return Counter(r.text for r in self.reads if r.text and r.confidence >= min_conf)

    @property
    def text(self) -> str | None:
        """The most often read text (None: no text yet)."""
        c = self.text_counts()
        return c.most_common(1)[0][0] if c else None

    def predicted(self, ts: datetime) -> Box:
        dt = (ts - self.last_seen).total_seconds()
        vx, vy = self.velocity
        return Box(x=int(round(self.box.x + vx * dt)), y=int(round(self.box.y + vy * dt)), w=self.box.w,
                   h=self.box.h)


def same_plate(t: Track, text: str) -> bool:
    """`text` may be a misread of the track's plate: similar to a text it was read as (`SAME_TEXT`), and, once the
    track is lost, at most `LOST_SAME_EDITS` edits from one."""
    known = t.text_counts()
    if not known or max(JaroWinkler.similarity(text, k) for k in known) < SAME_TEXT:
        return False
    return not t.lost or min(Levenshtein.distance(text, k) for k in known) <= LOST_SAME_EDITS


def _similar_size(a: Box, b: Box) -> bool:
    return max(a.h, b.h) <= PLACE_SIZE * max(1, min(a.h, b.h))


class PlateTracker:
    def __init__(
        self,
        lost_s: float = 1.0,
        split_reads: int = 3,
        follow_min: float = 0.6,
        exit_line: Sequence[tuple[float, float]] | None = None,
        zone: Sequence[Sequence[float]] | None = None,
    ) -> None:
        """`exit_line`: two points (x, y), normalised 0..1 or pixels, on the trigger camera's frame. `zone`: the
        trigger zone polygon (same coordinates); a plate that was inside it and is now outside has left."""
        from calibration.zones import Polygon

        self.zone = Polygon.from_points(zone) if zone else None
        self.lost = timedelta(seconds=lost_s)
        self.split_reads = split_reads
        self.follow_min = follow_min
        self.exit_line = [tuple(p) for p in exit_line] if exit_line else None
        self.tracks: list[Track] = []  # live tracks, oldest first
        self._ids = itertools.count(1)
        self._shape: tuple[int, int] | None = None
        self._pending: dict[int, list[PlateRead]] = {}  # track id → run of reads of another text at its place
        self._ended: list[Track] = []  # ended since the last `expire`
        self._exit_side = 0  # the side of the exit line vehicles leave to (learnt from the first crossing)
        self._gone: list[Track] = []  # tracks that ended recently: their plate seen again is the same vehicle

    # -- geometry -------------------------------------------------------------------------------------
    def _line_px(self) -> list[tuple[float, float]] | None:
        if self.exit_line is None or self._shape is None:
            return None
        h, w = self._shape
        if all(0.0 <= c <= 1.0 for p in self.exit_line for c in p):
            return [(p[0] * w, p[1] * h) for p in self.exit_line]
        return [(float(p[0]), float(p[1])) for p in self.exit_line]

    def _side(self, b: Box) -> int:
        line = self._line_px()
        return side_of(line, centre(b)) if line else 0

    def _near(self, t: Track, b: Box, ts: datetime) -> float | None:
        """Position cost of box `b` for track `t` (None: too far to be the same plate)."""
        p = t.predicted(ts)
        o = p.iou(b)
        (px, py), (bx, by) = centre(p), centre(b)
        scale = max(p.w, p.h, b.w, b.h, 1)
        d = ((px - bx) ** 2 + (py - by) ** 2) ** 0.5 / scale
        if o <= 0.0 and d > 1.5:
            return None
        return (1.0 - o) + 0.5 * d

    # -- updates --------------------------------------------------------------------------------------
    def observe(self, ts: datetime, image: np.ndarray, reads: Sequence[PlateRead], startup: bool = False) -> list[Track]:
        """Associate one frame's texted plate reads with the tracks; returns the tracks that became confirmed
        on this frame (new vehicles). `startup`: tracks born now are vehicles that were in view at start."""
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        reads = [r for r in reads if r.text and r.box is not None]
        live = [t for t in self.tracks if not t.ended]
        pairs = []
        for i, r in enumerate(reads):
            assert r.box is not None
            for t in live:
                cost = self._near(t, r.box, ts)
                if t.place_only and (t.traffic_place or cost is None or not _similar_size(t.box, r.box)):
                    continue  # a read joins a start-up place only (a place may have drifted: edge.lane.unread)
                exact = (r.text or "") in t.text_counts()
                if cost is None and not exact:
                    continue  # elsewhere, and not the same text: another vehicle
                similar = exact or same_plate(t, r.text or "")
                pairs.append(((0.0 if similar else 1.0) + (cost if cost is not None else 2.0), i, t))
        used_r: set[int] = set()
        used_t: set[int] = set()
        newly: list[Track] = []
        grey = grey_of(image)
        for _, i, t in sorted(pairs, key=lambda p: p[0]):
            if i in used_r or t.id in used_t:
                continue
            used_r.add(i)
            used_t.add(t.id)
            r = reads[i]
            if self._changed_plate(t, r, ts, grey, newly, startup):
                continue
            was = t.confirmed
            self._add(t, r, ts, grey)
            if t.confirmed and not was:
                newly.append(t)
        for i, r in enumerate(reads):
            if i in used_r:
                continue
            t = self._new(r, ts, grey, startup)
            self.tracks.append(t)
        return newly

    def _changed_plate(self, t: Track, r: PlateRead, ts: datetime, grey: np.ndarray, newly: list[Track],
                       startup: bool) -> bool:
        """A read of another text at a track's place: one is a misread; a run of them is a new vehicle."""
        known = t.text_counts()
        if not known or same_plate(t, r.text or ""):
            self._pending.pop(t.id, None)
            return False
        run = self._pending.setdefault(t.id, [])
        if run and JaroWinkler.similarity(run[0].text or "", r.text or "") < SAME_TEXT:
            run.clear()
        run.append(r)
        if len(run) < self.split_reads:
            return True  # held back: neither the old vehicle's read nor (yet) a new one's
        self._end(t, "replaced")
        first = run[0]
        assert first.box is not None
        nt = self._new(first, ts, grey, startup)
        for x in run[1:]:
            self._add(nt, x, ts, grey)
        self.tracks.append(nt)
        self._pending.pop(t.id, None)
        if nt.confirmed:
            newly.append(nt)
        return True

    def hold_places(self, ts: datetime, image: np.ndarray, boxes: Sequence[Box], startup: bool = True,
                    covered: bool = False) -> int:
        """Plate-shaped lines (the plate gate's boxes) that no track covers: places of plates nobody could read,
        each followed from now on. At start-up (`startup`) they are vehicles that were there before the start;
        later (a look during traffic) they may be a vehicle whose plate is never read (edge.lane.unread), and a
        box that lands on such a place again is another sighting of it; `covered`: a passage that no vehicle track
        has yet is open (occupancy, a loop): it is that vehicle's. Returns how many places are new."""
        grey = grey_of(image)
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        n = 0
        for b in boxes:
            near = [t for t in self.live() if self._near(t, b, ts) is not None]
            if near:  # a track is there: not a new place
                seen = next((t for t in near if t.traffic_place and _similar_size(t.box, b)), None)
                if not startup and seen is not None:
                    self._sighted(seen, b, ts, grey, image)
                continue
            if not startup and self.zone is not None and not self._in_zone(b):
                continue  # outside the trigger zone (the next lane's traffic): no vehicle of this lane
            t = Track(id=next(self._ids), first_seen=ts, last_seen=ts, box=b, hits=0, startup=startup, first_box=b,
                      settled=True, template=patch(grey, b), first_side=self._side(b), path=[(ts, b)])
            if not startup:
                t.sightings, t.snap, t.covered = 1, (ts, image, b), covered
                if self._exit_side and t.first_side == self._exit_side:
                    t.departed = True  # beyond the exit line: a vehicle that has left
            self.tracks.append(t)
            n += 1
        return n

    def _sighted(self, t: Track, b: Box, ts: datetime, grey: np.ndarray, image: np.ndarray) -> None:
        """The plate gate found a place's plate-shaped line again: it is there (or has moved there: unless following
        already placed it on this frame)."""
        if t.last_seen < ts or t.lost:
            self._move(t, b, ts)
            t.template = patch(grey, b)
            t.follow_score = None
        t.lost = False
        t.sightings += 1
        if t.snap is None or b.h >= t.snap[2].h:
            t.snap = (ts, image, b)

    @property
    def _recall_s(self) -> float:
        """How long an ended track is remembered: its plate seen again within it is the same vehicle."""
        return max(3.0 * self.lost.total_seconds(), 3.0)

    def _forget(self, ts: datetime) -> None:
        """Ended tracks are remembered for three `lost_s` (at least 3 s; a plate seen again within it is the same
        vehicle), and while a place that was there with them is still followed (edge.lane.unread asks what it was
        seen with). Pruned on every frame: places keep their best frame and must not pile up."""
        recall = self._recall_s
        since = min((t.first_seen for t in self.tracks if t.place_only), default=ts)  # ending now: still here
        self._gone = [g for g in self._gone if (ts - g.last_seen).total_seconds() <= recall or g.last_seen >= since]

    def recent(self) -> list[Track]:
        """Live tracks and those that ended lately (still remembered for a plate seen again)."""
        return [*self.live(), *self._gone]

    def touch(self, ts: datetime) -> None:
        """The frame was skipped as unchanged: the plates followed are still where they were."""
        for t in self.live():
            if not t.lost:
                t.last_seen = ts

    def _new(self, r: PlateRead, ts: datetime, grey: np.ndarray, startup: bool) -> Track:
        assert r.box is not None
        t = Track(id=next(self._ids), first_seen=ts, last_seen=ts, box=r.box, reads=[r], startup=startup,
                  first_box=r.box, path=[(ts, r.box)])
        t.first_side = self._side(r.box)
        t.template = patch(grey, r.box)
        gone = [g for g in self._gone if (ts - g.last_seen).total_seconds() <= self._recall_s]
        # the exact text: fleets run consecutive plates (29C12345, 29C12346) one behind the other
        same = next((g for g in reversed(gone) if g.text and r.text and g.text == r.text), None)
        if same is not None:
            t.departed, t.continues, t.startup = True, same.id, same.startup
        elif self._exit_side and t.first_side == self._exit_side:
            t.departed = True  # first seen beyond the exit line: it has already left
        return t

    def _add(self, t: Track, r: PlateRead, ts: datetime, grey: np.ndarray) -> None:
        assert r.box is not None
        self._move(t, r.box, ts)
        t.reads.append(r)
        t.hits += 1
        t.lost = False
        t.template = patch(grey, r.box)
        t.follow_score = None

    def _move(self, t: Track, b: Box, ts: datetime) -> None:
        dt = (ts - t.last_seen).total_seconds()
        (ox, oy), (nx, ny) = centre(t.box), centre(b)
        if dt > 0:
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            t.velocity = (0.5 * t.velocity[0] + 0.5 * vx, 0.5 * t.velocity[1] + 0.5 * vy) if t.hits > 1 else (vx, vy)
        t.box, t.last_seen = b, ts
        t.path.append((ts, b))
        if len(t.path) > PATH_KEEP:
            del t.path[: len(t.path) - PATH_KEEP]
        fb = t.first_box or b
        (fx, fy) = centre(fb)
        if ((nx - fx) ** 2 + (ny - fy) ** 2) ** 0.5 > max(fb.h, 4):
            t.moved = True

    def follow(self, ts: datetime, image: np.ndarray) -> None:
        """Follow settled tracks that were not read on this frame by matching their plate patch."""
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        grey: np.ndarray | None = None
        for t in self.tracks:
            if t.ended or not t.settled or t.lost or t.last_seen == ts:
                continue
            if grey is None:
                grey = grey_of(image)
            found = self._match(t, grey, ts)
            if found is None:
                if t.place_only and t.startup:
                    self._end(t, "lost")  # an unread place that cannot be followed: nothing to join a read to
                elif t.traffic_place:
                    t.lost = True  # a vehicle's unread plate: the next look (plate gate) finds it again or not
                elif self._leaving(t, ts):
                    self._end(t, "left_frame")  # ran into the frame edge: gone, nothing left to read
                else:
                    t.lost = True  # hidden or not found: read again
                continue
            self._move(t, found, ts)
            t.template = patch(grey, found)

    def _match(self, t: Track, grey: np.ndarray, ts: datetime) -> Box | None:
        if t.template is None or t.template.size == 0:
            return None
        best = best_match(t.template, grey, t.predicted(ts), t.box)
        if best is None or best[0] < self.follow_min:
            return None
        if t.follow_score is not None and best[0] < FOLLOW_KEEP * t.follow_score:
            return None  # a sudden drop: the plate is gone or hidden, and what matches now is something else
        t.follow_score = best[0]
        return best[1]

    def expire(self, ts: datetime) -> list[Track]:
        """End tracks that crossed the exit line, left the frame or were unseen for `lost_s`; returns them."""
        self._forget(ts)
        for t in self.tracks:
            if t.ended:
                continue
            reason = None
            if self.exit_line is not None and t.first_side and self._side(t.box) == -t.first_side:
                reason = "exit_line"
            elif self.zone is not None and self._in_zone(t.first_box or t.box) and not self._in_zone(t.box):
                reason = "left_zone"
            elif self._shape is not None and (self._outside(t.box) or t.last_seen < ts and self._leaving(t, ts)):
                reason = "left_frame"
            elif ts - t.last_seen >= self.lost or t.place_only and (t.startup or not t.moved) \
                    and (ts - t.first_seen).total_seconds() > PLACE_HOLD_S:
                reason = "lost"
            if reason:
                self._end(t, reason)
        self.tracks = [t for t in self.tracks if not t.ended]
        out, self._ended = self._ended, []
        return out

    def _in_zone(self, b: Box) -> bool:
        assert self.zone is not None and self._shape is not None
        cx, cy = centre(b)
        if self.zone.normalised:
            cx, cy = cx / self._shape[1], cy / self._shape[0]
        return self.zone.contains((cx, cy))

    def _leaving(self, t: Track, ts: datetime) -> bool:
        """Not seen on this frame, and where it was heading reaches the frame edge (a cut plate cannot be read
        again: no point waiting `lost_s` for it)."""
        assert self._shape is not None
        h, w = self._shape
        p, m = t.predicted(ts), EDGE_PX
        return p.x <= m or p.y <= m or p.x + p.w >= w - m or p.y + p.h >= h - m

    def _outside(self, b: Box) -> bool:
        assert self._shape is not None
        h, w = self._shape
        cx, cy = centre(b)
        return not (0 <= cx < w and 0 <= cy < h)

    def _end(self, t: Track, reason: str) -> None:
        t.ended = True
        t.end_reason = reason
        self._pending.pop(t.id, None)
        self._ended.append(t)
        if reason == "exit_line" and not self._exit_side:
            self._exit_side = -t.first_side
        if reason != "replaced":
            self._gone.append(t)

    def live(self) -> list[Track]:
        return [t for t in self.tracks if not t.ended]

    def held(self) -> list[PlateRead]:
        """Reads held back at a track's place: another text there, a misread of its plate or the first reads of a
        vehicle that pulled up where it stood. They belong to no vehicle until the run decides."""
        return [r for run in self._pending.values() for r in run]

    def reset(self) -> None:
        self.tracks.clear()
        self._pending.clear()

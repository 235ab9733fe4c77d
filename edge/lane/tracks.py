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

Pure logic on boxes and grey images; time comes from frame timestamps.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import cv2
import numpy as np
from rapidfuzz.distance import JaroWinkler, Levenshtein

from edge.domain.types import Box, PlateRead
from edge.lane.plausibility import EDGE_PX

SAME_TEXT = 0.8  # Jaro-Winkler at or above which two plate strings are one vehicle's (misreads of one plate)
# A lost track (its plate vanished) takes a read of another text only this close (edits): plates of one district
# share their first characters (RK082AL, RK069AV: Jaro-Winkler 0.8), and the next vehicle's plate where the lost one
# was is another vehicle, not a misread (queues of real photos, smartgate_tools.bench.photo_clips)
LOST_SAME_EDITS = 1
FOLLOW_SCALES = (1.0, 1.08, 1.17)  # template scales tried when following (an approaching plate grows)
FOLLOW_PAD = 0.25  # template: the plate box with this much context on each side
# A follow whose match score falls below this share of the previous one is a plate lost, not found: the template is
# replaced by what it matched, so accepting a weak match of whatever took the plate's place (the next car's bumper
# when the one in front has gone) would follow that for ever and merge two vehicles into one passage (seen on queues
# of real photos, smartgate_tools.bench.photo_clips: scores 0.96 on the plate, 0.68 on the first frame it had gone)
FOLLOW_KEEP = 0.85
# A start-up place (a plate-shaped line nobody could read at start-up) is held at most this long: a vehicle standing
# at the barrier when the daemon started moves on within it, and a sign that only looks like a plate must not
# hold a place on the lane for ever (reads of other vehicles' plates there would join it)
PLACE_HOLD_S = 30.0
PLACE_SIZE = 2.0  # a read joins a place only if their heights are within this ratio (the same plate, nearer)


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
    end_reason: str | None = None  # exit_line | left_frame | lost | replaced
    lost: bool = False  # a followed plate was not found: reading resumes
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre, pixels per second
    first_side: int = 0  # side of the exit line at the first sighting
    template: np.ndarray | None = None
    follow_score: float | None = None  # the last accepted template match score (None: the template is a read's)
    settled: bool = False  # enough agreeing reads: followed, not read
    first_box: Box | None = None

    @property
    def place_only(self) -> bool:
        """A start-up place: no read yet (see `PlateTracker.hold_places`)."""
        return not self.reads

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


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _clip(b: Box, shape: Sequence[int]) -> tuple[int, int, int, int] | None:
    h, w = int(shape[0]), int(shape[1])
    x0, y0, x1, y1 = max(0, b.x), max(0, b.y), min(w, b.x + b.w), min(h, b.y + b.h)
    return (x0, y0, x1, y1) if x1 - x0 >= 4 and y1 - y0 >= 4 else None


def _padded(b: Box, pad: float) -> Box:
    px, py = int(round(b.w * pad)), int(round(b.h * pad))
    return Box(x=b.x - px, y=b.y - py, w=b.w + 2 * px, h=b.h + 2 * py)


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
                if t.place_only and (cost is None or not _similar_size(t.box, r.box)):
                    continue
                exact = (r.text or "") in t.text_counts()
                if cost is None and not exact:
                    continue  # elsewhere, and not the same text: another vehicle
                similar = exact or same_plate(t, r.text or "")
                pairs.append(((0.0 if similar else 1.0) + (cost if cost is not None else 2.0), i, t))
        used_r: set[int] = set()
        used_t: set[int] = set()
        newly: list[Track] = []
        grey = _grey(image)
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

    def hold_places(self, ts: datetime, image: np.ndarray, boxes: Sequence[Box]) -> int:
        """Start-up: plate-shaped lines (the plate gate's boxes) that no track covers are vehicles' plates the
        first look could not read; each becomes a followed start-up place. Returns how many."""
        grey = _grey(image)
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        n = 0
        for b in boxes:
            if any(self._near(t, b, ts) is not None for t in self.live()):  # a track is there: not unread
                continue
            t = Track(id=next(self._ids), first_seen=ts, last_seen=ts, box=b, hits=0, startup=True, first_box=b,
                      settled=True, template=self._patch(grey, b), first_side=self._side(b))
            self.tracks.append(t)
            n += 1
        return n

    def touch(self, ts: datetime) -> None:
        """The frame was skipped as unchanged: the plates followed are still where they were."""
        for t in self.live():
            if not t.lost:
                t.last_seen = ts

    def _new(self, r: PlateRead, ts: datetime, grey: np.ndarray, startup: bool) -> Track:
        assert r.box is not None
        t = Track(id=next(self._ids), first_seen=ts, last_seen=ts, box=r.box, reads=[r], startup=startup,
                  first_box=r.box)
        t.first_side = self._side(r.box)
        t.template = self._patch(grey, r.box)
        recall = max(3.0 * self.lost.total_seconds(), 3.0)
        self._gone = [g for g in self._gone if (ts - g.last_seen).total_seconds() <= recall]
        # the exact text: fleets run consecutive plates (29C12345, 29C12346) one behind the other
        same = next((g for g in reversed(self._gone) if g.text and r.text and g.text == r.text), None)
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
        t.template = self._patch(grey, r.box)
        t.follow_score = None

    def _move(self, t: Track, b: Box, ts: datetime) -> None:
        dt = (ts - t.last_seen).total_seconds()
        (ox, oy), (nx, ny) = centre(t.box), centre(b)
        if dt > 0:
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            t.velocity = (0.5 * t.velocity[0] + 0.5 * vx, 0.5 * t.velocity[1] + 0.5 * vy) if t.hits > 1 else (vx, vy)
        t.box, t.last_seen = b, ts
        fb = t.first_box or b
        (fx, fy) = centre(fb)
        if ((nx - fx) ** 2 + (ny - fy) ** 2) ** 0.5 > max(fb.h, 4):
            t.moved = True

    @staticmethod
    def _patch(grey: np.ndarray, b: Box) -> np.ndarray | None:
        c = _clip(_padded(b, FOLLOW_PAD), grey.shape)
        if c is None:
            return None
        x0, y0, x1, y1 = c
        return grey[y0:y1, x0:x1].copy()

    def follow(self, ts: datetime, image: np.ndarray) -> None:
        """Follow settled tracks that were not read on this frame by matching their plate patch."""
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        grey: np.ndarray | None = None
        for t in self.tracks:
            if t.ended or not t.settled or t.lost or t.last_seen == ts:
                continue
            if grey is None:
                grey = _grey(image)
            found = self._match(t, grey, ts)
            if found is None:
                if t.place_only:
                    self._end(t, "lost")  # an unread place that cannot be followed: nothing to join a read to
                elif self._leaving(t, ts):
                    self._end(t, "left_frame")  # ran into the frame edge: gone, nothing left to read
                else:
                    t.lost = True  # hidden or not found: read again
                continue
            self._move(t, found, ts)
            t.template = self._patch(grey, found)

    def _match(self, t: Track, grey: np.ndarray, ts: datetime) -> Box | None:
        tpl = t.template
        if tpl is None or tpl.size == 0:
            return None
        p = t.predicted(ts)
        th, tw = tpl.shape[:2]
        best: tuple[float, Box] | None = None
        for s in FOLLOW_SCALES:
            sw, sh = max(4, int(round(tw * s))), max(4, int(round(th * s)))
            pb = _padded(p, FOLLOW_PAD)
            cx, cy = centre(pb)
            win = Box(x=int(cx - sw), y=int(cy - sh), w=2 * sw, h=2 * sh)  # search twice the template size
            c = _clip(win, grey.shape)
            if c is None:
                continue
            x0, y0, x1, y1 = c
            if x1 - x0 < sw or y1 - y0 < sh:
                continue
            scaled = cv2.resize(tpl, (sw, sh), interpolation=cv2.INTER_LINEAR) if s != 1.0 else tpl
            res = cv2.matchTemplate(grey[y0:y1, x0:x1], scaled, cv2.TM_CCOEFF_NORMED)
            _, score, _, loc = cv2.minMaxLoc(res)
            if best is None or score > best[0]:
                # the plate box inside the matched (padded) patch
                px = int(round(t.box.w * s * FOLLOW_PAD))
                py = int(round(t.box.h * s * FOLLOW_PAD))
                bw, bh = max(1, int(round(t.box.w * s))), max(1, int(round(t.box.h * s)))
                best = (float(score), Box(x=x0 + loc[0] + px, y=y0 + loc[1] + py, w=bw, h=bh))
        if best is None or best[0] < self.follow_min:
            return None
        if t.follow_score is not None and best[0] < FOLLOW_KEEP * t.follow_score:
            return None  # a sudden drop: the plate is gone or hidden, and what matches now is something else
        t.follow_score = best[0]
        return best[1]

    def expire(self, ts: datetime) -> list[Track]:
        """End tracks that crossed the exit line, left the frame or were unseen for `lost_s`; returns them."""
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
            elif ts - t.last_seen >= self.lost or t.place_only and (ts - t.first_seen).total_seconds() > PLACE_HOLD_S:
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

"""Group one lane's frames into passages: one per vehicle.

Two ways open a passage. The zone's occupancy (`on_trigger`): the trigger camera
sees something in its zone for a couple of frames, and the passage closes after
the zone has been empty for `gap_s` (the fallback for an empty single-truck
lane; an external trigger takes the same slot). A vehicle track (`open_track`,
edge.lane.tracks): in a queue the zone never empties, so each tracked vehicle gets
its own passage, closed by the caller when its track ends. A track that appears
while an occupancy passage has no vehicle yet is adopted by it.

Reads from the lane's other cameras (container side, cargo top) keep flowing
into a closed passage for `post_s`, because those cameras see the truck's body
after its front has left the trigger zone. When several passages are live (a
queue), such a read goes to the one that closed less than `handover_s` ago
(that vehicle's body is still passing), else to the oldest open one; and once
a container code or panel has been seen, its later reads go to the passage that
saw it first. A container code is one box on one truck: once the passage that
read it is decided, later reads of it are that box still in view
(`decided_code`), never the next truck's. A truck that stops stays "present"
(see edge.lane.occupancy), so its passage stays open; `max_s` bounds a stuck
passage.

Pure logic: no I/O, time comes from frame timestamps, so it replays
deterministically in tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from edge.domain.types import Box, CargoRead, ContainerRead, HazardRead, PlateRead, TextEvidence

# A verified container code of a decided passage, read again within this long, is the same box still in the container
# camera's view (a stopped queue can hold it there for minutes), not a box of the next truck: a box is on one truck,
# and a truck turned away does not come back through the lane with it within minutes. Queues of real photos
# (smartgate_tools.bench.photo_clips --containers) gave the truck behind the box of the one in front 4 times in 150.
DECIDED_CODE_S = 300.0
UNREAD_KEY = "unread"  # evidence ("plate", UNREAD_KEY): where a plate never read was seen largest (edge.lane.unread)


@dataclass
class BestEvidence:
    """The frame that gave the most confident sighting of one read (kept for the evidence images)."""

    confidence: float
    camera: str
    timestamp: datetime
    image: np.ndarray
    box: Box | None


@dataclass
class PassageDraft:
    lane: str
    started_at: datetime
    ended_at: datetime
    frames: int = 0
    plates: list[PlateRead] = field(default_factory=list)
    containers: list[ContainerRead] = field(default_factory=list)
    cargo: list[CargoRead] = field(default_factory=list)
    hazards: list[HazardRead] = field(default_factory=list)
    cargo_text: list[TextEvidence] = field(default_factory=list)
    # key: ("plate", text) / ("container", code) / ("cargo", class) → best frame for it
    evidence: dict[tuple[str, str], BestEvidence] = field(default_factory=dict)
    closed_at: datetime | None = None  # when the trigger zone emptied
    trigger_source: str = "occupancy"  # occupancy | external | track
    vehicle_id: str | None = None  # AI-IGV id announced with an external trigger
    track_id: int | None = None  # the vehicle track (edge.lane.tracks) this passage follows

    def keep_evidence(
        self, kind: str, key: str, confidence: float, camera: str, ts: datetime, image: np.ndarray, box: Box | None
    ) -> None:
        cur = self.evidence.get((kind, key))
        if cur is None or confidence > cur.confidence:
            self.evidence[(kind, key)] = BestEvidence(confidence, camera, ts, image, box)


def hazard_key(h: HazardRead) -> str:
    """Evidence key of a panel: its UN number, else its hazard id (partial reads share the panel's key)."""
    return h.un_number or h.hazard_id or "blank"


class PassageAssembler:
    def __init__(
        self,
        lane: str,
        gap_s: float = 1.5,
        post_s: float = 2.0,
        max_s: float = 120.0,
        min_on_frames: int = 2,
        handover_s: float = 1.0,
    ) -> None:
        self.lane = lane
        self._gap = timedelta(seconds=gap_s)
        self._post = timedelta(seconds=post_s)
        self._max = timedelta(seconds=max_s)
        self._handover = timedelta(seconds=handover_s)
        self._min_on = min_on_frames
        self._open: PassageDraft | None = None  # the passage the zone's occupancy (or an external trigger) drives
        self._tracked: list[PassageDraft] = []  # passages opened by vehicle tracks, oldest first
        self._closing: list[PassageDraft] = []
        self._owners: dict[tuple[str, str], PassageDraft] = {}  # (kind, key) → the passage that saw it first
        self._decided: dict[str, datetime] = {}  # verified container code of a released passage → its last sighting
        self._on_count = 0
        self._first_on: datetime | None = None
        self._last_present: datetime | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def open_passage(self) -> PassageDraft | None:
        """The occupancy/external passage, else the oldest tracked one."""
        if self._open is not None:
            return self._open
        return self._tracked[0] if self._tracked else None

    def opens(self) -> list[PassageDraft]:
        """Every open passage, oldest first."""
        out = ([self._open] if self._open is not None else []) + self._tracked
        return sorted(out, key=lambda d: d.started_at)

    @property
    def closing(self) -> bool:
        """A closed passage is still collecting reads from the lane's other cameras."""
        return bool(self._closing)

    @property
    def active(self) -> bool:
        """True while reads would land in a passage (open, or closing and still collecting)."""
        return self._open is not None or bool(self._tracked) or bool(self._closing)

    def track_draft(self, track_id: int) -> PassageDraft | None:
        """The live (open or closing) passage that follows this track."""
        for d in [*self.opens(), *self._closing]:
            if d.track_id == track_id:
                return d
        return None

    # -- inputs ------------------------------------------------------------------------------
    def on_trigger(self, ts: datetime, present: bool, may_open: bool = True) -> list[PassageDraft]:
        """Feed the trigger camera's presence for one frame; returns passages that are complete.
        `may_open` False: presence alone opens no passage now (warm-up, or a queue that never emptied)."""
        done = self.tick(ts)
        if present:
            self._last_present = ts
            if self._open is None:
                if not may_open:
                    self._on_count, self._first_on = 0, None
                else:
                    self._on_count += 1
                    if self._first_on is None:
                        self._first_on = ts
                    if self._on_count >= self._min_on:
                        self._open = PassageDraft(lane=self.lane, started_at=self._first_on, ended_at=ts)
            else:
                self._open.ended_at = ts
                if ts - self._open.started_at > self._max:
                    done += self._close(ts)
        else:
            self._on_count = 0
            self._first_on = None
            if self._last_present is not None and ts - self._last_present >= self._gap:
                if self._open is not None and self._open.trigger_source != "external":  # the loop says when
                    done += self._close(ts)
                for d in list(self._tracked):  # the zone is empty: every vehicle has gone
                    self.close(d, ts, min(d.ended_at, self._last_present))
        for d in self.opens():
            d.frames += 1
        return done

    def external_trigger(self, ts: datetime, state: str, vehicle_id: str | None = None) -> list[PassageDraft]:
        """A loop detector, barrier or guided vehicle says a vehicle entered ('start') or left ('end').

        A 'start' while the camera trigger already opened a passage adopts it (same truck, the loop
        fired a few frames later) rather than splitting it."""
        done = self.tick(ts)
        if state == "start":
            if self._open is None:
                self._open = PassageDraft(lane=self.lane, started_at=ts, ended_at=ts)
            self._open.trigger_source = "external"
            if vehicle_id:
                self._open.vehicle_id = vehicle_id
        elif state == "end" and self._open is not None:
            if vehicle_id and not self._open.vehicle_id:
                self._open.vehicle_id = vehicle_id
            self._last_present = ts
            done += self._close(ts)
        return done

    @property
    def external_open(self) -> bool:
        """An external trigger holds the current passage: it, not the tracks, says when it ends."""
        return self._open is not None and self._open.trigger_source == "external"

    def open_track(self, first_seen: datetime, ts: datetime, track_id: int) -> PassageDraft:
        """A new vehicle track: the occupancy/external passage adopts it if it has no vehicle yet, else the
        vehicle gets its own passage from its first sighting."""
        if self._open is not None and self._open.track_id is None:
            self._open.track_id = track_id
            return self._open
        d = PassageDraft(lane=self.lane, started_at=first_seen, ended_at=ts, trigger_source="track",
                         track_id=track_id)
        self._tracked.append(d)
        return d

    def closed_track(self, first_seen: datetime, last_seen: datetime, ts: datetime, track_id: int) -> PassageDraft:
        """A vehicle judged after it left (edge.lane.unread): its own passage, closed at once, never adopting the
        occupancy passage (that may be another vehicle's by now)."""
        d = PassageDraft(lane=self.lane, started_at=first_seen, ended_at=last_seen, trigger_source="track",
                         track_id=track_id, closed_at=ts)
        self._closing.append(d)
        return d

    def close(self, draft: PassageDraft, ts: datetime, ended_at: datetime | None = None) -> None:
        """Close an open passage now (its vehicle left); `ended_at`: when it was last seen."""
        if draft is self._open:
            if ended_at is not None:
                self._last_present = ended_at
            self._close(ts)
            return
        if draft not in self._tracked:
            return
        self._tracked.remove(draft)
        if ended_at is not None and ended_at >= draft.started_at:
            draft.ended_at = ended_at
        draft.closed_at = ts
        self._closing.append(draft)

    def target(self, ts: datetime | None = None) -> PassageDraft | None:
        """The passage that a read made now belongs to (legacy: the open one, else the last closed one).

        With `ts`, for the lane's other cameras: a passage that closed less than `handover_s` before `ts`
        (its body is still passing them), else the oldest open one, else the last closed one."""
        if ts is not None:
            recent = [d for d in self._closing if ts - d.ended_at <= self._handover]
            if recent:
                return min(recent, key=lambda d: d.started_at)
        opens = self.opens()
        if opens:
            return opens[0] if ts is not None else (self._open or opens[0])
        return self._closing[-1] if self._closing else None

    def _owner(self, kind: str, key: str, ts: datetime) -> PassageDraft | None:
        """The passage that saw this object first, if it is still live; else the target (which then owns it)."""
        d = self._owners.get((kind, key))
        if d is not None and (d in self._closing or d in self.opens()):
            return d
        d = self.target(ts)
        if d is not None:
            self._owners[(kind, key)] = d
        return d

    def decided_code(self, code: str, ts: datetime) -> bool:
        """The code is a box of a passage already decided (see DECIDED_CODE_S): a read of it belongs to nobody now."""
        seen = self._decided.get(code)
        if seen is None or (ts - seen).total_seconds() > DECIDED_CODE_S:
            return False
        self._decided[code] = max(seen, ts)  # still in view: the window runs from its last sighting
        return True

    def add_plate(self, ts: datetime, camera: str, read: PlateRead, image: np.ndarray,
                  draft: PassageDraft | None = None) -> None:
        p = draft or self.target()
        if p is None:
            return
        p.plates.append(read)
        if read.text:
            p.keep_evidence("plate", read.text, read.confidence, camera, ts, image, read.box)

    def add_containers(self, ts: datetime, camera: str, reads: list[ContainerRead], image: np.ndarray) -> None:
        for r in reads:
            p = self._owner("container", r.code, ts)
            if p is None:
                return
            p.containers.append(r)
            p.keep_evidence("container", r.code, r.confidence, camera, ts, image, r.box)

    def add_cargo(self, ts: datetime, camera: str, read: CargoRead, image: np.ndarray) -> None:
        p = self.target(ts)
        if p is None:
            return
        p.cargo.append(read)
        p.keep_evidence("cargo", read.cls, read.confidence, camera, ts, image, None)

    def add_hazards(self, ts: datetime, camera: str, reads: list[HazardRead], image: np.ndarray) -> None:
        for h in reads:
            p = self._owner("hazard", hazard_key(h), ts)
            if p is None:
                return
            p.hazards.append(h)
            p.keep_evidence("hazard", hazard_key(h), h.confidence, camera, ts, image, h.box)

    def add_cargo_text(self, reads: list[TextEvidence], ts: datetime | None = None) -> None:
        p = self.target(ts)
        if p is not None:
            p.cargo_text.extend(reads)

    def tick(self, ts: datetime) -> list[PassageDraft]:
        """Release closing passages whose collection window has passed (and close tracked ones past max_s)."""
        for d in list(self._tracked):
            if ts - d.started_at > self._max:
                self.close(d, ts)
        done = [p for p in self._closing if p.closed_at is not None and ts - p.closed_at >= self._post]
        self._closing = [p for p in self._closing if p not in done]
        return self._released(done)

    def release_closing(self) -> list[PassageDraft]:
        """Hand over the closing passages now: the caller knows no camera can still add a read."""
        done, self._closing = self._closing, []
        return self._released(done)

    def finish(self) -> list[PassageDraft]:
        """End of input: close everything."""
        done = list(self._closing)
        self._closing = []
        for d in self.opens():
            d.closed_at = d.ended_at
            done.append(d)
        self._open = None
        self._tracked = []
        return self._released(sorted(done, key=lambda d: d.started_at))

    def _released(self, done: list[PassageDraft]) -> list[PassageDraft]:
        if done:
            gone = {id(d) for d in done}
            self._owners = {k: v for k, v in self._owners.items() if id(v) not in gone}
            last = max(d.ended_at for d in done)
            self._decided = {c: t for c, t in self._decided.items()
                             if (last - t).total_seconds() <= DECIDED_CODE_S}
            for d in done:
                for r in d.containers:
                    if r.check_digit_ok:
                        self._decided[r.code] = max(d.ended_at, self._decided.get(r.code, d.ended_at))
        return done

    def _close(self, ts: datetime) -> list[PassageDraft]:
        assert self._open is not None
        p = self._open
        if self._last_present is not None and self._last_present >= p.started_at:
            p.ended_at = self._last_present
        p.closed_at = ts
        self._open = None
        self._on_count = 0
        self._first_on = None
        self._closing.append(p)
        return []

"""Group one lane's frames into passages: one per vehicle.

A passage opens when the trigger camera sees something in its zone for a
couple of frames, and closes after the zone has been empty for `gap_s`. Reads
from the lane's other cameras (container side, cargo top) keep flowing into it
for `post_s` after it closes, because those cameras see the truck's body after
its front has left the trigger zone. A truck that stops stays "present" (see
edge.occupancy), so its passage stays open; `max_s` bounds a stuck passage.

Pure logic: no I/O, time comes from frame timestamps, so it replays
deterministically in tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from edge.domain import Box, CargoRead, ContainerRead, HazardRead, PlateRead, TextEvidence


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
    trigger_source: str = "occupancy"
    vehicle_id: str | None = None  # AI-IGV id announced with an external trigger

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
    ) -> None:
        self.lane = lane
        self._gap = timedelta(seconds=gap_s)
        self._post = timedelta(seconds=post_s)
        self._max = timedelta(seconds=max_s)
        self._min_on = min_on_frames
        self._open: PassageDraft | None = None
        self._closing: list[PassageDraft] = []
        self._on_count = 0
        self._first_on: datetime | None = None
        self._last_present: datetime | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def open_passage(self) -> PassageDraft | None:
        return self._open

    @property
    def closing(self) -> bool:
        """A closed passage is still collecting reads from the lane's other cameras."""
        return bool(self._closing)

    @property
    def active(self) -> bool:
        """True while reads would land in a passage (open, or closing and still collecting)."""
        return self._open is not None or bool(self._closing)

    # -- inputs ------------------------------------------------------------------------------
    def on_trigger(self, ts: datetime, present: bool) -> list[PassageDraft]:
        """Feed the trigger camera's presence for one frame; returns passages that are complete."""
        done = self.tick(ts)
        if present:
            self._last_present = ts
            if self._open is None:
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
            if self._open is not None and self._last_present is not None and ts - self._last_present >= self._gap:
                done += self._close(ts)
        if self._open is not None:
            self._open.frames += 1
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

    def target(self) -> PassageDraft | None:
        """The passage that a read made now belongs to."""
        if self._open is not None:
            return self._open
        return self._closing[-1] if self._closing else None

    def add_plate(self, ts: datetime, camera: str, read: PlateRead, image: np.ndarray) -> None:
        p = self.target()
        if p is None:
            return
        p.plates.append(read)
        if read.text:
            p.keep_evidence("plate", read.text, read.confidence, camera, ts, image, read.box)

    def add_containers(self, ts: datetime, camera: str, reads: list[ContainerRead], image: np.ndarray) -> None:
        p = self.target()
        if p is None:
            return
        p.containers.extend(reads)
        for r in reads:
            p.keep_evidence("container", r.code, r.confidence, camera, ts, image, r.box)

    def add_cargo(self, ts: datetime, camera: str, read: CargoRead, image: np.ndarray) -> None:
        p = self.target()
        if p is None:
            return
        p.cargo.append(read)
        p.keep_evidence("cargo", read.cls, read.confidence, camera, ts, image, None)

    def add_hazards(self, ts: datetime, camera: str, reads: list[HazardRead], image: np.ndarray) -> None:
        p = self.target()
        if p is None:
            return
        p.hazards.extend(reads)
        for h in reads:
            p.keep_evidence("hazard", hazard_key(h), h.confidence, camera, ts, image, h.box)

    def add_cargo_text(self, reads: list[TextEvidence]) -> None:
        p = self.target()
        if p is not None:
            p.cargo_text.extend(reads)

    def tick(self, ts: datetime) -> list[PassageDraft]:
        """Release closing passages whose collection window has passed."""
        done = [p for p in self._closing if p.closed_at is not None and ts - p.closed_at >= self._post]
        self._closing = [p for p in self._closing if p not in done]
        return done

    def release_closing(self) -> list[PassageDraft]:
        """Hand over the closing passages now: the caller knows no camera can still add a read."""
        done, self._closing = self._closing, []
        return done

    def finish(self) -> list[PassageDraft]:
        """End of input: close everything."""
        done = list(self._closing)
        self._closing = []
        if self._open is not None:
            self._open.closed_at = self._open.ended_at
            done.append(self._open)
            self._open = None
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

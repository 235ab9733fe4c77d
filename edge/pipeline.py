"""Per-lane processing: frames in, finished passage drafts out.

camera frames → occupancy (trigger cameras) → readers (only while a passage
is active, only on cameras whose own zone is occupied, only when the frame
differs from the camera's last read frame, at each reader's cadence) →
PassageAssembler. No I/O here: the daemon feeds frames and takes drafts.

Cadences: the plate is read on every frame until enough reads agree (a fast
truck shows it for under 2 s); container codes, ADR panels and cargo keywords
stay in view for seconds, so they are read on every Nth frame, and more sparsely
still once everything the reader found has been confirmed by a second read.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import cv2
import numpy as np

from calibration.view import CameraView
from cameras.frame import Frame
from edge.config import CameraConfig, PipelineConfig
from edge.domain import Box, CargoRead, ContainerRead, HazardRead, PlateRead, TextEvidence
from edge.occupancy import OccupancyDetector
from edge.passage import PassageAssembler, PassageDraft, hazard_key

log = logging.getLogger(__name__)


class PlateReaderLike(Protocol):
    def read(self, image: np.ndarray) -> PlateRead: ...


class ContainerReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[ContainerRead]: ...


class CargoClassifierLike(Protocol):
    def classify(self, image: np.ndarray) -> CargoRead: ...


class HazardReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[HazardRead]: ...


class CargoTextReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[TextEvidence]: ...


@dataclass
class Readers:
    plate: PlateReaderLike | None = None
    container: ContainerReaderLike | None = None
    cargo: CargoClassifierLike | None = None
    hazard: HazardReaderLike | None = None  # ADR panels: front (plate camera) and sides (container camera)
    cargo_text: CargoTextReaderLike | None = None  # words on sacks and cartons (cargo camera)


StageTimer = Callable[[str, float], None]
SETTLED_CONFIDENCE = 0.9  # reads at least this sure count towards `enough_reads`
NOVELTY_SIZE = (64, 36)  # thumbnail (w, h) compared for `novelty_threshold`: enough to see a truck move
R = TypeVar("R")


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


def _confirmed(keys: list[str], need: int) -> bool:
    """Every distinct find was read at least `need` times (nothing found yet: not confirmed)."""
    return bool(keys) and need > 0 and min(keys.count(k) for k in set(keys)) >= need


class LaneProcessor:
    def __init__(
        self,
        lane: str,
        cameras: list[CameraConfig],
        readers: Readers,
        cfg: PipelineConfig,
        on_stage: StageTimer | None = None,
    ) -> None:
        self.lane = lane
        self.readers = readers
        self.cfg = cfg
        self.assembler = PassageAssembler(lane, gap_s=cfg.passage_gap_s, post_s=cfg.post_s, max_s=cfg.max_passage_s)
        self._cams = {c.name: c for c in cameras}
        triggers = [c.name for c in cameras if c.trigger] or [c.name for c in cameras if c.role == "plate"]
        self._triggers = set(triggers or [cameras[0].name])
        self._occ = {c.name: OccupancyDetector(zone=c.trigger_zone, present_above=cfg.motion_threshold) for c in cameras}
        # Per-camera reader view (undistort → read-zone crop or rectified plane); identity when unconfigured.
        self._views = {c.name: CameraView.from_config(c) for c in cameras}
        self._present: dict[str, bool] = {c.name: False for c in cameras}
        self._last_present: dict[str, datetime] = {}
        self._last_read: dict[tuple[str, str], np.ndarray] = {}  # (camera, reader) → thumbnail it last read
        self._thumb: tuple[Frame, np.ndarray] | None = None  # the current frame's thumbnail, made once
        # (id of a live draft, reader) → one key per distinct find per read; dropped when the draft is done
        self._finds: dict[tuple[int, str], list[str]] = {}
        self._on_stage = on_stage or (lambda stage, s: None)
        self.stats = LaneStats()
        self._triggers_in: queue.SimpleQueue[tuple[str, str | None]] = queue.SimpleQueue()

    def trigger(self, state: str, vehicle_id: str | None = None) -> None:
        """An external trigger (loop detector, AI-IGV); thread-safe, applied at the next frame."""
        self._triggers_in.put((state, vehicle_id))

    def _timed(self, stage: str, fn: Callable[[], R]) -> R:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self._on_stage(stage, time.perf_counter() - t0)

    def process(self, frame: Frame) -> list[PassageDraft]:
        """Feed one frame of one of the lane's cameras; returns passages that are complete."""
        self.stats.frames += 1
        cam = self._cams.get(frame.camera)
        if cam is None:
            return []
        done: list[PassageDraft] = []
        while not self._triggers_in.empty():
            state, vehicle_id = self._triggers_in.get()
            done += self.assembler.external_trigger(frame.timestamp, state, vehicle_id)
        frac = self._timed("motion", lambda: self._occ[cam.name].update(frame.image))
        present = frac >= self.cfg.motion_threshold
        self._present[cam.name] = present
        if cam.name in self._triggers:
            done += self.assembler.on_trigger(frame.timestamp, present)
        else:
            done += self.assembler.tick(frame.timestamp)
        if present:
            self._last_present[cam.name] = frame.timestamp
        elif self._all_empty_since(frame.timestamp):
            # The truck has left every camera: no read can still come, so its verdict need not wait out
            # post_s. Debounced so a gap between two containers does not cut the passage short.
            done += self.assembler.release_closing()
        if self.assembler.active and present and frame.index % self.cfg.read_every_n == 0:
            self._read(cam, frame)
        if done and self._finds:
            self._forget(done)
        return done

    def _novel(self, cam: CameraConfig, kind: str, frame: Frame) -> bool:
        """The frame differs from the last one this reader read on this camera: a stopped truck shows the same
        plate and code for many frames, and the same pixels give the same reads, so those frames are skipped.
        Per reader, so a reader with a sparser cadence is never starved by another reader's reads."""
        thr = self.cfg.novelty_threshold
        if thr <= 0:
            return True
        if self._thumb is None or self._thumb[0] is not frame:
            self._thumb = (frame, self._timed("novelty", lambda: thumbnail(frame.image)))
        thumb = self._thumb[1]
        last = self._last_read.get((cam.name, kind))
        if last is not None and last.shape == thumb.shape and float(np.abs(thumb - last).mean()) < thr:
            self.stats.still_skipped += 1
            return False
        self._last_read[(cam.name, kind)] = thumb
        return True

    def _due(self, cam: CameraConfig, kind: str, frame: Frame, every_n: int, confirmed: bool = False) -> bool:
        """A reader's cadence: every `every_n` read frames, or every `confirmed_every_n` frames once its finds
        are confirmed (any new find makes it dense again); then only if the frame shows something new."""
        n = self.cfg.confirmed_every_n if confirmed else self.cfg.read_every_n * every_n
        return frame.index % n == 0 and self._novel(cam, kind, frame)

    def _confirmed(self, kind: str) -> bool:
        """Everything this reader found in the current passage was read `confirm_reads` times."""
        draft = self.assembler.target()
        if draft is None:
            return False
        return _confirmed(self._finds.get((id(draft), kind), []), self.cfg.confirm_reads)

    def _found(self, kind: str, keys: set[str]) -> None:
        """Count one read's distinct finds towards the current passage's confirmations."""
        draft = self.assembler.target()
        if draft is not None and keys:
            self._finds.setdefault((id(draft), kind), []).extend(sorted(keys))

    def _forget(self, drafts: list[PassageDraft]) -> None:
        gone = {id(d) for d in drafts}
        self._finds = {k: v for k, v in self._finds.items() if k[0] not in gone}

    def _all_empty_since(self, ts: datetime) -> bool:
        wait = self.cfg.release_empty_s
        if wait is None or not self.assembler.closing:
            return False
        limit = timedelta(seconds=wait)
        return not any(self._present.values()) and all(ts - t >= limit for t in self._last_present.values())

    def _settled(self, kind: str) -> bool:
        """Enough confident reads of the passage's plate (or cargo class) agree: more would not change the vote."""
        need, draft = self.cfg.enough_reads, self.assembler.target()
        if not need or draft is None:
            return False
        if kind == "plate":
            keys = [p.text for p in draft.plates if p.text and p.confidence >= SETTLED_CONFIDENCE]
        else:
            keys = [c.cls for c in draft.cargo if c.cls != "unknown" and c.confidence >= SETTLED_CONFIDENCE]
        return bool(keys) and max(keys.count(k) for k in set(keys)) >= need

    def _read(self, cam: CameraConfig, frame: Frame) -> None:
        r, a = self.readers, self.assembler
        ts, img = frame.timestamp, frame.image
        # Readers see the camera's prepared view; boxes come back in view pixels and are mapped to the raw
        # frame, which stays the evidence image.
        view = self._views[cam.name]
        vimg = img if view.identity else self._timed("view", lambda: view.prepare(img))

        def to_frame(box: Box | None) -> Box | None:
            return box if view.identity or box is None else view.box_to_frame(box, img.shape)

        plate_r, container_r, cargo_r, text_r = r.plate, r.container, r.cargo, r.cargo_text
        if cam.role == "plate" and plate_r is not None and not self._settled("plate") and self._due(cam, "plate", frame, 1):
            plate = self._timed("plate", lambda: plate_r.read(vimg))
            plate = plate.model_copy(update={"box": to_frame(plate.box)})
            self.stats.reads["plate"] += 1
            a.add_plate(ts, cam.name, plate, img)
        elif (cam.role == "container" and container_r is not None
              and self._due(cam, "container", frame, self.cfg.container_every_n, self._confirmed("container"))):
            codes = self._timed("container", lambda: container_r.read(vimg))
            codes = [c.model_copy(update={"box": to_frame(c.box)}) for c in codes]
            self.stats.reads["container"] += 1
            if codes:
                a.add_containers(ts, cam.name, codes, img)
                # only check-digit-valid codes confirm: an unverified read must not make the reader sparse
                self._found("container", {c.code for c in codes if c.check_digit_ok})
        elif cam.role == "cargo":
            if (cargo_r is not None and not self._settled("cargo")
                    and self._due(cam, "cargo", frame, self.cfg.cargo_every_n)):
                cargo = self._timed("cargo", lambda: cargo_r.classify(vimg))
                self.stats.reads["cargo"] += 1
                a.add_cargo(ts, cam.name, cargo, img)
            if text_r is not None and self._due(cam, "cargo_text", frame, self.cfg.cargo_text_every_n,
                                                self._confirmed("cargo_text")):
                words = self._timed("cargo_text", lambda: text_r.read(vimg))
                self.stats.reads["cargo_text"] += 1
                a.add_cargo_text(words)
                self._found("cargo_text", {w.commodity for w in words})
        hazard_r = r.hazard
        if (hazard_r is not None and cam.role in ("plate", "container")
                and self._due(cam, "hazard", frame, self.cfg.hazard_every_n, self._confirmed("hazard"))):
            # On the raw frame: an ADR panel often sits outside the plate/code read zone.
            panels = self._timed("hazard", lambda: hazard_r.read(img))
            self.stats.reads["hazard"] += 1
            if panels:
                a.add_hazards(ts, cam.name, panels, img)
                self._found("hazard", {hazard_key(h) for h in panels})

    def finish(self) -> list[PassageDraft]:
        return self.assembler.finish()

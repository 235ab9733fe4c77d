"""Per-lane processing: frames in, finished passage drafts out.

camera frames → occupancy (trigger cameras) → readers (only while a passage
is active, only on cameras whose own zone is occupied, every Nth frame) →
PassageAssembler. No I/O here: the daemon feeds frames and takes drafts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from cameras.frame import Frame
from edge.config import CameraConfig, PipelineConfig
from edge.domain import CargoRead, ContainerRead, PlateRead
from edge.occupancy import OccupancyDetector
from edge.passage import PassageAssembler, PassageDraft

log = logging.getLogger(__name__)


class PlateReaderLike(Protocol):
    def read(self, image: np.ndarray) -> PlateRead: ...


class ContainerReaderLike(Protocol):
    def read(self, image: np.ndarray) -> list[ContainerRead]: ...


class CargoClassifierLike(Protocol):
    def classify(self, image: np.ndarray) -> CargoRead: ...


@dataclass
class Readers:
    plate: PlateReaderLike | None = None
    container: ContainerReaderLike | None = None
    cargo: CargoClassifierLike | None = None


StageTimer = Callable[[str, float], None]


@dataclass
class LaneStats:
    frames: int = 0
    reads: dict[str, int] = field(default_factory=lambda: {"plate": 0, "container": 0, "cargo": 0})


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
        self._occ = {c.name: OccupancyDetector(zone=c.trigger_zone) for c in cameras}
        self._present: dict[str, bool] = {c.name: False for c in cameras}
        self._on_stage = on_stage or (lambda stage, s: None)
        self.stats = LaneStats()

    def _timed(self, stage: str, fn: Callable[[], object]) -> object:
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
        frac = float(self._timed("motion", lambda: self._occ[cam.name].update(frame.image)))  # type: ignore[arg-type]
        present = frac >= self.cfg.motion_threshold
        self._present[cam.name] = present
        done: list[PassageDraft] = []
        if cam.name in self._triggers:
            done += self.assembler.on_trigger(frame.timestamp, present)
        else:
            done += self.assembler.tick(frame.timestamp)
        if self.assembler.active and present and frame.index % self.cfg.read_every_n == 0:
            self._read(cam, frame)
        return done

    def _read(self, cam: CameraConfig, frame: Frame) -> None:
        r = self.readers
        ts, img = frame.timestamp, frame.image
        if cam.role == "plate" and r.plate is not None:
            plate: PlateRead = self._timed("plate", lambda: r.plate.read(img))  # type: ignore[assignment,union-attr]
            self.stats.reads["plate"] += 1
            self.assembler.add_plate(ts, cam.name, plate, img)
        elif cam.role == "container" and r.container is not None:
            codes: list[ContainerRead] = self._timed("container", lambda: r.container.read(img))  # type: ignore[assignment,union-attr]
            self.stats.reads["container"] += 1
            if codes:
                self.assembler.add_containers(ts, cam.name, codes, img)
        elif cam.role == "cargo" and r.cargo is not None:
            cargo: CargoRead = self._timed("cargo", lambda: r.cargo.classify(img))  # type: ignore[assignment,union-attr]
            self.stats.reads["cargo"] += 1
            self.assembler.add_cargo(ts, cam.name, cargo, img)

    def finish(self) -> list[PassageDraft]:
        return self.assembler.finish()

# long: the lane's one state machine (about 530 lines); its pure rules live in cadence.py, tracks.py, unread.py,
# passage.py and plausibility.py, and splitting the state itself would scatter one vehicle's story.
"""Per-lane processing: frames in, finished passage drafts out.

camera frames → occupancy (every camera; learnt empty lane, edge.lane.occupancy) →
vehicle tracks on the trigger camera (plate boxes, edge.lane.tracks) → readers
(only while a passage is active or a vehicle is being looked for, only on
cameras whose own zone is occupied, only when the frame differs from the
camera's last read frame, at each reader's cadence) → PassageAssembler. No I/O
here: the daemon feeds frames and takes drafts.

Passages follow vehicles: each plate track that is confirmed (two reads) opens
its own passage (or is adopted by the occupancy passage that opened for it),
and its passage closes when the track ends (exit line, frame edge, unseen),
even while the zone stays occupied (a queue). Occupancy opens a passage only
for a vehicle entering a lane that was seen empty; external triggers win over
both. A plate-shaped line that no read explains is followed as a place, and
one that leaves as a vehicle does without ever being read gets a passage of
its own, judged shortly after it left (edge.lane.unread). Start-up: the first
frame of the trigger camera is read once; a plate in view then (or within
`warmup_s`) is a vehicle that was there before the start
and gets no passage, and the empty lane is learnt only once it has gone.

Cadences: the plate is read densely for every vehicle until enough of its
reads agree (a fast truck shows it for under 2 s), then that vehicle's plate
is followed by template matching and not read again; a new vehicle is read
densely at once. Container codes, ADR panels and cargo keywords stay in view
for seconds, so they are read on every Nth frame, and more sparsely still once
everything it found is confirmed or a few looks found nothing (FindLog); a
container frame is read in full only where a bare detection sees new text.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np

from calibration.view import CameraView
from cameras.config import CameraConfig
from cameras.frame import Frame
from edge.domain.types import Box, PlateRead
from edge.lane.cadence import (
    SETTLED_CONFIDENCE,
    FindLog,
    LaneStats,
    nothing_printed,
    read_zones,
    settled,
    settled_text,
    thumbnail,
)
from edge.lane.config import PipelineConfig
from edge.lane.occupancy import OccupancyDetector, lane_detector
from edge.lane.passage import UNREAD_KEY, PassageAssembler, PassageDraft, hazard_key
from edge.lane.plausibility import EDGE_PX, hazard_panel, plate_plausible
from edge.lane.tracks import PlateTracker, Track
from edge.lane.unread import NEVER_READ, UnreadJudge
from edge.readers.container_gate import gate_for
from edge.readers.interfaces import Readers

log = logging.getLogger(__name__)


StageTimer = Callable[[str, float], None]
R = TypeVar("R")


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
        self.assembler = PassageAssembler(lane, gap_s=cfg.passage_gap_s, post_s=cfg.post_s, max_s=cfg.max_passage_s,
                                          handover_s=cfg.handover_s)
        self._cams = {c.name: c for c in cameras}
        triggers = [c.name for c in cameras if c.trigger] or [c.name for c in cameras if c.role == "plate"]
        self._triggers = set(triggers or [cameras[0].name])
        self._occ = {c.name: lane_detector(c.trigger_zone, c.fps, cfg.warmup_s, cfg.absorb_still_s,
                                                cfg.motion_threshold) for c in cameras}
        # Vehicles are tracked on the (first) trigger camera that reads plates.
        track_cam = next((c for c in cameras if c.name in self._triggers and c.role == "plate"), None)
        self._track_cam = track_cam.name if track_cam is not None and cfg.track_vehicles else None
        self.tracker = PlateTracker(lost_s=cfg.track_lost_s, split_reads=cfg.track_split_reads,
                                    exit_line=track_cam.exit_line if track_cam is not None else None,
                                    zone=track_cam.trigger_zone if track_cam is not None else None)
        self._t0: datetime | None = None  # the trigger camera's first frame
        self._looked = False  # the start-up look (one plate read of the trigger camera's first frame) is done
        self._places_held = False  # the start-up look's unread plate places are held (PlateTracker.hold_places)
        self._armed = False  # the trigger zone was seen empty since occupancy last opened a passage
        # id(plate read) → (read, time, camera, frame) of reads of a vehicle that has no passage yet
        self._waiting: dict[int, tuple[PlateRead, datetime, str, np.ndarray]] = {}
        # Per-camera reader view (undistort → read-zone crop or rectified plane); identity when unconfigured.
        self._views = {c.name: CameraView.from_config(c) for c in cameras}
        self._present: dict[str, bool] = {c.name: False for c in cameras}
        self._last_present: dict[str, datetime] = {}
        self._last_read: dict[tuple[str, str], np.ndarray] = {}  # (camera, reader) → thumbnail it last read
        self._thumb: tuple[Frame, np.ndarray] | None = None  # the current frame's thumbnail, made once
        self._unread = UnreadJudge()  # places that left without a read, until it is clear they were vehicles
        self._gate_found: list[Box] = []  # the plate gate's finds on this frame (places for unread plates)
        self._finds = FindLog()  # per live draft and reader: finds (confirmations) and reads that found nothing
        container_gate = (gate_for(readers.container, cfg.container_det_max_side, cfg.container_gate_words)
                          if cfg.container_gate else None)
        self._gates = {"container": container_gate,
                       "cargo_text": gate_for(readers.cargo_text, None) if cfg.cargo_text_gate else None}
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

    # -- frames ----------------------------------------------------------------------------------------
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
        occ = self._occ[cam.name]
        live = self.tracker.live()
        # A vehicle known to be in view: its camera learns no background meanwhile.
        occ.hold = any(t.confirmed or t.startup for t in live) if cam.name == self._track_cam else bool(live)
        frac = self._timed("motion", lambda: occ.update(frame.image))
        seen = frac >= self.cfg.motion_threshold  # against the background (the first frame until one is learnt)
        present = seen if occ.ready else True  # an unlearnt lane may hold a vehicle
        self._present[cam.name] = present
        if cam.name in self._triggers:
            if self._t0 is None:
                self._t0 = frame.timestamp
            if occ.ready and not seen:
                self._armed = True
            may_open = occ.ready and self._armed and not any(t.confirmed and not t.startup for t in live)
            opened = self.assembler.open_passage
            done += self.assembler.on_trigger(frame.timestamp, present, may_open)
            if self.assembler.open_passage is not None and self.assembler.open_passage is not opened \
                    and self.assembler.open_passage.trigger_source == "occupancy":
                self._armed = False  # this vehicle's passage is open: the next needs an empty zone first
        else:
            done += self.assembler.tick(frame.timestamp)
        if present:
            self._last_present[cam.name] = frame.timestamp
        elif self._all_empty_since(frame.timestamp):
            # The truck has left every camera: no read can still come, so its verdict need not wait out
            # post_s. Debounced so a gap between two containers does not cut the passage short.
            done += self.assembler.release_closing()
        if cam.name == self._track_cam:
            self._track_frame(cam, frame, seen, occ)
        elif self.assembler.active and present and frame.index % self.cfg.read_every_n == 0:
            self._read(cam, frame)
        if done and self._finds:
            self._finds.forget(done)
        return done

    # -- vehicles on the trigger camera ----------------------------------------------------------------
    def _track_frame(self, cam: CameraConfig, frame: Frame, seen: bool, occ: OccupancyDetector) -> None:
        """Follow settled vehicles, read the plate camera when a vehicle needs reading or is looked for, open a
        passage per new vehicle and close the passages of vehicles that left."""
        ts = frame.timestamp
        if any(t.settled and not t.lost for t in self.tracker.live()):
            self._timed("track", lambda: self.tracker.follow(ts, frame.image))
        due = self._plate_due(cam, frame, seen, occ)
        if due or (self.assembler.active and self._present[cam.name] and frame.index % self.cfg.read_every_n == 0):
            self._read(cam, frame, read_plate=due)  # the plate if due; the hazard panels at their cadence
        if not due and self._skipped_still:
            self.tracker.touch(ts)  # the same pixels as the last read: the plates read there are still there
        self._close_gone(ts, seen, occ)
        for t in self.tracker.live():
            d = self.assembler.track_draft(t.id)
            if d is not None and d.closed_at is None and t.last_seen > d.ended_at:
                d.ended_at = t.last_seen

    _skipped_still = False  # the last due plate read was skipped by the novelty test

    def _plate_due(self, cam: CameraConfig, frame: Frame, seen: bool, occ: OccupancyDetector) -> bool:
        self._skipped_still = False
        self._gate_found = []
        if self.readers.plate is None or frame.index % self.cfg.read_every_n:
            return False
        live = self.tracker.live()
        search = self.cfg.search_every_n  # no vehicle known in view: look for one on every Nth frame
        gate = True  # look for plate-shaped text cheaply before a full read
        self._zones = None  # where to read (view pixels); None: the whole view
        if not self._looked:
            self._looked = True  # start-up look: is a vehicle standing in the lane right now?
            need, gate = self.cfg.warmup_s > 0, False
        elif any(not t.settled for t in live):
            need, gate = True, False  # a vehicle whose plate is not settled yet: read densely, where it is
            if self._gated(cam):
                self._zones = [t.predicted(frame.timestamp) for t in live if not t.settled]
        elif any(t.lost for t in live):
            need = True  # a followed plate was not found: read again where it may be
        elif any(t.traffic_place for t in live):
            need = frame.index % search == 0  # a plate-shaped line not read yet: look as for a vehicle approaching
        elif live:
            n = self.cfg.track_probe_every_n  # every vehicle in view is followed: read only to find a new one
            need = bool(n) and frame.index % n == 0
        elif any(d.track_id is None for d in self.assembler.opens()):
            # a passage opened by occupancy or a loop whose plate has no track (yet): read it until it agrees
            need = self._present[cam.name] and not self._settled("plate") and frame.index % search == 0
        elif not occ.ready:
            need = not occ.still  # a lane not learnt yet, with something moving in it
        else:
            # occupied ever since the last vehicle: a queue, look for the next
            need = seen and not self._armed and frame.index % search == 0
        if not need:
            return False
        if not self._novel(cam, "plate", frame):
            self._skipped_still = True
            return False
        if gate:
            found = self._plate_in_sight(cam, frame, live)
            if found is not None and not found:
                return False
            if found and self._gated(cam):
                self._zones = self._gate_found = found
        if self._zones is not None:
            self._zones = read_zones(self._zones, self._view_of(cam, frame).shape)
        return True

    _zones: list[Box] | None = None

    def _gated(self, cam: CameraConfig) -> bool:
        """Plate reads may be limited to zones: the gate is on, the reader can find plates cheaply and read a zone
        (`find_plates`, `read_all(image, zone)`), and the camera's view is the frame itself."""
        return (self.cfg.plate_gate and hasattr(self.readers.plate, "find_plates")
                and self._views[cam.name].identity)

    def _plate_in_sight(self, cam: CameraConfig, frame: Frame, live: list[Track]) -> list[Box] | None:
        """The cheap gate (`pipeline.plate_gate`): the text detector alone, on a small copy of the view, finds
        plate-shaped lines that are not plates already followed (returned; None: no gate). Most frames of an
        approaching truck (plate still too small), of a truck whose plate has gone and of an empty lane have
        none: no full read then, and otherwise the reader reads only around what it found."""
        finder = getattr(self.readers.plate, "find_plates", None)
        if finder is None or not self.cfg.plate_gate:
            return None
        view = self._views[cam.name]
        img = frame.image
        vimg = self._view_of(cam, frame)
        h, w = vimg.shape[:2]
        m = EDGE_PX + 1  # a line at the image edge is cut: the reader would only give a no-read for it
        boxes = [b for b in self._timed("plate_gate", lambda: finder(vimg))  # not a hazard panel's number lines
                 if b.x > m and b.y > m and b.x + b.w < w - m and b.y + b.h < h - m and not hazard_panel(vimg, b)]
        in_frame = boxes if view.identity else [view.box_to_frame(b, img.shape) for b in boxes]
        # followed plates are not looked for again, except the places of plates not read yet (edge.lane.unread)
        followed = [t.box for t in live if t.settled and not t.lost and not t.traffic_place]
        return [b for b, f in zip(boxes, in_frame, strict=True) if not any(f.iou(x) > 0.2 for x in followed)]

    def _view_of(self, cam: CameraConfig, frame: Frame) -> np.ndarray:
        """The camera's prepared view of this frame, made once per frame."""
        view = self._views[cam.name]
        if view.identity:
            return frame.image
        if self._vcache is None or self._vcache[0] is not frame:
            self._vcache = (frame, self._timed("view", lambda: view.prepare(frame.image)))
        return self._vcache[1]

    _vcache: tuple[Frame, np.ndarray] | None = None

    def _startup(self, ts: datetime) -> bool:
        """A vehicle first read now was in view when the lane started."""
        occ = self._occ.get(self._track_cam or "")
        return (self.cfg.warmup_s > 0 and self._t0 is not None and occ is not None and not occ.ready
                and (ts - self._t0).total_seconds() <= self.cfg.warmup_s)

    def _observe(self, cam: CameraConfig, frame: Frame, reads: list[PlateRead]) -> None:
        """Plate reads of the trigger camera → vehicle tracks → passages. A read goes to its vehicle's passage;
        reads of a vehicle not confirmed yet wait in its track (or go to an occupancy/external passage that has
        no vehicle yet, which will adopt it)."""
        ts = frame.timestamp
        for r in reads:
            self._waiting[id(r)] = (r, ts, cam.name, frame.image)
        startup = self._startup(ts)
        newly = self.tracker.observe(ts, frame.image, reads, startup=startup)
        if startup and not self._places_held and self._views[cam.name].identity:
            self._places_held = True  # plates in view at start-up that the look could not read (tracks.py)
            self.tracker.hold_places(ts, frame.image, self._plate_in_sight(cam, frame, []) or [])
        elif self.cfg.unread_vehicles and self._gate_found and not startup:
            o = self.assembler.open_passage  # a passage opened for a vehicle not followed yet records this one
            covered = o is not None and o.track_id is None and o.trigger_source != "track"
            self.tracker.hold_places(ts, frame.image, self._gate_found, False, covered)  # plates not read (yet)
        a = self.assembler

        def add(r: PlateRead, d: PassageDraft) -> None:
            w = self._waiting.pop(id(r), None)
            if w is not None and w[0] is r:  # not in a passage yet
                a.add_plate(w[1], w[2], r, w[3], draft=d)

        for t in newly:
            if t.startup:
                continue
            if t.departed:  # seen again after it left: back to its own passage while that is still open
                old = a.track_draft(-(t.continues or 0)) or a.track_draft(t.continues or 0)
                if old is not None and old.closed_at is None:
                    old.track_id = t.id
                    for r in t.reads:
                        add(r, old)
                continue
            if a.external_open:  # a loop/barrier passage: the vehicle joins it, the trigger says when it ends
                d = a.open_passage
                assert d is not None
                if d.track_id is None:
                    d.track_id = t.id
            else:
                # a new vehicle: passages whose vehicle has gone (lost, zone still busy) end at their last sighting
                for old in a.opens():
                    if old.track_id is not None and old.track_id < 0:
                        a.close(old, ts)
                d = a.open_track(t.first_seen, ts, t.id)
                self._armed = False
            for r in t.reads:  # the reads that made the track: they belong to its passage
                add(r, d)
        held = {id(r) for r in self.tracker.held()}
        for r in reads:
            if id(r) in held:
                continue  # another text where a vehicle stands: not that vehicle's read, nor (yet) a new one's
            owner = next((t for t in self.tracker.live() if any(x is r for x in t.reads)), None)
            d = a.track_draft(owner.id) if owner is not None else None
            if d is None and owner is not None and not owner.startup and a.open_passage is not None \
                    and a.open_passage.track_id is None and a.open_passage.trigger_source != "track":
                d = a.open_passage  # the vehicle the zone (or the loop) opened this passage for
            if d is not None:
                add(r, d)
            elif owner is None and a.open_passage is not None:
                add(r, a.open_passage)  # a no-read (the inspector sees why), or a read without a box
        for t in self.tracker.live():
            t.settled = t.place_only or settled_text(t, self.cfg.enough_reads, SETTLED_CONFIDENCE)
        # keep (with their frames) only the reads of vehicles that may still get a passage
        keep = {id(r) for t in self.tracker.live() if not t.startup and not t.departed for r in t.reads} | held
        self._waiting = {k: v for k, v in self._waiting.items() if k in keep}

    def _close_gone(self, ts: datetime, seen: bool, occ: OccupancyDetector) -> None:
        """Close the passages of vehicles that left: crossed the exit line or the frame edge at once; unseen for
        track_lost_s unless the zone is still busy with no other vehicle (a stopped truck with a hidden plate)."""
        a = self.assembler
        for t in self.tracker.expire(ts):
            if t.place_only:
                self._unread.add(t, self.tracker.recent())
                continue
            d = a.track_draft(t.id)
            if d is None or d.closed_at is not None or a.external_open and d is a.open_passage:
                continue
            others = any(o.confirmed and not o.startup for o in self.tracker.live())
            if t.end_reason in ("exit_line", "left_zone", "left_frame", "replaced") or not occ.ready or not seen \
                    or others:
                a.close(d, ts, t.last_seen)
            else:
                d.track_id = -t.id  # its vehicle is no longer followed; the next one closes it (or the zone)
        self._never_read(ts)

    def _never_read(self, ts: datetime | None) -> None:
        """Places that left as vehicles without a read (edge.lane.unread): each its own passage, plate unread."""
        a = self.assembler
        for t in self._unread.due(ts):
            if t.snap is None or a.external_open:
                continue  # a loop or AI-IGV passage is open: the trigger, not the camera, says which vehicles passed
            d = a.closed_track(t.first_seen, t.last_seen, ts or t.last_seen, t.id)
            seen, img, box = t.snap
            a.add_plate(seen, self._track_cam or "", PlateRead(reason=NEVER_READ, box=box), img, draft=d)
            d.keep_evidence("plate", UNREAD_KEY, 0.0, self._track_cam or "", seen, img, box)
            d.frames = len(t.path)
            log.info("lane %s: a vehicle left without its plate read (followed %.1f s)", self.lane,
                     (t.last_seen - t.first_seen).total_seconds())

    # -- reader cadences -------------------------------------------------------------------------------
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

    def _due(self, cam: CameraConfig, kind: str, frame: Frame, every_n: int) -> bool:
        """A reader's cadence: every `every_n` read frames, or every `confirmed_every_n` frames while it is sparse
        on this camera (its finds confirmed, or `empty_reads` looks found nothing; a new find makes it dense
        again); then only if the frame shows something new."""
        cfg = self.cfg
        empty = cfg.empty_reads if kind in cfg.empty_reads_for else 0
        sparse = self._finds.sparse(self.assembler.target(frame.timestamp), kind, cam.name, cfg.confirm_reads, empty)
        n = cfg.confirmed_every_n if sparse else cfg.read_every_n * every_n
        return frame.index % n == 0 and self._novel(cam, kind, frame)

    def _found(self, cam: CameraConfig, kind: str, keys: set[str], ts: datetime, anything: bool | None = None) -> None:
        """Count one read's distinct finds towards the current passage's confirmations (and empty looks)."""
        self._finds.found(self.assembler.target(ts), kind, cam.name, keys, anything)

    def _text_in_sight(self, cam: CameraConfig, kind: str, vimg: np.ndarray) -> bool:
        """`pipeline.container_gate`, `cargo_text_gate`: a new text line in view, found by the detector alone."""
        gate = self._gates[kind]
        return gate is None or self._timed(f"{kind}_gate", lambda: gate.new_text(vimg, cam.name)) > 0

    def _all_empty_since(self, ts: datetime) -> bool:
        wait = self.cfg.release_empty_s
        if wait is None or not self.assembler.closing:
            return False
        limit = timedelta(seconds=wait)
        return not any(self._present.values()) and all(ts - t >= limit for t in self._last_present.values())

    def _settled(self, kind: str, ts: datetime | None = None) -> bool:
        """Enough confident reads of the passage's plate (or cargo class) agree: more would not change the vote."""
        draft = self.assembler.target(ts)
        return draft is not None and settled(draft, kind, self.cfg.enough_reads)

    def _nothing_printed(self, ts: datetime) -> bool:
        """The cargo camera settled on a closed roof or an empty deck: no sack or carton to read words on."""
        draft = self.assembler.target(ts)
        return draft is not None and self._settled("cargo", ts) and nothing_printed(draft)

    def _containers_complete(self, ts: datetime) -> bool:
        """The confirmed codes account for the whole truck (see `FindLog.containers_complete`)."""
        return self._finds.containers_complete(self.assembler.target(ts), self.cfg.confirm_reads)

    # -- reading ---------------------------------------------------------------------------------------
    def _read_plates(self, vimg: np.ndarray) -> list[PlateRead]:
        """Every plate in the view, or only around `_zones` (the gate's finds, the tracked plates)."""
        plate_r = self.readers.plate
        assert plate_r is not None
        read_all = getattr(plate_r, "read_all", None)
        if read_all is None:
            return [plate_r.read(vimg)]
        if self._zones is None:
            return list(read_all(vimg))
        reads: list[PlateRead] = []
        for z in self._zones:
            reads += [r for r in read_all(vimg, z) if r.text or not reads]
        texted = [r for r in reads if r.text]
        return texted or reads[:1] or [PlateRead(reason="no_text")]

    def _read(self, cam: CameraConfig, frame: Frame, read_plate: bool = True) -> list[PlateRead] | None:
        """Run the readers due on this frame; returns the plate reads of the tracking camera (None when its plate
        was not read; `read_plate`: whether it is due)."""
        r, a = self.readers, self.assembler
        ts, img = frame.timestamp, frame.image
        # Readers see the camera's prepared view; boxes come back in view pixels and are mapped to the raw
        # frame, which stays the evidence image.
        view = self._views[cam.name]
        vimg = self._view_of(cam, frame)

        def to_frame(box: Box | None) -> Box | None:
            return box if view.identity or box is None else view.box_to_frame(box, img.shape)

        plates: list[PlateRead] | None = None
        container_r, cargo_r, text_r = r.container, r.cargo, r.cargo_text
        if cam.role == "plate" and r.plate is not None:
            if cam.name == self._track_cam:
                if read_plate:
                    plates = self._timed("plate", lambda: self._read_plates(vimg))
                    plates = [plate_plausible(p, vimg) for p in plates]
                    plates = [p.model_copy(update={"box": to_frame(p.box)}) for p in plates]
                    self.stats.reads["plate"] += 1
                    self._observe(cam, frame, plates)
            elif a.active and not self._settled("plate", ts) and self._due(cam, "plate", frame, 1):
                plate = self._timed("plate", lambda: r.plate.read(vimg))  # type: ignore[union-attr]
                plate = plate_plausible(plate, vimg)
                plate = plate.model_copy(update={"box": to_frame(plate.box)})
                self.stats.reads["plate"] += 1
                a.add_plate(ts, cam.name, plate, img)
        elif (cam.role == "container" and container_r is not None and not self._containers_complete(ts)
              and self._due(cam, "container", frame, self.cfg.container_every_n)
              and self._text_in_sight(cam, "container", vimg)):
            codes = self._timed("container", lambda: container_r.read(vimg))
            codes = [c.model_copy(update={"box": to_frame(c.box)}) for c in codes if not a.decided_code(c.code, ts)]
            self.stats.reads["container"] += 1
            if codes:
                a.add_containers(ts, cam.name, codes, img)
            # only check-digit-valid codes confirm, but an unverified one is something seen: look on densely
            self._found(cam, "container", {c.code for c in codes if c.check_digit_ok}, ts, bool(codes))
        elif cam.role == "cargo":
            if (cargo_r is not None and not self._settled("cargo", ts)
                    and self._due(cam, "cargo", frame, self.cfg.cargo_every_n)):
                cargo = self._timed("cargo", lambda: cargo_r.classify(vimg))
                self.stats.reads["cargo"] += 1
                a.add_cargo(ts, cam.name, cargo, img)
                self._found(cam, "cargo", set(), ts, cargo.cls != "unknown")  # an abstention finds nothing
            if (text_r is not None and not self._nothing_printed(ts)
                    and self._due(cam, "cargo_text", frame, self.cfg.cargo_text_every_n)
                    and self._text_in_sight(cam, "cargo_text", vimg)):
                words = self._timed("cargo_text", lambda: text_r.read(vimg))
                self.stats.reads["cargo_text"] += 1
                a.add_cargo_text(words, ts)
                self._found(cam, "cargo_text", {w.commodity for w in words}, ts)
        hazard_r = r.hazard
        if (hazard_r is not None and cam.role in ("plate", "container") and a.active
                and self._due(cam, "hazard", frame, self.cfg.hazard_every_n)):
            # On the raw frame: an ADR panel often sits outside the plate/code read zone.
            panels = self._timed("hazard", lambda: hazard_r.read(img))
            self.stats.reads["hazard"] += 1
            if panels:
                a.add_hazards(ts, cam.name, panels, img)
            self._found(cam, "hazard", {hazard_key(h) for h in panels}, ts)
        return plates

    def finish(self) -> list[PassageDraft]:
        self._never_read(None)
        return self.assembler.finish()

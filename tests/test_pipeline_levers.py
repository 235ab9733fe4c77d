"""The reader cadences of LaneProcessor (edge/lane/pipeline.py): novelty gating, hazard and cargo cadences, and the
sparse cadence once a reader's finds are confirmed. Fake readers count their calls; no models, no timings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cameras.frame import Frame
from edge.config import PipelineConfig, parse_config
from edge.domain.types import CargoRead, ContainerRead, HazardRead, PlateRead, TextEvidence
from edge.lane.pipeline import LaneProcessor, Readers

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROLES = {"p": "plate", "c": "container", "g": "cargo"}
IN_VIEW = (10, 40)  # frames (10 fps) in which the truck is in every camera's view
OPEN = 11  # the passage opens on the trigger camera's second frame with the truck: reads start there
LOOK = 0  # start-up look: the plate camera's first frame is read once (is a vehicle standing in the lane?)


class Counting:
    """A fake reader: `answers(k)` gives its result for its k-th call (0-based); `frames` logs the frame indices."""

    def __init__(self, answers) -> None:  # noqa: ANN001
        self.answers, self.frames, self.proc = answers, [], None

    def _call(self):  # noqa: ANN202
        self.frames.append(self.proc.current)
        return self.answers(len(self.frames) - 1)

    read = classify = lambda self, image: self._call()  # noqa: E731


class Proc(LaneProcessor):
    current = -1

    def process(self, frame: Frame):  # noqa: ANN201
        self.current = frame.index
        return super().process(frame)


def code(c: str = "MSKU1234565", ok: bool = True) -> list[ContainerRead]:
    return [ContainerRead(code=c, check_digit_ok=ok, confidence=0.9)]


# the levers added after these tests were written, off unless a test names them (their defaults are on: see
# test_the_empty_reads_gate_and_search_levers_are_on_by_default)
BEFORE_EMPTY_READS = {"empty_reads": 0, "container_gate": False, "search_every_n": 1}


def run_lane(pipeline: dict, moving: bool = True, **readers: Counting) -> Proc:
    """One truck in view of the plate, container and cargo cameras for frames 10-39. `moving`: the truck's
    image shifts by a few pixels each frame (a passing truck); else it stands still."""
    cfg = parse_config({"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}], "cameras": [
        {"name": n, "source": "x", "role": r, "lane": "in1"} for n, r in ROLES.items()]})
    proc = Proc("in1", cfg.cameras, Readers(**readers), PipelineConfig(**{**BEFORE_EMPTY_READS, **pipeline}))
    for r in readers.values():
        r.proc = proc
    empty = np.full((90, 160, 3), 60, np.uint8)
    for k in range(60):
        img = empty
        if IN_VIEW[0] <= k < IN_VIEW[1]:
            img = empty.copy()
            x = 10 + (3 * k if moving else 0) % 40
            img[20:70, x:x + 90] = 220
            img[30:40, x + 10:x + 30] = 0  # some texture, so a shift changes the thumbnail
        for name, role in ROLES.items():
            proc.process(Frame(name, role, "in1", k, T0 + timedelta(seconds=k / 10), k / 10, img))
    proc.finish()
    return proc


def plate_reader() -> Counting:
    return Counting(lambda k: PlateRead(text="29C12345", display="29C-123.45", country="VN", format="vn_truck",
                                        confidence=0.95))


NO_SPARSE = {"novelty_threshold": 0, "confirm_reads": 0}


def test_novelty_skips_frames_of_a_standing_truck_but_not_of_a_moving_one() -> None:
    cfg = {"enough_reads": 0, "novelty_threshold": 1.0}
    standing, moving, off = plate_reader(), plate_reader(), plate_reader()
    proc = run_lane(cfg, moving=False, plate=standing)
    run_lane(cfg, moving=True, plate=moving)
    run_lane({**cfg, "novelty_threshold": 0}, moving=False, plate=off)
    assert standing.frames == [LOOK, OPEN]  # the same pixels would give the same read
    assert proc.stats.still_skipped > 0
    assert len(moving.frames) == len(off.frames) > 20  # a passing truck: every frame read


def test_novelty_is_per_reader_so_a_sparser_reader_still_reads_once() -> None:
    """The plate reader reads the standing truck on frame 11; the hazard reader's first due frame (12) shows
    the same pixels, but the hazard reader has not read them yet."""
    plate = plate_reader()
    hazard = Counting(lambda k: [])
    run_lane({"enough_reads": 0, "novelty_threshold": 1.0, "hazard_every_n": 2}, moving=False, plate=plate,
             hazard=hazard)
    assert plate.frames == [LOOK, OPEN]
    assert hazard.frames == [12, 12]  # once on the plate camera, once on the container camera


def test_hazard_cadence_and_sparse_once_a_panel_is_confirmed() -> None:
    panel = [HazardRead(hazard_id="33", un_number="1203", confidence=0.9)]
    dense, every2, confirmed = (Counting(lambda k: panel) for _ in range(3))
    run_lane({**NO_SPARSE, "hazard_every_n": 1}, hazard=dense)
    run_lane({**NO_SPARSE, "hazard_every_n": 2}, hazard=every2)
    run_lane({"novelty_threshold": 0, "hazard_every_n": 2, "confirm_reads": 2, "confirmed_every_n": 6},
             hazard=confirmed)
    # the plate and the container camera both look for panels
    assert dense.frames == [f for f in range(OPEN, 40) for _ in "pc"]
    assert every2.frames == [f for f in range(12, 40, 2) for _ in "pc"]
    # two reads of the same panel (here: both cameras on frame 12) confirm it: from then on every 6th frame
    assert confirmed.frames == [12, 12] + [f for f in range(18, 40, 6) for _ in "pc"]
    assert len(confirmed.frames) < len(every2.frames)


def test_container_reads_go_sparse_once_confirmed_and_dense_again_on_a_new_code() -> None:
    second = Counting(lambda k: code() if k < 3 else code("TGHU1614802"))
    only_one = Counting(lambda k: code())
    never = Counting(lambda k: code(ok=False))  # unverified codes do not confirm anything
    cfg = {"novelty_threshold": 0, "hazard_every_n": 1, "container_every_n": 2, "confirm_reads": 2,
           "confirmed_every_n": 6}
    run_lane(cfg, container=only_one)
    run_lane(cfg, container=second)
    run_lane(cfg, container=never)
    assert never.frames == list(range(12, 40, 2))  # dense all the way
    assert only_one.frames == [12, 14, 18, 24, 30, 36]  # confirmed by two reads, then every 6th frame
    # the 4th call (frame 24) finds a new code: dense again until it is read twice too (26); two confirmed codes
    # fill the chassis (at most two 20 ft boxes), so the container camera has nothing left to read
    assert second.frames == [12, 14, 18, 24, 26]


def test_cargo_text_goes_sparse_once_its_commodity_is_confirmed_and_cargo_every_n() -> None:
    words = [TextEvidence(keyword="UREA", commodity="fertilizer", confidence=0.9),
             TextEvidence(keyword="NPK", commodity="fertilizer", confidence=0.9)]
    nothing, found = Counting(lambda k: []), Counting(lambda k: words)
    cfg = {"novelty_threshold": 0, "cargo_text_every_n": 3, "confirm_reads": 2, "confirmed_every_n": 6}
    run_lane(cfg, cargo_text=nothing)
    run_lane(cfg, cargo_text=found)
    assert nothing.frames == list(range(12, 40, 3))
    # two keywords of one read count once: confirmed after the second read (frames 12, 15), then every 6th
    assert found.frames == [12, 15, 18, 24, 30, 36]
    unsure = lambda k: CargoRead(cls="fertilizer", confidence=0.5)  # noqa: E731  (never settles)
    every, every2 = Counting(unsure), Counting(unsure)
    run_lane({**NO_SPARSE, "cargo_every_n": 1}, cargo=every)
    run_lane({**NO_SPARSE, "cargo_every_n": 2}, cargo=every2)
    assert every.frames == list(range(OPEN, 40)) and every2.frames == list(range(12, 40, 2))


@pytest.mark.parametrize("bad", [{"hazard_every_n": 0}, {"confirmed_every_n": 0}, {"novelty_threshold": -1},
                                 {"container_det_max_side": 100}, {"confirm_reads": -1}])
def test_lever_bounds_are_validated(bad: dict) -> None:
    with pytest.raises(ValueError):
        PipelineConfig(**bad)


def test_looked_and_found_nothing_makes_a_reader_sparse_until_it_finds_something() -> None:
    """`empty_reads`: after that many reads of the passage on a camera found nothing, the reader reads that camera
    only every `confirmed_every_n` frames; a find (here a panel that comes into view) makes it dense again."""
    panel = [HazardRead(hazard_id="33", un_number="1203", confidence=0.9)]
    cfg = {"novelty_threshold": 0, "hazard_every_n": 2, "confirm_reads": 2, "confirmed_every_n": 6}
    off, empty = Counting(lambda k: []), Counting(lambda k: [])
    late = Counting(lambda k: panel if k >= 6 else [])  # calls 0-5 see nothing, the 7th on sees the panel
    run_lane(cfg, hazard=off)
    run_lane({**cfg, "empty_reads": 3}, hazard=empty)
    run_lane({**cfg, "empty_reads": 3}, hazard=late)
    assert off.frames == [f for f in range(12, 40, 2) for _ in "pc"]  # 0: dense all the way
    # frames 12, 14 (both cameras): three empty looks per camera from frame 16 → every 6th frame
    assert empty.frames == [12, 12, 14, 14, 16, 16] + [f for f in range(18, 40, 6) for _ in "pc"]
    # the panel, first seen on frame 18, is read twice there (both cameras): confirmed, so sparse stays
    assert late.frames == empty.frames
    # a panel seen once, on the container camera (frame 18): that camera is dense again until it has looked
    # three more times (20, 22, 24) and found nothing; the plate camera stays sparse
    one_cam = Counting(lambda k: panel if k == 7 else [])
    run_lane({**cfg, "empty_reads": 3}, hazard=one_cam)
    assert one_cam.frames == [12, 12, 14, 14, 16, 16, 18, 18, 20, 22, 24, 24, 30, 30, 36, 36]


def test_an_unverified_code_keeps_the_container_camera_dense_and_cargo_text_goes_sparse_when_empty() -> None:
    cfg = {"novelty_threshold": 0, "container_every_n": 2, "confirmed_every_n": 6, "empty_reads": 2}
    default, nothing, unverified = Counting(lambda k: []), Counting(lambda k: []), Counting(lambda k: code(ok=False))
    run_lane(cfg, container=default)  # by default the rule leaves the container camera alone
    every = {**cfg, "empty_reads_for": ["container", "hazard", "cargo_text"]}
    run_lane(every, container=nothing)
    run_lane(every, container=unverified)
    assert default.frames == list(range(12, 40, 2))
    assert nothing.frames == [12, 14, 18, 24, 30, 36]
    assert unverified.frames == list(range(12, 40, 2))  # a piece of a code is something: no sparse looks
    words = Counting(lambda k: [])
    run_lane({**cfg, "cargo_text_every_n": 3, "confirmed_every_n": 12}, cargo_text=words)
    assert words.frames == [12, 15, 24, 36]


def test_find_log_counts_empty_looks_per_camera_and_forgets_finished_passages() -> None:
    from edge.lane.cadence import FindLog, looked_enough
    from edge.lane.passage import PassageDraft

    assert not looked_enough(5, 0) and not looked_enough(2, 3) and looked_enough(3, 3)
    log, d = FindLog(), PassageDraft(lane="in1", started_at=T0, ended_at=T0)
    assert not log.sparse(None, "hazard", "p", 2, 1)
    for _ in range(2):
        log.found(d, "hazard", "p", set())
    assert log.sparse(d, "hazard", "p", 2, 2) and not log.sparse(d, "hazard", "c", 2, 2)  # per camera
    log.found(d, "hazard", "p", {"33/1203"})  # a find: dense again, and not confirmed yet
    assert not log.sparse(d, "hazard", "p", 2, 2)
    log.found(d, "hazard", "c", {"33/1203"})  # read twice: confirmed for the passage, on every camera
    assert log.sparse(d, "hazard", "c", 2, 0) and log.sparse(d, "hazard", "p", 2, 0)
    log.found(d, "container", "c", set(), anything=True)  # something seen but nothing that confirms
    assert log.keys(d, "container") == [] and not log.sparse(d, "container", "c", 2, 1)
    log.forget([d])
    assert not log


class FakeEngine:
    """`detect` returns the quads it is given for the next call."""

    def __init__(self) -> None:
        self.quads: list[np.ndarray] = []

    def detect(self, image, max_side: int = 960):  # noqa: ANN001, ANN201
        self.max_side = max_side
        return self.quads


def quad(x: float, y: float, w: float, h: float) -> np.ndarray:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def test_container_gate_counts_only_text_that_is_new_at_its_place() -> None:
    from edge.readers.container_gate import ContainerGate, gate_for

    eng = FakeEngine()
    gate = ContainerGate(eng, 320)  # type: ignore[arg-type]
    img = np.full((90, 160, 3), 60, np.uint8)
    img[10:20, 10:60] = 250  # a sign behind the lane
    eng.quads = [quad(10, 10, 50, 10)]
    assert gate.new_text(img, "c") == 1 and eng.max_side == 320  # first look: everything is new
    assert gate.new_text(img, "c") == 0  # the sign again: same place, same pixels
    assert gate.new_text(img, "other") == 1  # each camera has its own memory
    truck = img.copy()
    truck[50:70, 40:120] = 200
    truck[55:65, 50:100] = 20  # a code on the truck
    eng.quads = [quad(11, 10, 50, 10), quad(40, 50, 80, 20)]  # the sign jitters by a pixel
    assert gate.new_text(truck, "c") == 1
    moved = img.copy()
    moved[50:70, 20:100] = 200
    moved[55:65, 30:80] = 20
    eng.quads = [quad(10, 10, 50, 10), quad(20, 50, 80, 20)]  # the truck moved on
    assert gate.new_text(moved, "c") == 1
    assert gate_for(Counting(lambda k: []), 640) is None  # a reader without an OCR engine: no gate


def test_container_gate_skips_full_reads_of_frames_with_no_new_text(monkeypatch: pytest.MonkeyPatch) -> None:
    class Gate:
        def __init__(self) -> None:
            self.frames: list[int] = []

        def new_text(self, image, camera: str) -> int:  # noqa: ANN001
            self.frames.append(proc_holder[0].current)
            return int(20 <= proc_holder[0].current < 26)  # the code's text passes frames 20-25

    gate, proc_holder = Gate(), []
    monkeypatch.setattr("edge.lane.pipeline.gate_for", lambda reader, side, words=False: gate)
    reader = Counting(lambda k: code())
    real_init = Proc.__init__

    def init(self, *a, **kw) -> None:  # noqa: ANN001, ANN002, ANN003
        real_init(self, *a, **kw)
        proc_holder.append(self)

    monkeypatch.setattr(Proc, "__init__", init)
    run_lane({"novelty_threshold": 0, "container_every_n": 2, "container_gate": True, "confirm_reads": 2,
              "confirmed_every_n": 6}, container=reader)
    assert gate.frames[:5] == [12, 14, 16, 18, 20]  # the gate looks at the reader's own cadence
    # full reads only where new text is: 20, 22 confirm the code, then the sparse cadence (24, 30, 36) is gated too
    assert reader.frames == [20, 22, 24]
    off = Counting(lambda k: code())
    run_lane({"novelty_threshold": 0, "container_every_n": 2, "confirm_reads": 2, "confirmed_every_n": 6},
             container=off)
    assert off.frames[:2] == [12, 14]


def test_abstaining_cargo_classifications_count_as_empty_looks_when_cargo_is_listed() -> None:
    cfg = {"novelty_threshold": 0, "cargo_every_n": 2, "confirmed_every_n": 6, "empty_reads": 2,
           "empty_reads_for": ["hazard", "cargo_text", "cargo"]}
    abstains = Counting(lambda k: CargoRead(cls="unknown", confidence=0.4))
    unsure = Counting(lambda k: CargoRead(cls="fertilizer", confidence=0.5))  # a class, never settled
    default = Counting(lambda k: CargoRead(cls="unknown", confidence=0.4))
    run_lane(cfg, cargo=abstains)
    run_lane(cfg, cargo=unsure)
    run_lane({**cfg, "empty_reads_for": ["hazard", "cargo_text"]}, cargo=default)
    assert abstains.frames == [12, 14, 18, 24, 30, 36]
    assert unsure.frames == default.frames == list(range(12, 40, 2))


def test_search_every_n_spaces_the_looks_while_no_vehicle_is_known() -> None:
    """Plate reads without a box make no vehicle track: the occupancy passage's plate is looked for, on every Nth
    frame, until it settles (3 reads). A tracked vehicle's own reads stay dense (tests/test_queue_passages.py)."""
    dense, every2 = plate_reader(), plate_reader()
    run_lane({"novelty_threshold": 0}, plate=dense)
    run_lane({"novelty_threshold": 0, "search_every_n": 2}, plate=every2)
    assert dense.frames == [LOOK, OPEN, 12, 13]
    assert every2.frames == [LOOK, 12, 14, 16]


def test_the_empty_reads_gate_and_search_levers_are_on_by_default() -> None:
    cfg = PipelineConfig()
    assert (cfg.empty_reads, cfg.container_gate, cfg.search_every_n) == (3, True, 2)
    assert cfg.empty_reads_for == ["hazard", "cargo_text", "cargo"]  # not the container camera: it has the gate


def test_cargo_text_gate_reads_words_only_where_new_text_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    class Gate:
        def new_text(self, image, camera: str) -> int:  # noqa: ANN001
            return int(float(image.mean()) > 70)  # the truck (bright) is in view: "text"

    monkeypatch.setattr("edge.lane.pipeline.gate_for", lambda reader, side, words=False: Gate())
    gated, plain = Counting(lambda k: []), Counting(lambda k: [])
    cfg = {"novelty_threshold": 0, "cargo_text_every_n": 3, "empty_reads": 0}
    run_lane({**cfg, "cargo_text_gate": True}, cargo_text=gated, moving=False)
    run_lane(cfg, cargo_text=plain, moving=False)
    assert plain.frames == list(range(12, 40, 3))
    assert gated.frames == plain.frames  # the truck is in view on every one of these frames
    nothing = Counting(lambda k: [])
    monkeypatch.setattr(Gate, "new_text", lambda self, image, camera: 0)
    run_lane({**cfg, "cargo_text_gate": True}, cargo_text=nothing)
    assert nothing.frames == []

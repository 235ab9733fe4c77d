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


def run_lane(pipeline: dict, moving: bool = True, **readers: Counting) -> Proc:
    """One truck in view of the plate, container and cargo cameras for frames 10-39. `moving`: the truck's
    image shifts by a few pixels each frame (a passing truck); else it stands still."""
    cfg = parse_config({"gate": {"id": "g"}, "lanes": [{"id": "in1", "direction": "import"}], "cameras": [
        {"name": n, "source": "x", "role": r, "lane": "in1"} for n, r in ROLES.items()]})
    proc = Proc("in1", cfg.cameras, Readers(**readers), PipelineConfig(**pipeline))
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

"""`smartgate bench --footage DIR` (issue 18): vehicles found, at the right time, missed, duplicates, merged,
start-up and false passages, against a truth file of vehicles."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from smartgate_tools.bench.accuracy import PredictedPassage
from smartgate_tools.bench.vehicles import Vehicle, load_footage, score_vehicles

REPO = Path(__file__).resolve().parents[1]


def _p(start: float, end: float, plate: str | None) -> PredictedPassage:
    return PredictedPassage(lane="in1", start_s=start, end_s=end, plate=plate)


def test_scoring_counts_found_duplicates_merged_startup_false_and_unread() -> None:
    vehicles = [Vehicle("15C95813", 1.0, at_startup=True), Vehicle("29C12345", 5.0), Vehicle("29C12346", 9.0),
                Vehicle("29C12347", 13.0), Vehicle("29C12348", 17.0)]
    preds = [
        _p(0.0, 2.0, "15C95813"),  # the truck in view at start-up: a bogus passage
        _p(4.0, 5.5, "29C-123.45"),  # found, at the right time (display form is fine)
        _p(6.0, 6.5, "29C12345"),  # the same truck again: a duplicate
        _p(8.5, 13.5, "29C12346"),  # found, but its span also holds 29C12347's moment: merged
        _p(20.0, 21.0, "29C12348"),  # found, but at the wrong time (3 s after its moment)
        _p(22.0, 23.0, "51F99999"),  # nobody's plate: false
        _p(24.0, 25.0, None),  # an empty passage: false
        _p(12.5, 13.4, None),  # at 29C12347's moment without a plate (the reader abstained): unread, not false
        _p(12.6, 13.5, None),  # the same again: 29C12347 is credited already, a vehicle counted twice
        _p(4.5, 5.2, None),  # at 29C12345's moment, which its plate's passage found: extra, not unread
    ]
    s = score_vehicles(preds, vehicles, tolerance_s=1.0)
    assert s.vehicles == 4 and s.passages == 10
    assert (s.found, s.found_at_time, s.missed) == (3, 2, 1)  # an unread passage finds no vehicle
    assert (s.duplicates, s.merged, s.startup, s.false, s.unread, s.extra) == (1, 1, 1, 2, 1, 2)
    assert s.unrecorded == 0  # the missed vehicle has its (unread) passage
    assert [v["found"] for v in s.per_vehicle] == [False, True, True, False, True]
    assert [v["unread"] for v in s.per_vehicle] == [False, False, False, True, False]
    assert [p["kind"] for p in s.per_passage] == ["startup", "found", "extra", "duplicate", "found", "unread",
                                                  "extra", "found", "false", "false"]
    assert score_vehicles(preds[:7], vehicles).unrecorded == 1  # without it: 29C12347 passed with no passage


def test_clip_layout_one_video_and_a_json_of_vehicles(tmp_path: Path) -> None:
    video = tmp_path / "City Queue 1.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (160, 96))
    for _ in range(50):
        w.write(np.full((96, 160, 3), 90, np.uint8))
    w.release()
    (tmp_path / "City Queue 1.json").write_text(json.dumps(
        {"vehicles": [{"plate": "云A12345", "t_s": 0.4, "at_startup": True}, {"plate": "29C12345", "t_s": 1.5}]}),
        encoding="utf-8")
    (lane, vehicles), = load_footage(tmp_path)
    assert lane.lane == "city-queue-1" and lane.truth["fps"] == 25.0 and lane.truth["frames"] == 50
    assert lane.cameras == {"plate": str(video.resolve())}
    assert [(v.plate, v.t_s, v.at_startup) for v in vehicles] == [("云A12345", 0.4, True), ("29C12345", 1.5, False)]
    with pytest.raises(FileNotFoundError):
        load_footage(tmp_path / "nothing")


@pytest.mark.slow
def test_bench_footage_on_rendered_queue_meets_the_targets(tmp_path: Path) -> None:
    """Every vehicle its own passage with the right plate, none merged, no start-up passage (issue 18's targets)."""
    from data_samples.generate import generate
    from edge.cli import main

    clips = REPO / "var" / "clips"
    if not (clips / "queue" / "in1" / "truth.json").is_file():
        generate(clips, seed=7, sets=("queue",), show_progress=False)
    out = tmp_path / "footage.json"
    rc = main(["--log-level", "WARNING", "bench", "--footage", str(clips / "queue"), "--config",
               str(REPO / "data_samples" / "queue.yaml"), "--no-progress", "--json", str(out)])
    assert rc == 0
    v = json.loads(out.read_text(encoding="utf-8"))["vehicles"]
    assert v["vehicles"] == 7  # eight trucks, the first in view at start-up
    assert v["found"] == v["found_at_time"] == 7
    assert (v["missed"], v["duplicates"], v["merged"], v["startup"], v["false"]) == (0, 0, 0, 0, 0)

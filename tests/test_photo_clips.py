"""Queue clips made of real photos (smartgate_tools.bench.photo_clips): the schedule, the rendering, and real plates
through the whole pipeline (slow, with ../shared)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from smartgate_tools.bench.photo_clips import (
    BEST_U,
    CONTAINER_DELAY,
    Photo,
    Schedule,
    make_clips,
    make_lanes,
    on_vehicle,
    placement,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def test_queue_schedule_keeps_the_zone_busy_and_starts_with_a_standing_vehicle() -> None:
    s = Schedule.queue(5)
    assert s.progress(0, 0.0) == BEST_U and s.progress(0, s.hold - 0.05) == BEST_U  # stands at start-up
    ts = np.arange(0.0, s.start[-1] + s.window, 0.1)
    in_view = [[i for i in range(5) if s.progress(i, t) is not None] for t in ts]
    assert all(in_view)  # never an empty frame: a queue
    assert any(len(v) == 2 for v in in_view)  # the next one is in view before the one in front has gone
    moments = [s.moment(i) for i in range(5)]
    assert moments == sorted(moments) and moments[0] == 0.0
    for i in range(1, 5):  # each vehicle's moment is while it is in view, at its best progress
        assert s.progress(i, moments[i]) == pytest.approx(BEST_U)


def test_a_vehicle_grows_and_comes_down_until_its_lower_part_leaves_the_frame() -> None:
    size, hw = (1280, 720), (480, 640)
    s0, x0, y0 = placement(0.0, hw, size)
    s1, x1, y1 = placement(BEST_U, hw, size)
    s2, x2, y2 = placement(1.0, hw, size)
    assert s0 < s1 < s2
    assert y0 + hw[0] * s0 < 720 * 0.6  # far up the road at first
    assert y1 >= 0 and y1 + hw[0] * s1 <= 720 + 1  # whole and largest at its moment
    assert y2 + hw[0] * s2 > 720 * 1.2  # its lower part (the plate) has left at the bottom


def test_clips_are_written_with_their_vehicles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    photos = []
    for i in range(5):
        img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        p = tmp_path / f"p{i}.png"
        cv2.imwrite(str(p), img)
        photos.append(Photo(p, f"29C1234{i}"))
    clips = make_clips(photos, tmp_path / "out", per_clip=3, seed=1)
    assert [c.name for c in clips] == ["clip_000.mp4", "clip_001.mp4"]  # 3 + 2 photos
    spec = json.loads((tmp_path / "out" / "clip_000.json").read_text(encoding="utf-8"))
    assert [v["at_startup"] for v in spec["vehicles"]] == [True, False, False]
    assert {v["plate"] for v in spec["vehicles"]} < {p.plate for p in photos}  # three of the five, shuffled
    cap = cv2.VideoCapture(str(clips[0]))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, frame = cap.read()
    finally:
        cap.release()
    assert ok and frame.shape == (720, 1280, 3) and n == spec["frames"]
    assert spec["vehicles"][-1]["t_s"] < n / spec["fps"]


def test_two_camera_lanes_see_each_truck_box_after_its_plate_and_some_trucks_carry_none(tmp_path: Path) -> None:
    from data_samples.truth import load_truth

    rng = np.random.default_rng(1)

    def photos(prefix: str, n: int, label) -> list[Photo]:  # noqa: ANN001
        out = []
        for i in range(n):
            p = tmp_path / f"{prefix}{i}.png"
            cv2.imwrite(str(p), rng.integers(0, 255, (90, 120, 3), dtype=np.uint8))
            out.append(Photo(p, label(i)))
        return out

    plates = photos("p", 8, lambda i: f"29C1234{i}")
    boxes = photos("c", 8, lambda i: f"MSKU123456{i}")
    (lane,) = make_lanes(plates, boxes, tmp_path / "lanes", per_lane=8, bare_every=4)
    truth = load_truth(lane)
    ps = truth["passages"]
    assert [p["t_enter_s"] for p in ps] == sorted(p["t_enter_s"] for p in ps)
    assert len(ps) == 8 and {p["plate"] for p in ps} == {p.plate for p in plates}
    assert [bool(p["containers"]) for p in ps] == [True, True, True, False] * 2  # every 4th: bulk cargo
    assert len({c["code"] for p in ps for c in p["containers"]}) == 6  # each box on one truck only
    for p in ps:
        (pa, pb), (ca, cb) = p["camera_visible_s"]["plate"], p["camera_visible_s"]["container"]
        assert ca == pytest.approx(pa + CONTAINER_DELAY * (pb - pa)) and p["t_exit_s"] == cb
    lengths = []
    for cam in ("plate.mp4", "container.mp4"):
        cap = cv2.VideoCapture(str(lane / cam))
        lengths.append(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        cap.release()
    assert lengths[0] == lengths[1] == truth["frames"] and truth["frames"] / truth["fps"] > ps[-1]["t_exit_s"]


def test_a_plate_crop_is_mounted_at_a_plate_share_of_the_vehicle_width() -> None:
    crop = np.full((40, 190, 3), 255, np.uint8)  # a one-line plate
    face = on_vehicle(crop, random.Random(0))
    white = np.argwhere((face == 255).all(axis=2))
    w = white[:, 1].max() - white[:, 1].min() + 1
    assert face.shape == (720, 960, 3) and abs(w / 960 - 0.26) < 0.01
    assert white[:, 0].min() > 720 / 2  # low on the vehicle


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "eval" / "plate_cn" / "labels.csv").is_file(), reason="needs ../shared/eval")
def test_real_plates_in_a_queue_one_passage_each_with_its_plate(tmp_path: Path) -> None:
    """Six real CN car photos (dev set) as a queue: the first stands in view at start-up, the others each get one
    passage with their own plate, at their time; no passage for another text, none merged, none twice."""
    from smartgate_tools.bench.photo_clips import load_photos
    from smartgate_tools.bench.vehicles import run_footage

    photos = {p.path.name: p for p in load_photos([str(SHARED / "eval" / "plate_cn" / "labels.csv")])}
    # read right on their own by the shipped reader, in the order that first showed held-back reads going to the
    # passage in front (120, 030, 048), and a faded yellow truck plate the ADR-orange test took for a panel (119)
    names = ["plate_cn_120.jpg", "plate_cn_030.jpg", "plate_cn_048.jpg", "plate_cn_109.jpg", "plate_cn_001.jpg",
             "plate_cn_119.jpg"]
    out = tmp_path / "clips"
    make_clips([photos[n] for n in names], out, per_clip=len(names), seed=0, shuffle=False)
    spec = json.loads((out / "clip_000.json").read_text(encoding="utf-8"))

    class Args:
        footage, site_config, threads, no_progress, time_tolerance, json_out, overrides = (
            out, "none", 2, True, 1.0, None, [])

    data = run_footage(Args(), log=lambda *_: None)
    v = data["vehicles"]
    assert [x["plate"] for x in spec["vehicles"]] == [photos[n].plate for n in names]
    assert v["vehicles"] == len(names) - 1
    assert v["false"] == 0 and v["merged"] == 0 and v["duplicates"] == 0 and v["startup"] == 0
    assert v["found_at_time"] == v["vehicles"], [(x["plate"], x["at_time"]) for x in data["lanes"]["clip-000"]["per_vehicle"]]


@pytest.mark.skipif(not (SHARED / "train" / "plate_vn" / "labels.csv").is_file(), reason="needs ../shared/train")
def test_clip_truth_uses_the_audited_labels_unless_asked_for_the_shipped_ones() -> None:
    """A training crop labelled 30A19752 whose plate reads 30E19752 (smartgate_tools/data/label_audit.csv): with
    the shipped label a right read of it would count as a false passage and a missed vehicle."""
    from smartgate_tools.bench.photo_clips import load_photos

    labels = [str(SHARED / "train" / "plate_vn" / "labels.csv")]
    audited = {p.path.name: p.plate for p in load_photos(labels)}
    shipped = {p.path.name: p.plate for p in load_photos(labels, audited=False)}
    assert audited["cartgmt_00033.jpg"] == "30E19752" and shipped["cartgmt_00033.jpg"] == "30A19752"
    assert sum(audited[k] != shipped[k] for k in audited) == 8  # the eight VN corrections, nothing else

"""The committed synthetic footage and its generator: clips open, truth is valid and matches the videos,
the YAML configs point at them, and the generator is deterministic for a seed."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_samples.codes import (
    CN_ORDINARY_RE,
    VN_TRUCK_RE,
    iso6346_check_digit,
    iso6346_valid,
    random_cn_plate,
    random_container_code,
    random_vn_plate,
)
from data_samples.truth import load_truth, validate_truth
from edge.config import load_config

ROOT = Path(__file__).resolve().parents[1] / "data_samples"
TRUTHS = sorted((ROOT / "clips").glob("*/*/truth.json"))


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.parent.name}/{p.parent.name}" for p in paths]


def test_clips_are_committed_and_small() -> None:
    assert {p.parent.parent.name for p in TRUTHS} == {"demo", "test"}
    total = sum(f.stat().st_size for f in (ROOT / "clips").rglob("*") if f.is_file())
    assert total < 20 * 1024 * 1024, f"clips take {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("truth_path", TRUTHS, ids=_ids(TRUTHS))
def test_truth_validates(truth_path: Path) -> None:
    truth = load_truth(truth_path)
    assert validate_truth(truth) == []
    for ps in truth["passages"]:
        pattern = VN_TRUCK_RE if ps["plate_country"] == "VN" else CN_ORDINARY_RE
        assert pattern.match(ps["plate"]), ps["plate"]
        for c in ps["containers"]:
            assert iso6346_check_digit(c["code"][:10]) == int(c["code"][10])
        # the plate camera's best view must be big enough to read
        assert ps["plate_best"]["width_px"] >= 150, ps


@pytest.mark.parametrize("truth_path", TRUTHS, ids=_ids(TRUTHS))
def test_every_clip_opens_with_the_frames_the_truth_says(truth_path: Path) -> None:
    truth = load_truth(truth_path)
    for role, path in truth["camera_paths"].items():
        cap = cv2.VideoCapture(path)
        assert cap.isOpened(), path
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == truth["frames"], path
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(truth["fps"])
        ok, first = cap.read()
        assert ok
        assert [first.shape[1], first.shape[0]] == truth["camera_sizes"][role]
        cap.set(cv2.CAP_PROP_POS_FRAMES, truth["frames"] - 1)
        ok, _ = cap.read()
        assert ok, f"{path}: last frame unreadable"
        ok, _ = cap.read()
        assert not ok, f"{path}: more frames than the truth says"
        cap.release()


@pytest.mark.parametrize("truth_path", TRUTHS, ids=_ids(TRUTHS))
def test_plate_box_in_truth_shows_a_yellow_plate(truth_path: Path) -> None:
    truth = load_truth(truth_path)
    cap = cv2.VideoCapture(truth["camera_paths"]["plate"])
    for ps in truth["passages"]:
        best = ps["plate_best"]
        cap.set(cv2.CAP_PROP_POS_FRAMES, best["frame"])
        ok, frame = cap.read()
        assert ok
        x, y, w, h = best["box"]
        crop = frame[y + h // 4: y + 3 * h // 4, x + w // 8: x + 7 * w // 8].astype(float)
        b, g, r = crop[..., 0], crop[..., 1], crop[..., 2]
        yellow = ((r > b + 40) & (g > b + 30)).mean()
        assert yellow > 0.3, f"{ps['id']}: only {yellow:.0%} yellow pixels in the truth plate box"
    cap.release()


def test_test_set_is_one_lane_two_trucks_back_to_back() -> None:
    truth = load_truth(ROOT / "clips" / "test" / "in1")
    assert truth["frames"] / truth["fps"] <= 10.0
    ps = truth["passages"]
    assert len(ps) == 2 and ps[1]["back_to_back"]
    assert ps[1]["t_enter_s"] - ps[0]["t_exit_s"] < 1.0  # no quiet gap between them


def test_demo_set_covers_the_scenarios() -> None:
    passages = [p for lane in ("in1", "out1") for p in load_truth(ROOT / "clips" / "demo" / lane)["passages"]]
    assert len(passages) >= 12
    assert {p["plate_country"] for p in passages} == {"VN", "CN"}
    assert {p["plate_lines"] for p in passages} == {1, 2}
    assert {c["layout"] for p in passages for c in p["containers"]} == {"horizontal", "two_line", "vertical"}
    assert any(len(p["containers"]) == 2 for p in passages)
    assert any(p["stopped"] for p in passages)
    assert any(p["hazard"] for p in passages)
    assert {p["cargo"] for p in passages} >= {"fertilizer", "coke_coal", "chemicals", "agricultural",
                                               "electronics", "closed", "empty"}
    # apart from the back-to-back pairs, trucks are separated by a quiet gap of 2-4 s
    for lane in ("in1", "out1"):
        ps = load_truth(ROOT / "clips" / "demo" / lane)["passages"]
        for prev, cur in zip(ps, ps[1:], strict=False):
            if not cur["back_to_back"]:
                assert 1.9 <= cur["t_enter_s"] - prev["t_exit_s"] <= 4.1, (prev["id"], cur["id"])


@pytest.mark.parametrize("name", ["demo.yaml", "test.yaml"])
def test_configs_point_at_the_clips_in_sync(name: str) -> None:
    cfg = load_config(ROOT / name)
    for cam in cfg.cameras:
        assert Path(cam.source).is_file(), cam.source
        truth = load_truth(Path(cam.source).parent)
        assert cfg.lane(cam.lane).direction == truth["direction"]
        assert cam.lane == truth["lane"]
        assert cam.start_time == truth["start_time"]
        assert cam.fps == truth["fps"]
        assert Path(truth["camera_paths"][cam.role]) == Path(cam.source)


def test_validate_truth_reports_broken_truth() -> None:
    good = load_truth(ROOT / "clips" / "demo" / "in1")
    bad = copy.deepcopy(good)
    box = next(p for p in bad["passages"] if p["containers"])["containers"][0]
    box["code"] = box["code"][:10] + str((int(box["code"][10]) + 1) % 10)
    bad["passages"][1]["plate"] = "24I12345"  # I is not a VN series letter
    errs = validate_truth(bad)
    assert any("check digit" in e for e in errs) and any("regex" in e for e in errs)


def test_codes_worked_examples_and_random_codes() -> None:
    assert iso6346_check_digit("MWCU605978") == 4
    assert iso6346_check_digit("CSQU305438") == 3
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert iso6346_valid(random_container_code(rng))
        vn, cn = random_vn_plate(rng, bool(rng.random() < 0.5)), random_cn_plate(rng, bool(rng.random() < 0.5))
        assert VN_TRUCK_RE.match(vn.text) and CN_ORDINARY_RE.match(cn.text)
        assert (vn.top + vn.bottom).replace("-", "").replace(".", "") == vn.text
        assert (cn.top + cn.bottom).replace(" ", "").replace("·", "") == cn.text


def _frame_hash(path: str, index: int) -> str:
    cap = cv2.VideoCapture(path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return hashlib.sha256(frame.tobytes()).hexdigest()


@pytest.mark.slow
def test_generator_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    from data_samples.fonts import CJK_FACE, FontMissing, font_path
    from data_samples.generate import generate

    try:
        font_path(CJK_FACE)
    except FontMissing as e:
        pytest.skip(str(e))
    runs = []
    for k, seed in enumerate((3, 3, 4)):
        out = tmp_path / f"run{k}"
        generate(out, seed, ("tiny",), show_progress=False)
        truth = json.loads((out / "tiny" / "in1" / "truth.json").read_text(encoding="utf-8"))
        assert validate_truth(truth) == []
        mid = truth["passages"][0]["plate_best"]["frame"]
        hashes = {r: _frame_hash(str(out / "tiny" / "in1" / f), mid) for r, f in truth["cameras"].items()}
        runs.append((truth, hashes))
    assert runs[0] == runs[1]
    assert runs[0][0]["passages"][0]["plate"] != runs[2][0]["passages"][0]["plate"]
    assert runs[0][1]["plate"] != runs[2][1]["plate"]


def test_traffic_preset_spaces_trucks_as_a_busy_hour():
    """The `traffic` set keeps the planned busy-hour spacing (≈ one truck a minute per lane), unlike the dense
    demo set; schedule() puts each truck's first sight that many seconds after the previous one left."""
    from data_samples.generate import BUSY_HOUR_GAP_S, PRESETS, PlateCamera, _span, make_spec, schedule

    lanes = PRESETS["traffic"]()
    assert {lp.lane for lp in lanes} == {"in1", "out1"} and all(lp.gap_s == BUSY_HOUR_GAP_S for lp in lanes)
    lp = lanes[0]
    rng = np.random.default_rng(3)
    cam = PlateCamera(rng, "LÀN IN1")
    specs = [make_spec(p, rng, f"t{i}") for i, p in enumerate(lp.trucks)]
    motions = schedule(specs, lp.trucks, rng, cam, gap_s=lp.gap_s)
    spans = [_span(m, s.length_m, cam, m.t0) for m, s in zip(motions, specs, strict=True)]
    gaps = [spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1)]
    assert all(BUSY_HOUR_GAP_S[0] - 0.05 <= g <= BUSY_HOUR_GAP_S[1] + 0.05 for g in gaps), gaps
    dense = schedule(specs, PRESETS["demo"]()[0].trucks[: len(specs)], np.random.default_rng(3), cam)
    dense_spans = [_span(m, s.length_m, cam, m.t0) for m, s in zip(dense, specs, strict=True)]
    assert all(dense_spans[i + 1][0] - dense_spans[i][1] < 4.0 for i in range(len(dense_spans) - 1))

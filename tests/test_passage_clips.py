"""Passage assembly on the committed sample clips: one passage per truck, including the back-to-back pair
and the truck that stops in the zone. Readers are off (occupancy only), so this is fast and tests the
trigger and the assembler, not OCR."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from cameras.factory import open_source
from data_samples import load_truth
from edge.config import load_config
from edge.lane.frames import merged_frames
from edge.lane.pipeline import LaneProcessor, Readers

REPO = Path(__file__).resolve().parents[1]


def _passages(config: Path, lane_id: str):
    cfg = load_config(config)
    cams = [c for c in cfg.cameras if c.lane == lane_id]
    proc = LaneProcessor(lane_id, cams, Readers(), cfg.pipeline)
    sources = [open_source(c) for c in cams]
    done = []
    for frame in merged_frames(sources, threading.Event()):
        done += proc.process(frame)
    return done + proc.finish()


@pytest.mark.parametrize(
    ("config", "lane"),
    [("test.yaml", "in1"), ("demo.yaml", "in1"), ("demo.yaml", "out1")],
)
def test_one_passage_per_truck(config: str, lane: str) -> None:
    truth = load_truth(REPO / "data_samples" / "clips" / config.removesuffix(".yaml") / lane)
    got = _passages(REPO / "data_samples" / config, lane)
    start = truth["start"]
    assert len(got) == len(truth["passages"])
    for draft, t in zip(got, truth["passages"], strict=True):
        # The passage covers the truck's time in the trigger (plate) camera, within a frame or two.
        zone_in = start + timedelta(seconds=t["camera_visible_s"]["plate"][0])
        zone_out = start + timedelta(seconds=t["camera_visible_s"]["plate"][1])
        assert draft.started_at <= zone_in + timedelta(seconds=0.5)
        assert draft.ended_at >= zone_out - timedelta(seconds=0.5)
        if t["stopped"]:
            assert (draft.ended_at - draft.started_at).total_seconds() >= t["stop_s"]


def test_the_demo_has_the_hard_cases() -> None:
    passages = load_truth(REPO / "data_samples" / "clips" / "demo" / "in1")["passages"]
    assert any(p["stopped"] for p in passages)
    assert any(p["back_to_back"] for p in passages)

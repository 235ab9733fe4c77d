"""Sample footage → gate config: every `<lane>/truth.json` under the samples folder is one lane.

The truth file names the lane, its direction, start time and one video per camera role, so the
benchmark needs no YAML. `replica_config` builds N camera streams out of copies of those lanes for
the real-time replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_samples import load_truth
from edge.config import Config, PolicyConfig, parse_config

ROLE_ORDER = ("plate", "container", "cargo")  # a partial replica lane keeps its trigger camera first


@dataclass
class SampleLane:
    lane: str
    direction: str
    truth: dict[str, Any]
    cameras: dict[str, str]  # role → absolute video path

    @property
    def duration_s(self) -> float:
        return float(self.truth["frames"]) / float(self.truth["fps"])


def load_samples(root: str | Path) -> list[SampleLane]:
    root = Path(root)
    files = [root / "truth.json"] if (root / "truth.json").is_file() else sorted(root.glob("*/truth.json"))
    if not files:
        raise FileNotFoundError(f"{root}: no <lane>/truth.json found (expected the layout of data_samples/clips/demo)")
    lanes = []
    for f in files:
        t = load_truth(f)
        cams = {role: t["camera_paths"][role] for role in ROLE_ORDER if role in t["camera_paths"]}
        lanes.append(SampleLane(t["lane"], t["direction"], t, cams))
    return lanes


def _camera(name: str, role: str, lane: str, source: str, truth: dict[str, Any], live: bool) -> dict[str, Any]:
    return {"name": name, "source": source, "role": role, "lane": lane, "fps": float(truth["fps"]),
            "start_time": truth["start_time"], "live": live}


def bench_policy() -> PolicyConfig:
    """The footage comes without declarations: scoring verdicts with `require_declaration` would flag all."""
    return PolicyConfig(require_declaration=False)


def samples_config(lanes: list[SampleLane], threads: int) -> Config:
    """The gate as the daemon would run it on these files (as fast as they decode)."""
    data = {
        "gate": {"id": lanes[0].truth["gate"]},
        "lanes": [{"id": s.lane, "direction": s.direction} for s in lanes],
        "cameras": [_camera(f"{s.lane}-{role}", role, s.lane, path, s.truth, False)
                    for s in lanes for role, path in s.cameras.items()],
        "ocr": {"threads": threads},
        "policy": bench_policy().model_dump(by_alias=True),
    }
    return parse_config(data, "<bench>")


def replica_config(lanes: list[SampleLane], n_cameras: int, threads: int) -> Config:
    """`n_cameras` live (paced) camera streams: copies of the sample lanes, three cameras each; the last
    copy keeps only its first cameras (plate first, so it still triggers passages)."""
    if n_cameras < 1:
        raise ValueError("n_cameras must be >= 1")
    out_lanes, cams, k = [], [], 0
    while len(cams) < n_cameras:
        s = lanes[k % len(lanes)]
        lane_id = f"r{k}-{s.lane}"
        out_lanes.append({"id": lane_id, "direction": s.direction})
        for role, path in s.cameras.items():
            if len(cams) == n_cameras:
                break
            cams.append(_camera(f"{lane_id}-{role}", role, lane_id, path, s.truth, True))
        k += 1
    data = {"gate": {"id": lanes[0].truth["gate"]}, "lanes": out_lanes, "cameras": cams,
            "ocr": {"threads": threads}, "policy": bench_policy().model_dump(by_alias=True)}
    return parse_config(data, "<bench replica>")

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
CALIBRATION_KEYS = ("trigger_zone", "read_zone", "rectify", "intrinsics")  # taken from the site config per camera


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


def site_config_for(samples: str | Path) -> Path | None:
    """The gate config that goes with a samples folder: data_samples/clips/demo → data_samples/demo.yaml."""
    root = Path(samples).resolve()
    cand = root.parent.parent / f"{root.name}.yaml"
    return cand if cand.is_file() else None


def _site_camera(site: Config | None, lane: str, role: str) -> dict[str, Any]:
    """Calibration (read zone, trigger zone, rectification) of the site camera with this lane and role."""
    if site is None:
        return {}
    cam = next((c for c in site.cameras if c.lane == lane and c.role == role), None)
    if cam is None:
        return {}
    return {k: v for k, v in cam.model_dump(include=set(CALIBRATION_KEYS)).items() if v is not None}


def samples_config(lanes: list[SampleLane], threads: int, site: Config | None = None) -> Config:
    """The gate as the daemon would run it on these files (as fast as they decode). `site`: the gate config
    whose camera calibration (per lane and role) and `pipeline` settings apply, as the daemon would use them."""
    data = {
        "gate": {"id": lanes[0].truth["gate"]},
        "lanes": [{"id": s.lane, "direction": s.direction} for s in lanes],
        "cameras": [{**_camera(f"{s.lane}-{role}", role, s.lane, path, s.truth, False),
                     **_site_camera(site, s.lane, role)}
                    for s in lanes for role, path in s.cameras.items()],
        "ocr": {"threads": threads},
        "policy": bench_policy().model_dump(by_alias=True),
    }
    if site is not None:
        data["pipeline"] = site.pipeline.model_dump()
    return parse_config(data, "<bench>")


def replica_config(lanes: list[SampleLane], n_cameras: int, threads: int, template: Config | None = None) -> Config:
    """`n_cameras` live (paced) camera streams: copies of the sample lanes, three cameras each; the last
    copy keeps only its first cameras (plate first, so it still triggers passages). `template`: the fast
    run's config, whose pipeline settings and per-camera calibration the copies share."""
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
            cams.append({**_camera(f"{lane_id}-{role}", role, lane_id, path, s.truth, True),
                         **_site_camera(template, s.lane, role)})
        k += 1
    data = {"gate": {"id": lanes[0].truth["gate"]}, "lanes": out_lanes, "cameras": cams,
            "ocr": {"threads": threads}, "policy": bench_policy().model_dump(by_alias=True)}
    if template is not None:
        data["pipeline"] = template.pipeline.model_dump()
    return parse_config(data, "<bench replica>")

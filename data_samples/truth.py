"""Ground truth of the synthetic clips: load it, and check that it is self-consistent.

A lane folder holds one video per camera and `truth.json`:

    {"gate", "lane", "direction", "fps", "start_time", "frames", "cameras": {"plate": "plate.mp4", ...},
     "passages": [{"id", "t_enter_s", "t_exit_s", "t_zone_s", "plate", "plate_display", "plate_country",
                   "plate_format", "plate_lines", "containers": [{"code", "size_type", "layout"}],
                   "cargo", "hazard": {"hazard_id", "un"} | null, "stopped", "back_to_back", ...}]}

Times are seconds from `start_time` (ISO-8601 UTC), the time of frame 0 of every camera of the lane.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from data_samples.codes import (
    ADR_HAZARD_RE,
    ADR_UN_RE,
    SIZE_TYPE_RE,
    iso6346_valid,
    plate_text_valid,
    vn_display,
)

CARGO_CLASSES = ("fertilizer", "coke_coal", "chemicals", "agricultural", "electronics", "closed", "empty")
LAYOUTS = ("horizontal", "two_line", "vertical")


def load_truth(path: str | Path) -> dict[str, Any]:
    """Read a lane's truth.json (give the file or its folder); camera file names become absolute paths
    under "camera_paths" and "start_time" is also parsed into "start" (aware datetime)."""
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    truth = json.loads(p.read_text(encoding="utf-8"))
    truth["camera_paths"] = {role: str((p.parent / name).resolve()) for role, name in truth["cameras"].items()}
    truth["start"] = datetime.fromisoformat(truth["start_time"].replace("Z", "+00:00"))
    return truth


def validate_truth(truth: dict[str, Any]) -> list[str]:
    """Every problem found, as readable strings (empty list: valid)."""
    errs: list[str] = []
    for key in ("gate", "lane", "direction", "fps", "start_time", "frames", "cameras", "passages"):
        if key not in truth:
            errs.append(f"missing key {key!r}")
    if errs:
        return errs
    if truth["direction"] not in ("import", "export"):
        errs.append(f"direction {truth['direction']!r}")
    if not str(truth["start_time"]).endswith("Z"):
        errs.append("start_time must be UTC ISO-8601 ending in Z")
    duration = truth["frames"] / truth["fps"]
    ids = set()
    prev_enter = -1.0
    for k, ps in enumerate(truth["passages"]):
        where = f"passages[{k}] ({ps.get('id')})"
        ids.add(ps["id"])
        if not 0 <= ps["t_enter_s"] < ps["t_exit_s"] <= duration + 1e-6:
            errs.append(f"{where}: times {ps['t_enter_s']}..{ps['t_exit_s']} outside 0..{duration}")
        if ps["t_enter_s"] < prev_enter:
            errs.append(f"{where}: passages not in order of entry")
        prev_enter = ps["t_enter_s"]
        if not plate_text_valid(ps["plate"], ps["plate_country"]):
            errs.append(f"{where}: plate {ps['plate']!r} does not match the {ps['plate_country']} regex")
        if ps["plate_country"] == "VN" and vn_display(ps["plate"]) != ps["plate_display"]:
            errs.append(f"{where}: display {ps['plate_display']!r} != {vn_display(ps['plate'])!r}")
        if ps["plate_country"] == "CN" and ps["plate_display"].replace("·", "") != ps["plate"]:
            errs.append(f"{where}: display {ps['plate_display']!r} does not normalise to {ps['plate']!r}")
        for c in ps["containers"]:
            if not iso6346_valid(c["code"]):
                errs.append(f"{where}: container code {c['code']!r} fails the ISO 6346 check digit")
            if not SIZE_TYPE_RE.match(c["size_type"]):
                errs.append(f"{where}: size/type {c['size_type']!r}")
            if c["layout"] not in LAYOUTS:
                errs.append(f"{where}: layout {c['layout']!r}")
        if ps["cargo"] not in CARGO_CLASSES:
            errs.append(f"{where}: cargo {ps['cargo']!r}")
        hz = ps.get("hazard")
        if hz is not None and not (ADR_HAZARD_RE.match(hz["hazard_id"]) and ADR_UN_RE.match(hz["un"])):
            errs.append(f"{where}: hazard {hz!r}")
        if hz is not None and ps["cargo"] != "chemicals":
            errs.append(f"{where}: an ADR panel on a {ps['cargo']} load")
        closed_box = ps["containers"] and all(c["size_type"][2] != "U" for c in ps["containers"])
        if closed_box and ps["cargo"] != "closed":
            errs.append(f"{where}: a closed container cannot show cargo {ps['cargo']!r}")
    if len(ids) != len(truth["passages"]):
        errs.append("duplicate passage ids")
    return errs

"""`smartgate bench --footage DIR`: one passage per vehicle? Scored against a truth file of vehicles.

Two layouts of DIR:

* rendered footage (`python -m data_samples.generate --sets queue`): `<lane>/truth.json` with one video per camera;
  every truth passage is a vehicle (its plate, the moment its plate was biggest in the plate camera, the span it
  was in that camera's view, and `at_startup` when it was already in view on frame 0);
* clips of a single camera (real footage): `<clip>.mp4` (or .mkv/.avi/.mov) with `<clip>.json` beside it::

      {"fps": 25, "vehicles": [{"plate": "29C12345", "t_s": 12.4}, {"plate": "桂A12345", "t_s": 20.0,
                                "at_startup": false}]}

  `t_s` is about when the plate is readable; the clip is one lane whose plate camera sees the whole frame.

What is counted (a vehicle that was in view at start-up must get no passage; the others exactly one):

* `found`: vehicles with a passage whose voted plate is theirs; `found_at_time`: ... whose time span, widened by
  `tolerance_s`, holds the vehicle's moment;
* `duplicates`: further passages with the plate of a vehicle already found;
* `merged`: passages whose own span holds the moments of two or more vehicles (one passage, several trucks);
* `startup`: passages with the plate of a vehicle that was in view at start-up (bogus after a restart);
* `false`: passages whose plate is no vehicle's (a wrong read, a sign, an empty passage);
* `unread`: passages without a plate at the moment of a vehicle that no passage found by its plate (the reader
  abstained, or a vehicle never read: flagged for an inspector, not a false identity), each crediting one such
  vehicle; `extra`: passages without a plate whose vehicles were all found or credited already (a vehicle counted
  twice); `unrecorded`: vehicles with no passage at all, neither found nor credited (passed without a verdict).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.domain.plate_grammar import label_key
from smartgate_tools.bench.accuracy import PredictedPassage
from smartgate_tools.bench.footage import SampleLane

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov")
CLIP_START = "2000-01-01T00:00:00Z"


@dataclass
class Vehicle:
    plate: str
    t_s: float  # when its plate is best seen (seconds from the lane's start)
    t0_s: float | None = None  # span in the trigger camera's view, when known
    t1_s: float | None = None
    at_startup: bool = False


@dataclass
class VehicleScore:
    vehicles: int  # vehicles that should get a passage (not those in view at start-up)
    found: int
    found_at_time: int
    missed: int
    duplicates: int
    merged: int
    startup: int
    false: int  # a plate that is none of the vehicles' (a misread, a sign), or a passage with no vehicle at all
    passages: int
    unread: int = 0  # a passage at a missed vehicle's time without a plate (the reader abstained): flagged, not false
    extra: int = 0  # a passage without a plate at the time of vehicles already found or credited
    unrecorded: int = 0  # vehicles neither found nor credited with an unread passage: no passage at all
    per_vehicle: list[dict[str, Any]] = field(default_factory=list)
    per_passage: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("per_vehicle")
        d.pop("per_passage")
        return d


def vehicles_from_truth(truth: dict[str, Any]) -> list[Vehicle]:
    out = []
    for p in truth["passages"]:
        span = (p.get("camera_visible_s") or {}).get("plate") or [p["t_enter_s"], p["t_exit_s"]]
        best = p.get("plate_best") or {}
        t = float(best["t_s"]) if best.get("t_s") is not None else (span[0] + span[1]) / 2
        out.append(Vehicle(p["plate"], t, float(span[0]), float(span[1]), bool(p.get("at_startup", False))))
    return out


def _clip_truth(video: Path, spec: dict[str, Any]) -> dict[str, Any]:
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        fps = float(spec.get("fps") or cap.get(cv2.CAP_PROP_FPS) or 10.0)
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    from datetime import datetime

    lane = "".join(c if c.isalnum() else "-" for c in video.stem.lower()).strip("-")[:60] or "clip"
    vehicles = spec.get("vehicles", [])
    # pseudo passages (±2 s around each vehicle's moment): the runner times verdicts against them
    passages = [{"id": f"{lane}-{i + 1}", "t_enter_s": max(0.0, v["t_s"] - 2.0), "t_exit_s": v["t_s"] + 2.0,
                 "plate": v["plate"], "containers": [], "cargo": "closed", "at_startup": v.get("at_startup", False),
                 "plate_best": {"t_s": v["t_s"]}} for i, v in enumerate(vehicles)]
    return {"gate": "footage", "lane": lane, "direction": "import", "fps": fps, "frames": frames,
            "start_time": CLIP_START, "start": datetime.fromisoformat(CLIP_START.replace("Z", "+00:00")),
            "camera_paths": {"plate": str(video.resolve())}, "passages": passages}


def load_footage(root: str | Path) -> list[tuple[SampleLane, list[Vehicle]]]:
    """Rendered lanes (`<lane>/truth.json`) or single-camera clips with a `<clip>.json` of vehicles."""
    from smartgate_tools.bench.footage import load_samples

    root = Path(root)
    if (root / "truth.json").is_file() or list(root.glob("*/truth.json")):
        return [(s, vehicles_from_truth(s.truth)) for s in load_samples(root)]
    out = []
    for spec_path in sorted(root.glob("*.json")):
        video = next((spec_path.with_suffix(s) for s in VIDEO_SUFFIXES if spec_path.with_suffix(s).is_file()), None)
        if video is None:
            continue
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        truth = _clip_truth(video, spec)
        vehicles = [Vehicle(v["plate"], float(v["t_s"]), at_startup=bool(v.get("at_startup", False)))
                    for v in spec.get("vehicles", [])]
        out.append((SampleLane(truth["lane"], "import", truth, {"plate": truth["camera_paths"]["plate"]}), vehicles))
    if not out:
        raise FileNotFoundError(f"{root}: no <lane>/truth.json and no <clip>.json beside a video")
    return out


def score_vehicles(preds: list[PredictedPassage], vehicles: list[Vehicle], tolerance_s: float = 1.0) -> VehicleScore:
    keys = [label_key(v.plate) for v in vehicles]
    want = [v for v in vehicles if not v.at_startup]
    found: dict[int, int] = {}  # vehicle index → its first passage
    counts = dict.fromkeys(("duplicates", "merged", "startup", "false", "unread", "extra"), 0)
    at_time: set[int] = set()
    per_passage: list[dict[str, Any]] = []
    plateless: list[tuple[int, list[int], float]] = []  # (index in per_passage, vehicles inside, mid time)
    for j, p in enumerate(sorted(preds, key=lambda p: p.start_s)):
        span = (p.start_s - tolerance_s, p.end_s + tolerance_s)
        inside = [i for i, v in enumerate(vehicles) if not v.at_startup and span[0] <= v.t_s <= span[1]]
        covered = [i for i, v in enumerate(vehicles) if not v.at_startup and p.start_s <= v.t_s <= p.end_s]
        kind = "false"
        k = label_key(p.plate) if p.plate else None
        same = [i for i, key in enumerate(keys) if key == k]
        if same:
            i = min(same, key=lambda i: abs(vehicles[i].t_s - (p.start_s + p.end_s) / 2))
            if vehicles[i].at_startup:
                kind = "startup"
            elif i in found:
                kind = "duplicate"
            else:
                found[i] = j
                kind = "found"
                if i in inside:
                    at_time.add(i)
        if kind == "false" and p.plate is None and inside:
            kind = "unread"  # settled below, once every plate's passage is known
            plateless.append((len(per_passage), inside, (p.start_s + p.end_s) / 2))
        if len(covered) >= 2:  # its own span holds two vehicles' best moments: one passage for both
            counts["merged"] += 1
        if kind not in ("found", "unread"):
            counts["duplicates" if kind == "duplicate" else kind] += 1
        per_passage.append({"start_s": round(p.start_s, 2), "end_s": round(p.end_s, 2), "plate": p.plate,
                            "kind": kind, "vehicles_in_span": [vehicles[i].plate for i in inside]})
    credited: set[int] = set()
    for at, inside, mid in plateless:
        open_ = [i for i in inside if i not in found and i not in credited]
        if open_:
            credited.add(min(open_, key=lambda i: abs(vehicles[i].t_s - mid)))
            counts["unread"] += 1
        else:
            per_passage[at]["kind"] = "extra"
            counts["extra"] += 1
    per_vehicle = [{"plate": v.plate, "t_s": v.t_s, "at_startup": v.at_startup, "found": i in found,
                    "at_time": i in at_time, "unread": i in credited} for i, v in enumerate(vehicles)]
    n_found = sum(1 for i in found if not vehicles[i].at_startup)
    return VehicleScore(vehicles=len(want), found=n_found, found_at_time=len(at_time), missed=len(want) - n_found,
                        duplicates=counts["duplicates"], merged=counts["merged"], startup=counts["startup"],
                        false=counts["false"], passages=len(preds), unread=counts["unread"], extra=counts["extra"],
                        unrecorded=len(want) - n_found - len(credited), per_vehicle=per_vehicle,
                        per_passage=per_passage)


def run_footage(args: Any, log: Any = print) -> dict[str, Any]:
    """The pipeline on the footage (as fast as it decodes), scored per vehicle."""
    import cv2

    from edge.config import load_config
    from edge.readers.factory import build_readers
    from edge.readers.ocr.engine import OcrEngine
    from smartgate_tools.bench.footage import samples_config
    from smartgate_tools.bench.report import write_json
    from smartgate_tools.bench.runner import run_fast
    from smartgate_tools.bench.setup import site_config, warm_up, with_overrides

    cv2.setNumThreads(args.threads)
    loaded = load_footage(args.footage)
    lanes = [s for s, _ in loaded]
    site_path = site_config(args, args.footage)
    site = load_config(site_path) if site_path else None
    cfg = with_overrides(samples_config(lanes, args.threads, site), getattr(args, "overrides", []))
    engine = OcrEngine(threads=args.threads)
    readers = build_readers(cfg, engine)
    warm_up(cfg, readers)
    run = run_fast(cfg, lanes, readers, progress=not args.no_progress)
    tol = args.time_tolerance
    per_lane = {s.lane: score_vehicles(run.passages.get(s.lane, []), v, tol) for s, v in loaded}
    total = VehicleScore(**{k: sum(getattr(s, k) for s in per_lane.values())
                            for k in ("vehicles", "found", "found_at_time", "missed", "duplicates", "merged",
                                      "startup", "false", "passages", "unread", "extra", "unrecorded")})
    log(f"footage: {run.frames} frames in {run.wall_s:.1f} s = {run.frames_per_s:.1f} frames/s; vehicles "
        f"{total.vehicles}: found {total.found} ({total.found_at_time} at the right time), missed {total.missed}, "
        f"duplicates {total.duplicates}, merged {total.merged}, start-up passages {total.startup}, "
        f"false passages {total.false}, unread {total.unread} (extra {total.extra}); no passage at all "
        f"{total.unrecorded}")
    data = {"footage": str(args.footage), "site_config": str(site_path) if site_path else None,
            "time_tolerance_s": tol, "frames": run.frames, "frames_per_s": round(run.frames_per_s, 2),
            "reads": run.reads, "vehicles": total.summary(),
            "lanes": {lane: {**s.summary(), "per_vehicle": s.per_vehicle, "per_passage": s.per_passage}
                      for lane, s in per_lane.items()},
            "pipeline_config": cfg.pipeline.model_dump()}
    if args.json_out:
        write_json(data, args.json_out)
    return data

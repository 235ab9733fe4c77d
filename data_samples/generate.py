"""Seeded generator of synthetic gate footage: three time-synchronised cameras per lane + truth.json.

    python -m data_samples.generate --out data_samples/clips --seed 7            # demo + test sets
    python -m data_samples.generate --out /tmp/x --seed 1 --sets tiny            # one truck, for tests

Deterministic for a seed (same fonts and OpenCV build). Each set/lane gets its own random stream, so
editing one lane's script does not change the others.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from data_samples.codes import (
    ADR_PAIRS,
    SIZE_TYPE_TEXT,
    random_cn_plate,
    random_container_code,
    random_vn_plate,
)
from data_samples.fonts import CONTAINER_FACES
from data_samples.render_truck import (
    SIDE_PX_M,
    TOP_PX_M,
    ContainerSpec,
    TruckSpec,
    render_front,
    render_side,
    render_top,
)
from data_samples.scene import (
    PLATE_CAM_S,
    PLATE_SIZE,
    SIDE_CAM_S,
    SIDE_SIZE,
    TOP_CAM_S,
    TOP_SIZE,
    Lighting,
    PlateCamera,
    SideCamera,
    TopCamera,
    sensor,
)
from data_samples.truth import validate_truth

FPS = 10.0
GATE_ID = "lao-cai-kim-thanh"
START_S = PLATE_CAM_S - 16.0  # where a truck is placed when it is released (out of every view)
ZONE_S = (-6.0, 0.0)
STOP_AT_S = -0.3
BRAKE_MPS2 = 2.0
CAMERA_FILES = {"plate": "plate.mp4", "container": "container.mp4", "cargo": "cargo.mp4"}

CAB_COLORS = [(235, 235, 235), (40, 40, 170), (160, 100, 40), (40, 120, 40), (30, 160, 230), (200, 200, 205)]
BODY_COLORS = [(60, 90, 140), (130, 80, 40), (50, 110, 60), (70, 70, 160), (120, 120, 120)]
BOX_COLORS = [(40, 50, 160), (150, 90, 30), (60, 120, 40), (150, 150, 150), (30, 110, 220), (40, 40, 110),
              (200, 200, 200)]
BRANDS = ["SINOLINK", "TRANS ASIA", "HẢI AN", "VINALINES", "DONG FANG", "GREEN LINE", "PAN-ASIA", "中远 COSCO"]
COMPANIES = ["VẬN TẢI HÀ GIANG", "LÀO CAI LOGISTICS", "HỮU NGHỊ TRANS", "云南物流运输", "广西运输", "KIM THÀNH JSC"]


@dataclass
class Plan:
    """One truck in a lane's script; details (plate text, codes, colours, speed) come from the seed."""

    country: str  # VN | CN
    two_line: bool
    body: str  # container | tank | open | tarp | flatbed
    visual: str
    cargo: str
    boxes: list[tuple[str, str]] = field(default_factory=list)  # (size_type, layout)
    hazard: bool = False
    stop_s: float = 0.0
    back_to_back: bool = False  # follows the previous truck a few metres behind


@dataclass
class LanePlan:
    set_name: str
    lane: str
    direction: str
    start_time: str
    trucks: list[Plan]
    # seconds from one truck leaving the plate camera to the next one entering it (not back-to-back)
    gap_s: tuple[float, float] = (2.0, 3.5)
    # A queue: every truck follows the one ahead at this many metres (bumper to tail), never closer, so the
    # trigger zone never empties; None: trucks come one by one (`gap_s`) or `back_to_back`.
    queue_gap_m: tuple[float, float] | None = None
    startup: bool = False  # the first truck already stands at the stop line on frame 0 (a daemon (re)start)
    plate_pitch_deg: float | None = None  # plate camera tilt (None: 16°); a queue camera looks further up the road


def _demo() -> list[LanePlan]:
    t0 = "2025-06-02T01:00:00Z"  # 08:00 at the gate
    in1 = [
        Plan("CN", True, "container", "container_roof", "closed", [("45G1", "horizontal")]),
        Plan("VN", False, "open", "sacks", "fertilizer"),
        Plan("CN", False, "tank", "tank", "chemicals", hazard=True, stop_s=3.0),
        Plan("VN", True, "container", "container_roof", "closed", [("22G1", "horizontal"), ("22G1", "vertical")]),
        Plan("CN", True, "open", "coal", "coke_coal", back_to_back=True),
        Plan("VN", False, "container", "open_top", "coke_coal", [("22U1", "two_line")]),
    ]
    out1 = [
        Plan("VN", True, "open", "crates", "agricultural"),
        Plan("CN", True, "flatbed", "deck", "empty"),
        Plan("VN", False, "tarp", "tarp", "closed"),
        Plan("VN", True, "open", "cartons", "electronics", back_to_back=True),
        Plan("CN", False, "container", "container_roof", "closed", [("42G1", "vertical")]),
        Plan("VN", False, "open", "drums", "chemicals", hazard=True),
    ]
    return [LanePlan("demo", "in1", "import", t0, in1), LanePlan("demo", "out1", "export", t0, out1)]


def _test() -> list[LanePlan]:
    trucks = [
        Plan("VN", False, "container", "container_roof", "closed", [("22G1", "horizontal")]),
        Plan("CN", True, "open", "sacks", "fertilizer", back_to_back=True),
    ]
    return [LanePlan("test", "in1", "import", "2025-06-02T02:00:00Z", trucks)]


# Planned traffic (issue 6): 3,000–3,500 trucks a day per freight road over 8 lanes is ≈ 440 trucks a lane a
# day, one every ≈ 130 s over a 16-hour gate day; a busy hour at twice that rate is one truck a minute. The
# demo set is a stress test (a truck every ≈ 7 s); this set has that busy hour's spacing.
BUSY_HOUR_GAP_S = (45.0, 75.0)


def _traffic() -> list[LanePlan]:
    t0 = "2025-06-02T04:00:00Z"  # 11:00 at the gate
    in1 = [
        Plan("CN", False, "container", "container_roof", "closed", [("22G1", "horizontal")]),
        Plan("VN", False, "open", "sacks", "fertilizer"),
        Plan("CN", True, "open", "coal", "coke_coal", stop_s=3.0),
    ]
    out1 = [
        Plan("VN", True, "open", "crates", "agricultural"),
        Plan("VN", False, "container", "container_roof", "closed", [("42G1", "horizontal")]),
        Plan("CN", False, "tarp", "tarp", "closed"),
    ]
    return [LanePlan("traffic", "in1", "import", t0, in1, gap_s=BUSY_HOUR_GAP_S),
            LanePlan("traffic", "out1", "export", t0, out1, gap_s=BUSY_HOUR_GAP_S)]


def _queue() -> list[LanePlan]:
    """A queue that never empties (issue 18): trucks 1.5-3 m apart, the first already standing at the stop
    line when the footage starts, a plate camera tilted up to see 16 m of road so the next truck is in view
    before the one ahead has gone. Container, cargo and hazard reads ride along; plates are the point."""
    trucks = [
        Plan("VN", False, "tarp", "tarp", "closed", stop_s=2.5),
        Plan("CN", True, "open", "sacks", "fertilizer"),
        Plan("VN", False, "container", "container_roof", "closed", [("22G1", "horizontal")]),
        Plan("CN", False, "open", "coal", "coke_coal"),
        Plan("VN", True, "open", "crates", "agricultural"),
        Plan("CN", True, "tank", "tank", "chemicals", hazard=True),
        Plan("VN", False, "flatbed", "deck", "empty"),
        Plan("CN", False, "container", "container_roof", "closed", [("22G1", "horizontal")]),
    ]
    return [LanePlan("queue", "in1", "import", "2025-06-02T05:00:00Z", trucks, queue_gap_m=(1.5, 3.0),
                     startup=True, plate_pitch_deg=12.0)]


def _tiny() -> list[LanePlan]:
    return [LanePlan("tiny", "in1", "import", "2025-06-02T03:00:00Z",
                     [Plan("VN", False, "open", "crates", "agricultural")])]


PRESETS: dict[str, Callable[[], list[LanePlan]]] = {"demo": _demo, "test": _test, "tiny": _tiny,
                                                    "traffic": _traffic, "queue": _queue}


# ---------------------------------------------------------------- trucks and their motion

def make_spec(plan: Plan, rng: np.random.Generator, tid: str) -> TruckSpec:
    plate = random_vn_plate(rng, plan.two_line) if plan.country == "VN" else random_cn_plate(rng, plan.two_line)
    boxes = []
    for size_type, layout in plan.boxes:
        if layout == "vertical" and size_type[1] == "5":
            raise ValueError("a vertical code on a high cube does not fit the container camera's band")
        boxes.append(ContainerSpec(random_container_code(rng), size_type, layout,
                                   BOX_COLORS[int(rng.integers(0, len(BOX_COLORS)))],
                                   str(rng.choice(BRANDS)), str(rng.choice(CONTAINER_FACES))))
    hazard = None
    if plan.hazard:
        hazard = ADR_PAIRS[int(rng.integers(0, len(ADR_PAIRS)))] if plan.body != "tank" else ("33", "1203")
    phone = f"09{int(rng.integers(10, 99))}.{int(rng.integers(100, 999))}.{int(rng.integers(100, 999))}"
    return TruckSpec(
        id=tid, body=plan.body, plate=plate, cargo=plan.cargo, visual=plan.visual, containers=boxes,
        hazard=hazard, cab_color=CAB_COLORS[int(rng.integers(0, len(CAB_COLORS)))],
        body_color=BODY_COLORS[int(rng.integers(0, len(BODY_COLORS)))],
        speed_mps=float(rng.uniform(4.0, 5.5)), stop_s=plan.stop_s, dirt=float(rng.uniform(0.05, 0.45)),
        plate_glare=bool(rng.random() < 0.25), plate_dx=float(rng.uniform(-0.15, 0.15)),
        company=str(rng.choice(COMPANIES)), phone=phone,
    )


@dataclass
class Motion:
    """Front-bumper position s(t): constant speed, or brake → stand still → pull away."""

    t0: float
    v: float
    stop_s: float = 0.0

    def _phases(self) -> tuple[float, float, float, float]:
        d = self.v ** 2 / (2 * BRAKE_MPS2)
        t1 = self.t0 + (STOP_AT_S - d - START_S) / self.v  # start braking
        t2 = t1 + self.v / BRAKE_MPS2  # standing
        t3 = t2 + self.stop_s  # pulling away
        return t1, t2, t3, t3 + self.v / BRAKE_MPS2

    def s(self, t: float) -> float:
        if t < self.t0:
            return math.nan
        if self.stop_s <= 0:
            return START_S + self.v * (t - self.t0)
        t1, t2, t3, t4 = self._phases()
        a = BRAKE_MPS2
        if t < t1:
            return START_S + self.v * (t - self.t0)
        s1 = START_S + self.v * (t1 - self.t0)
        if t < t2:
            dt = t - t1
            return s1 + self.v * dt - a * dt * dt / 2
        if t < t3:
            return STOP_AT_S
        if t < t4:
            return STOP_AT_S + a * (t - t3) ** 2 / 2
        return STOP_AT_S + a * (t4 - t3) ** 2 / 2 + self.v * (t - t4)

    def speed(self, t: float, dt: float = 0.05) -> float:
        a, b = self.s(t), self.s(t + dt)
        return 0.0 if math.isnan(a) or math.isnan(b) else (b - a) / dt


def _geom_visible(s_f: float, length_m: float, plate_cam: PlateCamera) -> bool:
    """Cheap visibility test used for scheduling (truth uses what was actually drawn)."""
    if math.isnan(s_f):
        return False
    z = PLATE_CAM_S - s_f
    if 1.5 <= z <= 16:
        v_bottom = plate_cam.cam.project(0.0, 0.0, z)[1]
        if v_bottom > 0:
            return True
    for cam_s, px, w in ((SIDE_CAM_S, SIDE_PX_M, SIDE_SIZE[0]), (TOP_CAM_S, TOP_PX_M, TOP_SIZE[0])):
        x = w / 2 - (s_f - cam_s) * px
        if x < w and x + length_m * px > 0:
            return True
    return False


def _span(motion: Motion, length_m: float, plate_cam: PlateCamera, t_from: float) -> tuple[float, float]:
    """First and last visible time on a 0.01 s grid."""
    t, first = t_from, None
    while True:
        vis = _geom_visible(motion.s(t), length_m, plate_cam)
        if vis and first is None:
            first = t
        if first is not None and not vis:
            return first, t
        t += 0.01
        if t > t_from + 120:
            raise RuntimeError("truck never leaves the views")


def _follow(leader: Motion, leader_len_m: float, v: float, gap_m: float) -> Motion:
    """A truck at constant speed `v` that keeps at least `gap_m` behind the leader's tail, as early as it can
    (when the leader stops at the line, the follower arrives after it pulled away)."""
    ts = np.arange(leader.t0, leader.t0 + 120.0, 0.02)
    s = np.array([leader.s(float(t)) for t in ts])
    ts, s = ts[s < 20.0], s[s < 20.0]  # only while the leader is still near the gate
    # follower s_f(t) = START_S + v (t - t0) <= s_leader(t) - L - gap  for every t  <=>  t0 >= t - (...)/v
    t0 = float(np.max(ts - (s - leader_len_m - gap_m - START_S) / v))
    return Motion(t0, v)


def _standing_at_start(spec: TruckSpec, stood_s: float = 0.5) -> Motion:
    """The first truck of a start-up: standing at the stop line since `stood_s` before frame 0."""
    m = Motion(0.0, spec.speed_mps, spec.stop_s)
    return Motion(-m._phases()[1] - stood_s, spec.speed_mps, spec.stop_s)


def schedule(specs: list[TruckSpec], plans: list[Plan], rng: np.random.Generator, plate_cam: PlateCamera,
             lead_in_s: float = 0.6, gap_s: tuple[float, float] = (2.0, 3.5),
             queue_gap_m: tuple[float, float] | None = None, startup: bool = False) -> list[Motion]:
    motions: list[Motion] = []
    prev_exit = 0.0
    for i, (spec, plan) in enumerate(zip(specs, plans, strict=True)):
        if i == 0 and startup:
            if spec.stop_s <= 0:
                raise ValueError("the start-up truck must stand at the line (stop_s > 0)")
            m = _standing_at_start(spec)
        elif queue_gap_m is not None and motions:
            spec.speed_mps = motions[-1].v  # a queue moves as one
            m = _follow(motions[-1], specs[i - 1].length_m, spec.speed_mps, float(rng.uniform(*queue_gap_m)))
        elif plan.back_to_back and motions:
            prev = motions[-1]
            if prev.stop_s > 0:
                raise ValueError("a back-to-back follower needs a leader that does not stop")
            spec.speed_mps = prev.v
            gap_m = float(rng.uniform(3.0, 5.0))
            m = Motion(prev.t0 + (specs[i - 1].length_m + gap_m) / prev.v, prev.v)
        else:
            target = lead_in_s if not motions else prev_exit + float(rng.uniform(*gap_s))
            m = Motion(0.0, spec.speed_mps, spec.stop_s)
            first, _ = _span(m, spec.length_m, plate_cam, 0.0)
            m = Motion(target - first, spec.speed_mps, spec.stop_s)
        motions.append(m)
        prev_exit = _span(m, spec.length_m, plate_cam, m.t0)[1]
    return motions


# ---------------------------------------------------------------- rendering a lane

def _plate_box(plate_cam: PlateCamera, spec: TruckSpec, s_f: float) -> list[int] | None:
    z = PLATE_CAM_S - s_f
    if not 1.5 <= z <= 16:
        return None
    q = plate_cam.plate_quad(spec, z, spec.plate_dx)
    x0, y0 = q.min(axis=0)
    x1, y1 = q.max(axis=0)
    if x0 < 0 or y0 < 0 or x1 > PLATE_SIZE[0] or y1 > PLATE_SIZE[1]:
        return None
    return [int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))]


def render_lane(lp: LanePlan, seed: int, set_index: int, lane_index: int, out_dir: Path,
                progress: tqdm | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, set_index, lane_index]))
    label = f"LÀN {lp.lane.upper()}"
    cams = {"plate": PlateCamera(rng, label, lp.plate_pitch_deg), "container": SideCamera(rng, label),
            "cargo": TopCamera(rng, label)}
    specs = [make_spec(p, rng, f"{lp.set_name}-{lp.lane}-{i + 1:02d}") for i, p in enumerate(lp.trucks)]
    motions = schedule(specs, lp.trucks, rng, cams["plate"], gap_s=lp.gap_s, queue_gap_m=lp.queue_gap_m,
                       startup=lp.startup)
    sprites = [{"plate": render_front(s, rng), "container": render_side(s, rng), "cargo": render_top(s, rng)}
               for s in specs]
    end_s = max(_span(m, s.length_m, cams["plate"], m.t0)[1] for m, s in zip(motions, specs, strict=True)) + 1.0
    n_frames = int(math.ceil(end_s * FPS))
    lighting = Lighting.random(rng, end_s)
    # gain, temporal noise σ, JPEG quality (100: none), fixed-pattern noise σ
    fx = {"plate": (1.0, 0.6, 80, 2.0), "container": (1.05, 0.5, 100, 1.5), "cargo": (0.95, 0.6, 100, 2.0)}
    glare_at = {"plate": (int(PLATE_SIZE[0] * 0.12), int(PLATE_SIZE[1] * 0.08)),
                "container": (int(SIDE_SIZE[0] * 0.85), int(SIDE_SIZE[1] * 0.05))}
    noise_rng = np.random.default_rng(np.random.SeedSequence([seed, set_index, lane_index, 99]))
    sizes = {"plate": PLATE_SIZE, "container": SIDE_SIZE, "cargo": TOP_SIZE}
    fixed_noise = {r: noise_rng.normal(0, fx[r][3], (sizes[r][1], sizes[r][0])).astype(np.float32) for r in fx}

    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {}
    for role, name in CAMERA_FILES.items():
        w = cv2.VideoWriter(str(out_dir / name), cv2.VideoWriter_fourcc(*"mp4v"), FPS, sizes[role])
        if not w.isOpened():
            raise RuntimeError(f"OpenCV cannot write mp4v to {out_dir / name}")
        writers[role] = w
    seen: list[dict[str, list[int]]] = [{r: [] for r in CAMERA_FILES} for _ in specs]
    best: list[dict[str, Any] | None] = [None] * len(specs)
    for i in range(n_frames):
        t = i / FPS
        pos = [(m.s(t), m.speed(t)) for m in motions]
        for role, cam in cams.items():
            frame = cam.bg.copy()
            # far first, so nearer trucks occlude them
            order = sorted(range(len(specs)), key=lambda k: -pos[k][0] if role != "plate" else pos[k][0])
            for k in order:
                s_f, v = pos[k]
                if math.isnan(s_f):
                    continue
                if cam.draw(frame, sprites[k][role], s_f, v):
                    seen[k][role].append(i)
                    if role == "plate":
                        box = _plate_box(cam, specs[k], s_f)
                        if box and (best[k] is None or box[2] > best[k]["width_px"]):
                            best[k] = {"frame": i, "t_s": round(t, 2), "width_px": box[2], "box": box}
            if role == "container":
                frame = cam.finish(frame)
            gain, noise, q, _ = fx[role]
            strength = 0.35 + 0.25 * math.sin(t / 7.0 + lane_index)
            glare = (*glare_at[role], strength) if role in glare_at else None
            frame = sensor(frame, noise_rng, gain * lighting.gain(t), noise, q, glare, fixed_noise[role])
            writers[role].write(frame)
        if progress is not None:
            progress.update(1)
    for w in writers.values():
        w.release()

    passages = []
    for k, (spec, m, plan) in enumerate(zip(specs, motions, lp.trucks, strict=True)):
        frames = sorted({f for r in seen[k].values() for f in r})
        if not frames:
            raise RuntimeError(f"truck {spec.id} was never drawn")
        zone_in = next(i for i in range(n_frames) if m.s(i / FPS) >= ZONE_S[0]) / FPS
        zone_out = next(i for i in range(n_frames) if m.s(i / FPS) - spec.length_m >= ZONE_S[1]) / FPS
        passages.append({
            "id": spec.id,
            "t_enter_s": round(frames[0] / FPS, 2),
            "t_exit_s": round((frames[-1] + 1) / FPS, 2),
            "t_zone_in_s": round(zone_in, 2),
            "t_zone_out_s": round(zone_out, 2),
            "plate": spec.plate.text,
            "plate_display": spec.plate.display,
            "plate_country": spec.plate.country,
            "plate_format": spec.plate.format,
            "plate_lines": spec.plate.lines,
            "plate_best": best[k],
            "containers": [{"code": c.code, "size_type": c.size_type, "layout": c.layout,
                            "size_type_text": SIZE_TYPE_TEXT.get(c.size_type, "")} for c in spec.containers],
            "cargo": spec.cargo,
            "cargo_visual": spec.visual,
            "vehicle_body": spec.body,
            "hazard": {"hazard_id": spec.hazard[0], "un": spec.hazard[1]} if spec.hazard else None,
            "stopped": spec.stop_s > 0,
            "stop_s": spec.stop_s,
            "back_to_back": plan.back_to_back or (lp.queue_gap_m is not None and k > 0),
            "at_startup": bool(frames[0] == 0),  # in view on frame 0: a (re)started daemon must not make it a passage
            "speed_mps": round(m.v, 2),
            "length_m": round(spec.length_m, 2),
            "camera_visible_s": {r: [round(f[0] / FPS, 2), round((f[-1] + 1) / FPS, 2)] if f else None
                                 for r, f in seen[k].items()},
        })
    truth = {
        "gate": GATE_ID,
        "lane": lp.lane,
        "direction": lp.direction,
        "fps": FPS,
        "start_time": lp.start_time,
        "frames": n_frames,
        "cameras": dict(CAMERA_FILES),
        "camera_sizes": {r: list(sizes[r]) for r in CAMERA_FILES},
        "seed": seed,
        "passages": passages,
    }
    errs = validate_truth(truth)
    if errs:
        raise RuntimeError("generated truth is inconsistent:\n  " + "\n  ".join(errs))
    (out_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return truth


def _frames_estimate(lp: LanePlan) -> int:
    gaps = (len(lp.trucks) - 1) * sum(lp.gap_s) / 2
    return int((sum(8 if p.boxes and p.boxes[0][0][0] != "2" else 6.5 for p in lp.trucks) + gaps) * FPS)


def generate(out: str | Path, seed: int = 7, sets: tuple[str, ...] = ("demo", "test"),
             show_progress: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Render every lane of the named sets under out/<set>/<lane>/; returns the truths by set."""
    out = Path(out)
    plans = {name: PRESETS[name]() for name in sets}
    total = sum(_frames_estimate(lp) for lps in plans.values() for lp in lps)
    result: dict[str, list[dict[str, Any]]] = {}
    with tqdm(total=total, unit="frame", disable=not show_progress, desc="rendering") as bar:
        for name in sorted(plans):
            result[name] = []
            set_index = list(PRESETS).index(name)  # stable per set name, whatever subset is asked for
            for lane_index, lp in enumerate(plans[name]):
                result[name].append(render_lane(lp, seed, set_index, lane_index, out / name / lp.lane, bar))
        bar.total = bar.n
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data_samples/clips", help="output folder")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--sets", default="demo,test", help=f"comma-separated, of: {', '.join(PRESETS)}")
    args = ap.parse_args(argv)
    sets = tuple(s for s in args.sets.split(",") if s)
    unknown = [s for s in sets if s not in PRESETS]
    if unknown:
        ap.error(f"unknown set(s): {', '.join(unknown)}")
    res = generate(args.out, args.seed, sets)
    for name, lanes in res.items():
        for tr in lanes:
            dur = tr["frames"] / tr["fps"]
            print(f"{name}/{tr['lane']}: {len(tr['passages'])} passages, {tr['frames']} frames ({dur:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

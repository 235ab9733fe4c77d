"""Queue clips made of real photos: real plates through the whole pipeline (issue 18's footage check).

The rendered queue footage (`data_samples.generate --sets queue`) tests tracking and passages on synthetic plates,
and the readers are tested on real photos one at a time; neither shows what the daemon does with *real* plates
arriving one after another. This tool turns labelled real photos (`labels.csv`: file,label) into single-camera
clips in the `smartgate bench --footage` layout (`<clip>.mp4` + `<clip>.json`):

* each photo is a vehicle that approaches a fixed camera: it appears small and high in the frame, grows and comes
  down until its lower part (where the plate is) leaves the frame at the bottom;
* vehicles follow back to back (a queue: the next one is already in view, behind, before the one in front
  leaves), so the whole-frame zone never empties;
* the first vehicle already stands in view on frame 0 and waits before it leaves: a start-up must give it no
  passage;
* the background is a still, noisy grey road; the video is MPEG-4 coded like a camera's.

A vehicle's moment (`t_s`) is when its photo is first shown whole at its largest, the plate then at about the
photo's own resolution. Nothing here looks at where the plate is in a photo, so no reader decides the truth.

    .venv/bin/python -m smartgate_tools.bench.photo_clips ../shared/eval/plate_cn/labels.csv --out var/photo_clips/cn
    .venv/bin/smartgate bench --footage var/photo_clips/cn --config none --json var/photo_clips/cn.json

With `--containers c.csv`, two-camera lanes for `smartgate bench --samples` instead (`make_lanes`): a plate camera
and a container camera (real container photos, seen half a window after the plate) watch the same queue.

Photos labelled with several plates (or codes) are left out (their moment would be one, their passages several).
`--limit N` takes the first N rows. Labels are the audited ones (`smartgate_tools.label_audit`; `--raw-labels`:
as shipped).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZE = (1280, 720)  # a typical gate camera's frame (width, height)
FPS = 10.0
WINDOW_S = 3.0  # a vehicle's time from first sight to gone
OVERLAP = 0.25  # the next vehicle appears when this fraction of the one in front's window is left
STARTUP_HOLD_S = 1.5  # the first vehicle stands this long (in view at start-up) before it moves on
BEST_U = 0.6  # progress at which the photo is whole and at its largest (the vehicle's moment)
CONTAINER_DELAY = 0.5  # lanes: the container camera's view of a truck starts this share of a window after the plate's


@dataclass(frozen=True)
class Photo:
    path: Path
    plate: str


def load_photos(label_files: list[str], source: str | None = None, audited: bool = True) -> list[Photo]:
    """Photos with exactly one plate label (file,label columns; paths relative to the CSV); `source`: only rows
    whose source_repo contains it. `audited`: the label corrections of smartgate_tools/data/label_audit.csv apply
    (a training crop labelled 30A19752 whose plate reads 30E19752 would make a right read a false passage)."""
    import csv

    from smartgate_tools.label_audit import corrected

    out = []
    for lf in label_files:
        base = Path(lf).parent
        set_name = base.resolve().name  # the audit's set: plate_vn, plate_cn ...
        with open(lf, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                label = corrected(set_name, row["file"], row["label"].strip(), audited)
                if source and source not in row.get("source_repo", ""):
                    continue
                if label and "|" not in label:
                    out.append(Photo(base / row["file"], label))
    return out


def on_vehicle(crop: np.ndarray, rng: random.Random) -> np.ndarray:
    """A plate crop mounted on a plain vehicle face (a 4:3 picture): painted body, dark windscreen, grille bars,
    the plate at the lower middle at about a real plate's share of a truck's width (a one-line plate 26 %, a
    two-line one 17 %)."""
    w, h = 960, 720
    body = tuple(int(c) for c in (rng.randint(40, 200), rng.randint(40, 200), rng.randint(40, 200)))
    face = np.full((h, w, 3), body, np.uint8)
    cv2.rectangle(face, (60, 40), (w - 60, 300), (35, 35, 40), -1)  # windscreen
    for y in range(360, 460, 22):  # grille
        cv2.rectangle(face, (200, y), (w - 200, y + 8), tuple(max(0, c - 50) for c in body), -1)
    ch, cw = crop.shape[:2]
    pw = int(w * (0.26 if cw / max(ch, 1) > 2.2 else 0.17))
    ph = max(1, int(round(pw * ch / cw)))
    plate = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_AREA if pw < cw else cv2.INTER_LINEAR)
    x, y = (w - pw) // 2, min(h - ph - 20, 500)
    face[y:y + ph, x:x + pw] = plate
    return face


def road(size: tuple[int, int], seed: int) -> np.ndarray:
    """A still grey road: a vertical gradient with fixed fine noise (a camera's sensor pattern)."""
    w, h = size
    rng = np.random.default_rng(seed)
    grad = np.linspace(95, 135, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    noise = cv2.GaussianBlur(rng.normal(0, 8, (h, w)).astype(np.float32), (0, 0), 1.2)
    grey = np.clip(grad + noise, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def placement(u: float, photo_hw: tuple[int, int], size: tuple[int, int]) -> tuple[float, int, int]:
    """Scale and top-left corner of a photo at progress `u` (0: first sight, 1: gone) of its approach.

    Its displayed height grows from 0.45 to 1.2 of the frame's; its bottom edge comes down from 0.55 of the frame
    height to 1.3 (so from about `BEST_U` on, the lower part of the photo leaves the frame)."""
    w, h = size
    ph, pw = photo_hw
    disp_h = h * (0.45 + 0.75 * u)
    s = disp_h / ph
    bottom = h * (0.55 + 0.75 * u)
    return s, int(round(w / 2 - pw * s / 2)), int(round(bottom - disp_h))


def paste(canvas: np.ndarray, photo: np.ndarray, s: float, x: int, y: int) -> None:
    """Draw `photo` scaled by `s` with its top-left corner at (x, y), clipped to the canvas."""
    ph, pw = photo.shape[:2]
    tw, th = max(1, int(round(pw * s))), max(1, int(round(ph * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    img = cv2.resize(photo, (tw, th), interpolation=interp)
    H, W = canvas.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + tw), min(H, y + th)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = img[y0 - y:y1 - y, x0 - x:x1 - x]


@dataclass(frozen=True)
class Schedule:
    """When each vehicle of a clip is in view: `start[i]` its first frame's time, `hold` the start-up wait."""

    start: list[float]
    hold: float
    window: float
    fps: float

    def progress(self, i: int, t: float) -> float | None:
        """Vehicle i's progress at time t (None: not in view). Vehicle 0 stands at `BEST_U` for `hold` s (a
        negative hold: no start-up vehicle)."""
        if i == 0 and self.hold >= 0:
            if t < self.hold:
                return BEST_U
            u = BEST_U + (t - self.hold) / self.window
            return u if u <= 1.0 else None
        u = (t - self.start[i]) / self.window
        return u if 0.0 <= u <= 1.0 else None

    def moment(self, i: int) -> float:
        return 0.0 if i == 0 and self.hold >= 0 else self.start[i] + BEST_U * self.window

    def span(self, i: int) -> tuple[float, float]:
        """When vehicle i is in view."""
        if i == 0 and self.hold >= 0:
            return 0.0, self.hold + (1.0 - BEST_U) * self.window
        return self.start[i], self.start[i] + self.window

    @property
    def duration(self) -> float:
        return self.start[-1] + self.window + 0.5

    @classmethod
    def queue(cls, n: int, window: float = WINDOW_S, hold: float = STARTUP_HOLD_S, fps: float = FPS,
              startup: bool = True) -> Schedule:
        """Back to back: each vehicle appears when the one in front has `OVERLAP` of its window left. `startup`
        False: the first one approaches like the others (from frame 0), nothing stands in view at start-up."""
        if not startup:
            start = [i * (1.0 - OVERLAP) * window + 0.5 for i in range(n)]
            return cls(start, -1.0, window, fps)
        start = [0.0]
        end0 = hold + (1.0 - BEST_U) * window  # when vehicle 0 is gone
        for i in range(1, n):
            prev_end = end0 if i == 1 else start[i - 1] + window
            start.append(prev_end - OVERLAP * window)
        return cls(start, hold, window, fps)


def render_clip(photos: list[np.ndarray | None], out: Path, schedule: Schedule, size: tuple[int, int] = SIZE,
                seed: int = 0, frames: int | None = None) -> int:
    """Write the clip (MPEG-4; `frames` long, default the schedule's duration); returns its frame count. Nearer
    vehicles (further on) are drawn over farther; a vehicle without a photo (None) shows nothing to this camera."""
    bg = road(size, seed)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), schedule.fps, size)
    if not writer.isOpened():
        raise OSError(f"{out}: cannot open a video writer")
    n = frames or int(round(schedule.duration * schedule.fps))
    try:
        for k in range(n):
            t = k / schedule.fps
            frame = bg.copy()
            shown = [(u, i) for i in range(len(photos))
                     if photos[i] is not None and (u := schedule.progress(i, t)) is not None]
            for u, i in sorted(shown):  # farther (smaller progress) first
                img = photos[i]
                assert img is not None
                s, x, y = placement(u, img.shape[:2], size)
                paste(frame, img, s, x, y)
            writer.write(frame)
    finally:
        writer.release()
    return n


def make_clips(photos: list[Photo], out_dir: Path, per_clip: int = 8, seed: int = 0,
               size: tuple[int, int] = SIZE, crops: bool = False, shuffle: bool = True) -> list[Path]:
    """Shuffle the photos (seeded; `shuffle` False: in their order) into clips of `per_clip` vehicles; writes
    `<clip>.mp4` + `<clip>.json`. `crops`: the photos are plate crops, each mounted on a vehicle face."""
    from smartgate_tools.evaluate import imread

    rng = random.Random(seed)
    photos = list(photos)
    if shuffle:
        rng.shuffle(photos)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for c in range(0, len(photos), per_clip):
        group = [(p, on_vehicle(img, rng) if crops else img) for p in photos[c:c + per_clip]
                 if (img := imread(p.path)) is not None]
        if len(group) < 2:
            continue
        sched = Schedule.queue(len(group))
        name = f"clip_{c // per_clip:03d}"
        frames = render_clip([img for _, img in group], out_dir / f"{name}.mp4", sched, size, seed + c)
        spec = {"fps": sched.fps, "frames": frames, "made_by": "smartgate_tools.bench.photo_clips",
                "vehicles": [{"plate": p.plate, "t_s": round(sched.moment(i), 2), "at_startup": i == 0,
                              "photo": str(p.path)} for i, (p, _) in enumerate(group)]}
        (out_dir / f"{name}.json").write_text(json.dumps(spec, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(out_dir / f"{name}.mp4")
    return written


def make_lanes(plates: list[Photo], containers: list[Photo], out_dir: Path, per_lane: int = 8, seed: int = 0,
               size: tuple[int, int] = SIZE, crops: bool = False, bare_every: int = 4) -> list[Path]:
    """Two-camera lanes for `smartgate bench --samples`: a plate camera and a container camera see the same queue
    of vehicles (`<lane>/plate.mp4`, `container.mp4`, `truth.json` with each vehicle's plate and container codes).
    Every `bare_every`-th vehicle carries no container (bulk cargo): its container camera shows a plain body. No
    vehicle stands in view at start-up (the passage scoring counts every truth passage)."""
    from smartgate_tools.evaluate import imread

    rng = random.Random(seed)
    plates, containers = list(plates), list(containers)
    rng.shuffle(plates)
    rng.shuffle(containers)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, k = [], 0
    for c in range(0, len(plates), per_lane):
        group: list[tuple[Photo, np.ndarray, Photo | None, np.ndarray | None]] = []
        for p in plates[c:c + per_lane]:
            img = imread(p.path)
            if img is None:
                continue
            box: tuple[Photo | None, np.ndarray | None] = (None, None)
            if bare_every <= 0 or (len(group) + 1) % bare_every:
                while k < len(containers) and box[1] is None:
                    box = (containers[k], imread(containers[k].path))
                    k += 1
            group.append((p, on_vehicle(img, rng) if crops else img, *box))
        if len(group) < 2:
            continue
        sched = Schedule.queue(len(group), startup=False)
        # the container camera sees a truck's box after the plate camera saw its cab: half a window later
        later = Schedule([t + CONTAINER_DELAY * sched.window for t in sched.start], sched.hold, sched.window, sched.fps)
        name = f"lane{c // per_lane:02d}"
        lane_dir = out_dir / name
        lane_dir.mkdir(exist_ok=True)
        n = int(round(later.duration * later.fps))  # both cameras' videos: until the last box has passed
        frames = render_clip([g[1] for g in group], lane_dir / "plate.mp4", sched, size, seed + c, n)
        bare = np.full((720, 960, 3), (120, 130, 125), np.uint8)  # a tarpaulin side: no code
        render_clip([g[3] if g[3] is not None else bare for g in group], lane_dir / "container.mp4", later, size,
                    seed + c + 1, n)
        passages = []
        for i, (p, _, box_photo, _) in enumerate(group):
            a, b = sched.span(i)
            ca, cb = later.span(i)
            codes = box_photo.plate.split("|") if box_photo is not None else []
            passages.append({"id": f"{name}-{i + 1:02d}", "t_enter_s": round(a, 2), "t_exit_s": round(cb, 2),
                             "plate": p.plate, "containers": [{"code": code} for code in codes],
                             "cargo": "closed", "camera_visible_s": {"plate": [round(a, 2), round(b, 2)],
                                                                     "container": [round(ca, 2), round(cb, 2)]},
                             "plate_best": {"t_s": round(sched.moment(i), 2)}, "photos": [str(p.path)] +
                             ([str(box_photo.path)] if box_photo is not None else [])})
        truth = {"gate": "photo-lanes", "lane": name, "direction": "import", "fps": sched.fps,
                 "start_time": "2000-01-01T00:00:00Z", "frames": frames,
                 "cameras": {"plate": "plate.mp4", "container": "container.mp4"},
                 "made_by": "smartgate_tools.bench.photo_clips --containers", "passages": passages}
        (lane_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(lane_dir)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="photo_clips", description=__doc__.split("\n\n")[0])
    p.add_argument("labels", nargs="+", help="labels.csv of real plate photos (file,label)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--per-clip", type=int, default=8)
    p.add_argument("--limit", type=int, default=None, help="only the first N rows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--crops", action="store_true", help="the photos are plate crops: mount each on a vehicle face")
    p.add_argument("--source", default=None, help="only rows whose source_repo contains this")
    p.add_argument("--raw-labels", action="store_true", help="the labels as shipped, without the label audit")
    p.add_argument("--containers", nargs="+", default=None, help="labels.csv of real container photos: make "
                   "two-camera lanes (plate + container camera) for `smartgate bench --samples` instead of clips")
    a = p.parse_args(argv)
    plates = load_photos(a.labels, a.source, audited=not a.raw_labels)
    plates = plates[:a.limit] if a.limit else plates
    if a.containers:
        lanes = make_lanes(plates, load_photos(a.containers), a.out, a.per_clip, a.seed, crops=a.crops)
        print(f"{len(lanes)} lanes in {a.out}")
        return 0
    clips = make_clips(plates, a.out, a.per_clip, a.seed, crops=a.crops)
    print(f"{len(clips)} clips in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The naive baseline: text detection + recognition on every full frame of every camera.

No motion gating, no read zones, no passage assembly, no voting: per truth passage (its time window
plus the lane's post-passage window, which hands the baseline a perfect passage split for free), the
plate is the most confident grammar-valid line seen on the plate camera, and the containers are every
ISO 6346-valid code seen on the container camera. Same OCR engine (models, threads) as the pipeline,
so the difference is what the pipeline does around the models.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from cameras.factory import open_source
from edge.config import Config
from edge.domain import iso6346
from edge.domain.plate_grammar import best_match
from edge.lane.frames import merged_frames
from edge.readers.ocr.engine import OcrEngine
from smartgate_tools.bench.accuracy import PredictedPassage
from smartgate_tools.bench.footage import SampleLane
from smartgate_tools.bench.runner import ResourceMeter, Timings, engine_probe


@dataclass
class Sighting:
    t_s: float  # seconds from the lane's start
    role: str
    text: str
    confidence: float


@dataclass
class NaiveRun:
    frames: int
    wall_s: float
    cpu_percent: float
    peak_rss_mb: float
    every_n: int
    stages: dict[str, list[float]]
    passages: dict[str, list[PredictedPassage]] = field(default_factory=dict)

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


def plate_candidate(text: str) -> str | None:
    """The line as a plate when it fits a national grammar exactly (no corrections: no grammar fixes)."""
    m = best_match(text, max_corrections=0)
    return m.text if m is not None and m.tier == 0 else None


def container_codes(text: str) -> list[str]:
    return [c.code for c in iso6346.find_codes(text, max_coercions=0) if c.check_digit_ok and c.complete]


def naive_passages(sightings: list[Sighting], lane: SampleLane, post_s: float) -> list[PredictedPassage]:
    out = []
    for tp in lane.truth["passages"]:
        t0, t1 = tp["t_enter_s"], tp["t_exit_s"] + post_s
        inside = [s for s in sightings if t0 <= s.t_s <= t1]
        plates = [(s.confidence, p) for s in inside if s.role == "plate" and (p := plate_candidate(s.text))]
        codes = sorted({c for s in inside if s.role == "container" for c in container_codes(s.text)})
        out.append(PredictedPassage(lane=lane.lane, start_s=tp["t_enter_s"], end_s=tp["t_exit_s"],
                                    plate=max(plates)[1] if plates else None, containers=codes))
    return out


def run_naive(
    cfg: Config,
    lanes: list[SampleLane],
    engine: OcrEngine,
    every_n: int = 1,
    progress: bool = True,
    max_seconds: float | None = None,
) -> NaiveRun:
    """`every_n` > 1 reads a subsample of frames (quick runs); frames/s counts only the frames read."""
    timings = Timings()
    total = sum(
        min(int(s.truth["frames"]), int((max_seconds or 1e9) * float(s.truth["fps"]))) * len(s.cameras) for s in lanes
    ) // every_n
    bar = tqdm(total=total, desc="naive", unit="frame", disable=not progress, leave=False)
    frames = 0
    stop = threading.Event()
    passages: dict[str, list[PredictedPassage]] = {}
    meter = ResourceMeter()
    busy = 0.0  # wall time spent on frames that were read (skipped frames' decode is not the baseline's cost)
    with engine_probe(timings):
        for s in lanes:
            sources = [open_source(c) for c in cfg.cameras if c.lane == s.lane]
            sightings: list[Sighting] = []
            try:
                it = merged_frames(sources, stop)
                while True:
                    t0 = time.perf_counter()
                    frame = next(it, None)
                    if frame is None or (max_seconds is not None and frame.pts_s >= max_seconds):
                        break
                    if frame.index % every_n:
                        continue
                    t1 = time.perf_counter()
                    timings.add("decode", t1 - t0)
                    lines = engine.read(frame.image)
                    busy += time.perf_counter() - t0
                    t_s = (frame.timestamp - s.truth["start"]).total_seconds()
                    sightings += [Sighting(t_s, frame.role, ln.text, ln.confidence) for ln in lines]
                    frames += 1
                    bar.update(1)
            finally:
                for src in sources:
                    src.close()
            passages[s.lane] = naive_passages(sightings, s, cfg.pipeline.post_s)
    bar.close()
    meter.stop()
    return NaiveRun(frames=frames, wall_s=busy if every_n > 1 else meter.wall_s, cpu_percent=meter.cpu_percent,
                    peak_rss_mb=meter.peak_rss_mb, every_n=every_n, stages=dict(timings.data), passages=passages)

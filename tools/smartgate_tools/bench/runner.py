"""The whole pipeline on the sample footage, as fast as it decodes, with timings.

Lanes run one after another in this thread (the readers share one OCR engine behind a lock, so
lane threads would only interleave; sequential runs give clean per-stage figures). Per frame:
decode (the merged iterator's `next`), then `LaneProcessor.process` whose stage callback times
motion and each reader; detection and recognition inside the readers are timed by wrapping the
engine's two model calls. A finished passage is voted and decided ("policy" stage).

Decision latency: from the moment the frame at which the truck left the zone had been processed to
the moment its verdict exists, in wall time. "Left the zone" is the truth's `t_exit_s` (the truck's
tail leaves the last camera); the passage's own `ended_at` (the trigger camera's zone empties, while
the container and cargo cameras still see the body) gives the second, "trigger" figure.
"""

from __future__ import annotations

import bisect
import contextlib
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tqdm import tqdm

from cameras.factory import open_source
from edge.config import Config
from edge.decision.finalize import build_passage, vote_draft
from edge.decision.policy import LaneExpectations, PolicyRules
from edge.domain.types import Passage
from edge.lane.frames import merged_frames
from edge.lane.passage import PassageDraft
from edge.lane.pipeline import LaneProcessor, Readers
from smartgate_tools.bench.accuracy import PredictedPassage, match_passages, seconds_since
from smartgate_tools.bench.footage import SampleLane

ISSUE_STAGES = ("decode", "motion", "detection", "recognition", "cargo", "policy")


class Timings:
    """stage → list of seconds; appended from any thread."""

    def __init__(self) -> None:
        self.data: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.data[stage].append(seconds)


@contextlib.contextmanager
def engine_probe(timings: Timings) -> Iterator[None]:
    """Time every detector and recogniser call of every OcrEngine (readers own several engines).

    Patches the class for the duration only; the two methods are the engine's only model calls."""
    from edge.readers.ocr.engine import OcrEngine

    orig_det, orig_rec = OcrEngine.detect_scored, OcrEngine.recognize

    def detect_scored(self, *a, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return orig_det(self, *a, **kw)
        finally:
            timings.add("detection", time.perf_counter() - t0)

    def recognize(self, *a, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return orig_rec(self, *a, **kw)
        finally:
            timings.add("recognition", time.perf_counter() - t0)

    OcrEngine.detect_scored, OcrEngine.recognize = detect_scored, recognize  # type: ignore[method-assign]
    try:
        yield
    finally:
        OcrEngine.detect_scored, OcrEngine.recognize = orig_det, orig_rec  # type: ignore[method-assign]


def _read_hwm_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark so each phase reports its own peak (Linux; False elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


class ResourceMeter:
    """CPU % (user+system over wall, 100 = one core busy) and peak RSS of this process over a phase."""

    def __init__(self) -> None:
        self.resettable = reset_peak_rss()
        self._ru = resource.getrusage(resource.RUSAGE_SELF)
        self._t0 = time.perf_counter()
        self.wall_s = self.cpu_percent = self.peak_rss_mb = 0.0

    def stop(self) -> ResourceMeter:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.wall_s = time.perf_counter() - self._t0
        cpu = (ru.ru_utime - self._ru.ru_utime) + (ru.ru_stime - self._ru.ru_stime)
        self.cpu_percent = round(100.0 * cpu / max(self.wall_s, 1e-9), 1)
        hwm = _read_hwm_kb() if self.resettable else None
        self.peak_rss_mb = round((hwm if hwm is not None else ru.ru_maxrss) / 1024.0, 1)
        return self


@dataclass
class LaneLog:
    """One lane's clock: footage seconds → wall time of each frame (processed, or due in real time), and
    the wall time of each verdict."""

    frame_s: list[float] = field(default_factory=list)
    frame_wall: list[float] = field(default_factory=list)
    verdicts: list[tuple[PredictedPassage, float]] = field(default_factory=list)

    def wall_at(self, footage_s: float) -> float | None:
        k = bisect.bisect_right(self.frame_s, footage_s + 1e-6) - 1
        return self.frame_wall[k] if k >= 0 else None


def exit_time(passage: dict, roles: set[str] | None = None) -> float:
    """When the truck left the last of the lane's cameras (`roles`; None: all the footage's cameras, which is
    truth.json's `t_exit_s`). A replica lane with only a plate camera sees the truck leave ~2.5 s earlier than
    the full lane, and its verdict must be timed from that, not from cameras it does not have."""
    seen = passage.get("camera_visible_s") or {}
    ends = [span[1] for role, span in seen.items() if span and (roles is None or role in roles)]
    return max(ends) if ends and roles is not None else float(passage["t_exit_s"])


def decision_latencies(log: LaneLog, truth: dict, roles: set[str] | None = None) -> tuple[list[float], list[float]]:
    """(from the truck's exit from the lane's cameras, matched passages only; from the passage's ended_at, all)."""
    preds = [p for p, _ in log.verdicts]
    exit_lat = []
    for i, j in match_passages(preds, truth["passages"]):
        ref = log.wall_at(exit_time(truth["passages"][i], roles))
        if ref is not None:
            exit_lat.append(log.verdicts[j][1] - ref)
    trig = [t - ref for p, t in log.verdicts if (ref := log.wall_at(p.end_s)) is not None]
    return exit_lat, trig


@dataclass
class PipelineRun:
    frames: int
    wall_s: float
    cpu_percent: float
    peak_rss_mb: float
    stages: dict[str, list[float]]
    decision_latency_s: list[float]  # truck's exit (truth) → verdict
    decision_latency_trigger_s: list[float]  # passage ended_at (trigger zone empty) → verdict
    passages: dict[str, list[PredictedPassage]]  # lane → predictions
    reads: dict[str, int] = field(default_factory=dict)
    cargo_classifier: bool = False

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


def expectations(cfg: Config, lane: str) -> LaneExpectations:
    roles = {c.role for c in cfg.cameras if c.lane == lane}
    return LaneExpectations(containers="container" in roles, cargo="cargo" in roles)


def to_predicted(p: Passage, start: datetime) -> PredictedPassage:
    return PredictedPassage(
        lane=p.lane,
        start_s=seconds_since(p.started_at, start),
        end_s=seconds_since(p.ended_at, start),
        plate=p.plate.text if p.plate is not None else None,
        containers=[c.code for c in p.containers],
        cargo=p.cargo.cls if p.cargo is not None else None,
        verdict=p.verdict.status,
        reasons=sorted(r.code for r in p.verdict.reasons),
    )


class Decider:
    """Vote + decide one finished draft (what the daemon's lane and sink threads do, minus I/O)."""

    def __init__(self, cfg: Config, rules: PolicyRules, timings: Timings) -> None:
        self.cfg, self.rules, self.timings = cfg, rules, timings

    def __call__(self, d: PassageDraft) -> Passage:
        t0 = time.perf_counter()
        lane = self.cfg.lane(d.lane)
        p, _images = build_passage(d, vote_draft(d), self.cfg.gate.id, lane.direction,
                                   expectations(self.cfg, d.lane), self.rules, None, None, datetime.now(UTC))
        self.timings.add("policy", time.perf_counter() - t0)
        return p


def run_fast(
    cfg: Config,
    lanes: list[SampleLane],
    readers: Readers,
    progress: bool = True,
    max_seconds: float | None = None,
) -> PipelineRun:
    """Every lane's footage through the pipeline as fast as it goes. `max_seconds`: footage cut (quick runs)."""
    timings = Timings()
    rules = PolicyRules.from_config(cfg.policy)
    decide = Decider(cfg, rules, timings)
    starts = {s.lane: s.truth["start"] for s in lanes}
    total = sum(
        min(int(s.truth["frames"]), int((max_seconds or 1e9) * float(s.truth["fps"]))) * len(s.cameras) for s in lanes
    )
    passages: dict[str, list[PredictedPassage]] = {s.lane: [] for s in lanes}
    logs: dict[str, LaneLog] = {s.lane: LaneLog() for s in lanes}
    reads: dict[str, int] = defaultdict(int)
    frames = 0
    stop = threading.Event()
    bar = tqdm(total=total, desc="pipeline", unit="frame", disable=not progress, leave=False)
    meter = ResourceMeter()
    with engine_probe(timings):
        for s in lanes:
            cams = [c for c in cfg.cameras if c.lane == s.lane]
            sources = [open_source(c) for c in cams]
            proc = LaneProcessor(s.lane, cams, readers, cfg.pipeline, on_stage=timings.add)
            lane_log = logs[s.lane]

            def finish(drafts: list[PassageDraft], lane: str = s.lane, lane_log: LaneLog = lane_log) -> None:
                for d in drafts:
                    pred = to_predicted(decide(d), starts[lane])
                    passages[lane].append(pred)
                    lane_log.verdicts.append((pred, time.perf_counter()))

            try:
                it = merged_frames(sources, stop)
                while True:
                    t0 = time.perf_counter()
                    frame = next(it, None)
                    if frame is None:
                        break
                    timings.add("decode", time.perf_counter() - t0)
                    if max_seconds is not None and frame.pts_s >= max_seconds:
                        break
                    drafts = proc.process(frame)
                    lane_log.frame_s.append(seconds_since(frame.timestamp, starts[s.lane]))
                    lane_log.frame_wall.append(time.perf_counter())
                    frames += 1
                    bar.update(1)
                    finish(drafts)
                finish(proc.finish())
            finally:
                for src in sources:
                    src.close()
            for k, v in proc.stats.reads.items():
                reads[k] += v
    bar.close()
    meter.stop()
    latencies, trigger_lat = [], []
    for s in lanes:
        a, b = decision_latencies(logs[s.lane], s.truth)
        latencies += a
        trigger_lat += b
    return PipelineRun(
        frames=frames, wall_s=meter.wall_s, cpu_percent=meter.cpu_percent, peak_rss_mb=meter.peak_rss_mb,
        stages=dict(timings.data), decision_latency_s=latencies,
        decision_latency_trigger_s=trigger_lat, passages=passages, reads=dict(reads),
        cargo_classifier=readers.cargo is not None,
    )

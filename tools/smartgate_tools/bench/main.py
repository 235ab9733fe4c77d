"""`smartgate bench`: pipeline vs naive baseline on the sample footage; real-time camera count; JSON + report."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.config import Config, ConfigError, load_config
from edge.decision.policy import PolicyRules
from smartgate_tools.bench.accuracy import Accuracy, aggregate, score_lane
from smartgate_tools.bench.args import QUICK_NAIVE_EVERY, QUICK_REALTIME_S, QUICK_SEARCH
from smartgate_tools.bench.footage import SampleLane, load_samples, samples_config
from smartgate_tools.bench.runner import PipelineRun, expectations, run_fast
from smartgate_tools.bench.setup import site_config, warm_up, with_overrides


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime

    return {"cpus": os.cpu_count(), "cpu": cpu, "load_avg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__}


def score(passages: dict[str, list], lanes: list[SampleLane], cfg: Config, with_cargo: bool,
          with_verdict: bool) -> Accuracy:
    rules = PolicyRules.from_config(cfg.policy)
    scores = []
    for s in lanes:
        scores += score_lane(passages.get(s.lane, []), s.truth, expectations(cfg, s.lane), rules)
    return aggregate(scores, sum(len(v) for v in passages.values()), with_cargo, with_verdict)


def run_bench(args: argparse.Namespace, log=print) -> dict[str, Any]:  # noqa: ANN001
    import cv2

    from edge.readers.factory import build_readers
    from edge.readers.ocr.engine import OcrEngine
    from smartgate_tools.bench import report

    cv2.setNumThreads(args.threads)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    lanes = load_samples(args.samples)
    site_path = site_config(args)
    site = load_config(site_path) if site_path else None
    cfg = with_overrides(samples_config(lanes, args.threads, site), getattr(args, "overrides", []))
    progress = not args.no_progress
    engine = OcrEngine(threads=args.threads)
    readers = build_readers(cfg, engine)
    warm_up(cfg, readers)

    run: PipelineRun = run_fast(cfg, lanes, readers, progress=progress)
    acc = score(run.passages, lanes, cfg, with_cargo=run.cargo_classifier, with_verdict=True)
    log(f"pipeline: {run.frames} frames in {run.wall_s:.1f} s = {run.frames_per_s:.1f} frames/s; "
        f"passages {acc.matched}/{acc.truth_passages} (+{acc.extra} extra), plate {acc.plate:.2f}, "
        f"containers {acc.containers:.2f}, cargo {acc.cargo}, verdict {acc.verdict}")

    naive = naive_acc = None
    if not args.skip_naive:
        from smartgate_tools.bench.naive import run_naive

        every = args.naive_every or (QUICK_NAIVE_EVERY if args.quick else 1)
        naive = run_naive(cfg, lanes, engine, every_n=every, progress=progress)
        naive_acc = score(naive.passages, lanes, cfg, with_cargo=False, with_verdict=False)
        log(f"naive: {naive.frames} frames (every {every}) in {naive.wall_s:.1f} s = {naive.frames_per_s:.1f} "
            f"frames/s; plate {naive_acc.plate:.2f}, containers {naive_acc.containers:.2f}")

    rt_best: int | None = None
    rt_runs = []
    if not args.skip_realtime:
        from smartgate_tools.bench.realtime import SEARCH, search_cameras

        seconds = args.realtime_seconds or (QUICK_REALTIME_S if args.quick else None)
        if args.cameras:
            rt_best, rt_runs = search_cameras(lanes, readers, args.threads, (args.cameras,), seconds, log, cfg)
            if not rt_best:
                lower = tuple(n for n in SEARCH if n < args.cameras)
                rt_best, more = search_cameras(lanes, readers, args.threads, lower, seconds, log, cfg) if lower else (0, [])
                rt_runs += more
        else:
            rt_best, rt_runs = search_cameras(lanes, readers, args.threads, QUICK_SEARCH if args.quick else SEARCH,
                                              seconds, log, cfg)

    peer = None
    if not (args.skip_peer or args.quick):
        from smartgate_tools.bench.peer import run_peer

        peer = run_peer(lanes, engine)

    meta = {
        "command": getattr(args, "command_line", None) or "smartgate " + shlex.join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "samples": str(args.samples),
        "site_config": str(site_path) if site_path else None,
        "threads": args.threads,
        "quick": bool(args.quick),
        "machine": {**machine(), "load_avg_at_start": load_at_start},
        "pipeline_config": cfg.pipeline.model_dump(),
        "ocr": {"det": engine.det_name, "rec": engine.rec_name},
        "peer": peer,
    }
    data = report.summary(run, acc, naive, naive_acc, rt_best, rt_runs, meta)
    if args.json_out:
        report.write_json(data, args.json_out)
    if args.report:
        md = report.write_markdown(data, run, naive, args.report)
        log(f"report: {md}")
    return data


def main_bench(args: argparse.Namespace) -> int:
    if getattr(args, "footage", None):
        from smartgate_tools.bench.vehicles import run_footage

        try:
            data = run_footage(args)
        except (FileNotFoundError, ValueError, ConfigError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        v = data["vehicles"]
        print(" · ".join(f"{k} {v[k]}" for k in ("vehicles", "found", "found_at_time", "missed", "duplicates",
                                                  "merged", "startup", "false")))
        return 0
    try:
        data = run_bench(args)
    except (FileNotFoundError, ValueError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keys = ("frames_per_s", "realtime_cameras", "decision_latency_ms_p95", "peak_rss_mb", "speedup_vs_naive")
    print(" · ".join(f"{k} {data[k]}" for k in keys))
    return 0

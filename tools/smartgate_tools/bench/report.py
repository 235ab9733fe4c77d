"""The bench's outputs: a JSON summary (the issue's fields first, details after) and a Markdown report with
PNG plots (latency histograms, per-stage bars, accuracy table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from smartgate_tools.bench.accuracy import Accuracy
from smartgate_tools.bench.naive import NaiveRun
from smartgate_tools.bench.realtime import LATENCY_TARGET_S, RealtimeRun
from smartgate_tools.bench.runner import ISSUE_STAGES, PipelineRun

READER_STAGES = ("view", "novelty", "plate", "plate_gate", "track", "container_gate", "container", "hazard",
                 "cargo_text_gate", "cargo_text")


def pct_ms(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)) * 1000.0, 2) if xs else None


def stage_table(stages: dict[str, list[float]]) -> dict[str, dict[str, float | int | None]]:
    out = {}
    for name in (*ISSUE_STAGES, *READER_STAGES):
        xs = stages.get(name, [])
        out[name] = {"calls": len(xs), "p50_ms": pct_ms(xs, 50), "p95_ms": pct_ms(xs, 95),
                     "total_s": round(float(sum(xs)), 3)}
    return out


def _per_cpu(frames: int, wall_s: float, cpu_percent: float) -> float | None:
    """Frames per CPU-second: steadier than frames/s on a box shared with other work."""
    cpu_s = wall_s * cpu_percent / 100.0
    return round(frames / cpu_s, 2) if cpu_s > 0 else None


def traffic_projection(run: PipelineRun, naive: NaiveRun | None, trucks_per_day: float = 3500, lanes: int = 8,
                       cameras_per_lane: int = 3, fps: float = 10.0) -> dict[str, Any]:
    """Average load at the planned traffic, from this run's measured costs.

    The sample footage is dense (a truck in view most of the time); a real lane is empty most of the day.
    An empty frame costs decode + motion; a passage costs what the readers and the policy spent per passage.
    The naive baseline costs the same per frame whatever the traffic."""
    n_pass = max(1, sum(len(v) for v in run.passages.values()))
    idle_s = sum(sum(run.stages.get(k, [])) for k in ("decode", "motion")) / max(1, run.frames)
    busy = sum(sum(v) for k, v in run.stages.items() if k not in ("decode", "motion", "detection", "recognition"))
    per_passage_s = busy / n_pass
    frames_per_lane_s = cameras_per_lane * fps
    passages_per_lane_s = trucks_per_day / lanes / 86400.0
    load = frames_per_lane_s * idle_s + passages_per_lane_s * per_passage_s  # busy seconds per lane-second
    out: dict[str, Any] = {
        "trucks_per_day": trucks_per_day, "lanes": lanes, "cameras_per_lane": cameras_per_lane, "fps": fps,
        "idle_frame_ms": round(idle_s * 1000, 3), "per_passage_s": round(per_passage_s, 3),
        "pipeline_busy_per_lane_s": round(load, 4), "lanes_per_box": round(1.0 / load, 1) if load > 0 else None,
    }
    if naive is not None and naive.frames:
        naive_load = frames_per_lane_s * naive.wall_s / naive.frames
        out["naive_busy_per_lane_s"] = round(naive_load, 3)
        out["speedup_vs_naive_at_traffic"] = round(naive_load / load, 1) if load > 0 else None
    return out


def realtime_headline(runs: list[RealtimeRun]) -> tuple[list[RealtimeRun], list[RealtimeRun]]:
    """([the largest N that keeps up AND decides within the latency target], [the run whose decision latency is the
    headline]). A box that keeps up with N cameras but answers 2.5 s after the truck left does not serve N
    cameras; when no N meets both, the headline latency is the largest kept-up N's (and misses the target)."""
    in_time = [r for r in runs if r.sustained and r.meets_latency]
    kept = [r for r in runs if r.sustained]
    ok = [max(in_time, key=lambda r: r.cameras)] if in_time else []
    return ok, ok or ([max(kept, key=lambda r: r.cameras)] if kept else [])


def summary(
    run: PipelineRun,
    acc: Accuracy,
    naive: NaiveRun | None,
    naive_acc: Accuracy | None,
    realtime_cameras: int | None,
    realtime_runs: list[RealtimeRun],
    meta: dict[str, Any],
) -> dict[str, Any]:
    rt_ok, rt_lat = realtime_headline(realtime_runs)
    out: dict[str, Any] = {
        "frames_per_s": round(run.frames_per_s, 2),
        "realtime_cameras": rt_ok[0].cameras if rt_ok else (0 if realtime_runs else None),
        "realtime_cameras_keep_up": realtime_cameras,
        "decision_latency_target_ms": round(LATENCY_TARGET_S * 1000),
        # Real time is what the issue's target means (a truck leaves, the verdict follows); the as-fast-as-possible
        # figure depends on how fast the footage after the exit is chewed through. Fallback when not replayed.
        "decision_latency_ms_p95": pct_ms(rt_lat[0].decision_latency_s, 95) if rt_lat else pct_ms(
            run.decision_latency_s, 95),
        "peak_rss_mb": run.peak_rss_mb,
        "accuracy": acc.summary(),
        "naive": None if naive is None else {
            "frames_per_s": round(naive.frames_per_s, 2),
            "accuracy": naive_acc.summary() if naive_acc else None,
            "frames": naive.frames, "every_n": naive.every_n, "wall_s": round(naive.wall_s, 2),
            "cpu_percent": naive.cpu_percent, "peak_rss_mb": naive.peak_rss_mb,
            "stages": stage_table(naive.stages),
        },
        "speedup_vs_naive": round(run.frames_per_s / naive.frames_per_s, 2) if naive and naive.frames_per_s else None,
        # -- details --------------------------------------------------------------------------------------------
        "frames": run.frames,
        "wall_s": round(run.wall_s, 2),
        "cpu_percent": run.cpu_percent,
        "decision_latency_source": f"real time, {rt_lat[0].cameras} camera(s)" if rt_lat else "as fast as possible",
        "decision_latency_fast_ms_p50": pct_ms(run.decision_latency_s, 50),
        "decision_latency_fast_ms_p95": pct_ms(run.decision_latency_s, 95),
        "decision_latency_trigger_ms_p95": pct_ms(run.decision_latency_trigger_s, 95),
        "frames_per_cpu_s": _per_cpu(run.frames, run.wall_s, run.cpu_percent),
        "naive_frames_per_cpu_s": _per_cpu(naive.frames, naive.wall_s, naive.cpu_percent) if naive else None,
        "traffic_projection": traffic_projection(run, naive),
        "stages": stage_table(run.stages),
        "reads": run.reads,
        "cargo_classifier": run.cargo_classifier,
        "realtime": [
            {"cameras": r.cameras, "lanes": r.lanes, "sustained": r.sustained, "drop_rate": round(r.drop_rate, 4),
             "delivered": r.delivered, "dropped": r.dropped, "lag_p50_s": r.lag_p50_s, "lag_p95_s": r.lag_p95_s,
             "lag_growth_s": r.lag_growth_s, "cpu_percent": r.cpu_percent, "peak_rss_mb": r.peak_rss_mb,
             "decision_latency_ms_p95": pct_ms(r.decision_latency_s, 95), "meets_latency": r.meets_latency,
             "decision_latency_trigger_ms_p95": pct_ms(r.decision_latency_trigger_s, 95), "seconds": r.seconds}
            for r in realtime_runs
        ],
        "per_passage": {
            "pipeline": [vars(s) for s in acc.per_passage],
            "naive": [vars(s) for s in naive_acc.per_passage] if naive_acc else None,
        },
        "meta": meta,
    }
    return out


def write_json(data: dict[str, Any], path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _save(fig, out: Path, name: str) -> str:  # noqa: ANN001
    """Lay out, write (90 dpi) and close one figure; returns its file name."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def _plots(run: PipelineRun, naive: NaiveRun | None, out: Path, prefix: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    # 1. latency histograms of the costly stages
    stages = [s for s in ("decode", "motion", "detection", "recognition", "plate", "container", "cargo")
              if run.stages.get(s)]
    cols = 4
    rows = max(1, -(-len(stages) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(stages):]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, stages, strict=False):
        ax.hist(np.array(run.stages[s]) * 1000.0, bins=30, color="#4c72b0")
        ax.set_title(s, fontsize=9)
        ax.set_xlabel("ms", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("per-call latency, pipeline", fontsize=10)
    names.append(_save(fig, out, f"{prefix}latency_hist.png"))
    # 2. per-stage p50/p95 and total time
    table = stage_table(run.stages)
    used = [s for s, v in table.items() if v["calls"]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.2))
    x = np.arange(len(used))
    a1.bar(x - 0.2, [table[s]["p50_ms"] for s in used], 0.4, label="p50")
    a1.bar(x + 0.2, [table[s]["p95_ms"] for s in used], 0.4, label="p95")
    a1.set_xticks(x, used, rotation=45, fontsize=8)
    a1.set_ylabel("ms per call")
    a1.legend(fontsize=8)
    a1.set_title("per-stage latency", fontsize=10)
    a2.bar(x, [table[s]["total_s"] for s in used], color="#dd8452")
    a2.set_xticks(x, used, rotation=45, fontsize=8)
    a2.set_ylabel("s in total")
    a2.set_title("where the time goes (detection/recognition are inside the readers)", fontsize=9)
    names.append(_save(fig, out, f"{prefix}stages.png"))
    # 3. decision latency
    if run.decision_latency_s:
        fig, ax = plt.subplots(figsize=(5.0, 2.8))
        ax.hist([np.array(run.decision_latency_s) * 1000.0, np.array(run.decision_latency_trigger_s) * 1000.0],
                bins=15, color=["#55a868", "#8172b2"], label=["from the truck's exit", "from the trigger zone emptying"])
        ax.legend(fontsize=7)
        ax.set_xlabel("ms to the verdict")
        ax.set_title("decision latency (as-fast-as-possible run)", fontsize=9)
        names.append(_save(fig, out, f"{prefix}decision_latency.png"))
    # 4. throughput vs naive
    if naive is not None:
        fig, ax = plt.subplots(figsize=(4.0, 2.6))
        ax.bar(["pipeline", "naive"], [run.frames_per_s, naive.frames_per_s], color=["#4c72b0", "#c44e52"])
        ax.set_ylabel("frames / s")
        ax.set_title("throughput", fontsize=10)
        names.append(_save(fig, out, f"{prefix}throughput.png"))
    return names


def _machine(m: dict[str, Any]) -> str:
    return (f"{m.get('cpus')} CPU(s) {m.get('cpu', '')}, load average {m.get('load_avg_at_start')} at the start and "
            f"{m.get('load_avg')} at the end, "
            f"Python {m.get('python')}, onnxruntime {m.get('onnxruntime')}")


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if v <= 1.0 else f"{v:.1f}"
    return str(v)


def write_markdown(data: dict[str, Any], run: PipelineRun, naive: NaiveRun | None, out_dir: str | Path,
                   img_prefix: str = "bench_") -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = _plots(run, naive, out, img_prefix)
    acc, nacc = data["accuracy"], (data["naive"] or {}).get("accuracy")
    lines = [
        "# smartgate bench",
        "",
        f"`{data['meta'].get('command', '')}` — {_machine(data['meta'].get('machine') or {})}, "
        f"{data['meta'].get('date', '')}",
        "",
        "| figure | value |",
        "|---|---|",
        f"| frames/s (pipeline, all cameras) | {_fmt(data['frames_per_s'])} |",
        f"| frames/s (naive, every full frame) | {_fmt((data['naive'] or {}).get('frames_per_s'))} |",
        f"| speed-up vs naive | {_fmt(data['speedup_vs_naive'])} |",
        f"| 10 fps cameras sustained in real time with decision latency p95 ≤ {data['decision_latency_target_ms']} ms"
        f" | {_fmt(data['realtime_cameras'])} |",
        f"| 10 fps cameras kept up with (any latency) | {_fmt(data['realtime_cameras_keep_up'])} |",
        f"| decision latency p95, truck's exit → verdict (ms; {data['decision_latency_source']}) | "
        f"{_fmt(data['decision_latency_ms_p95'])} |",
        f"| decision latency p50 / p95, as fast as possible (ms) | {_fmt(data['decision_latency_fast_ms_p50'])} / "
        f"{_fmt(data['decision_latency_fast_ms_p95'])} |",
        f"| decision latency p95 from the trigger zone emptying, as fast as possible (ms) | "
        f"{_fmt(data['decision_latency_trigger_ms_p95'])} |",
        f"| frames per CPU-second, pipeline / naive | {_fmt(data['frames_per_cpu_s'])} / "
        f"{_fmt(data['naive_frames_per_cpu_s'])} |",
        f"| CPU % (100 = one core) | {_fmt(data['cpu_percent'])} |",
        f"| peak RSS (MB) | {_fmt(data['peak_rss_mb'])} |",
        "",
        "## Accuracy (passage level, against truth.json)",
        "",
        "| | passages (truth / predicted / missed / extra) | plate | containers | cargo | verdict | plate+containers |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, a in (("pipeline", acc), ("naive", nacc)):
        if a:
            lines.append(f"| {name} | {a['truth_passages']} / {a['predicted_passages']} / {a['missed']} / {a['extra']} | "
                         f"{_fmt(a['plate'])} | {_fmt(a['containers'])} | {_fmt(a['cargo'])} | {_fmt(a['verdict'])} | "
                         f"{_fmt(a['passage'])} |")
    lines += ["", "## Stages (ms per call)", "", "| stage | calls | p50 | p95 | total s |", "|---|---|---|---|---|"]
    for s, v in data["stages"].items():
        if v["calls"]:
            lines.append(f"| {s} | {v['calls']} | {_fmt(v['p50_ms'])} | {_fmt(v['p95_ms'])} | {_fmt(v['total_s'])} |")
    tp = data["traffic_projection"]
    lines += ["", f"## At the planned traffic ({tp['trucks_per_day']:g} trucks/day, {tp['lanes']} lanes, "
              f"{tp['cameras_per_lane']} cameras at {tp['fps']:g} fps)", "",
              f"- an empty frame costs {tp['idle_frame_ms']} ms (decode + motion); a passage {tp['per_passage_s']} s "
              "of reader and policy time",
              f"- pipeline busy {tp['pipeline_busy_per_lane_s']} s per lane-second → {tp['lanes_per_box']} lanes per box "
              "on average"]
    if "naive_busy_per_lane_s" in tp:
        lines.append(f"- naive busy {tp['naive_busy_per_lane_s']} s per lane-second → speed-up "
                     f"{tp['speedup_vs_naive_at_traffic']}× at this traffic")
    if data["realtime"]:
        lines += ["", "## Real-time replay", "",
                  "| cameras | lanes | dropped % | lag p50 s | lag p95 s | lag growth s | CPU % | sustained | "
                  "decision p95 ms | latency met |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in data["realtime"]:
            lines.append(f"| {r['cameras']} | {r['lanes']} | {100 * r['drop_rate']:.1f} | {r['lag_p50_s']} | "
                         f"{r['lag_p95_s']} | {r['lag_growth_s']} | {r['cpu_percent']} | {r['sustained']} | "
                         f"{_fmt(r['decision_latency_ms_p95'])} | {r['meets_latency']} |")
    if data["meta"].get("peer"):
        lines += ["", "## Peer on the same crops", ""]
        lines += [f"- {k}: {v}" for k, v in data["meta"]["peer"].items()]
    lines += ["", *[f"![{n}]({n})" for n in images], ""]
    md = out / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return md

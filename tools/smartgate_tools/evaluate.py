"""`smartgate read` and `smartgate eval`: run the readers on image files and measure them.

eval reads labels CSVs in the ../shared/eval format (file,task,label; file relative to the CSV,
`|` between several objects in one image) and reports per task: n, exact-match accuracy,
wrong-read rate (a read returned that is not the label), no-read rate and latency p50/p95.
`--engine raw` is the naive baseline: the shipped PP-OCR models end to end on the whole image
(the rapidocr defaults: v4 det with its min-side-736 resize, v4 rec) and a label counted when it
appears anywhere in the concatenated text.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.domain.plate_grammar import label_key

PLATE_TASKS = ("plate_vn", "plate_cn", "plate_other")
CONTAINER_TASK = "container"


@dataclass
class Sample:
    path: Path
    task: str
    labels: list[str]


@dataclass
class Outcome:
    sample: Sample
    status: str  # correct, wrong, no_read, skipped
    read: str
    reason: str
    latency_ms: float


def load_labels(csv_paths: list[str]) -> list[Sample]:
    """Samples of the labels CSVs; ImageError when a CSV is not a regular file (a FIFO would hang)."""
    from cameras.imageio import read_regular

    samples = []
    for p in csv_paths:
        base = Path(p).parent
        text = read_regular(p, 256 * 2**20).decode("utf-8")
        with io.StringIO(text, newline="") as f:
            for row in csv.DictReader(f):
                labels = [label_key(x) for x in row["label"].split("|") if x.strip()]
                samples.append(Sample(base / row["file"], row.get("task", ""), labels))
    return samples


def imread(path: Path) -> np.ndarray | None:
    """The image (BGR) or None, through cameras.imageio.load_image: regular files only, size and pixel caps
    from the header before decoding; non-ASCII paths work."""
    from cameras.imageio import ImageError, load_image

    try:
        return load_image(path)
    except ImageError:
        return None


def judge(labels: list[str], reads: list[str]) -> str:
    """correct: every label read (one label → the best read must equal it); no_read: nothing returned."""
    if not reads:
        return "no_read"
    if len(labels) == 1:
        return "correct" if reads[0] == labels[0] else "wrong"
    return "correct" if set(labels) <= set(reads) else "wrong"


class _Runner:
    """Lazily builds the readers a labels file needs."""

    def __init__(self, threads: int, engine: str):
        self.threads, self.engine_kind = threads, engine
        self._plate = self._container = self._raw = None
        self.container_error: str | None = None

    def plate(self):
        if self._plate is None:
            from edge.readers.plate import PlateReader

            self._plate = PlateReader(self._engine())
        return self._plate

    def _engine(self, rec: str = "v6_small"):
        from edge.readers.ocr.engine import OcrEngine

        return OcrEngine(rec=rec, threads=self.threads)

    def container(self):
        if self._container is None and self.container_error is None:
            try:
                from edge.readers.container import ContainerReader
            except ImportError as e:
                self.container_error = f"container reader unavailable: {e}"
                return None
            self._container = ContainerReader(self._engine())
        return self._container

    def raw(self):
        if self._raw is None:
            from edge.readers.ocr.engine import OcrEngine

            self._raw = OcrEngine(det="v4", rec="v4", threads=self.threads)
        return self._raw

    def run(self, s: Sample) -> Outcome:
        img = imread(s.path)
        if img is None:
            return Outcome(s, "no_read", "", "unreadable_image", 0.0)
        if self.engine_kind == "raw":
            eng = self.raw()
            t0 = time.perf_counter()
            # rapidocr's default resize: short side to 736 (limit_type "min")
            lines = eng.read(img, max_side=100000, min_side=736)
            dt = (time.perf_counter() - t0) * 1000
            text = label_key("".join(ln.text for ln in lines))
            text = text.replace("·", "")
            found = [lab for lab in s.labels if lab in text]
            status = "correct" if len(found) == len(s.labels) else ("no_read" if not text else "wrong")
            return Outcome(s, status, text[:80], "", dt)
        if s.task in PLATE_TASKS:
            reader = self.plate()
            t0 = time.perf_counter()
            reads = reader.read_all(img)
            dt = (time.perf_counter() - t0) * 1000
            texts = [label_key(r.text) for r in reads if r.text]
            reason = next((r.reason or "" for r in reads if not r.text), "")
            raw = next((r.raw or "" for r in reads if not r.text), "")
            return Outcome(s, judge(s.labels, texts), "|".join(texts) or raw, reason, dt)
        if s.task == CONTAINER_TASK:
            reader = self.container()
            if reader is None:
                return Outcome(s, "skipped", "", self.container_error or "", 0.0)
            t0 = time.perf_counter()
            reads = reader.read(img)
            dt = (time.perf_counter() - t0) * 1000
            texts = [label_key(r.code) for r in reads]
            return Outcome(s, judge(s.labels, texts), "|".join(texts), "" if texts else "no_code", dt)
        return Outcome(s, "skipped", "", f"unknown task {s.task}", 0.0)


def summarise(outcomes: list[Outcome]) -> dict[str, dict]:
    by_task: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.status != "skipped":
            by_task[o.sample.task].append(o)
    out = {}
    for task, items in by_task.items():
        n = len(items)
        lat = np.array([o.latency_ms for o in items])
        out[task] = {
            "n": n,
            "accuracy": round(sum(o.status == "correct" for o in items) / n, 4),
            "wrong_rate": round(sum(o.status == "wrong" for o in items) / n, 4),
            "no_read_rate": round(sum(o.status == "no_read" for o in items) / n, 4),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
            "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
        }
    return out


def main_eval(args) -> int:
    from tqdm import tqdm

    from cameras.imageio import ImageError

    try:
        samples = load_labels(args.labels)
    except ImageError as e:
        print(f"error: labels file {e}", file=sys.stderr)
        return 2
    runner = _Runner(args.threads, getattr(args, "engine", "smartgate"))
    outcomes = []
    for s in tqdm(samples, desc=f"eval ({runner.engine_kind})", file=sys.stderr, unit="img"):
        if s.task not in (*PLATE_TASKS, CONTAINER_TASK):
            continue
        outcomes.append(runner.run(s))
    tasks = summarise(outcomes)
    skipped = sorted({o.sample.task for o in outcomes if o.status == "skipped"} - set(tasks))
    print(f"{'task':<12} {'n':>4} {'accuracy':>9} {'wrong':>7} {'no-read':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for task, m in tasks.items():
        print(f"{task:<12} {m['n']:>4} {m['accuracy']:>9.1%} {m['wrong_rate']:>7.1%} {m['no_read_rate']:>8.1%} "
              f"{m['latency_ms_p50']:>8.0f} {m['latency_ms_p95']:>8.0f}")
    for task in skipped:
        why = next(o.reason for o in outcomes if o.sample.task == task)
        print(f"{task:<12} skipped: {why}")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump({"engine": runner.engine_kind, "threads": args.threads, "tasks": tasks,
                       "skipped": skipped}, f, indent=2)
    if getattr(args, "misses", None):
        with open(args.misses, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file", "task", "label", "status", "read", "reason", "latency_ms"])
            for o in outcomes:
                if o.status in ("wrong", "no_read"):
                    w.writerow([str(o.sample.path), o.sample.task, "|".join(o.sample.labels), o.status,
                                o.read, o.reason, round(o.latency_ms, 1)])
    return 0


def main_read(args) -> int:
    from edge.readers.ocr.engine import OcrEngine

    engine = OcrEngine(threads=args.threads)
    if args.kind == "plate":
        from edge.readers.plate import PlateReader

        reader = PlateReader(engine)
    else:
        from edge.readers.container import ContainerReader

        reader = ContainerReader(engine)
    from cameras.imageio import ImageError, load_image

    rc = 0
    for path in args.images:
        try:  # size and pixel caps before decoding; the error says what is wrong with the file
            img = load_image(path)
        except ImageError as e:
            print(json.dumps({"file": path, "error": str(e)}, ensure_ascii=False), flush=True)
            rc = 1
            continue
        t0 = time.perf_counter()
        result = reader.read(img)
        dt = round((time.perf_counter() - t0) * 1000, 1)
        if args.kind == "plate":
            rec = {"file": path, **result.model_dump(), "latency_ms": dt}
        else:
            rec = {"file": path, "containers": [r.model_dump() for r in result], "latency_ms": dt}
        print(json.dumps(rec, ensure_ascii=False), flush=True)
    return rc

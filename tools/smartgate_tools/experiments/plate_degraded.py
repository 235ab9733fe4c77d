"""The plate reader on worse cameras than the photos at hand: labelled photos compressed, blurred or halved.

The readers lose 3-60 points on unseen cameras and read wrong there (issue 17) while the dev set shows ~0.5 %
wrong. Degrading photos we have is a cheap stand-in for worse cameras: which wrong reads appear, of what kind,
at what confidence and through which grammar. Prints accuracy / wrong / no-read per condition and task, and
every wrong read with its format and confidence.

    .venv/bin/python -m smartgate_tools.experiments.plate_degraded ../shared/eval/plate_{vn,cn,other}/labels.csv \\
        [--conditions clean jpeg20 half blur] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from edge.domain.plate_grammar import label_key
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.evaluate import imread, judge, load_labels
    from smartgate_tools.experiments.degrade import degrade

    p = argparse.ArgumentParser(prog="plate_degraded", description=__doc__.split("\n\n")[0])
    p.add_argument("labels", nargs="+", help="labels.csv files of plate photos or crops (file,task,label,...)")
    p.add_argument("--conditions", nargs="+", default=["clean", "jpeg20", "half"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="every read, per condition")
    a = p.parse_args(argv)
    reader = PlateReader(OcrEngine(threads=a.threads))  # as `smartgate eval` builds it
    samples = load_labels(a.labels)
    out: dict[str, list[dict]] = {}
    for condition in a.conditions:
        rows = []
        for s in samples:
            img = imread(s.path)
            if img is None:
                continue
            reads = [r for r in reader.read_all(degrade(img, condition)) if r.text]
            verdict = judge(s.labels, [label_key(r.text) for r in reads])
            rows.append({"task": s.task, "file": s.path.name, "labels": s.labels, "verdict": verdict,
                         "reads": [{"text": r.text, "format": r.format, "confidence": r.confidence} for r in reads]})
        out[condition] = rows
        for task in sorted({r["task"] for r in rows}):
            mine = [r for r in rows if r["task"] == task]
            n, tally = len(mine), Counter(r["verdict"] for r in mine)
            print(f"{condition:7s} {task:12s} n={n} accuracy {tally['correct'] / n:6.1%} wrong {tally['wrong'] / n:5.1%} "
                  f"no-read {tally['no_read'] / n:5.1%}", flush=True)
            for r in mine:
                if r["verdict"] == "wrong":
                    got = ", ".join(f"{x['text']} ({x['format']}, {x['confidence']:.2f})" for x in r["reads"])
                    print(f"    {r['file']} {r['labels']}: {got}", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The container reader on worse cameras than the photos at hand: real photos compressed, blurred or scaled down.

Unseen cameras are often worse than the ones that took our photos; wrong reads are what must not grow. Each
condition is applied to every photo of the label files; the reader (screen on, off, or both) reads them as single
photos. Prints accuracy / wrong / no-read, p50 a photo, and every wrong read with its raw text.

    .venv/bin/python -m smartgate_tools.experiments.container_degraded ../shared/train/container/labels.csv \\
        ../shared/eval/container/labels.csv [--conditions jpeg25@1024 640 blur@1024] [--screen on off]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    from edge.readers.container import ContainerReader
    from edge.readers.ocr.engine import OcrEngine
    from smartgate_tools.container_validation import outcome
    from smartgate_tools.evaluate import imread, load_labels
    from smartgate_tools.experiments.degrade import degrade

    p = argparse.ArgumentParser(prog="container_degraded", description=__doc__.split("\n\n")[0])
    p.add_argument("labels", nargs="+", help="labels.csv of real container photos (file,label,...)")
    p.add_argument("--conditions", nargs="+", default=["jpeg25@1024", "640", "blur@1024"])
    p.add_argument("--screen", nargs="+", choices=["on", "off"], default=["on"])
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    engine = OcrEngine(threads=a.threads)
    samples = load_labels(a.labels)
    for condition in a.conditions:
        images = [(s, degrade(imread(s.path), condition)) for s in samples]
        for screen in a.screen:
            reader = ContainerReader(engine, screen=screen == "on")
            tally = {"ok": 0, "wrong": 0, "noread": 0}
            ms, wrong = [], []
            for s, img in images:
                t0 = time.perf_counter()
                reads = reader.read(img)
                ms.append((time.perf_counter() - t0) * 1000)
                verdict = outcome(s.labels, [r.code for r in reads])
                tally[verdict] += 1
                if verdict == "wrong":
                    wrong.append(f"    {s.path.name} {s.labels}: " + ", ".join(f"{r.code} (raw {r.raw})" for r in reads))
            n = len(images)
            print(f"{condition:12s} screen {screen:3s} n={n} accuracy {tally['ok'] / n:6.1%} wrong "
                  f"{tally['wrong'] / n:5.1%} no-read {tally['noread'] / n:5.1%} p50 {statistics.median(ms):5.0f} ms",
                  flush=True)
            if wrong:
                print("\n".join(wrong), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

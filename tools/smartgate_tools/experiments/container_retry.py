"""When should the container reader run its second, larger detection? Compared on real photos.

Reads the real port-gate photos of ../shared/train/container (training data: the validation of
`smartgate_tools.container_validation`) at their own size and scaled down to `--long-side` (the dev and most
public photos are at most 1024 px, where a second pass at 1280 px means enlarging the photo), and optionally the
dev photos (tuned-on), with the reader's second pass configured three ways: off, where a piece of a code is
unexplained, and also wherever nothing verified (`retry_blind`, the single-photo default); `--screen on off`
compares the reader with and without its fast screen recogniser. Prints accuracy / wrong / no-read
the median time per photo and how many photos paid the second pass, for each.

    .venv/bin/python -m smartgate_tools.experiments.container_retry ../shared/train/container/labels.csv \\
        [--dev ../shared/eval/container/labels.csv] [--long-side 1024] [--variants fragment+blind --screen on off]
"""

from __future__ import annotations

import argparse
import statistics
import time

VARIANTS = {"off": {"retry_max_side": None}, "fragment": {"retry_blind": False}, "fragment+blind": {"retry_blind": True}}


def main(argv: list[str] | None = None) -> int:
    from edge.readers.container import ContainerReader
    from edge.readers.ocr.engine import OcrEngine
    from smartgate_tools.container_validation import outcome
    from smartgate_tools.evaluate import imread, load_labels
    from smartgate_tools.experiments.degrade import fit

    p = argparse.ArgumentParser(prog="container_retry", description=__doc__.split("\n\n")[0])
    p.add_argument("train", help="labels.csv of ../shared/train/container")
    p.add_argument("--dev", default=None, help="labels.csv of ../shared/eval/container (tuned-on)")
    p.add_argument("--long-side", type=int, default=1024)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--det-max-side", type=int, default=None, help="the first pass's detector size (default: shipped)")
    p.add_argument("--retry-max-side", type=int, default=None, help="the second pass's size (default: shipped)")
    p.add_argument("--variants", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--screen", nargs="*", choices=["on", "off"], default=["on"],
                   help="the fast screen recogniser (ContainerReader(screen=...)): on (shipped), off, or both")
    a = p.parse_args(argv)
    engine = OcrEngine(threads=a.threads)
    sets = [("train", load_labels([a.train]), None), (f"train@{a.long_side}", load_labels([a.train]), a.long_side)]
    if a.dev:
        sets.append(("dev", load_labels([a.dev]), None))
    for name, samples, side in sets:
        images = []
        for s in samples:
            img = imread(s.path)
            images.append((s, fit(img, side) if img is not None and side else img))
        for variant, screen in [(v, sc) for v in a.variants for sc in a.screen]:
            kw = dict(VARIANTS[variant], **({"det_max_side": a.det_max_side} if a.det_max_side else {}))
            kw["screen"] = screen == "on"
            if a.retry_max_side and variant != "off":
                kw["retry_max_side"] = a.retry_max_side
            reader = ContainerReader(engine, **kw)
            larger = reader._read_larger
            paid = []

            def counted(image, side, larger=larger, paid=paid):  # noqa: ANN001, ANN202
                paid.append(1)
                return larger(image, side)

            reader._read_larger = counted
            tally = {"ok": 0, "wrong": 0, "noread": 0}
            ms = []
            for s, img in images:
                t0 = time.perf_counter()
                codes = [r.code for r in reader.read(img)] if img is not None else []
                ms.append((time.perf_counter() - t0) * 1000)
                tally[outcome(s.labels, codes)] += 1
            n = len(images)
            print(f"{name:10s} {variant:15s} screen {screen:3s} n={n:3d} accuracy {tally['ok'] / n:6.1%} wrong {tally['wrong'] / n:5.1%} "
                  f"no-read {tally['noread'] / n:5.1%} p50 {statistics.median(ms):5.0f} ms, second pass {len(paid)}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

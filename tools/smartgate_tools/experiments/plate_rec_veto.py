"""What the plate recogniser's veto (`edge.readers.plate_rec_check`) does to the plate reader's reads.

Measured where neither the reader's rules nor the recogniser were trained or tuned: the recogniser's own validation
split of ../shared/train (a whole CN source, CCPD, held out; a quarter of the VN and Argentine plate texts; audited
labels; `smartgate_tools.train.plate_rec_data.split`) and the dev photos of ../shared/eval (scene photos: the crop
is the read's box grown by the plate margin, as at run time). The reader without the veto runs once per image and
its reads (text, box) are cached; the veto is then applied with the model given, so models and thresholds compare
in seconds. Prints accuracy / wrong / no-read per set without and with the veto, and every vetoed read.

    .venv/bin/python -m smartgate_tools.experiments.plate_rec_veto --data ../shared/train \
        --dev ../shared/eval/plate_*/labels.csv --cache var/plate_rec_veto.json [--model DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.domain.plate_grammar import label_key
from edge.domain.types import Box, PlateRead


def _reads(reader, image) -> list[list]:  # noqa: ANN001
    return [[label_key(r.text), [r.box.x, r.box.y, r.box.w, r.box.h] if r.box else None]
            for r in reader.read_all(image) if r.text]


def collect(data: str, dev: list[str], cache: Path | None, threads: int = 2) -> dict[str, dict]:
    """{image path: {"set", "labels", "reads": [[text, box]]}} from the reader without the veto (cached)."""
    if cache and cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    from edge.readers.ocr.engine import OcrEngine
    from edge.readers.plate import PlateReader
    from smartgate_tools.evaluate import imread
    from smartgate_tools.experiments.plate_sets import plate_images

    reader = PlateReader(OcrEngine(rec="v6_small", threads=threads), rec_check=False)
    out: dict[str, dict] = {}
    for name, path, labels in plate_images(Path(data), dev, "rec-split"):
        img = imread(Path(path))
        if img is not None:
            out[path] = {"set": name, "labels": labels, "reads": _reads(reader, img)}
    if cache:
        cache.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    from edge.readers.plate_rec import PlateRecogniser
    from edge.readers.plate_rec_check import SURE_CHAR, RecogniserCheck, vetoes
    from smartgate_tools.evaluate import imread, judge
    from smartgate_tools.experiments.tally import Tally, count, print_tally

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/train")
    p.add_argument("--dev", nargs="*", default=[], help="labels.csv files of ../shared/eval plate sets")
    p.add_argument("--cache", default=None, help="JSON file caching the reads without the veto")
    p.add_argument("--model", default=None, help="recogniser folder (default: the shipped models/plate_rec)")
    p.add_argument("--sure-char", type=float, nargs="*", default=[SURE_CHAR],
                   help="per-character veto thresholds to compare (default: the shipped one)")
    p.add_argument("--quiet", action="store_true", help="no list of vetoed reads")
    a = p.parse_args(argv)
    reads = collect(a.data, a.dev, Path(a.cache) if a.cache else None)
    check = RecogniserCheck(PlateRecogniser(a.model, threads=1, verify=a.model is None))
    seen = []  # (set, labels, [(text, recogniser reading or None)])
    for path, item in reads.items():
        img = imread(Path(path)) if item["reads"] else None
        pairs = []
        for text, box in item["reads"]:
            read = PlateRead(text=text, box=Box(x=box[0], y=box[1], w=box[2], h=box[3]) if box else None)
            pairs.append((text, check.reading(img, read) if img is not None else None))
        seen.append((item["set"], item["labels"], Path(path).name, pairs))
    for sure in a.sure_char:
        tally: Tally = {}
        print(f"-- veto when every differing recogniser character is >= {sure}")
        for name, labels, file, pairs in seen:
            kept = []
            for text, other in pairs:
                if other is None or not vetoes(text, other, sure):
                    kept.append(text)
                elif not a.quiet:
                    verdict = "RIGHT" if text in labels else "wrong"
                    print(f"  vetoed {verdict:5s} {name:16s} {file:24s} label {'|'.join(labels):10s} read {text:10s} "
                          f"recogniser {other.text} ({min(other.char_probs):.3f} lowest character)")
            count(tally, name, "before", judge(labels, [x for x, _ in pairs]))
            count(tally, name, "after", judge(labels, kept))
        print_tally(tally)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

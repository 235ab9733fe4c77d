"""Does the container gate's word cue (pipeline.container_gate_words) ever hide a code the reader would read?

Each real photo is a first look (every text line is new), so the gate opens the full read when any line may be
part of a code. For every photo whose labelled code(s) the reader reads right, the gate must open the read; a photo
where it does not is a code the cue (or the detector-only gate under it) would lose. Run at the reader's default
detector size (960 px) and at the sample site's (640 px); the second pass of the reader is off, as in the lane.

    .venv/bin/python -m smartgate_tools.experiments.gate_words_check \\
        ../shared/train/container/labels.csv ../shared/eval/container/labels.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2


def main(argv: list[str] | None = None) -> int:
    from edge.readers.container import ContainerReader
    from edge.readers.container_gate import gate_for
    from edge.readers.ocr.engine import OcrEngine

    p = argparse.ArgumentParser(prog="gate_words_check", description=__doc__.split("\n\n")[0])
    p.add_argument("labels", nargs="+", type=Path, help="labels.csv of real container photos (file,label,...)")
    p.add_argument("--sizes", type=int, nargs="+", default=[960, 640], help="container detector sizes")
    args = p.parse_args(argv)
    engine = OcrEngine(threads=2)
    rows = [(path.parent / r["file"], r["label"].split()) for path in args.labels
            for r in csv.DictReader(path.open(encoding="utf-8"))]
    for side in args.sizes:
        reader = ContainerReader(engine, retry_max_side=None, det_max_side=side)
        right = lost_plain = lost_words = 0
        for file, labels in rows:
            img = cv2.imread(str(file))
            codes = {c.code for c in reader.read(img) if c.check_digit_ok}
            if not codes or not codes <= set(labels):
                continue
            right += 1
            plain = gate_for(reader, side).new_text(img, "c")
            words = gate_for(reader, side, read_words=True).new_text(img, "c")
            lost_plain += plain == 0
            lost_words += words == 0
            if words == 0:
                print(f"  {side} px: {file.name} {sorted(labels)}: gate closed (detector-only gate lines: {plain})")
        print(f"{side} px: {len(rows)} photos, reader right on {right}; the gate would lose {lost_plain} of them "
              f"detector-only, {lost_words} with the word cue")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measure province-glyph classifiers on real plate lines — measurement only, never training data.

    python -m smartgate_tools.train.cn_province_real capture ../shared/eval/plate_cn/labels.csv --to /tmp/x.pkl
    python -m smartgate_tools.train.cn_province_real score /tmp/x.pkl models/plates/cn_province.onnx NEW.onnx

`capture` runs the plate reader on a labelled set and keeps every line crop and glyph-centre
estimate the reader hands to the classifier (one-line plates and two-line top lines), with the
label's province glyph; the crops depend on the recognisers only, so one capture scores any number
of models with the runtime's own windows (`line_vector`). The pickle holds pieces of the photos:
write it outside the repository (the dev set must not be copied into it).
"""

from __future__ import annotations

import argparse
import csv
import pickle
from pathlib import Path

import cv2
import numpy as np

from edge.domain.plate_grammar import CN_PROVINCES
from edge.readers.cn_province import ProvinceClassifier


def capture(labels: list[Path], to: Path) -> int:
    from edge.readers import plate as plate_mod
    from edge.readers.plate_cn import CnPlateReader
    from smartgate_tools.evaluate import imread

    repo = Path(__file__).resolve().parents[3]
    if repo in to.resolve().parents:
        raise SystemExit(f"{to}: write real crops outside the repository")
    seen: list[dict] = []
    current: dict = {}
    orig = CnPlateReader._glyph_vector

    def spy(self, work, quad, sr, slot, aspect=1.0, offset=0.0):
        from edge.readers.ocr.engine import crop_quad

        s = sr.path.slots[slot]
        crop = crop_quad(work, quad, pad=0.1)
        x = (4.0 * (s.first + s.last + 1) / 48 + offset) * crop.shape[0]
        seen.append({**current, "crop": crop, "x": x, "aspect": aspect})
        return orig(self, work, quad, sr, slot, aspect, offset)

    CnPlateReader._glyph_vector = spy
    reader = plate_mod.PlateReader()
    for path in labels:
        for row in csv.DictReader(path.open(encoding="utf-8")):
            current.clear()
            current.update(file=row["file"], label=row["label"])
            img = imread(path.parent / row["file"])  # as `smartgate eval` reads it
            if img is not None:
                reader.read_all(img)
    to.write_bytes(pickle.dumps(seen))
    print(f"{len(seen)} line crops from {', '.join(map(str, labels))} -> {to}")
    return 0


def score(pkl: Path, models: list[Path]) -> int:
    seen = [d for d in pickle.loads(pkl.read_bytes()) if d["label"][:1] in CN_PROVINCES]
    for m in models:
        clf = ProvinceClassifier(threads=2, verify=False, path=m)
        right = sure = sure_right = top_n = top_right = 0
        for d in seen:
            v = clf.line_vector(d["crop"], d["x"], aspect=d["aspect"])
            ok = CN_PROVINCES[int(v.argmax())] == d["label"][0]
            right += ok
            sure += v.max() >= 0.9
            sure_right += ok and v.max() >= 0.9
            if d["aspect"] != 1.0:
                top_n += 1
                top_right += ok
        print(f"{m}: top-1 {right}/{len(seen)} = {right / max(len(seen), 1):.3f}; at >= 0.9: {sure_right}/{sure} "
              f"right; two-line top lines {top_right}/{top_n}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("labels", nargs="+", type=Path)
    c.add_argument("--to", required=True, type=Path)
    s = sub.add_parser("score")
    s.add_argument("pkl", type=Path)
    s.add_argument("models", nargs="+", type=Path)
    args = p.parse_args(argv)
    cv2.setNumThreads(2)
    np.set_printoptions(precision=3)
    return capture(args.labels, args.to) if args.cmd == "capture" else score(args.pkl, args.models)


if __name__ == "__main__":
    raise SystemExit(main())
